//! Socket-only data plane, for hosts without BPF or with `xdp = "off"`.
//!
//! Adverts reach the daemon through the stack: one raw IPPROTO 112 socket per family, joined
//! to 224.0.0.18 / ff02::12 on every interface added, each drained by a task. Each datagram is
//! judged by [`validate`], a Rust copy of the XDP program's checks (RFC 5798 §7.1, RFC 3768
//! §7.1) in the same order and counted in the same [`Counter`] slots, and valid adverts update
//! the same [`Observation`]s and raise the same [`AdvertEvent`]s: the state machine behaves the
//! same on either data plane, only the CPU cost differs (every advert wakes a task here).
//!
//! The kernel answers ARP and neighbour solicitations for addresses on its interfaces, so VIP
//! ownership is only recorded, and no heartbeat is needed: a dead daemon's VIPs are its
//! addresses, which the kernel keeps answering for until they are removed (as keepalived).
mod recv;
#[cfg(test)]
mod tests;
mod validate;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use anyhow::{Context as _, bail};
use socket2::Socket;
use tokio::{
    io::{Interest, unix::AsyncFd},
    sync::mpsc::{self, error::TrySendError},
    task::AbortHandle,
};
use vrrp_common::{
    Counter,
    maps::{
        AdvertEvent, InstanceConfig, InstanceKey, MAX_VIPS, Observation, PeerKey, VipKey, VipOwner,
        VmacKey, VmacOwner,
    },
};

use self::recv::{Family, Received};
use self::validate::{Tables, Verdict};
use super::{CounterTotals, Dataplane, Mode, monotonic_now_ns};

/// Datagrams handled per wake-up before the task yields to the others on its runtime.
const BURST: usize = 64;
/// The longest pause after repeated socket errors.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Per-slot counters, like the XDP program's per-CPU array (summed on read).
struct Counters([AtomicU64; Counter::COUNT as usize]);

impl Counters {
    fn new() -> Counters {
        Counters(std::array::from_fn(|_| AtomicU64::new(0)))
    }

    fn add(&self, counter: Counter) {
        if let Some(slot) = self.0.get(counter.index() as usize) {
            slot.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn totals(&self) -> CounterTotals {
        CounterTotals(std::array::from_fn(|index| {
            self.0[index].load(Ordering::Relaxed)
        }))
    }
}

/// What the daemon's calls and the receive tasks share. The lock is held for one datagram's
/// decision or one configuration change, never across an await.
struct Shared {
    tables: Mutex<Tables>,
    counters: Counters,
}

impl Shared {
    fn tables(&self) -> MutexGuard<'_, Tables> {
        // A panic elsewhere cannot leave the tables half-written (every update is one insert),
        // so a poisoned lock is still good to use.
        self.tables.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The socket-only [`Dataplane`]. Dropping it stops its receive tasks and closes the sockets.
pub struct SocketDataplane {
    shared: Arc<Shared>,
    sockets: Vec<(Family, Arc<AsyncFd<Socket>>)>,
    tasks: Vec<AbortHandle>,
    vips: HashMap<VipKey, VipOwner>,
}

impl SocketDataplane {
    /// Opens the raw sockets and starts their receive tasks on the current tokio runtime
    /// (which must have IO enabled). Without IPv6 on the host, runs IPv4 only, with a warning.
    /// Needs CAP_NET_RAW.
    pub fn open(events: mpsc::Sender<AdvertEvent>) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Handle::try_current()
            .context("the socket data plane must be opened inside a tokio runtime")?;
        let mut dataplane = SocketDataplane {
            shared: Arc::new(Shared {
                tables: Mutex::new(Tables::default()),
                counters: Counters::new(),
            }),
            sockets: Vec::new(),
            tasks: Vec::new(),
            vips: HashMap::new(),
        };
        let v4 = recv::open(Family::V4)
            .context("opening a raw IPv4 socket for VRRP (protocol 112; needs CAP_NET_RAW)")?;
        dataplane.start(&runtime, Family::V4, v4, events.clone())?;
        match recv::open(Family::V6) {
            Ok(v6) => dataplane.start(&runtime, Family::V6, v6, events)?,
            Err(err) => tracing::warn!(
                "no raw IPv6 socket for VRRP ({err}): IPv6 is unavailable, IPv6 instances \
                 will never hear a master"
            ),
        }
        Ok(dataplane)
    }

    fn start(
        &mut self,
        runtime: &tokio::runtime::Handle,
        family: Family,
        socket: Socket,
        events: mpsc::Sender<AdvertEvent>,
    ) -> anyhow::Result<()> {
        let _entered = runtime.enter();
        // SAFETY: the Socket owns its descriptor, closes it only when dropped, and always
        // returns that same descriptor; it moves into the AsyncFd and is dropped with it.
        let socket = unsafe { AsyncFd::register_with_interest(socket, Interest::READABLE) }
            .map_err(std::io::Error::from)
            .with_context(|| format!("registering the raw {} socket", family.name()))?;
        let socket = Arc::new(socket);
        let task = runtime.spawn(receive_loop(
            family,
            Arc::clone(&socket),
            Arc::clone(&self.shared),
            events,
        ));
        self.sockets.push((family, socket));
        self.tasks.push(task.abort_handle());
        Ok(())
    }

    /// The VIPs the daemon claimed, for status (the kernel answers for them in this mode).
    pub fn owned_vips(&self) -> impl Iterator<Item = (&VipKey, &VipOwner)> {
        self.vips.iter()
    }
}

impl Drop for SocketDataplane {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Dataplane for SocketDataplane {
    fn mode(&self) -> Mode {
        Mode::Socket
    }

    /// Joins the VRRP groups on the interface; from then on its datagrams are judged (those of
    /// other interfaces are ignored, as XDP never sees them). IPv6 failing alone is a warning:
    /// the interface may have IPv6 disabled.
    fn add_interface(
        &mut self,
        name: &str,
        ifindex: u32,
        _kind: Option<&str>,
    ) -> anyhow::Result<Mode> {
        if self.shared.tables().has_interface(ifindex) {
            return Ok(Mode::Socket);
        }
        for (family, socket) in &self.sockets {
            match recv::join(socket.get_ref(), *family, ifindex) {
                Ok(()) => {}
                Err(err) if *family == Family::V6 => tracing::warn!(
                    "{name}: cannot join ff02::12 ({err}); IPv6 adverts will not be received"
                ),
                Err(err) => {
                    return Err(err).with_context(|| format!("{name}: joining 224.0.0.18"));
                }
            }
        }
        self.shared.tables().add_interface(ifindex);
        tracing::info!("{name}: receiving VRRP adverts on raw sockets (socket mode)");
        Ok(Mode::Socket)
    }

    fn set_instance(&mut self, key: InstanceKey, config: InstanceConfig) -> anyhow::Result<()> {
        self.shared
            .tables()
            .set_instance(key, config)
            .with_context(|| format!("writing instance {key:?}"))
    }

    fn remove_instance(&mut self, key: InstanceKey) -> anyhow::Result<()> {
        self.shared.tables().remove_instance(&key);
        Ok(())
    }

    /// Recorded only: the kernel answers ARP / NS for the VIP once it is on the interface.
    fn own_vip(&mut self, key: VipKey, owner: VipOwner) -> anyhow::Result<()> {
        if self.vips.len() >= MAX_VIPS as usize && !self.vips.contains_key(&key) {
            bail!("claiming VIP {key:?}: the VIP table is full ({MAX_VIPS} entries)");
        }
        self.vips.insert(key, owner);
        Ok(())
    }

    fn disown_vip(&mut self, key: VipKey) -> anyhow::Result<()> {
        self.vips.remove(&key);
        Ok(())
    }

    /// Refused: the stack drops frames sent to a MAC that is not the interface's, and only XDP
    /// (or a macvlan, which xvrrpd does not make) can hand them over. Promiscuous mode would not
    /// help: the stack still drops frames for other hosts' MACs.
    fn own_vmac(&mut self, key: VmacKey, _owner: VmacOwner) -> anyhow::Result<()> {
        bail!(
            "{}: use_vmac needs the XDP data plane: in socket mode the kernel drops the frames              sent to the virtual MAC",
            crate::wire::MacAddr(key.mac)
        )
    }

    fn disown_vmac(&mut self, _key: VmacKey) -> anyhow::Result<()> {
        Ok(())
    }

    fn allow_peer(&mut self, key: PeerKey) -> anyhow::Result<()> {
        self.shared
            .tables()
            .allow_peer(key)
            .with_context(|| format!("allowing peer {key:?}"))
    }

    fn forbid_peer(&mut self, key: PeerKey) -> anyhow::Result<()> {
        self.shared.tables().forbid_peer(&key);
        Ok(())
    }

    /// Nothing to keep alive: no data-plane code answers for VIPs in this mode.
    fn heartbeat(&mut self) -> anyhow::Result<()> {
        Ok(())
    }

    fn observation(&self, key: InstanceKey) -> anyhow::Result<Option<Observation>> {
        Ok(self.shared.tables().observation(&key))
    }

    fn forget_observation(&mut self, key: InstanceKey) -> anyhow::Result<()> {
        self.shared.tables().forget_observation(&key);
        Ok(())
    }

    /// `ArpReply`, `NaReply` and `OwnershipStale` stay 0: the kernel answers.
    fn counters(&self) -> anyhow::Result<CounterTotals> {
        Ok(self.shared.counters.totals())
    }
}

/// Drains one raw socket until the data plane is dropped. Socket errors are logged and the
/// loop carries on after a pause that grows while they repeat.
async fn receive_loop(
    family: Family,
    socket: Arc<AsyncFd<Socket>>,
    shared: Arc<Shared>,
    events: mpsc::Sender<AdvertEvent>,
) {
    let mut buffer = vec![0u8; recv::BUFFER_LEN];
    let mut control = recv::control_buffer();
    let mut failures = 0u32;
    loop {
        let error = match socket.readable().await {
            Ok(mut ready) => {
                let mut error = None;
                for _ in 0..BURST {
                    match ready.try_io(|fd| recv::receive(fd.get_ref(), &mut buffer, &mut control))
                    {
                        // Nothing queued: the readiness was cleared, wait for the next.
                        Err(_would_block) => break,
                        Ok(Ok(received)) => {
                            failures = 0;
                            let payload = buffer.get(..received.len).unwrap_or_default();
                            handle(family, &shared, &events, payload, &received);
                        }
                        Ok(Err(err)) if err.kind() == std::io::ErrorKind::Interrupted => {}
                        Ok(Err(err)) => {
                            error = Some(err);
                            break;
                        }
                    }
                }
                error
            }
            Err(err) => Some(err),
        };
        match error {
            Some(err) => {
                failures = failures.saturating_add(1);
                let pause = backoff(failures);
                tracing::warn!(
                    "raw {} VRRP socket: {err}; retrying in {pause:?}",
                    family.name()
                );
                tokio::time::sleep(pause).await;
            }
            // A full burst leaves the readiness set: let the runtime's other tasks run first.
            None => tokio::task::yield_now().await,
        }
    }
}

/// 10 ms, doubling per consecutive failure, at most [`MAX_BACKOFF`].
fn backoff(failures: u32) -> Duration {
    let exponent = failures.saturating_sub(1).min(7);
    Duration::from_millis(10 << exponent).min(MAX_BACKOFF)
}

/// Judges, counts and forwards one datagram. Never blocks: a full event queue loses the event
/// (counted as [`Counter::EventLost`], as a full ring buffer does under XDP).
fn handle(
    family: Family,
    shared: &Shared,
    events: &mpsc::Sender<AdvertEvent>,
    payload: &[u8],
    received: &Received,
) {
    let Some(ifindex) = received.ancillary.ifindex else {
        tracing::debug!(
            "raw {} VRRP socket: datagram without packet info, ignored",
            family.name()
        );
        return;
    };
    let datagram = recv::datagram(family, payload, received);
    let verdict = shared
        .tables()
        .receive(ifindex, &datagram, monotonic_now_ns());
    let source = || match family {
        Family::V4 => recv::source_v4(payload).map(std::net::IpAddr::from),
        Family::V6 => received.source_v6.map(std::net::IpAddr::from),
    };
    match verdict {
        Verdict::Ignored => {}
        Verdict::Rejected(Counter::AdvertUnknownVrid) => {
            shared.counters.add(Counter::AdvertUnknownVrid);
            tracing::trace!(ifindex, source = ?source(), "advert for a VRID we do not run");
        }
        Verdict::Rejected(counter) => {
            shared.counters.add(counter);
            tracing::debug!(
                ifindex,
                source = ?source(),
                reason = counter.name(),
                "invalid VRRP advert dropped"
            );
        }
        Verdict::Accepted(event) => {
            shared.counters.add(Counter::AdvertAccepted);
            let Some(event) = event else { return };
            match events.try_send(event) {
                Ok(()) => shared.counters.add(Counter::AdvertEvent),
                Err(TrySendError::Full(_)) => {
                    shared.counters.add(Counter::EventLost);
                    tracing::debug!("advert event lost: the daemon's queue is full");
                }
                Err(TrySendError::Closed(_)) => shared.counters.add(Counter::EventLost),
            }
        }
    }
}
