//! Ethernet II frames (IEEE 802.3 clause 3.2.6 type field) with at most one IEEE 802.1Q tag.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                   Destination MAC (bytes 0-3)                 |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Destination MAC (4-5)       |     Source MAC (bytes 0-1)    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                     Source MAC (bytes 2-5)                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   EtherType (0x8100 = tag)    | PCP |D|  VLAN ID  (if tagged) |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  inner EtherType (if tagged)  |  payload ...
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::{Error, Layer, need, room};

pub mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const ARP: u16 = 0x0806;
    pub const VLAN: u16 = 0x8100;
    pub const IPV6: u16 = 0x86dd;
}

/// Length of an untagged Ethernet II header.
pub const HEADER_LEN: usize = 14;
/// Length of the 802.1Q tag (TPID is the outer EtherType; this is TCI + inner EtherType).
pub const VLAN_TAG_LEN: usize = 4;

/// A 48-bit MAC address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    pub const ZERO: MacAddr = MacAddr([0; 6]);

    /// The VRRP virtual router MAC for IPv4, 00-00-5E-00-01-{VRID} (RFC 5798 §7.3).
    pub const fn vrrp_v4(vrid: u8) -> MacAddr {
        MacAddr([0x00, 0x00, 0x5e, 0x00, 0x01, vrid])
    }

    /// The VRRP virtual router MAC for IPv6, 00-00-5E-00-02-{VRID} (RFC 5798 §7.3).
    pub const fn vrrp_v6(vrid: u8) -> MacAddr {
        MacAddr([0x00, 0x00, 0x5e, 0x00, 0x02, vrid])
    }

    /// The group MAC an IPv4 multicast address maps to: 01-00-5E + low 23 bits (RFC 1112 §6.4).
    pub const fn ipv4_multicast(group: Ipv4Addr) -> MacAddr {
        let o = group.octets();
        MacAddr([0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]])
    }

    /// The group MAC an IPv6 multicast address maps to: 33-33 + low 32 bits (RFC 2464 §7).
    pub const fn ipv6_multicast(group: Ipv6Addr) -> MacAddr {
        let o = group.octets();
        MacAddr([0x33, 0x33, o[12], o[13], o[14], o[15]])
    }

    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    pub const fn is_broadcast(&self) -> bool {
        matches!(self.0, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
    }

    pub const fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// Reads a MAC from the first 6 bytes; `None` if there are fewer.
    pub fn from_slice(bytes: &[u8]) -> Option<MacAddr> {
        bytes.get(..6)?.try_into().ok().map(MacAddr)
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// An 802.1Q tag control information field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VlanTag {
    /// Priority code point (3 bits).
    pub pcp: u8,
    /// Drop eligible indicator.
    pub dei: bool,
    /// VLAN identifier (12 bits).
    pub vid: u16,
}

impl VlanTag {
    pub const fn from_tci(tci: u16) -> VlanTag {
        VlanTag {
            pcp: (tci >> 13) as u8,
            dei: tci & 0x1000 != 0,
            vid: tci & 0x0fff,
        }
    }

    pub const fn tci(&self) -> u16 {
        ((self.pcp as u16 & 0x7) << 13) | ((self.dei as u16) << 12) | (self.vid & 0x0fff)
    }
}

/// A read/write view of an Ethernet frame.
#[derive(Debug, Clone)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

mod field {
    use std::ops::Range;
    pub const DST: Range<usize> = 0..6;
    pub const SRC: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
    pub const TCI: Range<usize> = 14..16;
    pub const INNER_ETHERTYPE: Range<usize> = 16..18;
}

impl<T: AsRef<[u8]>> Frame<T> {
    pub const fn new_unchecked(buffer: T) -> Frame<T> {
        Frame { buffer }
    }

    /// Wraps `buffer` after [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<Frame<T>, Error> {
        let frame = Frame::new_unchecked(buffer);
        frame.check_len()?;
        Ok(frame)
    }

    /// The frame must hold the header, and the whole tag when the outer EtherType says so.
    pub fn check_len(&self) -> Result<(), Error> {
        let len = self.buffer.as_ref().len();
        need(Layer::Ethernet, HEADER_LEN, len)?;
        if self.outer_ethertype() == ethertype::VLAN {
            need(Layer::Vlan, HEADER_LEN + VLAN_TAG_LEN, len)?;
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn get16(&self, r: std::ops::Range<usize>) -> u16 {
        let b = &self.buffer.as_ref()[r];
        u16::from_be_bytes([b[0], b[1]])
    }

    pub fn dst_addr(&self) -> MacAddr {
        let b = &self.buffer.as_ref()[field::DST];
        MacAddr([b[0], b[1], b[2], b[3], b[4], b[5]])
    }

    pub fn src_addr(&self) -> MacAddr {
        let b = &self.buffer.as_ref()[field::SRC];
        MacAddr([b[0], b[1], b[2], b[3], b[4], b[5]])
    }

    /// The EtherType right after the addresses (0x8100 for a tagged frame).
    pub fn outer_ethertype(&self) -> u16 {
        self.get16(field::ETHERTYPE)
    }

    /// The 802.1Q tag, if the frame carries one.
    pub fn vlan(&self) -> Option<VlanTag> {
        (self.outer_ethertype() == ethertype::VLAN)
            .then(|| VlanTag::from_tci(self.get16(field::TCI)))
    }

    /// The EtherType of the payload, looking through one 802.1Q tag.
    pub fn ethertype(&self) -> u16 {
        if self.vlan().is_some() {
            self.get16(field::INNER_ETHERTYPE)
        } else {
            self.outer_ethertype()
        }
    }

    /// Where the payload starts: 14, or 18 behind a tag.
    pub fn header_len(&self) -> usize {
        if self.vlan().is_some() {
            HEADER_LEN + VLAN_TAG_LEN
        } else {
            HEADER_LEN
        }
    }

    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    pub fn set_dst_addr(&mut self, addr: MacAddr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&addr.0);
    }

    pub fn set_src_addr(&mut self, addr: MacAddr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&addr.0);
    }

    pub fn set_outer_ethertype(&mut self, value: u16) {
        self.buffer.as_mut()[field::ETHERTYPE].copy_from_slice(&value.to_be_bytes());
    }

    /// Writes the TCI and inner EtherType; the outer EtherType must already be 0x8100.
    pub fn set_vlan(&mut self, tag: VlanTag, inner: u16) {
        let b = self.buffer.as_mut();
        b[field::TCI].copy_from_slice(&tag.tci().to_be_bytes());
        b[field::INNER_ETHERTYPE].copy_from_slice(&inner.to_be_bytes());
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        &mut self.buffer.as_mut()[start..]
    }
}

/// An Ethernet header, with the tag (if any) and the EtherType of the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EthernetRepr {
    pub src: MacAddr,
    pub dst: MacAddr,
    pub vlan: Option<VlanTag>,
    /// The payload's EtherType (the inner one behind a tag).
    pub ethertype: u16,
}

impl EthernetRepr {
    pub fn parse<T: AsRef<[u8]>>(frame: &Frame<T>) -> Result<EthernetRepr, Error> {
        frame.check_len()?;
        Ok(EthernetRepr {
            src: frame.src_addr(),
            dst: frame.dst_addr(),
            vlan: frame.vlan(),
            ethertype: frame.ethertype(),
        })
    }

    /// Header length: where the payload starts.
    pub const fn buffer_len(&self) -> usize {
        match self.vlan {
            Some(_) => HEADER_LEN + VLAN_TAG_LEN,
            None => HEADER_LEN,
        }
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, frame: &mut Frame<T>) -> Result<(), Error> {
        room(
            Layer::Ethernet,
            self.buffer_len(),
            frame.buffer.as_ref().len(),
        )?;
        frame.set_dst_addr(self.dst);
        frame.set_src_addr(self.src);
        match self.vlan {
            Some(tag) => {
                frame.set_outer_ethertype(ethertype::VLAN);
                frame.set_vlan(tag, self.ethertype);
            }
            None => frame.set_outer_ethertype(self.ethertype),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vrrp_macs_and_display() {
        assert_eq!(MacAddr::vrrp_v4(51).to_string(), "00:00:5e:00:01:33");
        assert_eq!(MacAddr::vrrp_v6(255).to_string(), "00:00:5e:00:02:ff");
        assert_eq!(
            MacAddr::ipv4_multicast(Ipv4Addr::new(224, 0, 0, 18)).to_string(),
            "01:00:5e:00:00:12"
        );
        // The top bit of the second octet does not map (only 23 bits do).
        assert_eq!(
            MacAddr::ipv4_multicast(Ipv4Addr::new(239, 128, 0, 1)),
            MacAddr([1, 0, 0x5e, 0, 0, 1])
        );
        assert_eq!(
            MacAddr::ipv6_multicast("ff02::1:ff00:2".parse().unwrap()).to_string(),
            "33:33:ff:00:00:02"
        );
        assert!(MacAddr::BROADCAST.is_broadcast() && MacAddr::BROADCAST.is_multicast());
        assert!(!MacAddr::vrrp_v4(1).is_multicast());
    }

    #[test]
    fn tagged_frame_round_trips() {
        let mut buf = [0u8; 20];
        let repr = EthernetRepr {
            src: MacAddr([2, 0, 0, 0, 0, 1]),
            dst: MacAddr::BROADCAST,
            vlan: Some(VlanTag {
                pcp: 6,
                dei: true,
                vid: 0xabc,
            }),
            ethertype: ethertype::ARP,
        };
        repr.emit(&mut Frame::new_unchecked(&mut buf[..])).unwrap();
        assert_eq!(&buf[12..18], &[0x81, 0x00, 0xda, 0xbc, 0x08, 0x06]);
        let frame = Frame::new_checked(&buf[..]).unwrap();
        assert_eq!(frame.header_len(), 18);
        assert_eq!(frame.payload().len(), 2);
        assert_eq!(EthernetRepr::parse(&frame).unwrap(), repr);
    }

    #[test]
    fn short_frames_are_truncated() {
        assert_eq!(
            Frame::new_checked(&[0u8; 13][..]).unwrap_err(),
            Error::Truncated {
                layer: Layer::Ethernet,
                need: 14,
                have: 13
            }
        );
        let mut tagged = [0u8; 17];
        tagged[12] = 0x81;
        assert_eq!(
            Frame::new_checked(&tagged[..]).unwrap_err(),
            Error::Truncated {
                layer: Layer::Vlan,
                need: 18,
                have: 17
            }
        );
        let repr = EthernetRepr {
            src: MacAddr::ZERO,
            dst: MacAddr::ZERO,
            vlan: None,
            ethertype: ethertype::IPV4,
        };
        assert!(matches!(
            repr.emit(&mut Frame::new_unchecked(&mut [0u8; 10][..])),
            Err(Error::BufferTooSmall { .. })
        ));
    }
}
