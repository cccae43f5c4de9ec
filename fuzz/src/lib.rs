//! What the fuzz targets share.
//!
//! Checksums stop a mutated frame at the first check: a random change to a VRRP advert almost
//! never keeps its IPv4 header checksum and its VRRP checksum right. So the frame targets run
//! every input twice, as it came and with its checksums recomputed
//! ([`with_checksums_repaired`]), and the second run reaches the code behind the checks.
pub mod config;

use std::net::{Ipv4Addr, Ipv6Addr};

use vrrp_user::wire::{
    ChecksumMode, EthernetFrame, IpPair, Ipv4Packet, Ipv6Packet, NdpPacket, VrrpPacket,
    ethernet::ethertype, ndp, vrrp,
};

/// Both ways of checksumming VRRPv3 over IPv4; every advert target tries each.
pub const CHECKSUM_MODES: [ChecksumMode; 2] = [ChecksumMode::PseudoHeader, ChecksumMode::VrrpOnly];

/// `frame` with the IPv4 header checksum and the VRRP (for `mode`) or ICMPv6 checksum
/// recomputed, where the headers are long enough to hold them; other bytes unchanged.
pub fn with_checksums_repaired(frame: &[u8], mode: ChecksumMode) -> Vec<u8> {
    let mut out = frame.to_vec();
    let Ok(eth) = EthernetFrame::new_checked(&out[..]) else {
        return out;
    };
    let (start, ether_type) = (eth.header_len(), eth.ethertype());
    let packet = &mut out[start..];
    match ether_type {
        ethertype::IPV4 => repair_ipv4(packet, mode),
        ethertype::IPV6 => repair_ipv6(packet, mode),
        _ => {}
    }
    out
}

/// Recomputes an IPv4 packet's header checksum and, if it carries VRRP, the VRRP checksum.
pub fn repair_ipv4(packet: &mut [u8], mode: ChecksumMode) {
    let Ok(mut ip) = Ipv4Packet::new_checked(&mut *packet) else {
        return;
    };
    ip.fill_checksum();
    let pair = IpPair::V4 {
        src: ip.src_addr(),
        dst: ip.dst_addr(),
    };
    if ip.protocol() == vrrp::PROTOCOL {
        repair_vrrp(ip.payload_mut(), &pair, mode);
    }
}

/// Recomputes the VRRP or ICMPv6 checksum of an IPv6 packet (the header has none).
pub fn repair_ipv6(packet: &mut [u8], mode: ChecksumMode) {
    let Ok(mut ip) = Ipv6Packet::new_checked(&mut *packet) else {
        return;
    };
    let (src, dst, next_header) = (ip.src_addr(), ip.dst_addr(), ip.next_header());
    let payload = ip.payload_mut();
    match next_header {
        vrrp::PROTOCOL => repair_vrrp(payload, &IpPair::V6 { src, dst }, mode),
        ndp::PROTOCOL => {
            if let Ok(mut message) = NdpPacket::new_checked(payload) {
                message.fill_checksum(&src, &dst);
            }
        }
        _ => {}
    }
}

/// Recomputes a VRRP message's checksum, if it has the 8-byte header.
pub fn repair_vrrp(message: &mut [u8], ip: &IpPair, mode: ChecksumMode) {
    if let Ok(mut packet) = VrrpPacket::new_checked(message) {
        packet.fill_checksum(ip, mode);
    }
}

/// The `vrrp` target's input, which carries what the IP header would give the VRRP parser.
///
/// Layout: one flags byte (bit 0: IPv6, bit 1: [`ChecksumMode::VrrpOnly`], bit 2: recompute
/// the checksum before parsing), the IP source and destination (4 bytes each, 16 for IPv6),
/// then the VRRP message. `fuzz/seeds.py` writes the seeds in this layout.
#[derive(Debug)]
pub struct VrrpInput {
    pub ip: IpPair,
    pub mode: ChecksumMode,
    pub message: Vec<u8>,
}

pub const VRRP_FLAG_IPV6: u8 = 1;
pub const VRRP_FLAG_VRRP_ONLY: u8 = 2;
pub const VRRP_FLAG_REPAIR: u8 = 4;

impl VrrpInput {
    /// Splits `data`; `None` if it is shorter than the flags byte and the addresses.
    pub fn split(data: &[u8]) -> Option<VrrpInput> {
        let (&flags, rest) = data.split_first()?;
        let (ip, message) = if flags & VRRP_FLAG_IPV6 != 0 {
            let (src, rest) = rest.split_first_chunk::<16>()?;
            let (dst, rest) = rest.split_first_chunk::<16>()?;
            let (src, dst) = (Ipv6Addr::from(*src), Ipv6Addr::from(*dst));
            (IpPair::V6 { src, dst }, rest)
        } else {
            let (src, rest) = rest.split_first_chunk::<4>()?;
            let (dst, rest) = rest.split_first_chunk::<4>()?;
            let (src, dst) = (Ipv4Addr::from(*src), Ipv4Addr::from(*dst));
            (IpPair::V4 { src, dst }, rest)
        };
        let mode = if flags & VRRP_FLAG_VRRP_ONLY != 0 {
            ChecksumMode::VrrpOnly
        } else {
            ChecksumMode::PseudoHeader
        };
        let mut message = message.to_vec();
        if flags & VRRP_FLAG_REPAIR != 0 {
            repair_vrrp(&mut message, &ip, mode);
        }
        Some(VrrpInput { ip, mode, message })
    }
}
