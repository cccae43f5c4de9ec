//! Frames the XDP tests and benchmarks feed the program, built with the `wire` module.
use std::net::{Ipv4Addr, Ipv6Addr};

use vrrp_user::{
    units::{Centiseconds, Seconds},
    wire::{
        self, ArpOperation, ArpRepr, AuthType, ChecksumMode, EthernetRepr, FrameInfo, IpInfo,
        Ipv4Packet, MacAddr, NdpRepr, V2Advert, V3Advert, VipList, VlanTag, VrrpRepr, arp, ndp,
    },
};

use crate::xdp::{CLIENT_MAC, CLIENT_V4, PEER_MAC, PEER_V4, PEER_V6, VIP_V4, VIP_V6};

pub fn v2(priority: u8, auth_type: AuthType, password: &[u8; 8]) -> VrrpRepr {
    VrrpRepr::V2(V2Advert {
        vrid: 51,
        priority,
        adver_int: Seconds(1),
        auth_type,
        auth_data: *password,
        addresses: vec![VIP_V4],
    })
}

pub fn v3_v4(priority: u8) -> VrrpRepr {
    VrrpRepr::V3(V3Advert {
        vrid: 51,
        priority,
        max_adver_int: Centiseconds(100),
        addresses: VipList::V4(vec![VIP_V4, CLIENT_V4]),
    })
}

pub fn v3_v6(priority: u8) -> VrrpRepr {
    VrrpRepr::V3(V3Advert {
        vrid: 51,
        priority,
        max_adver_int: Centiseconds(10),
        addresses: VipList::V6(vec![VIP_V6]),
    })
}

/// An advert from the peer to 224.0.0.18.
pub fn frame_v4(advert: &VrrpRepr, mode: ChecksumMode) -> Vec<u8> {
    let info = FrameInfo::multicast_v4(MacAddr(PEER_MAC), PEER_V4, 7);
    wire::emit_advert_frame(&info, advert, mode).expect("emit advert")
}

/// An advert from the peer's link-local address to ff02::12.
pub fn frame_v6(advert: &VrrpRepr) -> Vec<u8> {
    let info = FrameInfo::multicast_v6(MacAddr(PEER_MAC), PEER_V6, 0);
    wire::emit_advert_frame(&info, advert, ChecksumMode::PseudoHeader).expect("emit advert")
}

/// An IPv4 advert with another TTL.
pub fn with_ttl(advert: &VrrpRepr, ttl: u8) -> Vec<u8> {
    let mut info = FrameInfo::multicast_v4(MacAddr(PEER_MAC), PEER_V4, 7);
    if let IpInfo::V4 { ttl: t, .. } = &mut info.ip {
        *t = ttl;
    }
    wire::emit_advert_frame(&info, advert, ChecksumMode::PseudoHeader).expect("emit advert")
}

pub fn vlan(vid: u16) -> VlanTag {
    VlanTag {
        pcp: 0,
        dei: false,
        vid,
    }
}

/// A client's broadcast ARP request for `target`.
pub fn arp_request(target: Ipv4Addr, vlan: Option<VlanTag>) -> Vec<u8> {
    let request = ArpRepr {
        operation: ArpOperation::Request,
        sender_mac: MacAddr(CLIENT_MAC),
        sender_ip: CLIENT_V4,
        target_mac: MacAddr([0; 6]),
        target_ip: target,
    };
    arp::emit_frame(MacAddr(CLIENT_MAC), MacAddr::BROADCAST, vlan, &request).expect("emit ARP")
}

/// A neighbour solicitation for `target` from `source` (`::` for duplicate address detection)
/// to the target's solicited-node group.
pub fn solicitation(target: Ipv6Addr, source: Ipv6Addr) -> Vec<u8> {
    let t = target.octets();
    let solicited_node = Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(t[13]),
        u16::from_be_bytes([t[14], t[15]]),
    );
    let ethernet = EthernetRepr {
        src: MacAddr(CLIENT_MAC),
        dst: MacAddr::ipv6_multicast(solicited_node),
        vlan: None,
        ethertype: 0x86dd,
    };
    let ns = NdpRepr::NeighborSolicit {
        target,
        source_lladdr: (!source.is_unspecified()).then_some(MacAddr(CLIENT_MAC)),
    };
    ndp::emit_frame(&ethernet, source, solicited_node, &ns).expect("emit NS")
}

/// A frame the program passes after its first checks: TCP to a VIP.
pub fn tcp_v4() -> Vec<u8> {
    let mut frame = frame_v4(&v3_v4(100), ChecksumMode::PseudoHeader);
    frame[14 + 9] = 6;
    frame
}

/// `frame`, an untagged IPv4 frame, after `edit` of its IPv4 header, the header checksum
/// made valid again.
pub fn edit_ipv4_header(frame: &[u8], edit: impl FnOnce(&mut [u8])) -> Vec<u8> {
    let mut frame = frame.to_vec();
    edit(&mut frame[14..]);
    Ipv4Packet::new_unchecked(&mut frame[14..]).fill_checksum();
    frame
}

/// `frame` with another destination MAC.
pub fn to_mac(frame: &[u8], destination: [u8; 6]) -> Vec<u8> {
    let mut frame = frame.to_vec();
    frame[..6].copy_from_slice(&destination);
    frame
}
