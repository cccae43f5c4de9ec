//! xvrrpd's XDP program: validates and absorbs VRRP adverts, answers ARP and neighbour
//! solicitations for owned VIPs, hands frames sent to an owned virtual MAC to the stack, and
//! passes everything else after as few instructions as it can, since it sits in front of all of
//! the host's traffic.
//!
//! A thin `#[xdp]` entry, `try_*` functions returning `Result`, every packet access through the
//! bounds-checked `packet::ptr_at`. Map layouts live in `vrrp-common`.
#![no_std]
#![no_main]
// Inline assembly for single-instruction misaligned packet loads and stores (`packet::load32`
// and the like); the crate builds with nightly for the BPF target anyway.
#![feature(asm_experimental_arch)]

mod advert;
mod master_down;
mod neighbour;
mod packet;
mod vmac;

use aya_ebpf::{
    bindings::{BPF_F_MMAPABLE, xdp_action},
    helpers::bpf_jiffies64,
    macros::{classifier, map, xdp},
    maps::{Array, HashMap, PerCpuArray, RingBuf},
    programs::{TcContext, XdpContext},
};
use vrrp_common::{
    Counter,
    maps::{
        EVENTS_BYTES, InstanceConfig, InstanceKey, MAX_INSTANCES, MAX_PEERS, MAX_VIPS,
        MAX_VMAC_INTERFACES, MAX_VMACS, Observation, PeerKey, VipKey, VipOwner, VmacKey, VmacOwner,
    },
    proto,
};

use crate::packet::{Short, be16_at};

#[map(name = "INSTANCES")]
static INSTANCES: HashMap<InstanceKey, InstanceConfig> =
    HashMap::with_max_entries(MAX_INSTANCES, 0);
#[map(name = "OBSERVATIONS")]
// Mappable: the daemon reads observations as memory, not through a syscall per check.
static OBSERVATIONS: Array<Observation> = Array::with_max_entries(MAX_INSTANCES, BPF_F_MMAPABLE);
#[map(name = "VIPS")]
static VIPS: HashMap<VipKey, VipOwner> = HashMap::with_max_entries(MAX_VIPS, 0);
#[map(name = "PEERS")]
static PEERS: HashMap<PeerKey, u8> = HashMap::with_max_entries(MAX_PEERS, 0);
#[map(name = "VMACS")]
static VMACS: HashMap<VmacKey, VmacOwner> = HashMap::with_max_entries(MAX_VMACS, 0);
#[map(name = "VMAC_INTERFACES")]
static VMAC_INTERFACES: HashMap<u32, VmacOwner> = HashMap::with_max_entries(MAX_VMAC_INTERFACES, 0);
#[map(name = "HEARTBEAT")]
static HEARTBEAT: Array<u64> = Array::with_max_entries(1, 0);
#[map(name = "COUNTERS")]
static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(Counter::COUNT, 0);
#[map(name = "EVENTS")]
static EVENTS: RingBuf = RingBuf::with_byte_size(EVENTS_BYTES, 0);

const ETH_HDR_LEN: usize = 14;
const VLAN_HDR_LEN: usize = 4;
const IPV4_TTL: usize = 8;
const IPV6_NEXT_HEADER: usize = 6;

#[xdp]
pub fn xvrrpd_xdp(ctx: XdpContext) -> u32 {
    // A frame we cannot read far enough is the stack's business, never ours to drop.
    try_xvrrpd_xdp(&ctx).unwrap_or(xdp_action::XDP_PASS)
}

#[inline(always)]
fn try_xvrrpd_xdp(ctx: &XdpContext) -> Result<u32, Short> {
    let (ethertype, l3, vlan) = ethertype(ctx)?;
    // Before the rest, as it only touches the destination MAC, which no later path reads: a
    // rewritten frame is then judged like any other (an ARP request to it is still answered).
    vmac::deliver(ctx)?;
    match ethertype {
        proto::ETH_P_IPV4 => {
            // TTL and protocol share a 16-bit word: one 2-byte read (single-byte checks are
            // rewritten by LLVM into a form the verifier does not credit).
            if be16_at(ctx, l3 + IPV4_TTL)? as u8 != proto::IPPROTO_VRRP {
                return Ok(xdp_action::XDP_PASS);
            }
            Ok(verdict(
                advert::locate_v4(ctx, l3, vlan).and_then(|at| advert::handle(ctx, &at)),
            ))
        }
        // Payload length's low byte is skipped: next header and hop limit share a word.
        proto::ETH_P_IPV6 => match (be16_at(ctx, l3 + IPV6_NEXT_HEADER)? >> 8) as u8 {
            proto::IPPROTO_VRRP => Ok(verdict(
                advert::locate_v6(ctx, l3, vlan).and_then(|at| advert::handle(ctx, &at)),
            )),
            proto::IPPROTO_ICMPV6 => neighbour::solicitation(ctx, l3, vlan),
            _ => Ok(xdp_action::XDP_PASS),
        },
        proto::ETH_P_ARP => neighbour::arp(ctx, l3, vlan),
        _ => Ok(xdp_action::XDP_PASS),
    }
}

/// Stamps the heartbeat with the current tick count. Never attached: the daemon runs it with
/// BPF_PROG_TEST_RUN each time it proves it is alive, as userspace has no way to read jiffies.
#[xdp]
pub fn xvrrpd_heartbeat(_ctx: XdpContext) -> u32 {
    if let Some(slot) = HEARTBEAT.get_ptr_mut(0) {
        // SAFETY: the map's only slot; a u64 store, which no reader can see torn.
        unsafe { *slot = bpf_jiffies64() };
    }
    xdp_action::XDP_PASS
}

/// At TC ingress, after XDP: see [`vmac::to_host`].
#[classifier]
pub fn xvrrpd_vmac_tc(ctx: TcContext) -> i32 {
    vmac::to_host(&ctx)
}

/// An invalid advert is counted under its reason and dropped (RFC 5798 §7.1: "MUST discard").
#[inline(always)]
fn verdict(result: Result<u32, Counter>) -> u32 {
    result.unwrap_or_else(|reason| {
        count(reason);
        xdp_action::XDP_DROP
    })
}

/// The ethertype after at most one 802.1Q tag, the layer-3 offset, and the VLAN id (0 if none).
#[inline(always)]
fn ethertype(ctx: &XdpContext) -> Result<(u16, usize, u16), Short> {
    let outer = be16_at(ctx, ETH_HDR_LEN - 2)?;
    if outer == proto::ETH_P_8021Q {
        let vlan = be16_at(ctx, ETH_HDR_LEN)? & 0x0fff;
        let inner = be16_at(ctx, ETH_HDR_LEN + VLAN_HDR_LEN - 2)?;
        return Ok((inner, ETH_HDR_LEN + VLAN_HDR_LEN, vlan));
    }
    Ok((outer, ETH_HDR_LEN, 0))
}

/// Whether the daemon's heartbeat is at most `max_age_ticks` old: ownership (of a VIP, of a
/// virtual MAC) holds only while it is.
#[inline(always)]
fn heartbeat_fresh(max_age_ticks: u64) -> bool {
    let Some(&heartbeat) = HEARTBEAT.get(0) else {
        return false;
    };
    // SAFETY: no preconditions. The verifier turns this helper into a load of `jiffies_64`
    // under the JIT; a clock helper (even the coarse one) is a call costing ~45 ns per frame
    // here. Tick resolution is ample for a bound of at least 100 ms.
    let now = unsafe { bpf_jiffies64() };
    now.saturating_sub(heartbeat) <= max_age_ticks
}

#[inline(always)]
fn count(counter: Counter) {
    if let Some(slot) = COUNTERS.get_ptr_mut(counter.index()) {
        // SAFETY: a per-CPU slot: no other writer can race with this increment.
        unsafe { *slot += 1 };
    }
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
