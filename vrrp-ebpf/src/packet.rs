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
    let at = ptr_at::<u16>(ctx, offset)? as *const u8;
    // SAFETY: `ptr_at` checked the two bytes.
    Ok(u16::from_be(unsafe { load16::<0>(at) } as u16))
}

// Loads and stores of 2, 4 or 8 bytes at `base + OFFSET`, in one instruction each, the value in
// the frame's byte order (a little-endian integer of the bytes as they are on the wire).
//
// Frame data carries no alignment guarantee, and LLVM's BPF backend turns an access it cannot
// prove aligned into one load or store per byte plus shifts: most of these paths' instructions
// were such byte moves. The kernel allows misaligned packet access where the CPU does, and the
// x86-64 JIT emits one `mov` for it. Inline assembly gets that single access without claiming
// an alignment the pointer may lack (undefined behaviour) and without the
// `allows-misaligned-mem-access` feature, which also misaligns stack slots, which the verifier
// refuses.
macro_rules! access {
    ($load:ident, $store:ident, $width:literal) => {
        /// # Safety
        /// `base + OFFSET` and the bytes after it must lie inside the frame, checked against
        /// `data_end` the way the verifier sees (`ptr_at`).
        #[inline(always)]
        pub unsafe fn $load<const OFFSET: usize>(base: *const u8) -> u64 {
            let value: u64;
            // SAFETY: a load from the frame, inside it as the caller guarantees.
            unsafe {
                core::arch::asm!(
                    concat!("{value} = *(", $width, " *)({base} + {offset})"),
                    value = lateout(reg) value,
                    base = in(reg) base,
                    offset = const OFFSET,
                    options(readonly, nostack, preserves_flags),
                )
            };
            value
        }

        /// # Safety
        /// As for the load of the same width.
        #[inline(always)]
        pub unsafe fn $store<const OFFSET: usize>(base: *mut u8, value: u64) {
            // SAFETY: a store into the frame, inside it as the caller guarantees.
            unsafe {
                core::arch::asm!(
                    concat!("*(", $width, " *)({base} + {offset}) = {value}"),
                    base = in(reg) base,
                    offset = const OFFSET,
                    value = in(reg) value,
                    options(nostack, preserves_flags),
                )
            };
        }
    };
}

access!(load16, store16, "u16");
access!(load32, store32, "u32");
access!(load64, store64, "u64");

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
///
/// Inlined: a BPF-to-BPF call costs a return, and returns are expensive on CPUs whose kernels
/// mitigate return-stack attacks (SRSO's safe RET, retbleed's untrained return thunk).
#[inline(always)]
pub fn sum_words(ctx: &XdpContext, offset: usize, len: usize, seed: u64) -> Result<u64, Short> {
    sum_words_upto::<MAX_CHECKSUMMED>(ctx, offset, len, seed)
}

/// As [`sum_words`] for `len` of at most `MAX` bytes (`MAX` a multiple of 4): a shorter loop
/// for the verifier to walk. Eight bytes a turn: the verifier walks every turn the bound allows,
/// and at four a turn a 1480-byte advert was more than it would.
#[inline(always)]
pub fn sum_words_upto<const MAX: usize>(
    ctx: &XdpContext,
    offset: usize,
    len: usize,
    seed: u64,
) -> Result<u64, Short> {
    if len > MAX || !len.is_multiple_of(4) {
        return Err(Short);
    }
    let mut sum = seed;
    let mut done = 0usize;
    for _ in 0..MAX / 8 {
        if done + 8 > len {
            break;
        }
        let words = ptr_at::<u64>(ctx, offset + done)? as *const u8;
        // SAFETY: `ptr_at` checked the eight bytes.
        let words = unsafe { load64::<0>(words) };
        sum += (words & 0xffff_ffff) + (words >> 32);
        done += 8;
    }
    if done < len {
        // The last four bytes of a length that is 4 more than a multiple of 8.
        let word = ptr_at::<u32>(ctx, offset + done)? as *const u8;
        // SAFETY: `ptr_at` checked the four bytes.
        sum += unsafe { load32::<0>(word) };
    }
    Ok(sum)
}

/// As [`sum_words`] for a message of exactly `N` bytes (`N` a multiple of 4): one bounds check
/// and a load per 8 bytes instead of a loop with a check per word. The sizes the hot paths see
/// (one-address adverts, solicitations) take this way.
#[inline(always)]
pub fn sum_fixed<const N: usize>(ctx: &XdpContext, offset: usize, seed: u64) -> Result<u64, Short> {
    let base = ptr_at::<[u8; N]>(ctx, offset)? as *const u8;
    let mut sum = seed;
    for chunk in 0..N / 8 {
        // SAFETY: inside the N bytes `ptr_at` checked.
        let words = unsafe { load64::<0>(base.wrapping_add(chunk * 8)) };
        sum += (words & 0xffff_ffff) + (words >> 32);
    }
    if N % 8 == 4 {
        // SAFETY: the last four of the N bytes `ptr_at` checked.
        sum += unsafe { load32::<0>(base.wrapping_add(N - 4)) };
    }
    Ok(sum)
}

/// Sum of a 16-byte address held as two words (as `load64` reads it).
#[inline(always)]
pub fn sum_address_words(address: [u64; 2]) -> u64 {
    (address[0] & 0xffff_ffff)
        + (address[0] >> 32)
        + (address[1] & 0xffff_ffff)
        + (address[1] >> 32)
}

/// The bytes of an address held as two words.
#[inline(always)]
pub fn address_bytes(address: [u64; 2]) -> [u8; 16] {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&address[0].to_ne_bytes());
    bytes[8..].copy_from_slice(&address[1].to_ne_bytes());
    bytes
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
