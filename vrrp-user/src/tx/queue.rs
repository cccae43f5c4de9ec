//! Adverts due at one instant leave in one system call.
//!
//! A Master's Adver_Timer runs on a grid every instance of the daemon shares
//! ([`crate::fsm::AdvertGrid`]), so at 10 ms adverts every Master's timer fires at the same
//! wake-up. Each instance queues its frames here rather than sending them; the queue's task,
//! woken by the first frame and run after the instances woken with it, hands them all to one
//! AF_PACKET socket in one `sendmmsg(2)`. The socket is bound to no interface: each frame's
//! address names its interface, so one call serves every interface.
use std::{
    mem,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use socket2::{Domain, SockAddr, Socket, Type};
use tokio::sync::Notify;

use super::{TxError, mmsg, setup};

/// Who queued a frame: named in the log if it cannot be sent, and told how many were not.
#[derive(Debug)]
pub struct QueueTicket {
    label: String,
    unsent: AtomicU64,
}

impl QueueTicket {
    /// `label` names the sender in the log, e.g. "instance VI_1 on eth0".
    pub fn new(label: String) -> Arc<QueueTicket> {
        Arc::new(QueueTicket {
            label,
            unsent: AtomicU64::new(0),
        })
    }

    /// Frames queued with this ticket that the kernel refused.
    pub fn unsent(&self) -> u64 {
        self.unsent.load(Ordering::Relaxed)
    }
}

#[derive(Debug)]
struct Queued {
    to: SockAddr,
    frame: Vec<u8>,
    ticket: Arc<QueueTicket>,
}

/// Whole Ethernet frames waiting for the next [`FrameQueue::flush`].
#[derive(Debug)]
pub struct FrameQueue {
    socket: Socket,
    pending: Mutex<Vec<Queued>>,
    queued: Notify,
}

impl FrameQueue {
    /// The queue and its socket (AF_PACKET, protocol 0: it receives nothing; needs
    /// CAP_NET_RAW).
    pub fn open() -> Result<Arc<FrameQueue>, TxError> {
        let what = "opening the advert queue's AF_PACKET socket (needs CAP_NET_RAW)";
        let socket = setup("*", what, Socket::new(Domain::PACKET, Type::RAW, None))?;
        setup("*", "setting O_NONBLOCK", socket.set_nonblocking(true))?;
        Ok(Arc::new(FrameQueue {
            socket,
            pending: Mutex::new(Vec::new()),
            queued: Notify::new(),
        }))
    }

    /// Queues `frame` for the interface and destination MAC in `to` (a `sockaddr_ll`).
    pub fn push(&self, to: SockAddr, frame: Vec<u8>, ticket: &Arc<QueueTicket>) {
        let mut pending = self.lock();
        if pending.is_empty() {
            self.queued.notify_one();
        }
        pending.push(Queued {
            to,
            frame,
            ticket: Arc::clone(ticket),
        });
    }

    /// Sends what is queued, in order; a frame the kernel refuses is logged and counted on
    /// its ticket, and the ones after it still go.
    pub fn flush(&self) {
        let queued = mem::take(&mut *self.lock());
        if queued.is_empty() {
            return;
        }
        let messages: Vec<(&SockAddr, &[u8])> = queued
            .iter()
            .map(|queued| (&queued.to, &queued.frame[..]))
            .collect();
        for (index, err) in mmsg::send_all(&self.socket, &messages) {
            let ticket = &queued[index].ticket;
            ticket.unsent.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("{}: sending an advert: {err}", ticket.label);
        }
    }

    /// Sends queued frames as they come, until the runtime stops.
    pub async fn run(self: Arc<Self>) {
        loop {
            self.queued.notified().await;
            self.flush();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Queued>> {
        // Pushes and takes cannot leave the vector half-changed.
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
