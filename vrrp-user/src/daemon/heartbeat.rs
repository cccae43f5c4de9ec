//! Proof that the daemon is alive, for the XDP program and for the advert pacer.
//!
//! XDP answers ARP / NS for a VIP only while the heartbeat it reads is fresh, so that a hung
//! daemon stops claiming its VIPs by itself. The beats come from the advert pacer's thread,
//! which wakes anyway for the Masters' adverts (a beat rides on an advert wake-up when one
//! falls within a grid step of it), and only while the event loop proves alive too: a task on
//! the event loop marks it every [`LIVENESS_TICK`], and when the mark is older than
//! [`LIVENESS_BOUND`] the pacer stops both the beats and the adverts, so the Backups take over
//! from a daemon that no longer runs its state machines.
use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use super::Shared;
use crate::{fsm::AdvertGrid, tx::PacerHooks};

/// How often the event loop proves it runs.
pub const LIVENESS_TICK: Duration = Duration::from_millis(500);
/// How long the event loop may go without proving it runs before Masters stop advertising.
pub const LIVENESS_BOUND: Duration = Duration::from_secs(2);

/// When the event loop last proved it runs, and how often the heartbeat must be refreshed.
#[derive(Debug)]
pub struct Liveness {
    origin: Instant,
    /// Nanoseconds after `origin`.
    loop_seen: AtomicU64,
    /// Nanoseconds between beats: a third of the shortest heartbeat bound.
    beat_every: AtomicU64,
}

impl Liveness {
    pub fn new(beat_every: Duration) -> Liveness {
        let liveness = Liveness {
            origin: Instant::now(),
            loop_seen: AtomicU64::new(0),
            beat_every: AtomicU64::new(0),
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

/// Marks the event loop alive every [`LIVENESS_TICK`], for as long as the runtime runs it.
pub async fn mark_loop_alive(shared: Arc<Shared>) {
    let mut ticker = tokio::time::interval(LIVENESS_TICK);
    loop {
        ticker.tick().await;
        shared.liveness.loop_runs(Instant::now());
    }
}

/// When the heartbeat was last stamped, and whether a wake-up at `now` should stamp it.
#[derive(Debug, Default)]
struct BeatClock {
    last: Option<Instant>,
}

impl BeatClock {
    /// Whether to beat at `now` (the first time, or within a grid step of the beat's due
    /// time: an advert wake-up that close serves it), and when the next beat is due.
    fn at(&mut self, now: Instant, every: Duration) -> (bool, Instant) {
        let due = self.last.map(|last| last + every);
        let beat = due.is_none_or(|due| now + AdvertGrid::STEP > due);
        if beat {
            self.last = Some(now);
        }
        (beat, self.last.unwrap_or(now) + every)
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
        let (beat, next) = self.beats.at(now, self.shared.liveness.beat_every());
        if beat {
            self.shared.beat();
        }
        Some(next)
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
        assert_eq!(
            clock.at(t0, every),
            (true, t0 + ms(30)),
            "the first wake-up beats"
        );
        assert_eq!(clock.at(t0 + ms(10), every), (false, t0 + ms(30)));
        // 9 ms early: the next advert wake-up would be late for it; this one serves.
        assert_eq!(clock.at(t0 + ms(21), every), (true, t0 + ms(51)));
        assert_eq!(clock.at(t0 + ms(31), every), (false, t0 + ms(51)));
        clock.stop();
        assert_eq!(
            clock.at(t0 + ms(32), every),
            (true, t0 + ms(62)),
            "after a stop, at once"
        );
    }

    #[test]
    fn beats_are_never_more_often_than_a_grid_step() {
        let liveness = Liveness::new(Duration::ZERO);
        assert_eq!(liveness.beat_every(), AdvertGrid::STEP);
        liveness.set_beat_every(Duration::from_millis(30));
        assert_eq!(liveness.beat_every(), Duration::from_millis(30));
    }
}
