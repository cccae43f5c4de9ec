//! Frames sent to a VRRP virtual MAC we own (keepalived's `use_vmac`, without a macvlan).
//!
//! The stack drops a unicast frame whose destination is not the interface's own MAC
//! (`PACKET_OTHERHOST`), so a frame for a virtual MAC this host owns gets the interface's MAC
//! as destination before it is passed on. Every frame pays for this, so the common case is one
//! byte loaded and a branch: virtual MACs start with 00 (RFC 5798 §7.3: 00-00-5E-00-0{1,2}-
//! {VRID}), multicast and broadcast destinations never do, and only a frame whose first four
//! bytes match goes on to the map.
use aya_ebpf::{
    bindings::TC_ACT_OK,
    programs::{TcContext, XdpContext},
};
use vrrp_common::{
    Counter,
    maps::{VIRTUAL_MAC_PREFIX, VmacKey},
};

use crate::{
    VMAC_INTERFACES, VMACS, count, heartbeat_fresh,
    packet::{Short, bytes_at, ptr_at, write_at},
};

/// Rewrites the destination of a frame sent to an owned virtual MAC; leaves any other alone.
/// Called once the Ethernet header is known to be in the frame, so that the load below needs
/// no bounds check of its own.
#[inline(always)]
pub fn deliver(ctx: &XdpContext) -> Result<(), Short> {
    // One byte: the caller's read of the EtherType proved it is there, so LLVM drops this
    // bounds check (a check of its own, one byte long, would take a form the verifier does not
    // credit; the verifier refuses the program if that ever changes).
    // SAFETY: inside the frame, as `ptr_at` checked.
    if unsafe { *ptr_at::<u8>(ctx, 0)? } != VIRTUAL_MAC_PREFIX[0] {
        return Ok(());
    }
    deliver_slow(ctx)
}

/// Past the first byte: the rest of the prefix, then the map. Not inlined, so that the
/// common path above stays a load and a branch in the caller.
#[inline(never)]
fn deliver_slow(ctx: &XdpContext) -> Result<(), Short> {
    let destination: [u8; 6] = bytes_at(ctx, 0)?;
    if destination[..4] != VIRTUAL_MAC_PREFIX || !matches!(destination[4], 1 | 2) {
        return Ok(());
    }
    let key = VmacKey {
        ifindex: ctx.ingress_ifindex() as u32,
        mac: destination,
        _pad: [0; 2],
    };
    // SAFETY: read-only; userspace replaces whole entries.
    let Some(owner) = (unsafe { VMACS.get(key) }) else {
        return Ok(());
    };
    if !heartbeat_fresh(owner.heartbeat_max_age_ticks) {
        // A hung daemon must not keep drawing the virtual MAC's traffic into this host.
        count(Counter::OwnershipStale);
        return Ok(());
    }
    write_at(ctx, 0, owner.interface_mac)?;
    count(Counter::VmacDelivered);
    Ok(())
}

const PACKET_HOST: u32 = 0;
const PACKET_OTHERHOST: u32 = 3;

/// At TC ingress, after XDP: a frame the XDP program gave the interface's MAC must also be
/// marked for this host. Drivers build the socket buffer after XDP and classify it then, but
/// veth classifies it before (when the peer forwards it) and keeps `PACKET_OTHERHOST` after
/// XDP_PASS, so the stack would still drop it. Attached only to interfaces where a virtual MAC
/// was owned; other frames cost a field load and a branch.
#[inline(always)]
pub fn to_host(ctx: &TcContext) -> i32 {
    let skb = ctx.skb.skb;
    // SAFETY: the program's context, valid for the whole invocation; read-only fields.
    let (pkt_type, ifindex) = unsafe { ((*skb).pkt_type, (*skb).ifindex) };
    if pkt_type != PACKET_OTHERHOST {
        return TC_ACT_OK;
    }
    // SAFETY: read-only; userspace replaces whole entries.
    let Some(interface) = (unsafe { VMAC_INTERFACES.get(ifindex) }) else {
        return TC_ACT_OK;
    };
    // Only a frame XDP rewrote can be addressed to the interface and yet be for another host.
    if ctx
        .load::<[u8; 6]>(0)
        .is_ok_and(|destination| destination == interface.interface_mac)
    {
        let _ = ctx.change_type(PACKET_HOST);
    }
    TC_ACT_OK
}
