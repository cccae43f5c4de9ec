//! A fast, bounded frame sender for flood tests: one AF_PACKET socket, `sendmmsg` in batches,
//! and a stop both on a frame count and on a time limit. It cycles through a pool of frames, so
//! the caller knows exactly how many copies of each went out ([`FloodReport::copies_of`]).
use std::{
    io,
    os::fd::AsRawFd,
    time::{Duration, Instant},
};

use socket2::{Domain, Socket, Type};

/// Frames handed to the kernel per `sendmmsg` call (UIO_MAXIOV allows 1024).
const BATCH: usize = 256;

/// How a flood is bounded and paced.
#[derive(Clone, Copy, Debug)]
pub struct FloodLimits {
    /// Frames to send in all.
    pub frames: u64,
    /// The flood stops after this long even if frames are left.
    pub time: Duration,
    /// At most this many frames per second; `None`: as fast as the path takes them.
    pub rate: Option<u64>,
}

/// What a flood did.
#[derive(Clone, Copy, Debug)]
pub struct FloodReport {
    /// Frames the kernel accepted for transmission.
    pub sent: u64,
    /// How many distinct frames the pool had.
    pub pool: usize,
    pub elapsed: Duration,
    /// `sendmmsg` calls that found the interface's queue full (`ENOBUFS`) and were retried
    /// after a pause: the path pushing back, not frames lost.
    pub pushed_back: u64,
}

impl FloodReport {
    /// Frames per second.
    pub fn rate(&self) -> f64 {
        self.sent as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// How many copies of `pool[index]` were sent: frame `n` of the flood is `pool[n % len]`.
    pub fn copies_of(&self, index: usize) -> u64 {
        let len = self.pool as u64;
        self.sent / len + u64::from((index as u64) < self.sent % len)
    }
}

/// Sends frames from `pool`, cycling, out of `ifindex` until `limits` say stop. Call it from a
/// thread that has entered the interface's namespace (`Netns::enter`).
///
/// A queueing discipline on the interface makes the path push back (`ENOBUFS` once its queue
/// is full, instead of a silent drop in a veth's ring): the batch is then retried after a short
/// pause, so `sent` counts frames the kernel took, each exactly once.
pub fn flood(ifindex: u32, pool: &[Vec<u8>], limits: FloodLimits) -> FloodReport {
    assert!(!pool.is_empty(), "a flood needs frames");
    // Protocol 0: the socket sends but never receives, so it queues nothing of the flood.
    let socket = Socket::new(Domain::PACKET, Type::RAW, None).expect("AF_PACKET socket");
    socket
        .bind(&crate::packet::link_address(ifindex, 0))
        .expect("bind the AF_PACKET socket to the interface");
    let started = Instant::now();
    let deadline = started + limits.time;
    let mut sent = 0u64;
    let mut pushed_back = 0u64;
    let mut iovecs: Vec<libc::iovec> = Vec::with_capacity(BATCH);
    let mut headers: Vec<libc::mmsghdr> = Vec::with_capacity(BATCH);
    while sent < limits.frames && Instant::now() < deadline {
        if let Some(rate) = limits.rate {
            // Ahead of the allowed pace: wait until the schedule catches up.
            let due = Duration::from_secs_f64(sent as f64 / rate as f64);
            if let Some(ahead) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(ahead);
            }
        }
        let batch = (limits.frames - sent).min(BATCH as u64) as usize;
        iovecs.clear();
        headers.clear();
        for n in 0..batch {
            let frame = &pool[((sent + n as u64) % pool.len() as u64) as usize];
            iovecs.push(libc::iovec {
                iov_base: frame.as_ptr() as *mut libc::c_void,
                iov_len: frame.len(),
            });
        }
        for iovec in &mut iovecs {
            // SAFETY: mmsghdr is plain data; all-zero is a valid value (no name, no control).
            let mut header: libc::mmsghdr = unsafe { std::mem::zeroed() };
            header.msg_hdr.msg_iov = iovec;
            header.msg_hdr.msg_iovlen = 1;
            headers.push(header);
        }
        // SAFETY: `headers` holds `batch` initialised entries whose iovecs point into `pool`,
        // which outlives the call; the socket is bound, so no address is needed.
        let rc = unsafe {
            libc::sendmmsg(
                socket.as_raw_fd(),
                headers.as_mut_ptr(),
                batch as libc::c_uint,
                0,
            )
        };
        if rc >= 0 {
            sent += rc as u64;
            continue;
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::ENOBUFS) | Some(libc::EAGAIN) => {
                pushed_back += 1;
                std::thread::sleep(Duration::from_micros(200));
            }
            Some(libc::EINTR) => {}
            _ => panic!("sendmmsg after {sent} frames: {err}"),
        }
    }
    FloodReport {
        sent,
        pool: pool.len(),
        elapsed: started.elapsed(),
        pushed_back,
    }
}

/// Drop counters of one interface (`ip -s link`), for frames the kernel loses on the way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkDrops {
    pub rx_dropped: u64,
    pub tx_dropped: u64,
}

impl LinkDrops {
    pub fn total(&self) -> u64 {
        self.rx_dropped + self.tx_dropped
    }

    pub fn since(&self, before: &LinkDrops) -> LinkDrops {
        LinkDrops {
            rx_dropped: self.rx_dropped - before.rx_dropped,
            tx_dropped: self.tx_dropped - before.tx_dropped,
        }
    }
}

/// The drop counters of `interface` in `netns`.
pub fn link_drops(netns: &crate::netns::Netns, interface: &str) -> LinkDrops {
    let out = netns.ip(&["-s", "-j", "link", "show", "dev", interface]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ip -j link JSON");
    let stats = &json[0]["stats64"];
    let field = |direction: &str| {
        stats[direction]["dropped"]
            .as_u64()
            .unwrap_or_else(|| panic!("no {direction} drop counter for {interface}: {json}"))
    };
    LinkDrops {
        rx_dropped: field("rx"),
        tx_dropped: field("tx"),
    }
}
