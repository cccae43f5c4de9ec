//! Bounds-checked access to the frame, and the Internet checksum.
//!
//! Every read and write goes through `ptr_at`, whose explicit comparison against `data_end` is
//! what the verifier needs to see before it allows the access.
use aya_ebpf::programs::XdpContext;
use core::mem::size_of;

/// Why a frame could not be read: it is shorter than the access needed.
pub struct Short;

#[inline(always)]
pub fn ptr_at<T>(ctx: &XdpContext, offset: usize) -> Result<*mut T, Short> {
    let start = ctx.data();
    let end = ctx.data_end();
    if start + offset + size_of::<T>() > end {
        return Err(Short);
    }
    Ok((start + offset) as *mut T)
}

/// Frame length in bytes, for checks of lengths the headers claim.
///
/// The loads are volatile on purpose: were LLVM to see this length next to the `ptr_at`
/// comparisons, it would use a passed length check to delete later bounds checks, and the
/// verifier, which only trusts pointer comparisons, would then refuse the program.
#[inline(always)]
pub fn len(ctx: &XdpContext) -> usize {
    // SAFETY: `ctx.ctx` is the program's context pointer, valid for the whole invocation.
    let (start, end) = unsafe {
        (
            core::ptr::read_volatile(&(*ctx.ctx).data),
            core::ptr::read_volatile(&(*ctx.ctx).data_end),
        )
    };
    end.wrapping_sub(start) as usize
}

#[inline(always)]
pub fn be16_at(ctx: &XdpContext, offset: usize) -> Result<u16, Short> {
    // Frame data carries no alignment guarantee.
    Ok(u16::from_be(unsafe {
        core::ptr::read_unaligned(ptr_at::<u16>(ctx, offset)?)
    }))
}

/// `N` bytes copied out of the frame.
#[inline(always)]
pub fn bytes_at<const N: usize>(ctx: &XdpContext, offset: usize) -> Result<[u8; N], Short> {
    Ok(unsafe { core::ptr::read_unaligned(ptr_at::<[u8; N]>(ctx, offset)?) })
}

#[inline(always)]
pub fn write_at<T>(ctx: &XdpContext, offset: usize, value: T) -> Result<(), Short> {
    unsafe { core::ptr::write_unaligned(ptr_at::<T>(ctx, offset)?, value) };
    Ok(())
}

/// Longest message the checksum loop covers: the loop needs a bound the verifier can see.
pub const MAX_CHECKSUMMED: usize = vrrp_common::advert::MAX_LEN;

/// Ones'-complement sum (RFC 1071) of `len` bytes at `offset`, `len` a multiple of 4, added to
/// `seed`. Summing 32-bit words in host order is valid: the folded sum is byte-order neutral as
/// long as every part (pseudo-header included) is taken in the same order.
#[inline(never)]
pub fn sum_words(ctx: &XdpContext, offset: usize, len: usize, seed: u64) -> Result<u64, Short> {
    let mut sum = seed;
    let mut done = 0usize;
    for _ in 0..MAX_CHECKSUMMED / 4 {
        if done >= len {
            break;
        }
        let word = unsafe { core::ptr::read_unaligned(ptr_at::<u32>(ctx, offset + done)?) };
        sum += u64::from(word);
        done += 4;
    }
    Ok(sum)
}

/// Sum of a 16-byte address, for pseudo-headers.
#[inline(always)]
pub fn sum_address(address: &[u8; 16]) -> u64 {
    let mut sum = 0u64;
    for chunk in 0..4 {
        let at = chunk * 4;
        let word = [
            address[at],
            address[at + 1],
            address[at + 2],
            address[at + 3],
        ];
        sum += u64::from(u32::from_ne_bytes(word));
    }
    sum
}

/// A big-endian 32-bit pseudo-header field, summed the way `sum_words` reads the frame.
#[inline(always)]
pub fn sum_be32(value: u32) -> u64 {
    u64::from(u32::from_ne_bytes(value.to_be_bytes()))
}

/// Folds a 64-bit ones'-complement sum to 16 bits.
#[inline(always)]
pub fn fold(mut sum: u64) -> u16 {
    for _ in 0..4 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}
