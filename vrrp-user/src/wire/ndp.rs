//! IPv6 neighbour discovery, the part VRRP needs: Neighbor Solicitation (RFC 4861 §4.3) and
//! Neighbor Advertisement (§4.4) with the link-layer address options (§4.6.1), in ICMPv6
//! (RFC 4443) with its pseudo-header checksum.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | Type (135/136)|   Code (0)    |          Checksum             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |R|S|O|                     Reserved (NS: all reserved)         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                                                               |
//! +                   Target Address (16 bytes)                   +
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Option type  | Length (x8 B) |   Link-layer address ...      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
use std::net::Ipv6Addr;

use super::ethernet::{self, EthernetRepr, Frame, MacAddr, VlanTag};
use super::ipv6::{self, Ipv6Repr};
use super::{Error, Layer, checksum, need, room};

/// IPv6 next header of ICMPv6.
pub const PROTOCOL: u8 = 58;
pub const TYPE_NEIGHBOR_SOLICIT: u8 = 135;
pub const TYPE_NEIGHBOR_ADVERT: u8 = 136;
/// Type, code, checksum, flags/reserved, target.
pub const HEADER_LEN: usize = 24;
/// A link-layer address option for Ethernet: type, length 1, 6-byte MAC.
pub const LLADDR_OPTION_LEN: usize = 8;
const OPT_SOURCE_LLADDR: u8 = 1;
const OPT_TARGET_LLADDR: u8 = 2;
/// The all-nodes group unsolicited NAs go to (RFC 4861 §7.2.6).
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// Hop limit of every ND message; receivers drop anything else (RFC 4861 §7.1).
pub const HOP_LIMIT: u8 = 255;

const FLAG_ROUTER: u32 = 0x8000_0000;
const FLAG_SOLICITED: u32 = 0x4000_0000;
const FLAG_OVERRIDE: u32 = 0x2000_0000;

mod field {
    use std::ops::Range;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    pub const FLAGS: Range<usize> = 4..8;
    pub const TARGET: Range<usize> = 8..24;
}

/// A read/write view of an NS or NA message (the whole ICMPv6 message).
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps without checking; getters may panic until [`check_len`](Self::check_len) passes.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Packet<T>, Error> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// NS and NA are at least 24 bytes (RFC 4861 §7.1.1, §7.1.2).
    pub fn check_len(&self) -> Result<(), Error> {
        need(Layer::Icmpv6, HEADER_LEN, self.buffer.as_ref().len())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    pub fn msg_type(&self) -> u8 {
        self.b()[field::TYPE]
    }

    pub fn code(&self) -> u8 {
        self.b()[field::CODE]
    }

    pub fn checksum(&self) -> u16 {
        let b = &self.b()[field::CHECKSUM];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// The 32-bit word after the checksum: NA flags in the top bits, reserved in NS.
    pub fn flags_word(&self) -> u32 {
        let b = &self.b()[field::FLAGS];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    pub fn target_addr(&self) -> Ipv6Addr {
        let mut o = [0u8; 16];
        o.copy_from_slice(&self.b()[field::TARGET]);
        Ipv6Addr::from(o)
    }

    pub fn options(&self) -> &[u8] {
        &self.b()[HEADER_LEN..]
    }

    pub fn expected_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> u16 {
        let b = self.b();
        checksum::finish(&[
            checksum::pseudo_header_v6(src, dst, PROTOCOL, b.len() as u32),
            checksum::data(&b[..field::CHECKSUM.start]),
            checksum::data(&b[field::CHECKSUM.end..]),
        ])
    }

    pub fn verify_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        let b = self.b();
        checksum::verifies(&[
            checksum::pseudo_header_v6(src, dst, PROTOCOL, b.len() as u32),
            checksum::data(b),
        ])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_msg_type(&mut self, v: u8) {
        self.buffer.as_mut()[field::TYPE] = v;
    }

    pub fn set_code(&mut self, v: u8) {
        self.buffer.as_mut()[field::CODE] = v;
    }

    pub fn set_checksum(&mut self, v: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&v.to_be_bytes());
    }

    pub fn set_flags_word(&mut self, v: u32) {
        self.buffer.as_mut()[field::FLAGS].copy_from_slice(&v.to_be_bytes());
    }

    pub fn set_target_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::TARGET].copy_from_slice(&a.octets());
    }

    pub fn options_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }

    pub fn fill_checksum(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        let sum = self.expected_checksum(src, dst);
        self.set_checksum(sum);
    }
}

/// The R, S and O flags of a Neighbor Advertisement (RFC 4861 §4.4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct NaFlags {
    pub router: bool,
    pub solicited: bool,
    pub override_: bool,
}

impl NaFlags {
    fn from_word(w: u32) -> NaFlags {
        NaFlags {
            router: w & FLAG_ROUTER != 0,
            solicited: w & FLAG_SOLICITED != 0,
            override_: w & FLAG_OVERRIDE != 0,
        }
    }

    fn word(&self) -> u32 {
        (if self.router { FLAG_ROUTER } else { 0 })
            | (if self.solicited { FLAG_SOLICITED } else { 0 })
            | (if self.override_ { FLAG_OVERRIDE } else { 0 })
    }
}

/// An NS or NA. Options other than the link-layer address one the message type uses are
/// skipped on parse (RFC 4861 §4.6: unrecognised options are ignored) and not re-emitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NdpRepr {
    NeighborSolicit {
        target: Ipv6Addr,
        source_lladdr: Option<MacAddr>,
    },
    NeighborAdvert {
        flags: NaFlags,
        target: Ipv6Addr,
        target_lladdr: Option<MacAddr>,
    },
}

/// Finds the first link-layer option of `kind`; every option must have a non-zero length
/// and fit (RFC 4861 §4.6, §7.1.1).
fn find_lladdr(mut options: &[u8], kind: u8) -> Result<Option<MacAddr>, Error> {
    let mut found = None;
    loop {
        let (t, len) = match *options {
            [] => return Ok(found),
            [t, len, ..] => (t, len),
            [_] => {
                return Err(Error::Truncated {
                    layer: Layer::NdpOption,
                    need: 2,
                    have: 1,
                });
            }
        };
        if len == 0 {
            return Err(Error::BadNdpOption { kind: t, len });
        }
        let bytes = usize::from(len) * 8;
        let Some(option) = options.get(..bytes) else {
            return Err(Error::Truncated {
                layer: Layer::NdpOption,
                need: bytes,
                have: options.len(),
            });
        };
        if t == kind && found.is_none() {
            if len != 1 {
                return Err(Error::BadNdpOption { kind: t, len });
            }
            found = MacAddr::from_slice(&option[2..]);
        }
        options = &options[bytes..];
    }
}

/// Whether `address` is a solicited-node multicast group, ff02::1:ffXX:XXXX (RFC 4291 §2.7.1).
fn is_solicited_node(address: &Ipv6Addr) -> bool {
    let octets = address.octets();
    octets[..13] == [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff]
}

impl NdpRepr {
    /// Parses an NS/NA received from `src` to `dst`; checks type, code 0, length, checksum,
    /// a non-multicast target, the options' lengths and, from `::`, a solicited-node
    /// destination and no source link-layer option (RFC 4861 §7.1.1, §7.1.2). The hop
    /// limit (must be 255) is in the IPv6 header, for the caller.
    pub fn parse<T: AsRef<[u8]>>(
        packet: &Packet<T>,
        src: &Ipv6Addr,
        dst: &Ipv6Addr,
    ) -> Result<NdpRepr, Error> {
        packet.check_len()?;
        let t = packet.msg_type();
        if t != TYPE_NEIGHBOR_SOLICIT && t != TYPE_NEIGHBOR_ADVERT {
            return Err(Error::BadIcmpType(t));
        }
        if packet.code() != 0 {
            return Err(Error::BadIcmpCode(packet.code()));
        }
        if !packet.verify_checksum(src, dst) {
            return Err(Error::BadChecksum {
                layer: Layer::Icmpv6,
                expected: packet.expected_checksum(src, dst),
                found: packet.checksum(),
            });
        }
        let target = packet.target_addr();
        if target.is_multicast() {
            return Err(Error::MulticastTarget);
        }
        if t == TYPE_NEIGHBOR_SOLICIT {
            let source_lladdr = find_lladdr(packet.options(), OPT_SOURCE_LLADDR)?;
            if src.is_unspecified() && (source_lladdr.is_some() || !is_solicited_node(dst)) {
                return Err(Error::BadDadSolicitation { destination: *dst });
            }
            Ok(NdpRepr::NeighborSolicit {
                target,
                source_lladdr,
            })
        } else {
            Ok(NdpRepr::NeighborAdvert {
                flags: NaFlags::from_word(packet.flags_word()),
                target,
                target_lladdr: find_lladdr(packet.options(), OPT_TARGET_LLADDR)?,
            })
        }
    }

    fn lladdr(&self) -> Option<(u8, MacAddr)> {
        match *self {
            NdpRepr::NeighborSolicit { source_lladdr, .. } => {
                source_lladdr.map(|m| (OPT_SOURCE_LLADDR, m))
            }
            NdpRepr::NeighborAdvert { target_lladdr, .. } => {
                target_lladdr.map(|m| (OPT_TARGET_LLADDR, m))
            }
        }
    }

    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.lladdr().map_or(0, |_| LLADDR_OPTION_LEN)
    }

    /// Writes the message and its checksum for `src` → `dst` into the first `buffer_len`
    /// bytes of `packet`, which should be exactly that long for the checksum to cover it.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Packet<T>,
        src: &Ipv6Addr,
        dst: &Ipv6Addr,
    ) -> Result<(), Error> {
        let len = self.buffer_len();
        room(Layer::Icmpv6, len, packet.b().len())?;
        let mut p = Packet::new_unchecked(&mut packet.buffer.as_mut()[..len]);
        let (t, flags, target) = match *self {
            NdpRepr::NeighborSolicit { target, .. } => (TYPE_NEIGHBOR_SOLICIT, 0, target),
            NdpRepr::NeighborAdvert { flags, target, .. } => {
                (TYPE_NEIGHBOR_ADVERT, flags.word(), target)
            }
        };
        p.set_msg_type(t);
        p.set_code(0);
        p.set_flags_word(flags);
        p.set_target_addr(target);
        if let Some((kind, mac)) = self.lladdr() {
            let o = p.options_mut();
            o[0] = kind;
            o[1] = 1;
            o[2..8].copy_from_slice(&mac.0);
        }
        p.fill_checksum(src, dst);
        Ok(())
    }
}

/// Parses an Ethernet frame carrying an NS or NA. The IPv6 header comes back whole so that
/// the caller can check the hop limit (RFC 4861 §7.1).
pub fn parse_frame(frame: &[u8]) -> Result<(EthernetRepr, Ipv6Repr, NdpRepr), Error> {
    let f = Frame::new_checked(frame)?;
    let eth = EthernetRepr::parse(&f)?;
    if eth.ethertype != ethernet::ethertype::IPV6 {
        return Err(Error::BadEtherType(eth.ethertype));
    }
    let packet = ipv6::Packet::new_unchecked(f.payload());
    let ip = Ipv6Repr::parse(&packet)?;
    if ip.next_header != PROTOCOL {
        return Err(Error::BadProtocol(ip.next_header));
    }
    let message = f
        .payload()
        .get(ipv6::HEADER_LEN..ipv6::HEADER_LEN + ip.payload_len)
        .ok_or(Error::Truncated {
            layer: Layer::Ipv6,
            need: ipv6::HEADER_LEN + ip.payload_len,
            have: f.payload().len(),
        })?;
    let ndp = NdpRepr::parse(&Packet::new_unchecked(message), &ip.src, &ip.dst)?;
    Ok((eth, ip, ndp))
}

/// Builds an NS/NA frame with hop limit 255, traffic class and flow label 0 (as Linux and
/// keepalived send them).
pub fn emit_frame(
    eth: &EthernetRepr,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    ndp: &NdpRepr,
) -> Result<Vec<u8>, Error> {
    let eth = EthernetRepr {
        ethertype: ethernet::ethertype::IPV6,
        ..*eth
    };
    let ip = Ipv6Repr {
        src,
        dst,
        next_header: PROTOCOL,
        payload_len: ndp.buffer_len(),
        hop_limit: HOP_LIMIT,
        traffic_class: 0,
        flow_label: 0,
    };
    let (l2, l3) = (eth.buffer_len(), ipv6::HEADER_LEN);
    let mut buf = vec![0u8; l2 + l3 + ndp.buffer_len()];
    eth.emit(&mut Frame::new_unchecked(&mut buf[..]))?;
    ip.emit(&mut ipv6::Packet::new_unchecked(&mut buf[l2..]))?;
    ndp.emit(&mut Packet::new_unchecked(&mut buf[l2 + l3..]), &src, &dst)?;
    Ok(buf)
}

/// The unsolicited NA announcing `target` at `mac` to all nodes, as keepalived sends it for
/// each IPv6 VIP on becoming master: from the VIP itself, Override set, Solicited clear,
/// target link-layer option (RFC 4861 §7.2.6). RFC 5798 §6.4.2 asks for the Router flag and
/// the virtual MAC; keepalived sends neither, so both are the caller's choice.
pub fn unsolicited_na_frame(
    mac: MacAddr,
    target: Ipv6Addr,
    router: bool,
    vlan: Option<VlanTag>,
) -> Result<Vec<u8>, Error> {
    let eth = EthernetRepr {
        src: mac,
        dst: MacAddr::ipv6_multicast(ALL_NODES),
        vlan,
        ethertype: ethernet::ethertype::IPV6,
    };
    let na = NdpRepr::NeighborAdvert {
        flags: NaFlags {
            router,
            solicited: false,
            override_: true,
        },
        target,
        target_lladdr: Some(mac),
    };
    emit_frame(&eth, target, ALL_NODES, &na)
}

/// The solicited NA answering an NS frame from `our_mac` (RFC 4861 §7.2.4): from the target
/// address, to the solicitor (or all nodes when it solicited from `::` during DAD, with S
/// clear), Override set, target link-layer option included. `Ok(None)` if the frame is an NA.
/// Whether the target is ours to answer for is the caller's question.
pub fn answer_solicitation(
    request: &[u8],
    our_mac: MacAddr,
    router: bool,
) -> Result<Option<Vec<u8>>, Error> {
    let (eth, ip, ndp) = parse_frame(request)?;
    let NdpRepr::NeighborSolicit {
        target,
        source_lladdr,
    } = ndp
    else {
        return Ok(None);
    };
    let dad = ip.src.is_unspecified();
    let (dst, dst_mac) = if dad {
        (ALL_NODES, MacAddr::ipv6_multicast(ALL_NODES))
    } else {
        (ip.src, source_lladdr.unwrap_or(eth.src))
    };
    let na = NdpRepr::NeighborAdvert {
        flags: NaFlags {
            router,
            solicited: !dad,
            override_: true,
        },
        target,
        target_lladdr: Some(our_mac),
    };
    let reply_eth = EthernetRepr {
        src: our_mac,
        dst: dst_mac,
        vlan: eth.vlan,
        ethertype: ethernet::ethertype::IPV6,
    };
    emit_frame(&reply_eth, target, dst, &na).map(Some)
}
