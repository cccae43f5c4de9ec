//! Several datagrams in one `sendmmsg(2)` call.
use std::{io, mem, os::fd::AsRawFd};

use socket2::{SockAddr, Socket};

/// At most this many messages per call (the kernel caps a call at `UIO_MAXIOV`).
const MAX_BATCH: usize = 1024;

/// Sends each payload to its address, in order, in as few `sendmmsg` calls as the kernel
/// allows. A datagram the kernel refuses is reported with its index and skipped: the ones
/// after it are still sent. Where `sendmmsg` does not exist (`ENOSYS`) it falls back to one
/// `sendto` per datagram.
pub(super) fn send_all(
    socket: &Socket,
    messages: &[(&SockAddr, &[u8])],
) -> Vec<(usize, io::Error)> {
    let mut iovecs: Vec<libc::iovec> = messages
        .iter()
        .map(|(_, payload)| libc::iovec {
            iov_base: payload.as_ptr().cast_mut().cast(),
            iov_len: payload.len(),
        })
        .collect();
    let mut headers: Vec<libc::mmsghdr> = messages
        .iter()
        .zip(iovecs.iter_mut())
        .map(|((addr, _), iov)| {
            // SAFETY: mmsghdr is plain data; all-zero is a valid (empty) value.
            let mut header: libc::mmsghdr = unsafe { mem::zeroed() };
            header.msg_hdr.msg_name = addr.as_ptr().cast_mut().cast();
            header.msg_hdr.msg_namelen = addr.len();
            header.msg_hdr.msg_iov = iov;
            header.msg_hdr.msg_iovlen = 1;
            header
        })
        .collect();
    let mut failures = Vec::new();
    let mut next = 0;
    while next < headers.len() {
        let count = (headers.len() - next).min(MAX_BATCH);
        // SAFETY: `headers[next..next + count]` are initialised mmsghdrs whose name and iovec
        // pointers point into `messages` and `iovecs`, both alive and unmoved for this call.
        let rc = unsafe {
            libc::sendmmsg(
                socket.as_raw_fd(),
                headers.as_mut_ptr().add(next),
                count as libc::c_uint,
                0,
            )
        };
        match usize::try_from(rc) {
            Ok(0) => {
                failures.push((next, io::Error::other("sendmmsg sent nothing")));
                next += 1;
            }
            Ok(sent) => next += sent,
            Err(_) => {
                let err = io::Error::last_os_error();
                match err.raw_os_error() {
                    Some(libc::EINTR) => {}
                    Some(libc::ENOSYS) => {
                        failures.extend(send_each(socket, &messages[next..], next));
                        break;
                    }
                    // sendmmsg fails only for the first datagram of the call.
                    _ => {
                        failures.push((next, err));
                        next += 1;
                    }
                }
            }
        }
    }
    failures
}

/// One `sendto` per datagram; `offset` is the index of `messages[0]` for the report.
fn send_each(
    socket: &Socket,
    messages: &[(&SockAddr, &[u8])],
    offset: usize,
) -> Vec<(usize, io::Error)> {
    messages
        .iter()
        .enumerate()
        .filter_map(|(i, (addr, payload))| {
            loop {
                match socket.send_to(payload, addr) {
                    Ok(_) => break None,
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                    Err(err) => break Some((offset + i, err)),
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tx::test_sockets::{SocketDir, received, sender};

    #[test]
    fn batch_goes_out_in_order_and_skips_a_failure() {
        let dir = SocketDir::new("mmsg-batch");
        let (a, a_addr) = dir.receiver("a");
        let (b, b_addr) = dir.receiver("b");
        let missing = dir.address("missing");
        let sender = sender();
        let messages: [(&SockAddr, &[u8]); 5] = [
            (&a_addr, b"one"),
            (&b_addr, b"two"),
            (&missing, b"lost"),
            (&a_addr, b"three"),
            (&b_addr, b"four"),
        ];
        let failures = send_all(&sender, &messages);
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert_eq!(failures[0].0, 2);
        assert_eq!(received(&a), [b"one".to_vec(), b"three".to_vec()]);
        assert_eq!(received(&b), [b"two".to_vec(), b"four".to_vec()]);
        let failures = send_each(&sender, &messages[2..4], 2);
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].0, 2);
        assert_eq!(received(&a), [b"three".to_vec()]);
    }

    #[test]
    fn more_than_one_call() {
        let dir = SocketDir::new("mmsg-many");
        let (a, a_addr) = dir.receiver("a");
        a.set_recv_buffer_size(1 << 20).unwrap();
        let sender = sender();
        let payloads: Vec<[u8; 2]> = (0..1100u16).map(u16::to_be_bytes).collect();
        let messages: Vec<(&SockAddr, &[u8])> =
            payloads.iter().map(|p| (&a_addr, &p[..])).collect();
        let failures = send_all(&sender, &messages);
        // A unix socket's queue holds a bounded number of datagrams (net.unix.max_dgram_qlen):
        // what does not fit fails with EAGAIN, and the batch goes on past it.
        let got = received(&a);
        assert_eq!(got.len() + failures.len(), 1100);
        assert!(got.len() >= 10, "{} received", got.len());
        assert_eq!(got[0], [0, 0]);
    }
}
