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
    maps::{VipKey, VipOwner, vip_flags},
    proto::{ETH_P_IPV4, IPPROTO_ICMPV6},
};

use crate::{
    VIPS, count, heartbeat_fresh,
    packet::{
        Short, address_bytes, fold, len, load16, load32, load64, ptr_at, store16, store32, store64,
        sum_address_words, sum_be32, sum_fixed, sum_words_upto,
    },
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
const NA_FLAG_ROUTER: u8 = 0x80;
const NA_FLAG_SOLICITED: u8 = 0x40;
const NA_FLAG_OVERRIDE: u8 = 0x20;
const OPTION_SOURCE_LINK_LAYER: u8 = 1;
const OPTION_TARGET_LINK_LAYER: u8 = 2;
/// Options this path reads in a solicitation: a source link-layer address and a nonce are what
/// solicitations carry. One with more goes to the stack, to be judged (and answered) there: a
/// loop over every option that could fit is more than the verifier will walk.
const MAX_NS_OPTIONS: usize = 4;

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
    if !heartbeat_fresh(owner.heartbeat_max_age_ticks) {
        // The daemon is hung or gone: claiming the VIP now could black-hole its traffic.
        count(Counter::OwnershipStale);
        return None;
    }
    Some(owner)
}

/// An ARP request at `l3` for an owned VIP becomes its reply; anything else is passed.
#[inline(always)]
pub fn arp(ctx: &XdpContext, l3: usize, vlan: u16) -> Result<u32, Short> {
    let request = ptr_at::<[u8; ARP_LEN]>(ctx, l3)? as *const u8;
    // SAFETY: all inside the ARP_LEN bytes `ptr_at` checked.
    let (fixed, sender_mac_low, sender_mac_high, sender_ip, target_ip) = unsafe {
        (
            load64::<0>(request),
            load32::<8>(request),
            load16::<12>(request),
            load32::<14>(request),
            load32::<24>(request),
        )
    };
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
    if fixed != u64::from_ne_bytes(wanted) {
        return Ok(xdp_action::XDP_PASS);
    }
    if sender_ip == target_ip {
        // Gratuitous ARP: an announcement, not a question.
        return Ok(xdp_action::XDP_PASS);
    }
    let Some(owner) = owner(ctx, vlan, FAMILY_V4, address_bytes([target_ip, 0])) else {
        return Ok(xdp_action::XDP_PASS);
    };
    let (mac_low, mac_high) = mac_words(&owner.mac);
    let ethernet = ptr_at::<[u8; 12]>(ctx, 0)? as *mut u8;
    let reply = ptr_at::<[u8; ARP_LEN]>(ctx, l3)? as *mut u8;
    // SAFETY: inside the 12 and ARP_LEN bytes `ptr_at` checked, which do not overlap.
    unsafe {
        store32::<0>(ethernet, sender_mac_low);
        store16::<4>(ethernet, sender_mac_high);
        store32::<6>(ethernet, mac_low);
        store16::<10>(ethernet, mac_high);
        store16::<6>(reply, u64::from(u16::from_ne_bytes([0, ARP_REPLY as u8])));
        store32::<8>(reply, mac_low);
        store16::<12>(reply, mac_high);
        store32::<14>(reply, target_ip);
        store32::<18>(reply, sender_mac_low);
        store16::<22>(reply, sender_mac_high);
        store32::<24>(reply, sender_ip);
    }
    count(Counter::ArpReply);
    Ok(xdp_action::XDP_TX)
}

/// A MAC as the 4- and 2-byte words `store32` and `store16` write.
#[inline(always)]
fn mac_words(mac: &[u8; 6]) -> (u64, u64) {
    (
        u64::from(u32::from_ne_bytes([mac[0], mac[1], mac[2], mac[3]])),
        u64::from(u16::from_ne_bytes([mac[4], mac[5]])),
    )
}

/// A neighbour solicitation at `l3` (an IPv6 header with next header ICMPv6) for an owned VIP
/// becomes a solicited, overriding neighbour advertisement; anything else is passed.
///
/// The advertisement is written over the solicitation: the IPv6 header's next header (58) and
/// hop limit (255, checked) and the ICMPv6 target stay as they are.
#[inline(always)]
pub fn solicitation(ctx: &XdpContext, l3: usize, vlan: u16) -> Result<u32, Short> {
    let icmp = l3 + IPV6_HEADER_LEN;
    let packet = ptr_at::<[u8; IPV6_HEADER_LEN + NS_FIXED_LEN]>(ctx, l3)? as *const u8;
    // SAFETY: all inside the bytes `ptr_at` checked.
    let (lengths, source, destination, head, target) = unsafe {
        (
            load32::<4>(packet),
            [load64::<8>(packet), load64::<16>(packet)],
            [load64::<24>(packet), load64::<32>(packet)],
            load16::<40>(packet),
            [load64::<48>(packet), load64::<56>(packet)],
        )
    };
    let payload_len = usize::from(u16::from_be(lengths as u16));
    let hop_limit = (lengths >> 24) as u8;
    let frame_len = len(ctx);
    // RFC 4861 §7.1.1: hop limit 255, code 0, at least 24 bytes, a valid checksum.
    if head != u64::from(u16::from_ne_bytes([NEIGHBOR_SOLICITATION, 0]))
        || hop_limit != 255
        || !(NS_FIXED_LEN..=MAX_NS_LEN).contains(&payload_len)
        || payload_len % 8 != 0
        || icmp + payload_len > frame_len
    {
        return Ok(xdp_action::XDP_PASS);
    }
    let seed = sum_address_words(source)
        + sum_address_words(destination)
        + sum_be32(payload_len as u32)
        + sum_be32(u32::from(IPPROTO_ICMPV6));
    let sum = match payload_len {
        // With a source link-layer address option, and without (duplicate address detection).
        32 => sum_fixed::<32>(ctx, icmp, seed)?,
        24 => sum_fixed::<24>(ctx, icmp, seed)?,
        _ => sum_words_upto::<MAX_NS_LEN>(ctx, icmp, payload_len, seed)?,
    };
    if fold(sum) != 0xffff {
        return Ok(xdp_action::XDP_PASS);
    }
    let Ok(source_link_layer) = source_link_layer(ctx, icmp + NS_FIXED_LEN, icmp + payload_len)
    else {
        return Ok(xdp_action::XDP_PASS);
    };
    let dad = source == [0, 0];
    // §7.1.1: from "::", the destination is a solicited-node group and there is no source
    // link-layer option. The stack discards the others; so does this path, by passing them.
    if dad && (source_link_layer.is_some() || !solicited_node_group(destination)) {
        return Ok(xdp_action::XDP_PASS);
    }
    let Some(owner) = owner(ctx, vlan, FAMILY_V6, address_bytes(target)) else {
        return Ok(xdp_action::XDP_PASS);
    };
    let requester = ptr_at::<[u8; 12]>(ctx, 0)? as *const u8;
    // SAFETY: inside the 12 bytes `ptr_at` checked.
    let requester_mac = unsafe { (load32::<6>(requester), load16::<10>(requester)) };
    let router = if owner.flags & vip_flags::ROUTER != 0 {
        NA_FLAG_ROUTER
    } else {
        0
    };
    // Duplicate address detection comes from "::": answer all nodes, unsolicited (§7.2.4).
    let (reply_to, reply_mac, flags) = if dad {
        let all_nodes = [
            u64::from_ne_bytes([0xff, 0x02, 0, 0, 0, 0, 0, 0]),
            u64::from_ne_bytes([0, 0, 0, 0, 0, 0, 0, 1]),
        ];
        (
            all_nodes,
            mac_words(&[0x33, 0x33, 0, 0, 0, 1]),
            router | NA_FLAG_OVERRIDE,
        )
    } else {
        // To the link-layer address the solicitation names, as the kernel's neighbour entry
        // for the solicitor would have it; else to the frame's sender.
        (
            source,
            source_link_layer.unwrap_or(requester_mac),
            router | NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE,
        )
    };
    let (mac_low, mac_high) = mac_words(&owner.mac);
    // Type, code and a zero checksum; flags and reserved; the target link-layer option.
    let na_head = u64::from(NEIGHBOR_ADVERTISEMENT);
    let na_flags = u64::from(flags);
    let option = u64::from(OPTION_TARGET_LINK_LAYER) | 1 << 8 | mac_low << 16 | mac_high << 48;
    // The target counts twice: the advertisement's source address and its target field.
    let checksum = !fold(
        2 * sum_address_words(target)
            + sum_address_words(reply_to)
            + sum_be32(NA_LEN as u32)
            + sum_be32(u32::from(IPPROTO_ICMPV6))
            + na_head
            + na_flags
            + (option & 0xffff_ffff)
            + (option >> 32),
    );

    // Resize the frame to exactly the advertisement; pointers are re-derived below.
    let delta = (icmp + NA_LEN) as i32 - frame_len as i32;
    // SAFETY: adjusting the tail of the frame this program was given.
    if delta != 0 && unsafe { bpf_xdp_adjust_tail(ctx.ctx, delta) } != 0 {
        return Ok(xdp_action::XDP_PASS);
    }
    let ethernet = ptr_at::<[u8; 12]>(ctx, 0)? as *mut u8;
    let reply = ptr_at::<[u8; IPV6_HEADER_LEN + NA_LEN]>(ctx, l3)? as *mut u8;
    // SAFETY: inside the 12 and IPV6_HEADER_LEN + NA_LEN bytes `ptr_at` checked, which do not
    // overlap.
    unsafe {
        store32::<0>(ethernet, reply_mac.0);
        store16::<4>(ethernet, reply_mac.1);
        store32::<6>(ethernet, mac_low);
        store16::<10>(ethernet, mac_high);
        // Version 6, traffic class and flow label 0, as the kernel's own NAs.
        store32::<0>(reply, u64::from(u32::from_ne_bytes([0x60, 0, 0, 0])));
        store16::<4>(reply, u64::from((NA_LEN as u16).to_be()));
        store64::<8>(reply, target[0]);
        store64::<16>(reply, target[1]);
        store64::<24>(reply, reply_to[0]);
        store64::<32>(reply, reply_to[1]);
        // The sum was taken in the frame's byte order, so the result goes back as it is.
        store32::<40>(reply, na_head | u64::from(checksum) << 16);
        store32::<44>(reply, na_flags);
        store64::<64>(reply, option);
    }
    count(Counter::NaReply);
    Ok(xdp_action::XDP_TX)
}

/// Why this path does not answer a solicitation for its options: one of length 0 or one
/// running past the message (invalid, §7.1.1), a source link-layer address that is not
/// Ethernet's (the kernel discards those), or more than [`MAX_NS_OPTIONS`].
pub struct BadOptions;

/// The source link-layer address option among the options from `at` to `end` (the first one,
/// as the kernel takes it), as the 4- and 2-byte words `store32` and `store16` write.
#[inline(always)]
fn source_link_layer(
    ctx: &XdpContext,
    mut at: usize,
    end: usize,
) -> Result<Option<(u64, u64)>, BadOptions> {
    let mut found = None;
    for _ in 0..MAX_NS_OPTIONS {
        if at >= end {
            break;
        }
        // Every option is a whole number of 8-byte units, and the message's length one too.
        let option = ptr_at::<[u8; 8]>(ctx, at).map_err(|_| BadOptions)? as *const u8;
        // SAFETY: inside the 8 bytes `ptr_at` checked.
        let head = unsafe { load16::<0>(option) };
        let (kind, units) = (head as u8, (head >> 8) as u8);
        if units == 0 {
            return Err(BadOptions);
        }
        if kind == OPTION_SOURCE_LINK_LAYER && found.is_none() {
            // The first one is the one taken; Ethernet's is one unit long (RFC 2464 §6).
            if units != 1 {
                return Err(BadOptions);
            }
            // SAFETY: as above.
            found = Some(unsafe { (load32::<2>(option), load16::<6>(option)) });
        }
        at += usize::from(units) * 8;
    }
    if at != end {
        return Err(BadOptions);
    }
    Ok(found)
}

/// Whether `address` (two words, as `load64` reads them) is a solicited-node multicast group,
/// ff02::1:ffXX:XXXX (RFC 4291 §2.7.1).
#[inline(always)]
fn solicited_node_group(address: [u64; 2]) -> bool {
    let prefix = u64::from_ne_bytes([0xff, 0x02, 0, 0, 0, 0, 0, 0]);
    let group = address[1].to_ne_bytes();
    address[0] == prefix && group[..5] == [0, 0, 0, 1, 0xff]
}
