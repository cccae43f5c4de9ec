//! Masters' periodic adverts, sent by a thread of their own.
//!
//! When a Master's Adver_Timer fires, the Master sends the same advert again and re-arms the
//! timer (RFC 5798 §6.4.3); nothing else happens. So an instance hands the pacer its advert's
//! datagrams, built once, with the deadline its state machine armed, and the pacer's thread
//! sends every advert due at one instant in one `sendmmsg(2)` and re-arms each timer by
//! [`next_advert_deadline`], the rule the state machine follows. Neither the instance's task
//! nor the event loop wakes per advert: at 10 ms adverts that was most of a Master's CPU. The
//! instance schedules anew whenever its state machine re-arms the Adver_Timer (an advert
//! answered, a new interval), replaces the advert when it changes (a new priority, VIPs or
//! sender), and cancels when it leaves Master.
//!
//! Whole frames (multicast, built for AF_PACKET) go through the pacer's own unbound AF_PACKET
//! socket: each frame's address names its interface, so one call serves every interface.
//! Datagrams of a raw IP sender (unicast peers) go through that sender's socket.
//!
//! At each wake-up the thread runs the daemon's [`PacerHooks`] (the XDP heartbeat), and it
//! sends only while they say the daemon is alive: a daemon whose event loop hangs stops
//! advertising, and its Backups take over.
use std::{
    collections::HashMap,
    fmt,
    net::IpAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use socket2::{Domain, SockAddr, Socket, Type};
use vrrp_common::maps::InstanceKey;

use super::{TxError, mmsg, setup};
use crate::{
    fsm::{AdvertGrid, timing::next_advert_deadline},
    sleeper::{Joined, Sleeper},
};

/// One datagram of an advert: a whole frame, or a VRRP message for a raw IP socket.
#[derive(Debug)]
pub struct Datagram {
    /// The multicast group or unicast peer, for the log.
    pub dst: IpAddr,
    pub to: SockAddr,
    pub bytes: Vec<u8>,
}

/// An instance's adverts as the pacer counts them: read by status and metrics.
#[derive(Debug)]
pub struct AdvertTally {
    /// Names the sender in the log, e.g. "instance VI_1 on eth0".
    label: String,
    sent: AtomicU64,
    /// The last send failed; logged once until one succeeds again.
    failing: AtomicBool,
}

impl AdvertTally {
    pub fn new(label: String) -> Arc<AdvertTally> {
        Arc::new(AdvertTally {
            label,
            sent: AtomicU64::new(0),
            failing: AtomicBool::new(false),
        })
    }

    /// Periodic adverts the kernel took, every datagram of them.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    fn record(&self, failure: Option<&TxError>) {
        match failure {
            None => {
                self.sent.fetch_add(1, Ordering::Relaxed);
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!("{}: adverts leave again", self.label);
                }
            }
            Some(err) => {
                if !self.failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!("{}: {err} (logged once until an advert leaves)", self.label);
                }
            }
        }
    }
}

/// Where a schedule's datagrams leave: an [`AdvertSender`](super::AdvertSender).
pub trait Outlet: Send + Sync + fmt::Debug {
    /// The sender's own socket for IP datagrams; `None` for whole frames, which any AF_PACKET
    /// socket sends (the pacer's does, all of them in one call).
    fn own_socket(&self) -> Option<&Socket>;
    /// Readies a datagram to be sent once more (an IPv4 frame takes the next IP ID).
    fn restamp(&self, datagram: &mut [u8]);
    /// The interface, for errors.
    fn interface(&self) -> &str;
}

/// A Master's Adver_Timer, as the pacer runs it.
#[derive(Debug)]
pub struct Schedule {
    pub outlet: Arc<dyn Outlet>,
    pub datagrams: Vec<Datagram>,
    /// When the timer is due next.
    pub next: Instant,
    /// Advertisement_Interval.
    pub interval: Duration,
    pub tally: Arc<AdvertTally>,
}

/// What the daemon runs in the pacer's thread.
pub trait PacerHooks: Send {
    /// Whether the daemon is alive enough to advertise at `now`.
    fn alive(&self, now: Instant) -> bool;
    /// Runs at every wake-up, after the adverts due; `advertising`: some instance is Master.
    /// Returns when it wants to run next, if it does.
    fn tick(&mut self, now: Instant, advertising: bool) -> Option<Instant>;
}

#[derive(Debug, Default)]
struct State {
    schedules: HashMap<InstanceKey, Schedule>,
    /// The daemon was not alive at the last wake-up: logged once.
    withheld: bool,
}

#[derive(Debug)]
pub struct AdvertPacer {
    socket: Socket,
    grid: Option<AdvertGrid>,
    state: Sleeper<State>,
}

impl AdvertPacer {
    /// The pacer and its AF_PACKET socket (protocol 0: it receives nothing; needs
    /// CAP_NET_RAW). Deadlines are re-armed on `grid`, if given, as the state machine arms them.
    pub fn open(grid: Option<AdvertGrid>) -> Result<Arc<AdvertPacer>, TxError> {
        let what = "opening the advert pacer's AF_PACKET socket (needs CAP_NET_RAW)";
        let socket = setup("*", what, Socket::new(Domain::PACKET, Type::RAW, None))?;
        setup("*", "setting O_NONBLOCK", socket.set_nonblocking(true))?;
        Ok(AdvertPacer::with_socket(socket, grid))
    }

    /// A pacer sending whole frames on `socket`.
    fn with_socket(socket: Socket, grid: Option<AdvertGrid>) -> Arc<AdvertPacer> {
        Arc::new(AdvertPacer {
            socket,
            grid,
            state: Sleeper::default(),
        })
    }

    /// Runs (or runs anew) the instance's Adver_Timer.
    pub fn schedule(&self, key: InstanceKey, schedule: Schedule) {
        let mut state = self.state.lock();
        let next = schedule.next;
        let before = state.schedules.insert(key, schedule);
        if before.is_none_or(|before| next < before.next) {
            self.state.wake(&mut state);
        }
    }

    /// Replaces the advert of a running schedule, and where it leaves (the advert or the
    /// sender changed, not the timer). Returns whether the instance had one.
    pub fn replace_advert(
        &self,
        key: InstanceKey,
        outlet: Arc<dyn Outlet>,
        datagrams: Vec<Datagram>,
    ) -> bool {
        match self.state.lock().schedules.get_mut(&key) {
            Some(schedule) => {
                schedule.outlet = outlet;
                schedule.datagrams = datagrams;
                true
            }
            None => false,
        }
    }

    /// Stops the Adver_Timer of the instance counting its adverts in `tally` (not one that
    /// took its key since); no advert of it leaves after this returns.
    pub fn cancel(&self, key: InstanceKey, tally: &Arc<AdvertTally>) {
        let mut state = self.state.lock();
        if (state.schedules.get(&key)).is_some_and(|s| Arc::ptr_eq(&s.tally, tally)) {
            state.schedules.remove(&key);
        }
    }

    /// Runs the pacer in a thread of its own until the returned handle is dropped.
    pub fn spawn(
        self: &Arc<Self>,
        mut hooks: impl PacerHooks + 'static,
    ) -> std::io::Result<Joined> {
        let pacer = Arc::clone(self);
        let thread = std::thread::Builder::new()
            .name("advert-pacer".into())
            .spawn(move || pacer.run(&mut hooks))?;
        let pacer = Arc::clone(self);
        Ok(Joined::new(thread, move || pacer.state.stop()))
    }

    fn run(&self, hooks: &mut impl PacerHooks) {
        let mut state = self.state.lock();
        while !state.stopping() {
            let now = Instant::now();
            let alive = hooks.alive(now);
            let withhold = !alive && !state.schedules.is_empty();
            if withhold != state.withheld {
                state.withheld = withhold;
                if withhold {
                    tracing::error!(
                        "the daemon's event loop is not responding: Masters stop advertising"
                    );
                } else if alive {
                    tracing::info!("the daemon's event loop responds again");
                }
            }
            let next_advert = self.serve(&mut state.schedules, now, alive);
            let advertising = !state.schedules.is_empty();
            // The hooks take other locks (the data plane's): instances must not wait on them
            // to schedule or cancel. One that schedules meanwhile wakes the sleep below.
            drop(state);
            let next_hook = hooks.tick(now, advertising);
            let next = [next_advert, next_hook].into_iter().flatten().min();
            state = self.state.sleep(self.state.lock(), next);
        }
    }

    /// Sends the adverts due at `now` (if `send`) and re-arms their timers; when the next is due.
    fn serve(
        &self,
        schedules: &mut HashMap<InstanceKey, Schedule>,
        now: Instant,
        send: bool,
    ) -> Option<Instant> {
        let mut due = Vec::new();
        for (key, schedule) in schedules.iter_mut() {
            if schedule.next > now {
                continue;
            }
            schedule.next = next_advert_deadline(schedule.next, now, schedule.interval, self.grid);
            if send {
                for datagram in &mut schedule.datagrams {
                    schedule.outlet.restamp(&mut datagram.bytes);
                }
                due.push(*key);
            }
        }
        if !due.is_empty() {
            self.send(schedules, &due);
        }
        schedules.values().map(|schedule| schedule.next).min()
    }

    /// Sends the datagrams of `due`: whole frames in one call on the pacer's socket, the
    /// others on their sender's socket; each instance's tally learns how its advert went.
    fn send(&self, schedules: &HashMap<InstanceKey, Schedule>, due: &[InstanceKey]) {
        let scheduled: Vec<&Schedule> = due.iter().filter_map(|key| schedules.get(key)).collect();
        let mut failures: Vec<Option<TxError>> = scheduled.iter().map(|_| None).collect();
        let (frames, datagrams): (Vec<usize>, Vec<usize>) =
            (0..scheduled.len()).partition(|&i| scheduled[i].outlet.own_socket().is_none());
        self.send_on(&self.socket, &scheduled, &frames, &mut failures);
        for index in datagrams {
            if let Some(socket) = scheduled[index].outlet.own_socket() {
                self.send_on(socket, &scheduled, &[index], &mut failures);
            }
        }
        for (schedule, failure) in scheduled.iter().zip(&failures) {
            schedule.tally.record(failure.as_ref());
        }
    }

    /// Every datagram of `scheduled[which]` on `socket`; the first failure of each is kept.
    fn send_on(
        &self,
        socket: &Socket,
        scheduled: &[&Schedule],
        which: &[usize],
        failures: &mut [Option<TxError>],
    ) {
        let mut owners = Vec::new();
        let mut messages = Vec::new();
        for &index in which {
            for datagram in &scheduled[index].datagrams {
                owners.push((index, datagram.dst));
                messages.push((&datagram.to, &datagram.bytes[..]));
            }
        }
        for (message, source) in mmsg::send_all(socket, &messages) {
            let (index, addr) = owners[message];
            failures[index].get_or_insert_with(|| TxError::Send {
                interface: scheduled[index].outlet.interface().to_owned(),
                what: "the advert to",
                addr,
                source,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{
        net::Ipv4Addr,
        sync::atomic::AtomicU8,
        time::{Duration, Instant},
    };

    use super::*;
    use crate::tx::test_sockets::{SocketDir, received, sender};

    const MS: Duration = Duration::from_millis(1);
    const GROUP: IpAddr = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18));

    /// An outlet whose restamp writes a counter into the first byte: what a test receives
    /// tells how many times it was readied.
    #[derive(Debug)]
    struct Fake {
        own: Option<Socket>,
        stamps: AtomicU8,
    }

    impl Fake {
        fn frames() -> Arc<Fake> {
            Arc::new(Fake {
                own: None,
                stamps: AtomicU8::new(0),
            })
        }

        fn own_socket() -> Arc<Fake> {
            Arc::new(Fake {
                own: Some(sender()),
                stamps: AtomicU8::new(0),
            })
        }
    }

    impl Outlet for Fake {
        fn own_socket(&self) -> Option<&Socket> {
            self.own.as_ref()
        }

        fn restamp(&self, datagram: &mut [u8]) {
            datagram[0] = self.stamps.fetch_add(1, Ordering::Relaxed) + 1;
        }

        fn interface(&self) -> &str {
            "test0"
        }
    }

    fn schedule(outlet: Arc<Fake>, to: &SockAddr, tag: u8, next: Instant) -> Schedule {
        Schedule {
            outlet,
            datagrams: vec![Datagram {
                dst: GROUP,
                to: to.clone(),
                bytes: vec![0, tag],
            }],
            next,
            interval: 10 * MS,
            tally: AdvertTally::new(format!("instance {tag}")),
        }
    }

    fn key(vrid: u8) -> InstanceKey {
        InstanceKey {
            ifindex: 7,
            vrid,
            family: vrrp_common::FAMILY_V4,
            ..InstanceKey::default()
        }
    }

    #[test]
    fn due_adverts_leave_together_and_keep_their_phase() {
        let dir = SocketDir::new("pacer-due");
        let (rx, to) = dir.receiver("rx");
        let t0 = Instant::now();
        let pacer = AdvertPacer::with_socket(sender(), Some(AdvertGrid::new(t0)));
        let mut schedules = HashMap::new();
        schedules.insert(key(1), schedule(Fake::frames(), &to, 1, t0));
        schedules.insert(key(2), schedule(Fake::own_socket(), &to, 2, t0 + 5 * MS));
        // Served 3 ms late: only VRID 1 is due; its next deadline keeps the phase.
        let next = pacer.serve(&mut schedules, t0 + 3 * MS, true);
        assert_eq!(received(&rx), [vec![1, 1]]);
        assert_eq!(schedules[&key(1)].next, t0 + 10 * MS);
        assert_eq!(next, Some(t0 + 5 * MS));
        // At 10 ms both are due: VRID 1 through the pacer's socket, VRID 2 through its own.
        let next = pacer.serve(&mut schedules, t0 + 10 * MS, true);
        let mut got = received(&rx);
        got.sort();
        assert_eq!(
            got,
            [vec![1, 2], vec![2, 1]],
            "each readied once per sending"
        );
        assert_eq!(next, Some(t0 + 20 * MS));
        assert_eq!(schedules[&key(2)].next, t0 + 20 * MS, "grid-floored");
        assert_eq!(schedules[&key(1)].tally.sent(), 2);
        assert_eq!(schedules[&key(2)].tally.sent(), 1);
    }

    #[test]
    fn a_daemon_not_alive_sends_nothing_but_its_timers_run_on() {
        let dir = SocketDir::new("pacer-withheld");
        let (rx, to) = dir.receiver("rx");
        let t0 = Instant::now();
        let pacer = AdvertPacer::with_socket(sender(), None);
        let mut schedules = HashMap::new();
        schedules.insert(key(1), schedule(Fake::frames(), &to, 1, t0));
        assert_eq!(pacer.serve(&mut schedules, t0, false), Some(t0 + 10 * MS));
        assert!(received(&rx).is_empty());
        assert_eq!(schedules[&key(1)].tally.sent(), 0);
    }

    #[test]
    fn a_failed_advert_is_not_counted_and_the_others_still_leave() {
        let dir = SocketDir::new("pacer-failure");
        let (rx, to) = dir.receiver("rx");
        let nowhere = dir.address("nobody");
        let t0 = Instant::now();
        let pacer = AdvertPacer::with_socket(sender(), None);
        let mut schedules = HashMap::new();
        schedules.insert(key(1), schedule(Fake::frames(), &nowhere, 1, t0));
        schedules.insert(key(2), schedule(Fake::frames(), &to, 2, t0));
        pacer.serve(&mut schedules, t0, true);
        assert_eq!(received(&rx), [vec![1, 2]]);
        let failed = Arc::clone(&schedules[&key(1)].tally);
        assert_eq!(failed.sent(), 0);
        assert!(failed.failing.load(Ordering::Relaxed));
        // Once an advert leaves again, the failure is over.
        schedules.get_mut(&key(1)).unwrap().datagrams[0].to = to.clone();
        pacer.serve(&mut schedules, t0 + 10 * MS, true);
        assert_eq!(failed.sent(), 1);
        assert!(!failed.failing.load(Ordering::Relaxed));
    }

    #[test]
    fn cancel_takes_only_the_schedule_of_its_tally() {
        let dir = SocketDir::new("pacer-cancel");
        let to = dir.address("rx");
        let pacer = AdvertPacer::with_socket(sender(), None);
        let first = schedule(Fake::frames(), &to, 1, Instant::now());
        let tally = Arc::clone(&first.tally);
        pacer.schedule(key(1), first);
        // An instance that took the key since (a restart) keeps its schedule.
        pacer.cancel(key(1), &AdvertTally::new("another".into()));
        assert!(pacer.state.lock().schedules.contains_key(&key(1)));
        assert!(pacer.replace_advert(key(1), Fake::own_socket(), Vec::new()));
        assert!(
            pacer.state.lock().schedules[&key(1)]
                .outlet
                .own_socket()
                .is_some()
        );
        pacer.cancel(key(1), &tally);
        assert!(!pacer.state.lock().schedules.contains_key(&key(1)));
        assert!(!pacer.replace_advert(key(1), Fake::frames(), Vec::new()));
    }

    /// Always alive; counts its ticks and asks for none.
    struct Ticks(Arc<AtomicU64>);

    impl PacerHooks for Ticks {
        fn alive(&self, _now: Instant) -> bool {
            true
        }

        fn tick(&mut self, _now: Instant, advertising: bool) -> Option<Instant> {
            if advertising {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
            None
        }
    }

    #[test]
    fn the_thread_sends_until_cancelled_and_stops_when_dropped() {
        let dir = SocketDir::new("pacer-thread");
        let (rx, to) = dir.receiver("rx");
        let pacer = AdvertPacer::with_socket(sender(), None);
        let ticks = Arc::new(AtomicU64::new(0));
        let thread = pacer.spawn(Ticks(Arc::clone(&ticks))).unwrap();
        let first = schedule(Fake::frames(), &to, 1, Instant::now());
        let tally = Arc::clone(&first.tally);
        pacer.schedule(key(1), first);
        // Bounded: at 10 ms adverts, three arrive well within 5 s on any machine.
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut got = Vec::new();
        while got.len() < 3 && Instant::now() < deadline {
            std::thread::sleep(MS);
            got.extend(received(&rx));
        }
        // A slow test thread may collect a fourth: the first three tell the order.
        assert!(got.len() >= 3, "{got:?}");
        assert_eq!(got[..3], [vec![1, 1], vec![2, 1], vec![3, 1]]);
        assert!(
            ticks.load(Ordering::Relaxed) >= 3,
            "the hooks run at each wake-up"
        );
        pacer.cancel(key(1), &tally);
        let _ = received(&rx);
        std::thread::sleep(30 * MS);
        assert!(received(&rx).is_empty(), "nothing leaves after cancel");
        drop(thread);
        assert_eq!(Arc::strong_count(&pacer), 1, "the thread ended");
    }
}
