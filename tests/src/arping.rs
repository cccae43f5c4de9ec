//! An ARP prober for labs: asks for an address at a steady pace from inside a namespace and
//! records who answered and when, so a test can tell which router (by MAC) answered for a VIP
//! before and after a failure. Bounded: it stops when told or after its time limit.
use std::{
    net::Ipv4Addr,
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

use socket2::{Domain, Protocol, Socket, Type};
use vrrp_user::wire::{ArpOperation, ArpRepr, MacAddr, arp};

const ETH_P_ARP: u16 = 0x0806;

/// One reply: when it arrived and the MAC it gave for the address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpReply {
    pub at: Instant,
    pub mac: [u8; 6],
}

/// What to ask for, from where.
#[derive(Clone, Copy, Debug)]
pub struct Probe {
    pub ifindex: u32,
    pub mac: [u8; 6],
    pub sender: Ipv4Addr,
    pub target: Ipv4Addr,
    pub interval: Duration,
    /// It stops by itself after this long.
    pub limit: Duration,
}

/// Broadcasts a request for `probe.target` every `probe.interval` until `stop` is set (or the
/// limit passes) and returns every reply for it, with how many requests went out. Call it from
/// a thread that has entered the namespace (`Netns::enter`).
pub fn arping(probe: Probe, stop: &AtomicBool) -> (u64, Vec<ArpReply>) {
    let protocol = Protocol::from(i32::from(ETH_P_ARP.to_be()));
    let socket =
        Socket::new(Domain::PACKET, Type::RAW, Some(protocol)).expect("AF_PACKET ARP socket");
    let address = crate::packet::link_address(probe.ifindex, ETH_P_ARP);
    socket.bind(&address).expect("bind to the interface");
    socket
        .set_read_timeout(Some(Duration::from_millis(2)))
        .expect("read timeout");
    let request = ArpRepr {
        operation: ArpOperation::Request,
        sender_mac: MacAddr(probe.mac),
        sender_ip: probe.sender,
        target_mac: MacAddr([0; 6]),
        target_ip: probe.target,
    };
    let frame =
        arp::emit_frame(MacAddr(probe.mac), MacAddr::BROADCAST, None, &request).expect("ARP");
    let started = Instant::now();
    let mut next = started;
    let mut sent = 0;
    let mut replies = Vec::new();
    while !stop.load(Ordering::Relaxed) && started.elapsed() < probe.limit {
        if Instant::now() >= next {
            socket.send_to(&frame, &address).expect("send ARP request");
            sent += 1;
            next += probe.interval;
        }
        let Some(bytes) = crate::packet::recv_frame(&socket) else {
            continue;
        };
        if let Some(mac) = reply_for(&bytes, probe.target) {
            replies.push(ArpReply {
                at: Instant::now(),
                mac,
            });
        }
    }
    (sent, replies)
}

/// The MAC an ARP reply gives for `target`, if `frame` is one.
fn reply_for(frame: &[u8], target: Ipv4Addr) -> Option<[u8; 6]> {
    let body = frame.get(14..42)?;
    let is_arp = frame[12..14] == ETH_P_ARP.to_be_bytes();
    let is_reply = body[6..8] == [0, 2];
    let sender_ip = Ipv4Addr::new(body[14], body[15], body[16], body[17]);
    (is_arp && is_reply && sender_ip == target).then(|| body[8..14].try_into().expect("6 bytes"))
}
