//! VRRP advertisements: version 2 (RFC 3768 §5) and version 3 (RFC 5798 §5).
//!
//! VRRPv2, IPv4 only (RFC 3768 §5.1):
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Auth Type   |   Adver Int   |          Checksum             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         IP Address (1)                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                              ...                              |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         IP Address (n)                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                     Authentication Data (1)                   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                     Authentication Data (2)                   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//! VRRPv3, IPv4 or IPv6 (RFC 5798 §5.1; the address family is the IP header's, §5.2.9):
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |(rsvd) |     Max Adver Int     |          Checksum             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    IPvX Address(es) (4 or 16 bytes each)      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//! The view works on the VRRP message alone, exactly as the IP header delimits it: lengths
//! and checksums cover the whole buffer.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use super::{Error, Layer, checksum, need, room};
use crate::units::{Centiseconds, Seconds};

/// IP protocol number of VRRP (RFC 5798 §5.1.1.4).
pub const PROTOCOL: u8 = 112;
/// The IPv4 multicast group of VRRP (RFC 5798 §5.1.1.2).
pub const MULTICAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The IPv6 multicast group of VRRP (RFC 5798 §5.1.2.2).
pub const MULTICAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// The TTL / hop limit every advert is sent with and must arrive with (RFC 5798 §5.1.1.3).
pub const TTL: u8 = 255;
/// Version, type, VRID, priority, count, (auth type, adver int | max adver int), checksum.
pub const HEADER_LEN: usize = 8;
/// VRRPv2's trailing authentication data (RFC 3768 §5.3.10).
pub const AUTH_DATA_LEN: usize = 8;
/// The only VRRP message type (RFC 5798 §5.2.2).
pub const TYPE_ADVERTISEMENT: u8 = 1;

mod field {
    use std::ops::Range;
    pub const VER_TYPE: usize = 0;
    pub const VRID: usize = 1;
    pub const PRIORITY: usize = 2;
    pub const COUNT: usize = 3;
    pub const AUTH_TYPE: usize = 4;
    pub const ADVER_INT: usize = 5;
    pub const MAX_ADVER_INT: Range<usize> = 4..6;
    pub const CHECKSUM: Range<usize> = 6..8;
}

/// Whether a VRRPv3-over-IPv4 checksum covers the IPv4 pseudo-header.
///
/// RFC 5798 §5.2.8 defines the checksum with "a pseudo-header as defined in Section 8.1 of
/// RFC 2460", which is unambiguous for IPv6 but was read both ways for IPv4. keepalived
/// (captured: its v3 IPv4 adverts only verify with the pseudo-header), FRR and Wireshark include
/// it; some peers checksum the VRRP message alone, as VRRPv2 does. VRRPv2 always uses
/// the message alone and VRRPv3 over IPv6 always the pseudo-header, whatever the mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ChecksumMode {
    #[default]
    PseudoHeader,
    VrrpOnly,
}

/// The IP source and destination a VRRP message travels between: they feed the pseudo-header
/// and decide the address family of a v3 message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IpPair {
    V4 { src: Ipv4Addr, dst: Ipv4Addr },
    V6 { src: Ipv6Addr, dst: Ipv6Addr },
}

impl IpPair {
    pub fn src(&self) -> IpAddr {
        match *self {
            IpPair::V4 { src, .. } => src.into(),
            IpPair::V6 { src, .. } => src.into(),
        }
    }

    pub fn dst(&self) -> IpAddr {
        match *self {
            IpPair::V4 { dst, .. } => dst.into(),
            IpPair::V6 { dst, .. } => dst.into(),
        }
    }

    const fn addr_len(&self) -> usize {
        match self {
            IpPair::V4 { .. } => 4,
            IpPair::V6 { .. } => 16,
        }
    }
}

/// The pseudo-header sum for a message of `version` and `len` bytes, or 0 (no pseudo-header).
fn pseudo_header(version: u8, ip: &IpPair, mode: ChecksumMode, len: usize) -> u16 {
    match (version, ip, mode) {
        (2, _, _) | (_, IpPair::V4 { .. }, ChecksumMode::VrrpOnly) => 0,
        // A VRRP message is at most 8 + 255 * 16 bytes, so its length fits both fields.
        (_, IpPair::V4 { src, dst }, ChecksumMode::PseudoHeader) => {
            checksum::pseudo_header_v4(src, dst, PROTOCOL, len as u16)
        }
        (_, IpPair::V6 { src, dst }, _) => {
            checksum::pseudo_header_v6(src, dst, PROTOCOL, len as u32)
        }
    }
}

/// A read/write view of a VRRP message.
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

    /// The fixed header must be there; the address list is checked against the count by
    /// [`VrrpRepr::parse`], which knows the address family.
    pub fn check_len(&self) -> Result<(), Error> {
        need(Layer::Vrrp, HEADER_LEN, self.buffer.as_ref().len())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    pub fn version(&self) -> u8 {
        self.b()[field::VER_TYPE] >> 4
    }

    pub fn msg_type(&self) -> u8 {
        self.b()[field::VER_TYPE] & 0x0f
    }

    pub fn vrid(&self) -> u8 {
        self.b()[field::VRID]
    }

    pub fn priority(&self) -> u8 {
        self.b()[field::PRIORITY]
    }

    pub fn addr_count(&self) -> u8 {
        self.b()[field::COUNT]
    }

    /// VRRPv2 Auth Type (RFC 3768 §5.3.6).
    pub fn auth_type(&self) -> u8 {
        self.b()[field::AUTH_TYPE]
    }

    /// VRRPv2 Adver Int, whole seconds (RFC 3768 §5.3.7).
    pub fn adver_int(&self) -> Seconds {
        Seconds(self.b()[field::ADVER_INT])
    }

    /// VRRPv3 Max Adver Int, centiseconds in 12 bits (RFC 5798 §5.2.7).
    pub fn max_adver_int(&self) -> Centiseconds {
        let b = &self.b()[field::MAX_ADVER_INT];
        Centiseconds(u16::from_be_bytes([b[0], b[1]]) & 0x0fff)
    }

    /// VRRPv3's 4 reserved bits (RFC 5798 §5.2.6: sent as zero, ignored on receipt).
    pub fn reserved(&self) -> u8 {
        self.b()[field::AUTH_TYPE] >> 4
    }

    pub fn checksum(&self) -> u16 {
        let b = &self.b()[field::CHECKSUM];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Everything after the 8-byte header: addresses, then v2's authentication data.
    pub fn body(&self) -> &[u8] {
        &self.b()[HEADER_LEN..]
    }

    /// The checksum this message should carry for its version, `ip` and `mode`.
    pub fn expected_checksum(&self, ip: &IpPair, mode: ChecksumMode) -> u16 {
        let b = self.b();
        checksum::finish(&[
            pseudo_header(self.version(), ip, mode, b.len()),
            checksum::data(&b[..field::CHECKSUM.start]),
            checksum::data(&b[field::CHECKSUM.end..]),
        ])
    }

    /// Whether the checksum verifies (RFC 3768 §5.3.8 for v2, RFC 5798 §5.2.8 for v3).
    pub fn verify_checksum(&self, ip: &IpPair, mode: ChecksumMode) -> bool {
        let b = self.b();
        checksum::verifies(&[
            pseudo_header(self.version(), ip, mode, b.len()),
            checksum::data(b),
        ])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_version_type(&mut self, version: u8, msg_type: u8) {
        self.buffer.as_mut()[field::VER_TYPE] = (version << 4) | (msg_type & 0x0f);
    }

    pub fn set_vrid(&mut self, vrid: u8) {
        self.buffer.as_mut()[field::VRID] = vrid;
    }

    pub fn set_priority(&mut self, priority: u8) {
        self.buffer.as_mut()[field::PRIORITY] = priority;
    }

    pub fn set_addr_count(&mut self, count: u8) {
        self.buffer.as_mut()[field::COUNT] = count;
    }

    pub fn set_auth_type(&mut self, value: u8) {
        self.buffer.as_mut()[field::AUTH_TYPE] = value;
    }

    pub fn set_adver_int(&mut self, value: Seconds) {
        self.buffer.as_mut()[field::ADVER_INT] = value.0;
    }

    /// Writes the 12-bit interval with the reserved bits zero; larger values are masked.
    pub fn set_max_adver_int(&mut self, value: Centiseconds) {
        let v = value.0 & 0x0fff;
        self.buffer.as_mut()[field::MAX_ADVER_INT].copy_from_slice(&v.to_be_bytes());
    }

    pub fn set_checksum(&mut self, value: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&value.to_be_bytes());
    }

    pub fn fill_checksum(&mut self, ip: &IpPair, mode: ChecksumMode) {
        let sum = self.expected_checksum(ip, mode);
        self.set_checksum(sum);
    }

    pub fn body_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }
}

/// VRRPv2 authentication (RFC 3768 §5.3.6). Types 1 and 2 were removed from the protocol
/// but are still sent (keepalived's `auth_type PASS` is type 1); the daemon decides what to
/// accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthType {
    None = 0,
    /// Plain-text password in the authentication data (keepalived `PASS`).
    SimpleText = 1,
    /// IP Authentication Header (keepalived `AH`).
    Ah = 2,
}

impl AuthType {
    pub fn from_u8(value: u8) -> Result<AuthType, Error> {
        match value {
            0 => Ok(AuthType::None),
            1 => Ok(AuthType::SimpleText),
            2 => Ok(AuthType::Ah),
            other => Err(Error::BadAuthType(other)),
        }
    }
}

/// The authentication data for a simple-text password: its first 8 bytes, zero-padded, which
/// is how keepalived fills the field.
pub fn simple_auth_data(password: &[u8]) -> [u8; AUTH_DATA_LEN] {
    let mut data = [0u8; AUTH_DATA_LEN];
    let n = password.len().min(AUTH_DATA_LEN);
    data[..n].copy_from_slice(&password[..n]);
    data
}

/// A VRRPv2 advertisement.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct V2Advert {
    pub vrid: u8,
    pub priority: u8,
    pub adver_int: Seconds,
    pub auth_type: AuthType,
    /// Carried as received, whatever the auth type, so that a re-encode is byte-identical.
    pub auth_data: [u8; AUTH_DATA_LEN],
    pub addresses: Vec<Ipv4Addr>,
}

/// The virtual addresses of a VRRPv3 advert: one family, the IP header's.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum VipList {
    V4(Vec<Ipv4Addr>),
    V6(Vec<Ipv6Addr>),
}

impl VipList {
    pub fn len(&self) -> usize {
        match self {
            VipList::V4(a) => a.len(),
            VipList::V6(a) => a.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The addresses in order, family-agnostic.
    pub fn to_vec(&self) -> Vec<IpAddr> {
        match self {
            VipList::V4(a) => a.iter().map(|&a| a.into()).collect(),
            VipList::V6(a) => a.iter().map(|&a| a.into()).collect(),
        }
    }
}

/// A VRRPv3 advertisement.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct V3Advert {
    pub vrid: u8,
    pub priority: u8,
    pub max_adver_int: Centiseconds,
    pub addresses: VipList,
}

/// A VRRP advertisement of either version.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum VrrpRepr {
    V2(V2Advert),
    V3(V3Advert),
}

impl VrrpRepr {
    pub fn version(&self) -> u8 {
        match self {
            VrrpRepr::V2(_) => 2,
            VrrpRepr::V3(_) => 3,
        }
    }

    pub fn vrid(&self) -> u8 {
        match self {
            VrrpRepr::V2(a) => a.vrid,
            VrrpRepr::V3(a) => a.vrid,
        }
    }

    pub fn priority(&self) -> u8 {
        match self {
            VrrpRepr::V2(a) => a.priority,
            VrrpRepr::V3(a) => a.priority,
        }
    }

    /// The advertisement interval in the sender's unit, converted.
    pub fn interval(&self) -> Duration {
        match self {
            VrrpRepr::V2(a) => a.adver_int.as_duration(),
            VrrpRepr::V3(a) => a.max_adver_int.as_duration(),
        }
    }

    pub fn addresses(&self) -> Vec<IpAddr> {
        match self {
            VrrpRepr::V2(a) => a.addresses.iter().map(|&a| a.into()).collect(),
            VrrpRepr::V3(a) => a.addresses.to_vec(),
        }
    }

    fn address_count(&self) -> usize {
        match self {
            VrrpRepr::V2(a) => a.addresses.len(),
            VrrpRepr::V3(a) => a.addresses.len(),
        }
    }

    /// Parses a whole VRRP message received between `ip`'s addresses. Checks, in RFC 5798
    /// §7.1 order where it applies: length, version, type, that the length is exactly what
    /// the count says (keepalived sends exactly that), checksum, then the v2 auth type.
    /// TTL, VRID, priority, interval and authentication are the caller's to judge.
    pub fn parse<T: AsRef<[u8]>>(
        packet: &Packet<T>,
        ip: &IpPair,
        mode: ChecksumMode,
    ) -> Result<VrrpRepr, Error> {
        packet.check_len()?;
        let version = packet.version();
        if version != 2 && version != 3 {
            return Err(Error::BadVersion(version));
        }
        if packet.msg_type() != TYPE_ADVERTISEMENT {
            return Err(Error::BadType(packet.msg_type()));
        }
        if version == 2 && matches!(ip, IpPair::V6 { .. }) {
            return Err(Error::V2OverIpv6);
        }
        let count = packet.addr_count();
        let addr_len = ip.addr_len();
        let trailer = if version == 2 { AUTH_DATA_LEN } else { 0 };
        let expected = HEADER_LEN + usize::from(count) * addr_len + trailer;
        let length = packet.b().len();
        if length != expected {
            return Err(Error::AddressCountMismatch {
                count,
                length,
                expected,
            });
        }
        if !packet.verify_checksum(ip, mode) {
            return Err(Error::BadChecksum {
                layer: Layer::Vrrp,
                expected: packet.expected_checksum(ip, mode),
                found: packet.checksum(),
            });
        }
        let body = packet.body();
        let (addrs, auth) = body.split_at(usize::from(count) * addr_len);
        if version == 2 {
            let auth_type = AuthType::from_u8(packet.auth_type())?;
            let mut auth_data = [0u8; AUTH_DATA_LEN];
            auth_data.copy_from_slice(auth);
            return Ok(VrrpRepr::V2(V2Advert {
                vrid: packet.vrid(),
                priority: packet.priority(),
                adver_int: packet.adver_int(),
                auth_type,
                auth_data,
                addresses: v4_list(addrs),
            }));
        }
        let addresses = match ip {
            IpPair::V4 { .. } => VipList::V4(v4_list(addrs)),
            IpPair::V6 { .. } => VipList::V6(
                addrs
                    .chunks_exact(16)
                    .map(|c| {
                        let mut o = [0u8; 16];
                        o.copy_from_slice(c);
                        Ipv6Addr::from(o)
                    })
                    .collect(),
            ),
        };
        Ok(VrrpRepr::V3(V3Advert {
            vrid: packet.vrid(),
            priority: packet.priority(),
            max_adver_int: packet.max_adver_int(),
            addresses,
        }))
    }

    /// Length of the message this repr emits.
    pub fn buffer_len(&self) -> usize {
        match self {
            VrrpRepr::V2(a) => HEADER_LEN + a.addresses.len() * 4 + AUTH_DATA_LEN,
            VrrpRepr::V3(a) => match &a.addresses {
                VipList::V4(l) => HEADER_LEN + l.len() * 4,
                VipList::V6(l) => HEADER_LEN + l.len() * 16,
            },
        }
    }

    /// Writes the message and its checksum into the first [`buffer_len`](Self::buffer_len)
    /// bytes of `packet`, which should be exactly that long for the checksum to cover it.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Packet<T>,
        ip: &IpPair,
        mode: ChecksumMode,
    ) -> Result<(), Error> {
        let count = u8::try_from(self.address_count())
            .map_err(|_| Error::TooManyAddresses(self.address_count()))?;
        match (self, ip) {
            (VrrpRepr::V2(_), IpPair::V6 { .. }) => return Err(Error::V2OverIpv6),
            (VrrpRepr::V3(a), _) if a.max_adver_int > Centiseconds::MAX_V3 => {
                return Err(Error::IntervalTooLarge(a.max_adver_int.0));
            }
            (VrrpRepr::V3(a), IpPair::V4 { .. }) if matches!(a.addresses, VipList::V6(_)) => {
                return Err(Error::AddressFamilyMismatch);
            }
            (VrrpRepr::V3(a), IpPair::V6 { .. }) if matches!(a.addresses, VipList::V4(_)) => {
                return Err(Error::AddressFamilyMismatch);
            }
            _ => {}
        }
        let len = self.buffer_len();
        room(Layer::Vrrp, len, packet.b().len())?;
        packet.set_version_type(self.version(), TYPE_ADVERTISEMENT);
        packet.set_vrid(self.vrid());
        packet.set_priority(self.priority());
        packet.set_addr_count(count);
        let body = &mut packet.body_mut()[..len - HEADER_LEN];
        match self {
            VrrpRepr::V2(a) => {
                let (addrs, auth) = body.split_at_mut(a.addresses.len() * 4);
                for (c, addr) in addrs.chunks_exact_mut(4).zip(&a.addresses) {
                    c.copy_from_slice(&addr.octets());
                }
                auth.copy_from_slice(&a.auth_data);
                packet.set_auth_type(a.auth_type as u8);
                packet.set_adver_int(a.adver_int);
            }
            VrrpRepr::V3(a) => {
                match &a.addresses {
                    VipList::V4(l) => {
                        for (c, addr) in body.chunks_exact_mut(4).zip(l) {
                            c.copy_from_slice(&addr.octets());
                        }
                    }
                    VipList::V6(l) => {
                        for (c, addr) in body.chunks_exact_mut(16).zip(l) {
                            c.copy_from_slice(&addr.octets());
                        }
                    }
                }
                packet.set_max_adver_int(a.max_adver_int);
            }
        }
        let mut msg = Packet::new_unchecked(&mut packet.buffer.as_mut()[..len]);
        msg.fill_checksum(ip, mode);
        Ok(())
    }
}

fn v4_list(bytes: &[u8]) -> Vec<Ipv4Addr> {
    bytes
        .chunks_exact(4)
        .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
        .collect()
}
