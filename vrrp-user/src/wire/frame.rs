//! Whole advert frames: Ethernet (+ one 802.1Q tag) → IPv4 / IPv6 → VRRP, both ways.
//!
//! Parsing returns every header field a sender chooses ([`FrameInfo`]) next to the VRRP repr,
//! so that emitting the two again reproduces the frame byte for byte — the keepalived vectors
//! are tested that way. What keepalived 2.2.7 puts in the headers (from the captures):
//! - Ethernet source: the interface's own MAC, not the virtual MAC (no `use_vmac`);
//! - IPv4: TOS 0xc0 (precedence "internetwork control", DSCP CS6), DF clear, TTL 255, and an
//!   IP ID that starts at 1 and counts up by one per advert of the instance;
//! - IPv6: traffic class 0xc0, the flow label the kernel picked for the socket, source the
//!   link-local address for multicast (the configured `unicast_src_ip` for unicast), hop
//!   limit 255 for multicast but 64 for unicast (keepalived does not set the unicast hop
//!   limit; RFC 5798 §5.1.2.3 asks for 255);
//! - no Ethernet padding on veth; a real NIC pads short frames to 60 bytes, which the IP
//!   length makes the parser ignore.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;

use super::ethernet::{self, EthernetRepr, Frame, MacAddr, VlanTag};
use super::vrrp::{self, ChecksumMode, IpPair, VrrpRepr};
use super::{Error, Layer, ipv4, ipv6};

/// The TOS byte keepalived sends IPv4 adverts with (IPTOS_PREC_INTERNETCONTROL) and the
/// traffic class of its IPv6 adverts.
pub const ADVERT_TOS: u8 = 0xc0;

/// The IP header of an advert, as sent or as received.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IpInfo {
    V4 {
        src: Ipv4Addr,
        dst: Ipv4Addr,
        ttl: u8,
        tos: u8,
        /// The IP ID: per packet, so a re-encode needs the received one.
        ident: u16,
        dont_frag: bool,
    },
    V6 {
        src: Ipv6Addr,
        dst: Ipv6Addr,
        hop_limit: u8,
        traffic_class: u8,
        flow_label: u32,
    },
}

impl IpInfo {
    /// An IPv4 advert header as keepalived writes it: TOS 0xc0, TTL 255, DF clear.
    /// `dst` is [`vrrp::MULTICAST_V4`] or a unicast peer; `ident` is the sender's counter.
    pub const fn advert_v4(src: Ipv4Addr, dst: Ipv4Addr, ident: u16) -> IpInfo {
        IpInfo::V4 {
            src,
            dst,
            ttl: vrrp::TTL,
            tos: ADVERT_TOS,
            ident,
            dont_frag: false,
        }
    }

    /// An IPv6 advert header: traffic class 0xc0, hop limit 255 (RFC 5798 §5.1.2.3). `src`
    /// must be the link-local address for multicast (RFC 5798 §5.1.2.1).
    pub const fn advert_v6(src: Ipv6Addr, dst: Ipv6Addr, flow_label: u32) -> IpInfo {
        IpInfo::V6 {
            src,
            dst,
            hop_limit: vrrp::TTL,
            traffic_class: ADVERT_TOS,
            flow_label,
        }
    }

    pub fn src(&self) -> IpAddr {
        self.pair().src()
    }

    pub fn dst(&self) -> IpAddr {
        self.pair().dst()
    }

    /// The IPv4 TTL or the IPv6 hop limit (RFC 5798 §7.1 wants 255; the caller checks).
    pub fn ttl(&self) -> u8 {
        match *self {
            IpInfo::V4 { ttl, .. } => ttl,
            IpInfo::V6 { hop_limit, .. } => hop_limit,
        }
    }

    pub fn pair(&self) -> IpPair {
        match *self {
            IpInfo::V4 { src, dst, .. } => IpPair::V4 { src, dst },
            IpInfo::V6 { src, dst, .. } => IpPair::V6 { src, dst },
        }
    }

    fn header_len(&self) -> usize {
        match self {
            IpInfo::V4 { .. } => ipv4::MIN_HEADER_LEN,
            IpInfo::V6 { .. } => ipv6::HEADER_LEN,
        }
    }

    fn ethertype(&self) -> u16 {
        match self {
            IpInfo::V4 { .. } => ethernet::ethertype::IPV4,
            IpInfo::V6 { .. } => ethernet::ethertype::IPV6,
        }
    }
}

/// Everything about an advert frame that is not the VRRP message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FrameInfo {
    pub src_mac: MacAddr,
    pub dst_mac: MacAddr,
    pub vlan: Option<VlanTag>,
    pub ip: IpInfo,
}

impl FrameInfo {
    /// A multicast IPv4 advert to 224.0.0.18 (RFC 5798 §5.1.1.2). RFC 5798 §7.3 wants the
    /// virtual router MAC ([`MacAddr::vrrp_v4`]) as `src_mac`; keepalived uses the interface's.
    pub const fn multicast_v4(src_mac: MacAddr, src: Ipv4Addr, ident: u16) -> FrameInfo {
        FrameInfo {
            src_mac,
            dst_mac: MacAddr::ipv4_multicast(vrrp::MULTICAST_V4),
            vlan: None,
            ip: IpInfo::advert_v4(src, vrrp::MULTICAST_V4, ident),
        }
    }

    /// A multicast IPv6 advert to ff02::12 from the link-local `src` (RFC 5798 §5.1.2).
    pub const fn multicast_v6(src_mac: MacAddr, src: Ipv6Addr, flow_label: u32) -> FrameInfo {
        FrameInfo {
            src_mac,
            dst_mac: MacAddr::ipv6_multicast(vrrp::MULTICAST_V6),
            vlan: None,
            ip: IpInfo::advert_v6(src, vrrp::MULTICAST_V6, flow_label),
        }
    }

    pub fn src_ip(&self) -> IpAddr {
        self.ip.src()
    }

    pub fn dst_ip(&self) -> IpAddr {
        self.ip.dst()
    }

    /// The IPv4 TTL or IPv6 hop limit, unjudged.
    pub fn ttl(&self) -> u8 {
        self.ip.ttl()
    }
}

/// Parses an Ethernet frame carrying a VRRP advert. Bytes after the IP length (Ethernet
/// padding) are ignored. The IPv4 header checksum is verified; IPv4 options are skipped.
pub fn parse_advert_frame(
    frame: &[u8],
    mode: ChecksumMode,
) -> Result<(FrameInfo, VrrpRepr), Error> {
    let eth_frame = Frame::new_checked(frame)?;
    let eth = EthernetRepr::parse(&eth_frame)?;
    let payload = eth_frame.payload();
    let (ip, message) = match eth.ethertype {
        ethernet::ethertype::IPV4 => {
            let packet = ipv4::Packet::new_unchecked(payload);
            let repr = ipv4::Ipv4Repr::parse(&packet)?;
            if repr.protocol != vrrp::PROTOCOL {
                return Err(Error::BadProtocol(repr.protocol));
            }
            let ip = IpInfo::V4 {
                src: repr.src,
                dst: repr.dst,
                ttl: repr.ttl,
                tos: repr.tos,
                ident: repr.ident,
                dont_frag: repr.dont_frag,
            };
            let range = packet.header_len()..usize::from(packet.total_len());
            (ip, checked(payload, range, Layer::Ipv4)?)
        }
        ethernet::ethertype::IPV6 => {
            let packet = ipv6::Packet::new_unchecked(payload);
            let repr = ipv6::Ipv6Repr::parse(&packet)?;
            if repr.next_header != vrrp::PROTOCOL {
                return Err(Error::BadProtocol(repr.next_header));
            }
            let ip = IpInfo::V6 {
                src: repr.src,
                dst: repr.dst,
                hop_limit: repr.hop_limit,
                traffic_class: repr.traffic_class,
                flow_label: repr.flow_label,
            };
            let range = ipv6::HEADER_LEN..ipv6::HEADER_LEN + repr.payload_len;
            (ip, checked(payload, range, Layer::Ipv6)?)
        }
        other => return Err(Error::BadEtherType(other)),
    };
    let advert = VrrpRepr::parse(&vrrp::Packet::new_unchecked(message), &ip.pair(), mode)?;
    let info = FrameInfo {
        src_mac: eth.src,
        dst_mac: eth.dst,
        vlan: eth.vlan,
        ip,
    };
    Ok((info, advert))
}

/// `bytes[range]`, which the header parsers have already checked to be in bounds.
fn checked(bytes: &[u8], range: Range<usize>, layer: Layer) -> Result<&[u8], Error> {
    let need = range.end;
    bytes.get(range).ok_or(Error::Truncated {
        layer,
        need,
        have: bytes.len(),
    })
}

/// Builds the IP packet of an advert (IPv4 with a 20-byte header, or IPv6): what a raw
/// socket with `IP_HDRINCL` sends.
pub fn emit_advert_ip(
    ip: &IpInfo,
    advert: &VrrpRepr,
    mode: ChecksumMode,
) -> Result<Vec<u8>, Error> {
    let mut buf = vec![0u8; ip.header_len() + advert.buffer_len()];
    emit_ip_into(&mut buf, ip, advert, mode)?;
    Ok(buf)
}

/// Builds a whole advert frame. No Ethernet padding is added (the NIC adds it).
pub fn emit_advert_frame(
    info: &FrameInfo,
    advert: &VrrpRepr,
    mode: ChecksumMode,
) -> Result<Vec<u8>, Error> {
    let eth = EthernetRepr {
        src: info.src_mac,
        dst: info.dst_mac,
        vlan: info.vlan,
        ethertype: info.ip.ethertype(),
    };
    let start = eth.buffer_len();
    let mut buf = vec![0u8; start + info.ip.header_len() + advert.buffer_len()];
    eth.emit(&mut Frame::new_unchecked(&mut buf[..]))?;
    emit_ip_into(&mut buf[start..], &info.ip, advert, mode)?;
    Ok(buf)
}

/// Gives an IPv4 advert frame built by [`emit_advert_frame`] a new IP ID and its header
/// checksum: a sender that repeats one frame per interval still counts the ID up per advert,
/// as keepalived does. An IPv6 frame has no ID and is left as it is.
pub fn restamp_ipv4_ident(frame: &mut [u8], ident: u16) -> Result<(), Error> {
    let mut eth = Frame::new_checked(frame)?;
    if eth.ethertype() != ethernet::ethertype::IPV4 {
        return Ok(());
    }
    let mut packet = ipv4::Packet::new_checked(eth.payload_mut())?;
    packet.set_ident(ident);
    packet.fill_checksum();
    Ok(())
}

/// Writes IP header + VRRP into `buf`, which is exactly their length.
fn emit_ip_into(
    buf: &mut [u8],
    ip: &IpInfo,
    advert: &VrrpRepr,
    mode: ChecksumMode,
) -> Result<(), Error> {
    let payload_len = advert.buffer_len();
    let header_len = ip.header_len();
    match *ip {
        IpInfo::V4 {
            src,
            dst,
            ttl,
            tos,
            ident,
            dont_frag,
        } => ipv4::Ipv4Repr {
            src,
            dst,
            protocol: vrrp::PROTOCOL,
            payload_len,
            ttl,
            tos,
            ident,
            dont_frag,
        }
        .emit(&mut ipv4::Packet::new_unchecked(&mut *buf))?,
        IpInfo::V6 {
            src,
            dst,
            hop_limit,
            traffic_class,
            flow_label,
        } => ipv6::Ipv6Repr {
            src,
            dst,
            next_header: vrrp::PROTOCOL,
            payload_len,
            hop_limit,
            traffic_class,
            flow_label,
        }
        .emit(&mut ipv6::Packet::new_unchecked(&mut *buf))?,
    }
    let message = buf.get_mut(header_len..).unwrap_or_default();
    advert.emit(&mut vrrp::Packet::new_unchecked(message), &ip.pair(), mode)
}
