//! xvrrpd's XDP program.
//!
//! This first version proves the build → load → BPF_PROG_TEST_RUN path: it classifies each frame,
//! counts it in a per-CPU array and passes it on. Validation of adverts and ARP/NDP answers build
//! on the same skeleton: a thin `#[xdp]` entry, `try_*` functions returning `Result`, and every
//! packet access through the bounds-checked `ptr_at`.
#![no_std]
#![no_main]

use aya_ebpf::{
    bindings::xdp_action,
    macros::{map, xdp},
    maps::PerCpuArray,
    programs::XdpContext,
};
use core::mem::size_of;
use vrrp_common::{Counter, proto};

#[map(name = "COUNTERS")]
static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(Counter::COUNT, 0);

const ETH_HDR_LEN: usize = 14;
const VLAN_HDR_LEN: usize = 4;
/// Offset of the protocol byte in an IPv4 header.
const IPV4_PROTO_OFFSET: usize = 9;
/// Offset of the next-header byte in an IPv6 header.
const IPV6_NEXT_HEADER_OFFSET: usize = 6;

#[xdp]
pub fn xvrrpd_xdp(ctx: XdpContext) -> u32 {
    // Any frame we cannot classify is the stack's business, never ours to drop.
    try_xvrrpd_xdp(&ctx).unwrap_or(xdp_action::XDP_PASS)
}

#[inline(always)]
fn try_xvrrpd_xdp(ctx: &XdpContext) -> Result<u32, ()> {
    count(Counter::Frames);
    let (ethertype, l3) = match ethertype(ctx) {
        Ok(found) => found,
        Err(()) => {
            count(Counter::Truncated);
            return Ok(xdp_action::XDP_PASS);
        }
    };
    let counter = match ethertype {
        proto::ETH_P_IPV4 => match read_u8(ctx, l3 + IPV4_PROTO_OFFSET) {
            Ok(proto::IPPROTO_VRRP) => Counter::VrrpV4,
            Ok(_) => Counter::Passed,
            Err(()) => Counter::Truncated,
        },
        proto::ETH_P_IPV6 => match read_u8(ctx, l3 + IPV6_NEXT_HEADER_OFFSET) {
            Ok(proto::IPPROTO_VRRP) => Counter::VrrpV6,
            Ok(_) => Counter::Passed,
            Err(()) => Counter::Truncated,
        },
        proto::ETH_P_ARP => Counter::Arp,
        _ => Counter::Passed,
    };
    count(counter);
    Ok(xdp_action::XDP_PASS)
}

/// The ethertype after at most one 802.1Q tag, and the offset of the layer-3 header.
#[inline(always)]
fn ethertype(ctx: &XdpContext) -> Result<(u16, usize), ()> {
    let outer = read_be16(ctx, ETH_HDR_LEN - 2)?;
    if outer == proto::ETH_P_8021Q {
        let inner = read_be16(ctx, ETH_HDR_LEN + VLAN_HDR_LEN - 2)?;
        return Ok((inner, ETH_HDR_LEN + VLAN_HDR_LEN));
    }
    Ok((outer, ETH_HDR_LEN))
}

#[inline(always)]
fn count(counter: Counter) {
    if let Some(slot) = COUNTERS.get_ptr_mut(counter.index()) {
        // Per-CPU slot: no other writer can race with this increment.
        unsafe { *slot += 1 };
    }
}

/// A pointer to a `T` at `offset` into the frame, or `Err` when the frame is too short.
/// The explicit comparison against `data_end` is what the verifier needs to see.
#[inline(always)]
fn ptr_at<T>(ctx: &XdpContext, offset: usize) -> Result<*const T, ()> {
    let start = ctx.data();
    let end = ctx.data_end();
    if start + offset + size_of::<T>() > end {
        return Err(());
    }
    Ok((start + offset) as *const T)
}

#[inline(always)]
fn read_u8(ctx: &XdpContext, offset: usize) -> Result<u8, ()> {
    Ok(unsafe { *ptr_at::<u8>(ctx, offset)? })
}

#[inline(always)]
fn read_be16(ctx: &XdpContext, offset: usize) -> Result<u16, ()> {
    // Frame data carries no alignment guarantee.
    let raw = unsafe { core::ptr::read_unaligned(ptr_at::<u16>(ctx, offset)?) };
    Ok(u16::from_be(raw))
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
