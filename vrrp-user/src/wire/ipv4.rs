//! IPv4 headers (RFC 791 §3.1). Any IHL from 5 to 15 parses, options are skipped; the builder
//! writes a 20-byte header, which is what VRRP senders use.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version|  IHL  |Type of Service|          Total Length         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Identification        |Flags|      Fragment Offset    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Time to Live |    Protocol   |         Header Checksum       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       Source Address                          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Destination Address                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Options (IHL > 5)          |    Padding    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
use std::net::Ipv4Addr;

use super::{Error, Layer, checksum, need, room};

/// Length of a header without options.
pub const MIN_HEADER_LEN: usize = 20;

mod field {
    use std::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const LENGTH: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    pub const FLG_OFF: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SRC: Range<usize> = 12..16;
    pub const DST: Range<usize> = 16..20;
}

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;

/// A read/write view of an IPv4 packet.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Packet<T>, Error> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// The buffer must hold the fixed header, the options IHL announces and the Total Length;
    /// bytes beyond Total Length (Ethernet padding) are allowed and ignored.
    pub fn check_len(&self) -> Result<(), Error> {
        let len = self.buffer.as_ref().len();
        need(Layer::Ipv4, MIN_HEADER_LEN, len)?;
        let ihl = self.ihl();
        if ihl < 5 {
            return Err(Error::BadIhl(ihl));
        }
        let header = self.header_len();
        need(Layer::Ipv4, header, len)?;
        let total = self.total_len();
        if usize::from(total) < header {
            return Err(Error::BadTotalLength { total, header });
        }
        need(Layer::Ipv4, usize::from(total), len)
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    fn get16(&self, r: std::ops::Range<usize>) -> u16 {
        let b = &self.b()[r];
        u16::from_be_bytes([b[0], b[1]])
    }

    pub fn version(&self) -> u8 {
        self.b()[field::VER_IHL] >> 4
    }

    /// Header length in 32-bit words.
    pub fn ihl(&self) -> u8 {
        self.b()[field::VER_IHL] & 0x0f
    }

    pub fn header_len(&self) -> usize {
        usize::from(self.ihl()) * 4
    }

    /// The whole TOS byte (DSCP and ECN, RFC 2474 / RFC 3168).
    pub fn tos(&self) -> u8 {
        self.b()[field::TOS]
    }

    pub fn total_len(&self) -> u16 {
        self.get16(field::LENGTH)
    }

    pub fn ident(&self) -> u16 {
        self.get16(field::IDENT)
    }

    pub fn dont_frag(&self) -> bool {
        self.get16(field::FLG_OFF) & FLAG_DF != 0
    }

    pub fn more_frags(&self) -> bool {
        self.get16(field::FLG_OFF) & FLAG_MF != 0
    }

    /// Fragment offset in units of 8 bytes.
    pub fn frag_offset(&self) -> u16 {
        self.get16(field::FLG_OFF) & 0x1fff
    }

    pub fn ttl(&self) -> u8 {
        self.b()[field::TTL]
    }

    pub fn protocol(&self) -> u8 {
        self.b()[field::PROTOCOL]
    }

    pub fn checksum(&self) -> u16 {
        self.get16(field::CHECKSUM)
    }

    pub fn src_addr(&self) -> Ipv4Addr {
        let b = &self.b()[field::SRC];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    pub fn dst_addr(&self) -> Ipv4Addr {
        let b = &self.b()[field::DST];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    /// The options between the fixed header and the payload.
    pub fn options(&self) -> &[u8] {
        &self.b()[MIN_HEADER_LEN..self.header_len()]
    }

    /// The payload as Total Length delimits it (not the Ethernet padding after it).
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.header_len()..usize::from(self.total_len())]
    }

    /// The header as IHL delimits it, clamped to the buffer: the checksum helpers must not
    /// panic on a header being built or a bad IHL.
    fn header(&self) -> &[u8] {
        let b = self.b();
        b.get(..self.header_len()).unwrap_or(b)
    }

    /// Whether the header checksum (over the options too) verifies.
    pub fn verify_checksum(&self) -> bool {
        checksum::verifies(&[checksum::data(self.header())])
    }

    /// The checksum the header should carry.
    pub fn expected_checksum(&self) -> u16 {
        // Both parts start on an even offset, so their sums combine like the whole header's
        // with the checksum field zeroed.
        let header = self.header();
        checksum::finish(&[
            checksum::data(header.get(..field::CHECKSUM.start).unwrap_or_default()),
            checksum::data(header.get(field::CHECKSUM.end..).unwrap_or_default()),
        ])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn put16(&mut self, r: std::ops::Range<usize>, v: u16) {
        self.buffer.as_mut()[r].copy_from_slice(&v.to_be_bytes());
    }

    pub fn set_version_ihl(&mut self, version: u8, ihl: u8) {
        self.buffer.as_mut()[field::VER_IHL] = (version << 4) | (ihl & 0x0f);
    }

    pub fn set_tos(&mut self, tos: u8) {
        self.buffer.as_mut()[field::TOS] = tos;
    }

    pub fn set_total_len(&mut self, len: u16) {
        self.put16(field::LENGTH, len);
    }

    pub fn set_ident(&mut self, ident: u16) {
        self.put16(field::IDENT, ident);
    }

    /// Sets DF, clears MF and the fragment offset: a whole, unfragmentable-or-not datagram.
    pub fn set_unfragmented(&mut self, dont_frag: bool) {
        self.put16(field::FLG_OFF, if dont_frag { FLAG_DF } else { 0 });
    }

    pub fn set_ttl(&mut self, ttl: u8) {
        self.buffer.as_mut()[field::TTL] = ttl;
    }

    pub fn set_protocol(&mut self, protocol: u8) {
        self.buffer.as_mut()[field::PROTOCOL] = protocol;
    }

    pub fn set_checksum(&mut self, value: u16) {
        self.put16(field::CHECKSUM, value);
    }

    pub fn set_src_addr(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&addr.octets());
    }

    pub fn set_dst_addr(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&addr.octets());
    }

    /// Computes and writes the header checksum.
    pub fn fill_checksum(&mut self) {
        let sum = self.expected_checksum();
        self.set_checksum(sum);
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (start, end) = (self.header_len(), usize::from(self.total_len()));
        &mut self.buffer.as_mut()[start..end]
    }
}

/// The IPv4 header fields VRRP cares about. Emitting always writes a 20-byte header with
/// MF and the fragment offset clear.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ipv4Repr {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub payload_len: usize,
    pub ttl: u8,
    /// DSCP and ECN as one byte.
    pub tos: u8,
    pub ident: u16,
    pub dont_frag: bool,
}

impl Ipv4Repr {
    /// Checks version, lengths and the header checksum; rejects fragments.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Ipv4Repr, Error> {
        let Some(&first) = packet.b().first() else {
            return Err(Error::Truncated {
                layer: Layer::Ipv4,
                need: 1,
                have: 0,
            });
        };
        if first >> 4 != 4 {
            return Err(Error::BadIpVersion(first >> 4));
        }
        packet.check_len()?;
        if !packet.verify_checksum() {
            return Err(Error::BadChecksum {
                layer: Layer::Ipv4,
                expected: packet.expected_checksum(),
                found: packet.checksum(),
            });
        }
        if packet.more_frags() || packet.frag_offset() != 0 {
            return Err(Error::Fragmented {
                offset: packet.frag_offset(),
                more: packet.more_frags(),
            });
        }
        Ok(Ipv4Repr {
            src: packet.src_addr(),
            dst: packet.dst_addr(),
            protocol: packet.protocol(),
            payload_len: packet.payload().len(),
            ttl: packet.ttl(),
            tos: packet.tos(),
            ident: packet.ident(),
            dont_frag: packet.dont_frag(),
        })
    }

    /// Header length; the payload follows it.
    pub const fn buffer_len(&self) -> usize {
        MIN_HEADER_LEN
    }

    /// Writes the header (payload not included) and its checksum.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) -> Result<(), Error> {
        let total = MIN_HEADER_LEN + self.payload_len;
        let total16 = u16::try_from(total).map_err(|_| Error::BufferTooSmall {
            layer: Layer::Ipv4,
            need: total,
            have: usize::from(u16::MAX),
        })?;
        room(Layer::Ipv4, MIN_HEADER_LEN, packet.b().len())?;
        packet.set_version_ihl(4, 5);
        packet.set_tos(self.tos);
        packet.set_total_len(total16);
        packet.set_ident(self.ident);
        packet.set_unfragmented(self.dont_frag);
        packet.set_ttl(self.ttl);
        packet.set_protocol(self.protocol);
        packet.set_src_addr(self.src);
        packet.set_dst_addr(self.dst);
        packet.fill_checksum();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(ihl: u8, total: u16) -> Vec<u8> {
        let mut b = vec![0u8; usize::from(total).max(20)];
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_version_ihl(4, ihl);
        p.set_total_len(total);
        p.set_ttl(255);
        p.set_protocol(112);
        p.set_src_addr(Ipv4Addr::new(192, 0, 2, 1));
        p.set_dst_addr(Ipv4Addr::new(224, 0, 0, 18));
        b
    }

    #[test]
    fn ihl_below_five_is_a_typed_error() {
        for ihl in 0..5 {
            let b = header(ihl, 24);
            assert_eq!(
                Ipv4Repr::parse(&Packet::new_unchecked(&b[..])),
                Err(Error::BadIhl(ihl))
            );
        }
    }

    #[test]
    fn options_are_skipped() {
        // IHL 6: one word of options (Router Alert, RFC 2113: 94 04 00 00), then 4 payload bytes.
        let mut b = header(6, 28);
        b[20..24].copy_from_slice(&[0x94, 0x04, 0x00, 0x00]);
        b[24..28].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        b.extend_from_slice(&[0; 18]); // Ethernet padding after Total Length
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.fill_checksum();
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.options(), &[0x94, 0x04, 0x00, 0x00]);
        assert_eq!(p.payload(), &[0xde, 0xad, 0xbe, 0xef]);
        let repr = Ipv4Repr::parse(&p).unwrap();
        assert_eq!(repr.payload_len, 4);
        assert_eq!(repr.ttl, 255);
    }

    #[test]
    fn length_errors() {
        let b = header(5, 19);
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            Error::BadTotalLength {
                total: 19,
                header: 20
            }
        );
        let b = header(5, 30);
        assert_eq!(
            Packet::new_checked(&b[..25]).unwrap_err(),
            Error::Truncated {
                layer: Layer::Ipv4,
                need: 30,
                have: 25
            }
        );
        let b = header(15, 60);
        assert_eq!(
            Packet::new_checked(&b[..40]).unwrap_err(),
            Error::Truncated {
                layer: Layer::Ipv4,
                need: 60,
                have: 40
            }
        );
        assert_eq!(
            Ipv4Repr::parse(&Packet::new_unchecked(&[][..])).unwrap_err(),
            Error::Truncated {
                layer: Layer::Ipv4,
                need: 1,
                have: 0
            }
        );
    }

    #[test]
    fn version_checksum_and_fragments() {
        let mut b = header(5, 20);
        b[0] = 0x65;
        assert_eq!(
            Ipv4Repr::parse(&Packet::new_unchecked(&b[..])),
            Err(Error::BadIpVersion(6))
        );
        let mut b = header(5, 20);
        Packet::new_unchecked(&mut b[..]).fill_checksum();
        let good = Packet::new_unchecked(&b[..]).checksum();
        b[10] ^= 0x01;
        let bad = Packet::new_unchecked(&b[..]).checksum();
        assert_eq!(
            Ipv4Repr::parse(&Packet::new_unchecked(&b[..])),
            Err(Error::BadChecksum {
                layer: Layer::Ipv4,
                expected: good,
                found: bad
            })
        );
        let mut b = header(5, 20);
        b[6] = 0x20; // MF
        Packet::new_unchecked(&mut b[..]).fill_checksum();
        assert_eq!(
            Ipv4Repr::parse(&Packet::new_unchecked(&b[..])),
            Err(Error::Fragmented {
                offset: 0,
                more: true
            })
        );
    }

    #[test]
    fn emit_then_parse() {
        let repr = Ipv4Repr {
            src: Ipv4Addr::new(192, 0, 2, 1),
            dst: Ipv4Addr::new(192, 0, 2, 2),
            protocol: 112,
            payload_len: 12,
            ttl: 255,
            tos: 0xc0,
            ident: 7,
            dont_frag: true,
        };
        let mut b = [0u8; 32];
        repr.emit(&mut Packet::new_unchecked(&mut b[..])).unwrap();
        assert_eq!(&b[6..8], &[0x40, 0x00]);
        assert_eq!(
            Ipv4Repr::parse(&Packet::new_checked(&b[..]).unwrap()),
            Ok(repr)
        );
        assert!(matches!(
            repr.emit(&mut Packet::new_unchecked(&mut [0u8; 19][..])),
            Err(Error::BufferTooSmall { .. })
        ));
    }
}
