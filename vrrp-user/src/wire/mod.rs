//! VRRP, ARP and NDP on the wire: pure encode/decode over byte slices, in the style of
//! smoltcp's `wire` module.
//!
//! Each protocol has two levels:
//! - a zero-copy view (`Packet<T: AsRef<[u8]>>`, `Frame` for Ethernet) whose `new_checked`
//!   verifies the length before any field is read, with getters, and setters when
//!   `T: AsMut<[u8]>`;
//! - a high-level `…Repr` with `parse`, `buffer_len` and `emit`.
//!
//! On top of those, [`parse_advert_frame`] / [`emit_advert_frame`] handle a whole VRRP frame
//! (Ethernet, optional 802.1Q tag, IPv4 or IPv6, VRRP), and [`arp`] and [`ndp`] have the
//! frame builders the daemon sends on becoming master (gratuitous ARP, unsolicited NA) and
//! the replies the data plane gives to requests for a VIP.
//!
//! Nothing here panics on input: every field access sits behind a length check, and every
//! malformed packet yields a specific [`Error`] so the caller can count it.
//! Policy stays with the caller: the TTL / hop limit, priority 0, authentication and the
//! advert interval are exposed, not judged (RFC 5798 §7.1 checks belong to the receiver).
//!
//! The vectors in `tests/data/keepalived/` are frames captured from keepalived 2.2.7; the
//! tests decode them and re-encode them to identical bytes.
use std::fmt;

pub mod arp;
pub mod checksum;
pub mod ethernet;
mod frame;
pub mod ipv4;
pub mod ipv6;
pub mod ndp;
pub mod vrrp;

pub use arp::{ArpOperation, ArpRepr, Packet as ArpPacket};
pub use ethernet::{EthernetRepr, Frame as EthernetFrame, MacAddr, VlanTag};
pub use frame::{
    ADVERT_TOS, FrameInfo, IpInfo, emit_advert_frame, emit_advert_ip, parse_advert_frame,
    restamp_ipv4_ident,
};
pub use ipv4::{Ipv4Repr, Packet as Ipv4Packet};
pub use ipv6::{Ipv6Repr, Packet as Ipv6Packet};
pub use ndp::{NaFlags, NdpRepr, Packet as NdpPacket};
pub use vrrp::{
    AuthType, ChecksumMode, IpPair, Packet as VrrpPacket, V2Advert, V3Advert, VipList, VrrpRepr,
};

/// The protocol layer an [`Error`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layer {
    Ethernet,
    /// The 802.1Q tag.
    Vlan,
    Ipv4,
    Ipv6,
    Vrrp,
    Arp,
    Icmpv6,
    /// An NDP option (RFC 4861 §4.6).
    NdpOption,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layer::Ethernet => "Ethernet",
            Layer::Vlan => "802.1Q",
            Layer::Ipv4 => "IPv4",
            Layer::Ipv6 => "IPv6",
            Layer::Vrrp => "VRRP",
            Layer::Arp => "ARP",
            Layer::Icmpv6 => "ICMPv6",
            Layer::NdpOption => "NDP option",
        })
    }
}

/// Why a packet could not be parsed (or a repr could not be emitted).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The bytes end before the header or the length the packet itself claims.
    #[error("{layer} truncated: need {need} bytes, have {have}")]
    Truncated {
        layer: Layer,
        need: usize,
        have: usize,
    },
    /// An output buffer is smaller than the repr's `buffer_len` (or a 16-bit IP length
    /// field cannot hold what is to be written).
    #[error("{layer} buffer too small: need {need} bytes, have {have}")]
    BufferTooSmall {
        layer: Layer,
        need: usize,
        have: usize,
    },
    /// The EtherType is not one this parser handles here.
    #[error("unexpected EtherType {0:#06x}")]
    BadEtherType(u16),
    /// The IP version nibble does not match the header being parsed.
    #[error("bad IP version {0}")]
    BadIpVersion(u8),
    /// IPv4 IHL below 5 words (RFC 791 §3.1: the minimum header is 20 bytes).
    #[error("bad IPv4 header length {0} (IHL is in 32-bit words, minimum 5)")]
    BadIhl(u8),
    /// IPv4 Total Length shorter than the header it covers.
    #[error("IPv4 total length {total} is shorter than the {header}-byte header")]
    BadTotalLength { total: u16, header: usize },
    /// A fragment: VRRP adverts are never fragmented, and a fragment cannot be checked.
    #[error("IPv4 fragment (offset {offset}, more fragments: {more})")]
    Fragmented { offset: u16, more: bool },
    /// The IP protocol / next header is not the one expected (112 for VRRP, 58 for ICMPv6).
    #[error("unexpected IP protocol {0}")]
    BadProtocol(u8),
    /// A checksum does not verify; `expected` is what the sender should have written.
    #[error("bad {layer} checksum {found:#06x}, expected {expected:#06x}")]
    BadChecksum {
        layer: Layer,
        expected: u16,
        found: u16,
    },
    /// VRRP version other than 2 or 3.
    #[error("bad VRRP version {0}")]
    BadVersion(u8),
    /// VRRP type other than 1 (ADVERTISEMENT, RFC 5798 §5.2.2).
    #[error("bad VRRP type {0}")]
    BadType(u8),
    /// VRRPv2 Auth Type other than 0, 1, 2 (RFC 3768 §5.3.6).
    #[error("bad VRRPv2 auth type {0}")]
    BadAuthType(u8),
    /// The VRRP message length is not exactly what the address count implies.
    #[error(
        "VRRP message of {length} bytes does not match {count} addresses (expected {expected} bytes)"
    )]
    AddressCountMismatch {
        count: u8,
        length: usize,
        expected: usize,
    },
    /// VRRPv2 is IPv4 only (RFC 3768 §5.1).
    #[error("VRRPv2 over IPv6")]
    V2OverIpv6,
    /// The VIP list's family differs from the IP header's (RFC 5798 §5.2.9).
    #[error("VRRP address family does not match the IP header")]
    AddressFamilyMismatch,
    /// More addresses than the 8-bit count field can carry.
    #[error("{0} addresses do not fit the 8-bit count field")]
    TooManyAddresses(usize),
    /// A VRRPv3 interval above the 12-bit field's 4095 centiseconds.
    #[error("VRRPv3 interval {0} cs does not fit the 12-bit field")]
    IntervalTooLarge(u16),
    /// ARP for something other than Ethernet/IPv4 (RFC 826 fields hrd/pro/hln/pln).
    #[error("ARP for hardware {htype}/{hlen} bytes, protocol {ptype:#06x}/{plen} bytes")]
    BadArpFormat {
        htype: u16,
        ptype: u16,
        hlen: u8,
        plen: u8,
    },
    /// ARP operation other than request (1) or reply (2).
    #[error("bad ARP operation {0}")]
    BadArpOperation(u16),
    /// ICMPv6 type other than NS (135) / NA (136).
    #[error("ICMPv6 type {0} is not neighbour discovery")]
    BadIcmpType(u8),
    /// ICMPv6 code other than 0 (RFC 4861 §7.1.1).
    #[error("bad ICMPv6 code {0}")]
    BadIcmpCode(u8),
    /// An NDP option of length 0 (RFC 4861 §4.6), or a link-layer option that is not 6 bytes.
    #[error("bad NDP option type {kind} of {len} units")]
    BadNdpOption { kind: u8, len: u8 },
    /// A multicast NS/NA target (RFC 4861 §7.1.1, §7.1.2).
    #[error("NDP target is a multicast address")]
    MulticastTarget,
    /// A solicitation from `::` (duplicate address detection) that is not to a solicited-node
    /// group or carries a source link-layer address (RFC 4861 §7.1.1).
    #[error("NS from the unspecified address to {destination} or with a source link-layer option")]
    BadDadSolicitation { destination: std::net::Ipv6Addr },
}

/// Fails with [`Error::Truncated`] unless `have >= need`.
pub(crate) fn need(layer: Layer, need: usize, have: usize) -> Result<(), Error> {
    if have < need {
        Err(Error::Truncated { layer, need, have })
    } else {
        Ok(())
    }
}

/// Fails with [`Error::BufferTooSmall`] unless `have >= need`.
pub(crate) fn room(layer: Layer, need: usize, have: usize) -> Result<(), Error> {
    if have < need {
        Err(Error::BufferTooSmall { layer, need, have })
    } else {
        Ok(())
    }
}
