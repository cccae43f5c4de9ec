//! Raw Ethernet frames in test namespaces: sending them, and the link-layer address an
//! AF_PACKET socket binds or sends to.
use std::{mem::MaybeUninit, os::fd::AsRawFd};

use socket2::{Domain, SockAddr, Socket, Type};

/// The `sockaddr_ll` of interface `ifindex` for frames of EtherType `protocol` (0: any, for a
/// socket that only sends).
pub fn link_address(ifindex: u32, protocol: u16) -> SockAddr {
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid starting value.
    let mut address: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    address.sll_family = libc::AF_PACKET as u16;
    address.sll_protocol = protocol.to_be();
    address.sll_ifindex = ifindex as i32;
    address.sll_halen = 6;
    // SAFETY: the storage is large enough for a sockaddr_ll and the length says so.
    unsafe {
        SockAddr::try_init(|storage, len| {
            std::ptr::copy_nonoverlapping(
                (&address as *const libc::sockaddr_ll).cast::<u8>(),
                storage.cast::<u8>(),
                std::mem::size_of::<libc::sockaddr_ll>(),
            );
            *len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            Ok(())
        })
    }
    .expect("sockaddr_ll")
    .1
}

/// Sends each frame out of `ifindex` through an AF_PACKET socket. Call it from a thread that
/// has entered the namespace the interface lives in (`Netns::enter`).
pub fn send_frames(ifindex: u32, frames: &[Vec<u8>]) {
    let socket = Socket::new(Domain::PACKET, Type::RAW, None).expect("AF_PACKET socket");
    let address = link_address(ifindex, 0);
    for frame in frames {
        socket.send_to(frame, &address).expect("send frame");
    }
}

/// The next frame `socket` receives (its first 256 bytes); `None` when the read times out or
/// fails.
pub fn recv_frame(socket: &Socket) -> Option<Vec<u8>> {
    let mut buffer = [MaybeUninit::<u8>::uninit(); 256];
    let len = socket.recv(&mut buffer).ok()?;
    // SAFETY: recv initialised the first `len` bytes.
    Some(
        buffer[..len]
            .iter()
            .map(|byte| unsafe { byte.assume_init() })
            .collect(),
    )
}

/// Turns on the AF_PACKET socket option `option` (`PACKET_AUXDATA`, `PACKET_IGNORE_OUTGOING`…).
pub fn enable_option(socket: &Socket, option: libc::c_int) {
    let on: libc::c_int = 1;
    // SAFETY: an int option of the right size on a live socket.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_PACKET,
            option,
            (&raw const on).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(
        rc,
        0,
        "AF_PACKET option {option}: {}",
        std::io::Error::last_os_error()
    );
}
