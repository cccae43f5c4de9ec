//! A steady ICMP echo stream with receive timestamps, for outage measurements.
//!
//! Not iputils ping: below 10 ms intervals it waits up to 10 ms for a reply while requests are
//! unanswered (its scheduler-resolution guard), so during an outage it probes only every 10 ms
//! and outages came out in 10 ms steps. This sends on its own schedule whatever comes back.
use std::{
    mem::MaybeUninit,
    net::{Ipv4Addr, SocketAddrV4},
    time::{Duration, Instant, SystemTime},
};

use socket2::{Domain, Protocol, Socket, Type};

const ECHO_REQUEST: u8 = 8;
const ECHO_REPLY: u8 = 0;

/// What a [`ping`] stream heard.
#[derive(Debug, Clone, PartialEq)]
pub struct Echoes {
    /// The Unix times (seconds) at which replies arrived.
    pub replies: Vec<f64>,
    /// The Unix time the stream ended: silence from the last reply to here was not over yet.
    pub ended: f64,
}

/// Sends an echo request to `target` every `interval` for `window` (from the calling thread's
/// network namespace), and listens for the replies.
pub fn ping(target: Ipv4Addr, interval: Duration, window: Duration) -> Echoes {
    let socket =
        Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4)).expect("raw ICMP socket");
    let destination = SocketAddrV4::new(target, 0).into();
    // Replies to other pings in the namespace reach this socket too: ours carry this id.
    let id = (std::process::id() as u16) ^ 0x5a5a;
    let started = Instant::now();
    let mut next_send = started;
    let mut sequence: u16 = 0;
    let mut replies = Vec::new();
    let mut buffer = [MaybeUninit::<u8>::uninit(); 1500];
    while started.elapsed() < window {
        let now = Instant::now();
        if now >= next_send {
            let request = echo_request(id, sequence);
            // A send that fails (no route during a failover) is a lost probe, as for ping.
            let _ = socket.send_to(&request, &destination);
            sequence = sequence.wrapping_add(1);
            next_send += interval;
            continue;
        }
        // ppoll's timeout is an hrtimer; SO_RCVTIMEO would round up to whole jiffies (4 ms at
        // HZ=250) and delay the next probe just as iputils does.
        if !readable_within(&socket, next_send - now) {
            continue;
        }
        if let Ok(length) = socket.recv(&mut buffer) {
            let arrived = unix_seconds();
            // SAFETY: recv initialised the first `length` bytes.
            let packet: Vec<u8> = buffer[..length]
                .iter()
                .map(|byte| unsafe { byte.assume_init() })
                .collect();
            if is_our_reply(&packet, id) {
                replies.push(arrived);
            }
        }
    }
    Echoes {
        replies,
        ended: unix_seconds(),
    }
}

/// Whether `socket` has something to read within `limit`.
fn readable_within(socket: &Socket, limit: Duration) -> bool {
    use std::os::fd::AsRawFd as _;
    let mut poll = libc::pollfd {
        fd: socket.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let timeout = libc::timespec {
        tv_sec: limit.as_secs() as libc::time_t,
        tv_nsec: limit.subsec_nanos() as libc::c_long,
    };
    // SAFETY: one valid pollfd, a valid timespec, no signal mask.
    let ready = unsafe { libc::ppoll(&mut poll, 1, &timeout, std::ptr::null()) };
    ready > 0 && poll.revents & libc::POLLIN != 0
}

fn unix_seconds() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

fn echo_request(id: u16, sequence: u16) -> Vec<u8> {
    let mut message = vec![ECHO_REQUEST, 0, 0, 0];
    message.extend_from_slice(&id.to_be_bytes());
    message.extend_from_slice(&sequence.to_be_bytes());
    message.extend_from_slice(b"xvrrpd-bench-ping");
    let checksum = internet_checksum(&message);
    message[2..4].copy_from_slice(&checksum.to_be_bytes());
    message
}

/// An IPv4 packet (raw sockets deliver the IP header) holding an echo reply with our `id`.
fn is_our_reply(packet: &[u8], id: u16) -> bool {
    let Some(&first) = packet.first() else {
        return false;
    };
    let header = usize::from(first & 0x0f) * 4;
    packet
        .get(header..header + 8)
        .is_some_and(|icmp| icmp[0] == ECHO_REPLY && u16::from_be_bytes([icmp[4], icmp[5]]) == id)
}

fn internet_checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|pair| u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_requests_carry_a_valid_checksum_and_replies_are_recognised() {
        let request = echo_request(0x1234, 7);
        // A message with its checksum in place sums to zero.
        assert_eq!(internet_checksum(&request), 0);
        assert_eq!(&request[4..8], &[0x12, 0x34, 0, 7]);
        let mut reply = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0, 192, 0, 2, 100, 192, 0, 2, 50,
        ];
        reply.extend_from_slice(&request);
        reply[20] = ECHO_REPLY;
        assert!(is_our_reply(&reply, 0x1234));
        assert!(!is_our_reply(&reply, 0x4321));
        assert!(!is_our_reply(&reply[..24], 0x1234));
        assert!(!is_our_reply(&[], 0x1234));
    }
}
