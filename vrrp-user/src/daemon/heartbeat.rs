//! Proof that the daemon is alive, for the XDP program and for the advert pacer.
//!
//! XDP answers ARP / NS for a VIP only while the heartbeat it reads is fresh, so that a hung
//! daemon stops claiming its VIPs by itself. The beats come from the advert pacer's thread,
//! which wakes anyway for the Masters' adverts (a beat rides on an advert wake-up when one
//! falls within a grid step of it), and only while the event loop proves alive too: while an
//! instance is Master, a task on the event loop marks it every [`LIVENESS_TICK`], and when the
//! mark is older than [`LIVENESS_BOUND`] the pacer stops both the beats and the adverts, so the
//! Backups take over from a daemon that no longer runs its state machines.
use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::sync::Notify;

use super::Shared;
use crate::{fsm::AdvertGrid, tx::PacerHooks};

/// How often the event loop proves it runs, while an instance is Master.
pub const LIVENESS_TICK: Duration = Duration::from_millis(100);
/// How long the event loop may go without proving it runs before Masters stop advertising:
/// a hung daemon's Backups take over this much later than if its process had died.
pub const LIVENESS_BOUND: Duration = Duration::from_millis(300);

/// When the event loop last proved it runs, and how often the heartbeat must be refreshed.
#[derive(Debug)]
pub struct Liveness {
    origin: Instant,
    /// Nanoseconds after `origin`.
    loop_seen: AtomicU64,
    /// Nanoseconds between beats: a third of the shortest heartbeat bound.
    beat_every: AtomicU64,
    /// Wakes [`mark_loop_alive`] when an instance becomes Master.
    pub first_master: Notify,
}

impl Liveness {
    pub fn new(beat_every: Duration) -> Liveness {
        let liveness = Liveness {
            origin: Instant::now(),
            loop_seen: AtomicU64::new(0),
            beat_every: AtomicU64::new(0),
            first_master: Notify::new(),
        };
        liveness.set_beat_every(beat_every);
        liveness
    }

    /// The event loop runs at `now`.
    pub fn loop_runs(&self, now: Instant) {
        self.loop_seen.store(self.nanos(now), Ordering::Relaxed);
    }

    /// Whether the event loop ran within [`LIVENESS_BOUND`] of `now`.
    pub fn loop_alive(&self, now: Instant) -> bool {
        let seen = self.loop_seen.load(Ordering::Relaxed);
        self.nanos(now).saturating_sub(seen) <= LIVENESS_BOUND.as_nanos() as u64
    }

    /// A third of the heartbeat bound (at least one grid step), after start-up or a reload.
    pub fn set_beat_every(&self, every: Duration) {
        let every = every.max(AdvertGrid::STEP);
        (self.beat_every).store(every.as_nanos() as u64, Ordering::Relaxed);
    }

    fn beat_every(&self) -> Duration {
        Duration::from_nanos(self.beat_every.load(Ordering::Relaxed))
    }

    fn nanos(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.origin).as_nanos() as u64
    }
}

/// Marks the event loop alive every [`LIVENESS_TICK`] while an instance is Master (a daemon
/// of Backups only is not woken for it), for as long as the runtime runs it.
pub async fn mark_loop_alive(shared: Arc<Shared>) {
    let mut ticker = tokio::time::interval(LIVENESS_TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if !shared.any_master() {
            shared.liveness.first_master.notified().await;
            ticker.reset();
        }
        ticker.tick().await;
        shared.liveness.loop_runs(Instant::now());
    }
}

/// When the heartbeat was last stamped, and when it is due again.
#[derive(Debug, Default)]
struct BeatClock {
    last: Option<Instant>,
}

impl BeatClock {
    /// Whether a wake-up at `now` should stamp the heartbeat: the first time, or within a grid
    /// step of its due time (an advert wake-up that close serves it; the next would be late).
    fn due(&self, now: Instant, every: Duration) -> bool {
        self.last
            .is_none_or(|last| now + AdvertGrid::STEP > last + every)
    }

    fn stamped(&mut self, at: Instant) {
        self.last = Some(at);
    }

    /// When the next stamp is due; `now` before the first.
    fn next(&self, now: Instant, every: Duration) -> Instant {
        self.last.map_or(now, |last| last + every)
    }

    fn stop(&mut self) {
        self.last = None;
    }
}

/// What the pacer's thread runs for the daemon.
pub struct Hooks {
    shared: Arc<Shared>,
    beats: BeatClock,
}

impl Hooks {
    pub fn new(shared: Arc<Shared>) -> Hooks {
        Hooks {
            shared,
            beats: BeatClock::default(),
        }
    }
}

impl PacerHooks for Hooks {
    fn alive(&self, now: Instant) -> bool {
        self.shared.liveness.loop_alive(now)
    }

    fn tick(&mut self, now: Instant, advertising: bool) -> Option<Instant> {
        if !advertising || !self.alive(now) {
            self.beats.stop();
            return None;
        }
        let every = self.shared.liveness.beat_every();
        if self.beats.due(now, every) {
            if !self.shared.try_beat() {
                // The data plane is busy (a reload attaching XDP): soon again, not blocked.
                return Some(now + AdvertGrid::STEP);
            }
            self.beats.stamped(now);
        }
        Some(self.beats.next(now, every))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loop_is_alive_within_the_bound_only() {
        let liveness = Liveness::new(Duration::from_millis(30));
        let t0 = liveness.origin;
        liveness.loop_runs(t0 + Duration::from_secs(1));
        assert!(liveness.loop_alive(t0 + Duration::from_secs(1) + LIVENESS_BOUND));
        assert!(!liveness.loop_alive(t0 + Duration::from_secs(1) + LIVENESS_BOUND * 2));
    }

    #[test]
    fn a_beat_rides_on_a_wake_up_within_a_grid_step_of_its_due_time() {
        let ms = Duration::from_millis;
        let every = ms(30);
        let t0 = Instant::now();
        let mut clock = BeatClock::default();
        assert!(clock.due(t0, every), "the first wake-up stamps");
        assert_eq!(clock.next(t0, every), t0);
        clock.stamped(t0);
        assert!(!clock.due(t0 + ms(10), every));
        assert!(
            !clock.due(t0 + ms(20), every),
            "the wake-up at 30 ms is not late"
        );
        // 9 ms early: the next advert wake-up (at 31 ms) would be late; this one serves.
        assert!(clock.due(t0 + ms(21), every));
        assert_eq!(clock.next(t0 + ms(21), every), t0 + ms(30));
        clock.stop();
        assert!(clock.due(t0 + ms(22), every), "after a stop, at once");
    }

    #[test]
    fn beats_are_never_more_often_than_a_grid_step() {
        let liveness = Liveness::new(Duration::ZERO);
        assert_eq!(liveness.beat_every(), AdvertGrid::STEP);
        liveness.set_beat_every(Duration::from_millis(30));
        assert_eq!(liveness.beat_every(), Duration::from_millis(30));
    }
}
