//! The raw IPPROTO 112 sockets and what `recvmsg` tells about each datagram.
//!
//! An IPv4 raw socket returns the IP header with the payload, so TTL, addresses and lengths
//! come from the packet itself; IP_PKTINFO adds the receiving interface. An IPv6 raw socket
//! returns the payload only: hop limit, destination and interface come from ancillary data
//! (RFC 3542 §6), the source from the socket address.
use std::io;
use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;

use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};
use vrrp_common::proto::IPPROTO_VRRP;

use super::validate::Datagram;
use crate::wire::vrrp::{MULTICAST_V4, MULTICAST_V6};

/// Big enough for any IP packet (an IPv4 total length or IPv6 payload length is 16 bits).
pub const BUFFER_LEN: usize = 65_536;
/// Room for packet info, hop limit and fragment size, and for extension-header options
/// (whose size is unbounded in practice; a truncated control buffer means they were there).
pub const CONTROL_LEN: usize = 4096;

/// Ancillary data buffer, aligned as `cmsghdr` requires.
#[repr(C, align(8))]
pub struct Control(pub [u8; CONTROL_LEN]);

/// The address family a socket receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }
}

/// Opens the receive socket of `family`: raw, protocol 112, non-blocking, close-on-exec.
pub fn open(family: Family) -> io::Result<Socket> {
    let domain = match family {
        Family::V4 => Domain::IPV4,
        Family::V6 => Domain::IPV6,
    };
    let socket = Socket::new(
        domain,
        Type::RAW,
        Some(Protocol::from(i32::from(IPPROTO_VRRP))),
    )?;
    socket.set_nonblocking(true)?;
    match family {
        Family::V4 => {
            // The receiving interface: instances are keyed by it.
            set_int(&socket, libc::SOL_IP, libc::IP_PKTINFO, 1)?;
            // Reassembled packets are flagged so they can be dropped as XDP drops fragments.
            best_effort(&socket, "IP_RECVFRAGSIZE", || {
                set_int(&socket, libc::SOL_IP, libc::IP_RECVFRAGSIZE, 1)
            });
            // Only groups this socket joined, not every group of the host.
            best_effort(&socket, "IP_MULTICAST_ALL", || {
                socket.set_multicast_all_v4(false)
            });
        }
        Family::V6 => {
            set_int(&socket, libc::SOL_IPV6, libc::IPV6_RECVPKTINFO, 1)?;
            set_int(&socket, libc::SOL_IPV6, libc::IPV6_RECVHOPLIMIT, 1)?;
            // XDP never judges adverts behind extension headers; these options reveal them.
            for (name, option) in [
                ("IPV6_RECVFRAGSIZE", libc::IPV6_RECVFRAGSIZE),
                ("IPV6_RECVHOPOPTS", libc::IPV6_RECVHOPOPTS),
                ("IPV6_RECVRTHDR", libc::IPV6_RECVRTHDR),
                ("IPV6_RECVDSTOPTS", libc::IPV6_RECVDSTOPTS),
            ] {
                best_effort(&socket, name, || {
                    set_int(&socket, libc::SOL_IPV6, option, 1)
                });
            }
            best_effort(&socket, "IPV6_MULTICAST_ALL", || {
                socket.set_multicast_all_v6(false)
            });
        }
    }
    // Adverts from many instances can arrive in a burst while the task is descheduled.
    best_effort(&socket, "SO_RCVBUF", || {
        socket.set_recv_buffer_size(1 << 20)
    });
    Ok(socket)
}

fn best_effort(socket: &Socket, what: &str, set: impl FnOnce() -> io::Result<()>) {
    if let Err(err) = set() {
        tracing::debug!(fd = socket.as_raw_fd(), "raw VRRP socket: {what}: {err}");
    }
}

/// Joins the VRRP group of `family` on `ifindex` (RFC 5798 §5.1.1.2, §5.1.2.2); joining
/// twice is not an error.
pub fn join(socket: &Socket, family: Family, ifindex: u32) -> io::Result<()> {
    let result = match family {
        // ip_mreqn: the group on that interface, whatever its addresses.
        Family::V4 => {
            socket.join_multicast_v4_n(&MULTICAST_V4, &InterfaceIndexOrAddress::Index(ifindex))
        }
        Family::V6 => socket.join_multicast_v6(&MULTICAST_V6, ifindex),
    };
    match result {
        Err(err) if err.raw_os_error() == Some(libc::EADDRINUSE) => Ok(()),
        other => other,
    }
}

fn set_int(socket: &Socket, level: libc::c_int, name: libc::c_int, value: i32) -> io::Result<()> {
    let value: libc::c_int = value;
    // SAFETY: a valid socket descriptor, and a pointer to an int with its exact length.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// What `recvmsg` returned besides the payload bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Received {
    /// Bytes written into the buffer.
    pub len: usize,
    /// The datagram was longer than the buffer (MSG_TRUNC).
    pub truncated: bool,
    /// The source address, for IPv6 (IPv4's is in the header).
    pub source_v6: Option<Ipv6Addr>,
    pub ancillary: Ancillary,
}

/// Receives one datagram without blocking (`WouldBlock` when none is queued).
pub fn receive(socket: &Socket, buffer: &mut [u8], control: &mut Control) -> io::Result<Received> {
    // SAFETY: all-zero is a valid sockaddr_storage and msghdr.
    let mut name: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let mut iov = libc::iovec {
        iov_base: buffer.as_mut_ptr().cast(),
        iov_len: buffer.len(),
    };
    // SAFETY: as above.
    let mut message: libc::msghdr = unsafe { mem::zeroed() };
    message.msg_name = (&mut name as *mut libc::sockaddr_storage).cast();
    message.msg_namelen = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    message.msg_iov = &mut iov;
    message.msg_iovlen = 1;
    message.msg_control = control.0.as_mut_ptr().cast();
    message.msg_controllen = CONTROL_LEN as _;
    // SAFETY: every pointer in `message` refers to a live buffer of the length given next to
    // it, all borrowed mutably for the duration of the call.
    let len = unsafe { libc::recvmsg(socket.as_raw_fd(), &mut message, libc::MSG_DONTWAIT) };
    let Ok(len) = usize::try_from(len) else {
        return Err(io::Error::last_os_error());
    };
    let control_len = (message.msg_controllen as usize).min(CONTROL_LEN);
    let source_v6 = (i32::from(name.ss_family) == libc::AF_INET6).then(|| {
        // SAFETY: the kernel wrote a sockaddr_in6 (its family says so) into storage that is
        // larger and at least as aligned.
        let sin6 = unsafe {
            (&name as *const libc::sockaddr_storage)
                .cast::<libc::sockaddr_in6>()
                .read()
        };
        Ipv6Addr::from(sin6.sin6_addr.s6_addr)
    });
    Ok(Received {
        len: len.min(buffer.len()),
        truncated: message.msg_flags & libc::MSG_TRUNC != 0,
        source_v6,
        ancillary: Ancillary::parse(
            &control.0[..control_len],
            message.msg_flags & libc::MSG_CTRUNC != 0,
        ),
    })
}

/// What the kernel said about a datagram in ancillary data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ancillary {
    /// IP_PKTINFO / IPV6_PKTINFO: the interface it arrived on.
    pub ifindex: Option<u32>,
    /// IPV6_PKTINFO: its destination address.
    pub destination_v6: Option<Ipv6Addr>,
    /// IPV6_HOPLIMIT.
    pub hop_limit: Option<u8>,
    /// IP(V6)_RECVFRAGSIZE: the kernel reassembled it.
    pub reassembled: bool,
    /// IPv6 extension-header options were reported (or did not fit the buffer).
    pub extension_headers: bool,
}

impl Ancillary {
    /// Walks the control messages (`CMSG_FIRSTHDR` / `CMSG_NXTHDR` done with bounds checks:
    /// nothing the kernel writes can make this read out of bounds or panic).
    pub fn parse(control: &[u8], control_truncated: bool) -> Ancillary {
        let mut ancillary = Ancillary {
            // Only large extension-header options overflow the buffer.
            extension_headers: control_truncated,
            ..Ancillary::default()
        };
        let header_len = cmsg_align(mem::size_of::<libc::cmsghdr>());
        // `at` never exceeds `control.len()`, so `at + header_len` cannot overflow; the
        // lengths the buffer claims are only used through checked arithmetic.
        let mut at = 0usize;
        while let Some(header) = control.get(at..at + header_len) {
            let (len, level, kind) = cmsg_header(header);
            if len < header_len {
                break;
            }
            let Some(data) = at
                .checked_add(len)
                .and_then(|end| control.get(at + header_len..end))
            else {
                break;
            };
            ancillary.take(level, kind, data);
            // The data fit the buffer, so the aligned length only overflows in theory.
            match len
                .checked_next_multiple_of(CMSG_ALIGN)
                .and_then(|space| at.checked_add(space))
            {
                Some(next) => at = next,
                None => break,
            }
        }
        ancillary
    }

    fn take(&mut self, level: libc::c_int, kind: libc::c_int, data: &[u8]) {
        match (level, kind) {
            (libc::SOL_IP, libc::IP_PKTINFO) => {
                // struct in_pktinfo { int ipi_ifindex; struct in_addr spec_dst, addr; }
                if let Some(index) = ne_i32(data.get(..4)) {
                    self.ifindex = u32::try_from(index).ok();
                }
            }
            (libc::SOL_IP, libc::IP_RECVFRAGSIZE) => self.reassembled = true,
            (libc::SOL_IPV6, libc::IPV6_PKTINFO) => {
                // struct in6_pktinfo { struct in6_addr ipi6_addr; unsigned ipi6_ifindex; }
                if let Some(address) = data.get(..16).and_then(|a| <[u8; 16]>::try_from(a).ok()) {
                    self.destination_v6 = Some(Ipv6Addr::from(address));
                }
                if let Some(index) = data.get(16..20).and_then(|b| <[u8; 4]>::try_from(b).ok()) {
                    self.ifindex = Some(u32::from_ne_bytes(index));
                }
            }
            (libc::SOL_IPV6, libc::IPV6_HOPLIMIT) => {
                self.hop_limit = ne_i32(data.get(..4)).and_then(|h| u8::try_from(h).ok());
            }
            (libc::SOL_IPV6, libc::IPV6_RECVFRAGSIZE) => {
                self.reassembled = true;
                self.extension_headers = true;
            }
            (
                libc::SOL_IPV6,
                libc::IPV6_HOPOPTS
                | libc::IPV6_RTHDR
                | libc::IPV6_DSTOPTS
                | libc::IPV6_RTHDRDSTOPTS,
            ) => self.extension_headers = true,
            _ => {}
        }
    }
}

/// `CMSG_ALIGN`: control messages start on `size_t` boundaries.
const fn cmsg_align(len: usize) -> usize {
    len.next_multiple_of(CMSG_ALIGN)
}

const CMSG_ALIGN: usize = mem::size_of::<usize>();

/// `cmsg_len` (a `size_t` in the kernel's layout), `cmsg_level`, `cmsg_type`.
fn cmsg_header(header: &[u8]) -> (usize, libc::c_int, libc::c_int) {
    const WORD: usize = mem::size_of::<usize>();
    let len = header
        .get(..WORD)
        .and_then(|b| <[u8; WORD]>::try_from(b).ok())
        .map_or(0, usize::from_ne_bytes);
    let level = ne_i32(header.get(WORD..WORD + 4)).unwrap_or(-1);
    let kind = ne_i32(header.get(WORD + 4..WORD + 8)).unwrap_or(-1);
    (len, level, kind)
}

fn ne_i32(bytes: Option<&[u8]>) -> Option<i32> {
    bytes
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(i32::from_ne_bytes)
}

/// The pure layer's view of a received datagram.
pub fn datagram<'a>(family: Family, payload: &'a [u8], received: &Received) -> Datagram<'a> {
    match family {
        Family::V4 => Datagram::V4 {
            packet: payload,
            reassembled: received.ancillary.reassembled,
            truncated: received.truncated,
        },
        Family::V6 => Datagram::V6 {
            message: payload,
            source: received.source_v6.unwrap_or(Ipv6Addr::UNSPECIFIED),
            destination: received.ancillary.destination_v6,
            hop_limit: received.ancillary.hop_limit,
            extension_headers: received.ancillary.extension_headers,
            truncated: received.truncated,
        },
    }
}

/// A zeroed control buffer, on the heap (it is 4 KiB).
pub fn control_buffer() -> Box<Control> {
    Box::new(Control([0; CONTROL_LEN]))
}

/// For log lines: the source of an IPv4 packet, if its header is there.
pub fn source_v4(packet: &[u8]) -> Option<Ipv4Addr> {
    let octets: [u8; 4] = packet.get(12..16)?.try_into().ok()?;
    Some(Ipv4Addr::from(octets))
}

// The ancillary-data parser relies on these layouts.
const _: () = assert!(mem::size_of::<libc::in_pktinfo>() == 12);
const _: () = assert!(mem::size_of::<libc::in6_pktinfo>() == 20);
