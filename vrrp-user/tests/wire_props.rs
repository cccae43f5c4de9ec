//! Property tests: no parser panics on any bytes, and emit-then-parse is the identity.
mod common;

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use vrrp_user::units::{Centiseconds, Seconds};
use vrrp_user::wire::ethernet::ethertype;
use vrrp_user::wire::{
    ArpOperation, ArpPacket, ArpRepr, AuthType, ChecksumMode, EthernetFrame, EthernetRepr,
    FrameInfo, IpInfo, IpPair, Ipv4Packet, Ipv4Repr, Ipv6Packet, Ipv6Repr, MacAddr, NaFlags,
    NdpPacket, NdpRepr, V2Advert, V3Advert, VipList, VlanTag, VrrpPacket, VrrpRepr, arp,
    emit_advert_frame, ndp, parse_advert_frame,
};

fn mac() -> impl Strategy<Value = MacAddr> {
    any::<[u8; 6]>().prop_map(MacAddr)
}

fn vlan() -> impl Strategy<Value = Option<VlanTag>> {
    proptest::option::of(
        (0u8..8, any::<bool>(), 0u16..4096).prop_map(|(pcp, dei, vid)| VlanTag { pcp, dei, vid }),
    )
}

fn ip4() -> impl Strategy<Value = Ipv4Addr> {
    any::<[u8; 4]>().prop_map(Ipv4Addr::from)
}

fn ip6() -> impl Strategy<Value = Ipv6Addr> {
    any::<[u8; 16]>().prop_map(Ipv6Addr::from)
}

fn mode() -> impl Strategy<Value = ChecksumMode> {
    prop_oneof![
        Just(ChecksumMode::PseudoHeader),
        Just(ChecksumMode::VrrpOnly)
    ]
}

fn pair() -> impl Strategy<Value = IpPair> {
    prop_oneof![
        (ip4(), ip4()).prop_map(|(src, dst)| IpPair::V4 { src, dst }),
        (ip6(), ip6()).prop_map(|(src, dst)| IpPair::V6 { src, dst }),
    ]
}

fn ip_info_v4() -> impl Strategy<Value = IpInfo> {
    (
        ip4(),
        ip4(),
        any::<u8>(),
        any::<u8>(),
        any::<u16>(),
        any::<bool>(),
    )
        .prop_map(|(src, dst, ttl, tos, ident, dont_frag)| IpInfo::V4 {
            src,
            dst,
            ttl,
            tos,
            ident,
            dont_frag,
        })
}

fn ip_info_v6() -> impl Strategy<Value = IpInfo> {
    (ip6(), ip6(), any::<u8>(), any::<u8>(), 0u32..(1 << 20)).prop_map(
        |(src, dst, hop_limit, traffic_class, flow_label)| IpInfo::V6 {
            src,
            dst,
            hop_limit,
            traffic_class,
            flow_label,
        },
    )
}

fn frame_info(ip: impl Strategy<Value = IpInfo>) -> impl Strategy<Value = FrameInfo> {
    (mac(), mac(), vlan(), ip).prop_map(|(src_mac, dst_mac, vlan, ip)| FrameInfo {
        src_mac,
        dst_mac,
        vlan,
        ip,
    })
}

fn v2_advert() -> impl Strategy<Value = VrrpRepr> {
    (
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        prop_oneof![
            Just(AuthType::None),
            Just(AuthType::SimpleText),
            Just(AuthType::Ah)
        ],
        any::<[u8; 8]>(),
        proptest::collection::vec(ip4(), 0..20),
    )
        .prop_map(|(vrid, priority, int, auth_type, auth_data, addresses)| {
            VrrpRepr::V2(V2Advert {
                vrid,
                priority,
                adver_int: Seconds(int),
                auth_type,
                auth_data,
                addresses,
            })
        })
}

fn v3_advert(addresses: impl Strategy<Value = VipList>) -> impl Strategy<Value = VrrpRepr> {
    (any::<u8>(), any::<u8>(), 0u16..=4095, addresses).prop_map(
        |(vrid, priority, cs, addresses)| {
            VrrpRepr::V3(V3Advert {
                vrid,
                priority,
                max_adver_int: Centiseconds(cs),
                addresses,
            })
        },
    )
}

fn v4_list() -> impl Strategy<Value = VipList> {
    proptest::collection::vec(ip4(), 0..20).prop_map(VipList::V4)
}

fn v6_list() -> impl Strategy<Value = VipList> {
    proptest::collection::vec(ip6(), 0..12).prop_map(VipList::V6)
}

/// A frame whose Ethernet header (maybe tagged) announces `ethertype`, then random bytes:
/// random input that reaches the IP and upper parsers.
fn tagged_junk(types: &'static [u16]) -> impl Strategy<Value = Vec<u8>> {
    (
        any::<[u8; 12]>(),
        any::<bool>(),
        any::<u16>(),
        proptest::sample::select(types),
        proptest::collection::vec(any::<u8>(), 0..120),
        any::<u8>(),
    )
        .prop_map(|(macs, tagged, tci, et, tail, first)| {
            let mut f = macs.to_vec();
            if tagged {
                f.extend_from_slice(&ethertype::VLAN.to_be_bytes());
                f.extend_from_slice(&tci.to_be_bytes());
            }
            f.extend_from_slice(&et.to_be_bytes());
            // Usually a plausible version/IHL byte, so the header parsers go further.
            f.push(match first % 4 {
                0 => 0x45,
                1 => 0x60 | (first >> 4),
                _ => first,
            });
            f.extend_from_slice(&tail);
            f
        })
}

const TYPES: &[u16] = &[ethertype::IPV4, ethertype::IPV6, ethertype::ARP];

/// A captured frame with a few bytes changed and maybe cut short.
fn mutated_vector() -> impl Strategy<Value = Vec<u8>> {
    let frames: Vec<Vec<u8>> = common::all_vectors()
        .iter()
        .map(|n| common::vector(n))
        .collect();
    (
        proptest::sample::select(frames),
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        any::<prop::sample::Index>(),
        any::<bool>(),
    )
        .prop_map(|(mut f, edits, cut, do_cut)| {
            for (i, v) in edits {
                let at = i.index(f.len());
                f[at] = v;
            }
            if do_cut {
                f.truncate(cut.index(f.len() + 1));
            }
            f
        })
}

/// Runs every parser over `bytes`; they may fail but must return.
fn parse_everything(bytes: &[u8], pair: &IpPair) {
    for mode in [ChecksumMode::PseudoHeader, ChecksumMode::VrrpOnly] {
        let _ = parse_advert_frame(bytes, mode);
        let _ = VrrpRepr::parse(&VrrpPacket::new_unchecked(bytes), pair, mode);
    }
    let _ = arp::parse_frame(bytes);
    let _ = ndp::parse_frame(bytes);
    let _ = arp::answer_request(bytes, MacAddr::ZERO);
    let _ = ndp::answer_solicitation(bytes, MacAddr::ZERO, true);
    let _ = EthernetRepr::parse(&EthernetFrame::new_unchecked(bytes));
    let _ = Ipv4Repr::parse(&Ipv4Packet::new_unchecked(bytes));
    let _ = Ipv6Repr::parse(&Ipv6Packet::new_unchecked(bytes));
    let _ = ArpRepr::parse(&ArpPacket::new_unchecked(bytes));
    let (s, d) = (Ipv6Addr::UNSPECIFIED, Ipv6Addr::LOCALHOST);
    let _ = NdpRepr::parse(&NdpPacket::new_unchecked(bytes), &s, &d);
}

proptest! {
    #[test]
    fn no_parser_panics_on_random_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
        pair in pair(),
    ) {
        parse_everything(&bytes, &pair);
    }

    #[test]
    fn no_parser_panics_behind_an_ethernet_header(bytes in tagged_junk(TYPES), pair in pair()) {
        parse_everything(&bytes, &pair);
    }

    #[test]
    fn no_parser_panics_on_damaged_captures(bytes in mutated_vector(), pair in pair()) {
        parse_everything(&bytes, &pair);
    }

    #[test]
    fn v2_round_trips(info in frame_info(ip_info_v4()), advert in v2_advert(), mode in mode()) {
        let frame = emit_advert_frame(&info, &advert, mode).unwrap();
        prop_assert_eq!(parse_advert_frame(&frame, mode).unwrap(), (info, advert));
    }

    #[test]
    fn v3_ipv4_round_trips_in_both_checksum_modes(
        info in frame_info(ip_info_v4()),
        advert in v3_advert(v4_list()),
        mode in mode(),
    ) {
        let frame = emit_advert_frame(&info, &advert, mode).unwrap();
        prop_assert_eq!(parse_advert_frame(&frame, mode).unwrap(), (info, advert.clone()));
        let again = emit_advert_frame(&info, &advert, mode).unwrap();
        prop_assert_eq!(again, frame);
    }

    #[test]
    fn v3_ipv6_round_trips(
        info in frame_info(ip_info_v6()),
        advert in v3_advert(v6_list()),
        mode in mode(),
    ) {
        let frame = emit_advert_frame(&info, &advert, mode).unwrap();
        prop_assert_eq!(parse_advert_frame(&frame, mode).unwrap(), (info, advert));
    }

    #[test]
    fn arp_round_trips(
        src in mac(),
        dst in mac(),
        vlan in vlan(),
        op in prop_oneof![Just(ArpOperation::Request), Just(ArpOperation::Reply)],
        sender_mac in mac(),
        sender_ip in ip4(),
        target_mac in mac(),
        target_ip in ip4(),
    ) {
        let repr = ArpRepr { operation: op, sender_mac, sender_ip, target_mac, target_ip };
        let frame = arp::emit_frame(src, dst, vlan, &repr).unwrap();
        let (eth, back) = arp::parse_frame(&frame).unwrap();
        prop_assert_eq!(back, repr);
        prop_assert_eq!((eth.src, eth.dst, eth.vlan), (src, dst, vlan));
        if let Some(reply) = repr.reply_to(target_mac) {
            prop_assert_eq!(reply.sender_ip, target_ip);
            prop_assert_eq!((reply.target_mac, reply.target_ip), (sender_mac, sender_ip));
        }
    }

    #[test]
    fn ndp_round_trips(
        src_mac in mac(),
        dst_mac in mac(),
        vlan in vlan(),
        src in ip6(),
        dst in ip6(),
        target in ip6().prop_filter("ND targets are unicast", |a| !a.is_multicast()),
        lladdr in proptest::option::of(mac()),
        solicit in any::<bool>(),
        (router, solicited, override_) in any::<(bool, bool, bool)>(),
    ) {
        let repr = if solicit {
            NdpRepr::NeighborSolicit { target, source_lladdr: lladdr }
        } else {
            NdpRepr::NeighborAdvert {
                flags: NaFlags { router, solicited, override_ },
                target,
                target_lladdr: lladdr,
            }
        };
        let eth = EthernetRepr { src: src_mac, dst: dst_mac, vlan, ethertype: ethertype::IPV6 };
        let frame = ndp::emit_frame(&eth, src, dst, &repr).unwrap();
        let (eth_back, ip, back) = ndp::parse_frame(&frame).unwrap();
        prop_assert_eq!(back, repr);
        prop_assert_eq!(eth_back, eth);
        prop_assert_eq!((ip.src, ip.dst, ip.hop_limit), (src, dst, 255));
    }
}
