//! ARP for Ethernet and IPv4 (RFC 826), gratuitous ARP (RFC 5227 §3, RFC 5944 §4.6) and the
//! replies a VRRP master gives for its virtual addresses (RFC 5798 §6.4.3).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Hardware type (1 = Ether)   |   Protocol type (0x0800)      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  HW len (6)   | Proto len (4) |   Operation (1 req, 2 reply)  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |              Sender hardware address (bytes 0-3)              |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Sender HW address (4-5)     |  Sender IPv4 address (0-1)    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Sender IPv4 address (2-3)    |  Target HW address (0-1)      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |              Target hardware address (bytes 2-5)              |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                     Target IPv4 address                       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
use std::net::Ipv4Addr;

use super::ethernet::{self, EthernetRepr, Frame, MacAddr, VlanTag};
use super::{Error, Layer, need, room};

/// Length of an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = 28;

const HTYPE_ETHERNET: u16 = 1;

mod field {
    use std::ops::Range;
    pub const HTYPE: Range<usize> = 0..2;
    pub const PTYPE: Range<usize> = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Range<usize> = 6..8;
    pub const SHA: Range<usize> = 8..14;
    pub const SPA: Range<usize> = 14..18;
    pub const THA: Range<usize> = 18..24;
    pub const TPA: Range<usize> = 24..28;
}

/// A read/write view of an ARP packet. Address getters assume the Ethernet/IPv4 layout that
/// [`ArpRepr::parse`] checks.
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

    pub fn check_len(&self) -> Result<(), Error> {
        need(Layer::Arp, PACKET_LEN, self.buffer.as_ref().len())
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

    fn mac(&self, r: std::ops::Range<usize>) -> MacAddr {
        let b = &self.b()[r];
        MacAddr([b[0], b[1], b[2], b[3], b[4], b[5]])
    }

    fn ip(&self, r: std::ops::Range<usize>) -> Ipv4Addr {
        let b = &self.b()[r];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    pub fn hardware_type(&self) -> u16 {
        self.get16(field::HTYPE)
    }

    pub fn protocol_type(&self) -> u16 {
        self.get16(field::PTYPE)
    }

    pub fn hardware_len(&self) -> u8 {
        self.b()[field::HLEN]
    }

    pub fn protocol_len(&self) -> u8 {
        self.b()[field::PLEN]
    }

    pub fn operation(&self) -> u16 {
        self.get16(field::OPER)
    }

    pub fn sender_hardware_addr(&self) -> MacAddr {
        self.mac(field::SHA)
    }

    pub fn sender_protocol_addr(&self) -> Ipv4Addr {
        self.ip(field::SPA)
    }

    pub fn target_hardware_addr(&self) -> MacAddr {
        self.mac(field::THA)
    }

    pub fn target_protocol_addr(&self) -> Ipv4Addr {
        self.ip(field::TPA)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn put(&mut self, r: std::ops::Range<usize>, v: &[u8]) {
        self.buffer.as_mut()[r].copy_from_slice(v);
    }

    /// Writes hardware/protocol type and lengths for Ethernet/IPv4.
    pub fn set_ethernet_ipv4_format(&mut self) {
        self.put(field::HTYPE, &HTYPE_ETHERNET.to_be_bytes());
        self.put(field::PTYPE, &ethernet::ethertype::IPV4.to_be_bytes());
        self.buffer.as_mut()[field::HLEN] = 6;
        self.buffer.as_mut()[field::PLEN] = 4;
    }

    pub fn set_operation(&mut self, op: u16) {
        self.put(field::OPER, &op.to_be_bytes());
    }

    pub fn set_sender_hardware_addr(&mut self, a: MacAddr) {
        self.put(field::SHA, &a.0);
    }

    pub fn set_sender_protocol_addr(&mut self, a: Ipv4Addr) {
        self.put(field::SPA, &a.octets());
    }

    pub fn set_target_hardware_addr(&mut self, a: MacAddr) {
        self.put(field::THA, &a.0);
    }

    pub fn set_target_protocol_addr(&mut self, a: Ipv4Addr) {
        self.put(field::TPA, &a.octets());
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArpOperation {
    Request = 1,
    Reply = 2,
}

/// An Ethernet/IPv4 ARP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ArpRepr {
    pub operation: ArpOperation,
    pub sender_mac: MacAddr,
    pub sender_ip: Ipv4Addr,
    pub target_mac: MacAddr,
    pub target_ip: Ipv4Addr,
}

impl ArpRepr {
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<ArpRepr, Error> {
        packet.check_len()?;
        let (htype, ptype) = (packet.hardware_type(), packet.protocol_type());
        let (hlen, plen) = (packet.hardware_len(), packet.protocol_len());
        if htype != HTYPE_ETHERNET || ptype != ethernet::ethertype::IPV4 || hlen != 6 || plen != 4 {
            return Err(Error::BadArpFormat {
                htype,
                ptype,
                hlen,
                plen,
            });
        }
        let operation = match packet.operation() {
            1 => ArpOperation::Request,
            2 => ArpOperation::Reply,
            other => return Err(Error::BadArpOperation(other)),
        };
        Ok(ArpRepr {
            operation,
            sender_mac: packet.sender_hardware_addr(),
            sender_ip: packet.sender_protocol_addr(),
            target_mac: packet.target_hardware_addr(),
            target_ip: packet.target_protocol_addr(),
        })
    }

    pub const fn buffer_len(&self) -> usize {
        PACKET_LEN
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) -> Result<(), Error> {
        room(Layer::Arp, PACKET_LEN, packet.b().len())?;
        packet.set_ethernet_ipv4_format();
        packet.set_operation(self.operation as u16);
        packet.set_sender_hardware_addr(self.sender_mac);
        packet.set_sender_protocol_addr(self.sender_ip);
        packet.set_target_hardware_addr(self.target_mac);
        packet.set_target_protocol_addr(self.target_ip);
        Ok(())
    }

    /// A gratuitous ARP (request or reply form): the sender announces its own address, so the
    /// sender and target IPs are the same (RFC 5944 §4.6, RFC 5227 §3).
    pub fn is_gratuitous(&self) -> bool {
        self.sender_ip == self.target_ip
    }

    /// The gratuitous ARP keepalived sends for a VIP on becoming master: a request with
    /// sender = target = `ip` and the broadcast address as target MAC (captured; RFC 5227
    /// §3 would put zero there, and receivers ignore it either way).
    pub const fn gratuitous(mac: MacAddr, ip: Ipv4Addr) -> ArpRepr {
        ArpRepr {
            operation: ArpOperation::Request,
            sender_mac: mac,
            sender_ip: ip,
            target_mac: MacAddr::BROADCAST,
            target_ip: ip,
        }
    }

    /// The gratuitous ARP in reply form, which some old hosts only learn from (RFC 5944 §4.6).
    pub const fn gratuitous_reply(mac: MacAddr, ip: Ipv4Addr) -> ArpRepr {
        ArpRepr {
            operation: ArpOperation::Reply,
            sender_mac: mac,
            sender_ip: ip,
            target_mac: mac,
            target_ip: ip,
        }
    }

    /// The reply to this request from `our_mac`, claiming the requested address; `None` if
    /// this is not a request. Whether the address is ours to claim is the caller's question.
    pub fn reply_to(&self, our_mac: MacAddr) -> Option<ArpRepr> {
        (self.operation == ArpOperation::Request).then_some(ArpRepr {
            operation: ArpOperation::Reply,
            sender_mac: our_mac,
            sender_ip: self.target_ip,
            target_mac: self.sender_mac,
            target_ip: self.sender_ip,
        })
    }
}

/// Parses an Ethernet frame (optionally 802.1Q-tagged) carrying ARP. Padding is ignored.
pub fn parse_frame(frame: &[u8]) -> Result<(EthernetRepr, ArpRepr), Error> {
    let f = Frame::new_checked(frame)?;
    let eth = EthernetRepr::parse(&f)?;
    if eth.ethertype != ethernet::ethertype::ARP {
        return Err(Error::BadEtherType(eth.ethertype));
    }
    let arp = ArpRepr::parse(&Packet::new_unchecked(f.payload()))?;
    Ok((eth, arp))
}

/// Builds an ARP frame (unpadded: the NIC pads to 60 bytes).
pub fn emit_frame(
    src: MacAddr,
    dst: MacAddr,
    vlan: Option<VlanTag>,
    arp: &ArpRepr,
) -> Result<Vec<u8>, Error> {
    let eth = EthernetRepr {
        src,
        dst,
        vlan,
        ethertype: ethernet::ethertype::ARP,
    };
    let mut buf = vec![0u8; eth.buffer_len() + PACKET_LEN];
    eth.emit(&mut Frame::new_unchecked(&mut buf[..]))?;
    arp.emit(&mut Packet::new_unchecked(&mut buf[eth.buffer_len()..]))?;
    Ok(buf)
}

/// The broadcast gratuitous ARP frame for `ip` at `mac`, as keepalived sends it.
pub fn gratuitous_frame(
    mac: MacAddr,
    ip: Ipv4Addr,
    vlan: Option<VlanTag>,
) -> Result<Vec<u8>, Error> {
    emit_frame(mac, MacAddr::BROADCAST, vlan, &ArpRepr::gratuitous(mac, ip))
}

/// The reply frame to an ARP request frame, sent from `our_mac` to the requester on the
/// same VLAN; `Ok(None)` if the frame is ARP but not a request.
pub fn answer_request(request: &[u8], our_mac: MacAddr) -> Result<Option<Vec<u8>>, Error> {
    let (eth, arp) = parse_frame(request)?;
    match arp.reply_to(our_mac) {
        Some(reply) => emit_frame(our_mac, arp.sender_mac, eth.vlan, &reply).map(Some),
        None => Ok(None),
    }
}
