//! Answering ARP requests (RFC 826) and IPv6 neighbour solicitations (RFC 4861 §7.2.4) for the
//! VIPs this host owns, in place, with XDP_TX: the stack and the daemon never see them.
//!
//! ```text
//! ARP for IPv4 over Ethernet (28 bytes)      NS / NA (RFC 4861 §4.3, §4.4)
//! +--------+--------+----+----+------+       +------+------+----------+
//! | htype  | ptype  |hlen|plen|  op  |       | type | code | checksum |
//! +--------+--------+----+----+------+       +------+------+----------+
//! | sender MAC (6)  | sender IP (4)  |       | R|S|O| reserved        |
//! | target MAC (6)  | target IP (4)  |       | target address (16)     |
//! +-----------------+----------------+       | options: [type,len,MAC] |
//!                                            +-------------------------+
//! ```
use aya_ebpf::{
    bindings::xdp_action, helpers::generated::bpf_xdp_adjust_tail, programs::XdpContext,
};
use vrrp_common::{
    Counter, FAMILY_V4, FAMILY_V6,
    maps::{VipKey, VipOwner},
    proto::{ETH_P_IPV4, IPPROTO_ICMPV6},
};

use crate::{
    VIPS, count, heartbeat_fresh,
    packet::{Short, bytes_at, fold, len, sum_address, sum_be32, sum_words, write_at},
};

const ARP_LEN: usize = 28;
const ARP_REQUEST: u16 = 1;
const ARP_REPLY: u16 = 2;
const IPV6_HEADER_LEN: usize = 40;
const NEIGHBOR_SOLICITATION: u8 = 135;
/// Type, code, checksum, reserved and target: what every solicitation carries.
const NS_FIXED_LEN: usize = 24;
const NEIGHBOR_ADVERTISEMENT: u8 = 136;
/// NA with one target link-layer address option: header 24 + option 8.
const NA_LEN: usize = 32;
/// Longest solicitation we checksum (header and options).
const MAX_NS_LEN: usize = 256;
const NA_FLAG_SOLICITED: u8 = 0x40;
const NA_FLAG_OVERRIDE: u8 = 0x20;
const OPTION_TARGET_LINK_LAYER: u8 = 2;

/// The owner entry for a VIP, if we own it and the daemon's heartbeat is fresh.
#[inline(always)]
fn owner(ctx: &XdpContext, vlan: u16, family: u8, address: [u8; 16]) -> Option<VipOwner> {
    let key = VipKey {
        ifindex: ctx.ingress_ifindex() as u32,
        vlan,
        family,
        _pad: 0,
        address,
    };
    // SAFETY: read-only; userspace replaces whole entries.
    let owner = *unsafe { VIPS.get(key) }?;
    if !heartbeat_fresh(owner.heartbeat_max_age_ns) {
        // The daemon is hung or gone: claiming the VIP now could black-hole its traffic.
        count(Counter::OwnershipStale);
        return None;
    }
    Some(owner)
}

/// An ARP request at `l3` for an owned VIP becomes its reply; anything else is passed.
#[inline(always)]
pub fn arp(ctx: &XdpContext, l3: usize, vlan: u16) -> Result<u32, Short> {
    let request: [u8; ARP_LEN] = bytes_at(ctx, l3)?;
    // Ethernet (1), IPv4, 6-byte MACs, 4-byte addresses, request.
    let wanted = [
        0,
        1,
        (ETH_P_IPV4 >> 8) as u8,
        ETH_P_IPV4 as u8,
        6,
        4,
        0,
        ARP_REQUEST as u8,
    ];
    if request[..8] != wanted {
        return Ok(xdp_action::XDP_PASS);
    }
    let (sender, target) = (&request[8..18], &request[18..28]);
    let (sender_ip, target_ip) = (&sender[6..10], &target[6..10]);
    if sender_ip == target_ip {
        // Gratuitous ARP: an announcement, not a question.
        return Ok(xdp_action::XDP_PASS);
    }
    let mut vip = [0u8; 16];
    vip[..4].copy_from_slice(target_ip);
    let Some(owner) = owner(ctx, vlan, FAMILY_V4, vip) else {
        return Ok(xdp_action::XDP_PASS);
    };
    let mut reply = request;
    reply[7] = ARP_REPLY as u8;
    reply[8..14].copy_from_slice(&owner.mac);
    reply[14..18].copy_from_slice(target_ip);
    reply[18..28].copy_from_slice(sender);
    let mut ethernet = [0u8; 12];
    ethernet[..6].copy_from_slice(&sender[..6]);
    ethernet[6..].copy_from_slice(&owner.mac);
    write_at(ctx, 0, ethernet)?;
    write_at(ctx, l3, reply)?;
    count(Counter::ArpReply);
    Ok(xdp_action::XDP_TX)
}

/// A neighbour solicitation at `l3` (an IPv6 header with next header ICMPv6) for an owned VIP
/// becomes a solicited, overriding neighbour advertisement; anything else is passed.
#[inline(always)]
pub fn solicitation(ctx: &XdpContext, l3: usize, vlan: u16) -> Result<u32, Short> {
    let icmp = l3 + IPV6_HEADER_LEN;
    let ip: [u8; IPV6_HEADER_LEN] = bytes_at(ctx, l3)?;
    let ns: [u8; NS_FIXED_LEN] = bytes_at(ctx, icmp)?;
    let payload_len = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
    // RFC 4861 §7.1.1: hop limit 255, code 0, at least 24 bytes, a valid checksum.
    if ns[0] != NEIGHBOR_SOLICITATION
        || ns[1] != 0
        || ip[7] != 255
        || !(NS_FIXED_LEN..=MAX_NS_LEN).contains(&payload_len)
        || payload_len % 8 != 0
        || icmp + payload_len > len(ctx)
    {
        return Ok(xdp_action::XDP_PASS);
    }
    let mut source = [0u8; 16];
    let mut destination = [0u8; 16];
    let mut target = [0u8; 16];
    source.copy_from_slice(&ip[8..24]);
    destination.copy_from_slice(&ip[24..40]);
    target.copy_from_slice(&ns[8..24]);
    let seed = sum_address(&source)
        + sum_address(&destination)
        + sum_be32(payload_len as u32)
        + sum_be32(u32::from(IPPROTO_ICMPV6));
    if fold(sum_words(ctx, icmp, payload_len, seed)?) != 0xffff {
        return Ok(xdp_action::XDP_PASS);
    }
    let Some(owner) = owner(ctx, vlan, FAMILY_V6, target) else {
        return Ok(xdp_action::XDP_PASS);
    };
    let requester_mac: [u8; 6] = bytes_at(ctx, 6)?;
    // Duplicate address detection comes from "::": answer all nodes, unsolicited (§7.2.4).
    let (reply_to, reply_mac, flags) = if source == [0u8; 16] {
        let mut all_nodes = [0u8; 16];
        all_nodes[0] = 0xff;
        all_nodes[1] = 0x02;
        all_nodes[15] = 1;
        (all_nodes, [0x33, 0x33, 0, 0, 0, 1], NA_FLAG_OVERRIDE)
    } else {
        (source, requester_mac, NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE)
    };

    let mut ethernet = [0u8; 12];
    ethernet[..6].copy_from_slice(&reply_mac);
    ethernet[6..].copy_from_slice(&owner.mac);
    let mut header = ip;
    // Version 6, traffic class and flow label 0, as the kernel's own NAs.
    header[..4].copy_from_slice(&[0x60, 0, 0, 0]);
    header[4..6].copy_from_slice(&(NA_LEN as u16).to_be_bytes());
    header[7] = 255;
    header[8..24].copy_from_slice(&target);
    header[24..40].copy_from_slice(&reply_to);
    let mut na = [0u8; NA_LEN];
    na[0] = NEIGHBOR_ADVERTISEMENT;
    na[4] = flags;
    na[8..24].copy_from_slice(&target);
    na[24] = OPTION_TARGET_LINK_LAYER;
    na[25] = 1;
    na[26..32].copy_from_slice(&owner.mac);
    let checksum = !fold(
        sum_address(&target)
            + sum_address(&reply_to)
            + sum_be32(NA_LEN as u32)
            + sum_be32(u32::from(IPPROTO_ICMPV6))
            + sum_block(&na),
    );
    // The sum was taken in host order, so the result goes back in host order too.
    na[2..4].copy_from_slice(&checksum.to_ne_bytes());

    // Resize the frame to exactly the advertisement; pointers are re-derived by the writes.
    let delta = (icmp + NA_LEN) as i32 - len(ctx) as i32;
    // SAFETY: adjusting the tail of the frame this program was given.
    if delta != 0 && unsafe { bpf_xdp_adjust_tail(ctx.ctx, delta) } != 0 {
        return Ok(xdp_action::XDP_PASS);
    }
    write_at(ctx, 0, ethernet)?;
    write_at(ctx, l3, header)?;
    write_at(ctx, icmp, na)?;
    count(Counter::NaReply);
    Ok(xdp_action::XDP_TX)
}

/// Ones'-complement sum of a block built on the stack, in the order `sum_words` uses.
#[inline(always)]
fn sum_block(block: &[u8; NA_LEN]) -> u64 {
    let mut sum = 0u64;
    for word in block.chunks_exact(4) {
        sum += u64::from(u32::from_ne_bytes([word[0], word[1], word[2], word[3]]));
    }
    sum
}
