//! Sending: VRRP adverts through raw IP sockets or as whole frames through AF_PACKET
//! ([`AdvertSender`]), a Master's periodic ones by a thread of their own, those due at one
//! instant in one call ([`AdvertPacer`]); gratuitous ARP
//! and unsolicited neighbour advertisements through AF_PACKET ([`Garp`]).
//!
//! Every packet is built by [`crate::wire`], the code the tests feed with keepalived's
//! captures. Sockets are non-blocking: a send that cannot be queued fails with `EAGAIN`
//! rather than stall the daemon, and the daemon counts it as a missed advert.
//! Nothing here panics; errors name the interface and the address ([`TxError`]).
use std::{io, net::IpAddr};

use socket2::Socket;

use crate::wire;

mod advert;
mod garp;
mod mmsg;
mod pacer;
#[cfg(test)]
mod test_sockets;
#[cfg(test)]
mod tests;

pub use advert::{AdvertSender, BatchReport, SenderConfig, build_advert};
pub use garp::{BurstReport, Garp, announce_v4, announce_v6, announcement};
pub use pacer::{AdvertPacer, AdvertTally, Datagram, Outlet, PacerHooks, Schedule};

/// Why sending (or getting ready to send) failed.
#[derive(Debug, thiserror::Error)]
pub enum TxError {
    /// The sender's configuration cannot work (wrong family, a non-link-local IPv6 source
    /// for multicast, …).
    #[error("{interface}: {reason}")]
    Config { interface: String, reason: String },
    /// Creating or setting up the socket failed.
    #[error("{interface}: {what}: {source}")]
    Socket {
        interface: String,
        what: String,
        #[source]
        source: io::Error,
    },
    /// [`crate::wire`] refused to build the packet.
    #[error("{interface}: building {what} {addr}: {source}")]
    Encode {
        interface: String,
        /// "the advert to", "the gratuitous ARP for", "the unsolicited NA for".
        what: &'static str,
        addr: IpAddr,
        #[source]
        source: wire::Error,
    },
    /// The kernel refused the packet.
    #[error("{interface}: sending {what} {addr}: {source}")]
    Send {
        interface: String,
        what: &'static str,
        addr: IpAddr,
        #[source]
        source: io::Error,
    },
}

impl TxError {
    /// The OS error of a socket or send failure.
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            TxError::Socket { source, .. } | TxError::Send { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Runs a socket set-up step, naming it in the error.
fn setup<T>(interface: &str, what: &str, result: io::Result<T>) -> Result<T, TxError> {
    result.map_err(|source| TxError::Socket {
        interface: interface.to_owned(),
        what: what.to_owned(),
        source,
    })
}

/// A socket option set with `setsockopt` directly, for what socket2 does not wrap.
fn set_option<T>(
    socket: &Socket,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: `value` points at a live `T` and the length passed is its size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
