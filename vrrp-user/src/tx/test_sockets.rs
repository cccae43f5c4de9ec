//! Unix datagram sockets standing in for the network in unit tests: local IPC, no root.
use std::{
    mem,
    path::{Path, PathBuf},
};

use socket2::{Domain, SockAddr, Socket, Type};

/// A scratch directory for socket paths, removed on drop.
pub struct SocketDir(PathBuf);

impl SocketDir {
    pub fn new(tag: &str) -> SocketDir {
        let dir = std::env::temp_dir().join(format!("xvrrpd-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        SocketDir(dir)
    }

    /// A bound, non-blocking unix datagram socket named `name`, and its address.
    pub fn receiver(&self, name: &str) -> (Socket, SockAddr) {
        let addr = self.address(name);
        let socket = Socket::new(Domain::UNIX, Type::DGRAM, None).unwrap();
        socket.bind(&addr).unwrap();
        socket.set_nonblocking(true).unwrap();
        (socket, addr)
    }

    /// The address of `name`, bound or not.
    pub fn address(&self, name: &str) -> SockAddr {
        SockAddr::unix(self.path().join(name)).unwrap()
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for SocketDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An unbound, non-blocking unix datagram socket to send from.
pub fn sender() -> Socket {
    let socket = Socket::new(Domain::UNIX, Type::DGRAM, None).unwrap();
    socket.set_nonblocking(true).unwrap();
    socket
}

/// Every datagram waiting on `socket`, in order.
pub fn received(socket: &Socket) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [mem::MaybeUninit::new(0u8); 64];
    while let Ok(n) = socket.recv(&mut buf) {
        // SAFETY: `recv` initialised the first `n` bytes (they were initialised anyway).
        out.push(
            buf[..n]
                .iter()
                .map(|b| unsafe { b.assume_init() })
                .collect(),
        );
    }
    out
}
