//! One thread watches every Backup's Master_Down_Timer against the data plane's observations.
//!
//! With XDP a steady Master's adverts are not reported: the data plane only records when the
//! last one arrived. Each Backup would otherwise wake (its task, its state machine, its timer)
//! at every deadline only to learn that the Master is still there. Instead the Backup hands its
//! deadline here and waits; this thread sleeps until the earliest deadline, reads the
//! observations from the mapped array, moves every deadline on by the adverts seen, and wakes a
//! Backup only once its deadline has really passed. The state machine, fed the observation when
//! its timer fires, stays the one that decides.
//!
//! One look serves every instance: a live Master was seen at most one Advertisement_Interval
//! ago, so each look moves its deadline at least 2 × Advertisement_Interval + Skew_Time ahead
//! (RFC 5798 §6.1). The thread thus wakes fewer than 40 times a second at 10 ms adverts,
//! however many instances it watches.
//!
//! It is a thread of its own, not a task: a look is then one futex wake-up, where in the
//! event loop it was an epoll round with the timer wheel's re-arming and cascading (an extra
//! wake-up whenever a deadline crosses the wheel's 64 ms boundary) — most of an idle Backup's
//! CPU.
use std::{
    collections::HashMap,
    sync::{Arc, Condvar, Mutex, MutexGuard},
    thread::JoinHandle,
    time::{Duration, Instant},
};

use anyhow::Context;
use tokio::sync::Notify;
use vrrp_common::maps::InstanceKey;

use super::Shared;

/// One Backup's Master_Down_Timer, as watched.
#[derive(Clone, Debug)]
pub struct Watched {
    pub deadline: Instant,
    /// Master_Down_Interval, when adverts seen postpone the deadline by it (see
    /// [`crate::fsm::VirtualRouter::postponed_by_adverts_seen`]).
    pub postponed_by: Option<Duration>,
    /// Notified once the deadline has passed.
    pub due: Arc<Notify>,
}

impl Watched {
    /// Moves the deadline on by an advert seen at `seen`; whether it has passed at `now`.
    fn review(&mut self, seen: Option<Instant>, now: Instant) -> bool {
        if let (Some(interval), Some(seen)) = (self.postponed_by, seen) {
            self.deadline = self.deadline.max(seen + interval);
        }
        self.deadline <= now
    }
}

#[derive(Debug, Default)]
struct State {
    watched: HashMap<InstanceKey, Watched>,
    /// A deadline earlier than the thread sleeps for arrived (or the watch stops).
    woken: bool,
    stopping: bool,
}

#[derive(Debug, Default)]
pub struct MasterWatch {
    state: Mutex<State>,
    changed: Condvar,
}

impl MasterWatch {
    /// Watches (or watches anew) the instance's Master_Down_Timer.
    pub fn watch(&self, key: InstanceKey, watched: Watched) {
        let mut state = self.lock();
        let deadline = watched.deadline;
        let before = state.watched.insert(key, watched);
        if before.is_none_or(|before| deadline < before.deadline) {
            state.woken = true;
            self.changed.notify_one();
        }
    }

    pub fn unwatch(&self, key: InstanceKey) {
        self.lock().watched.remove(&key);
    }

    /// Ends [`MasterWatch::run`].
    fn stop(&self) {
        let mut state = self.lock();
        state.stopping = true;
        state.woken = true;
        self.changed.notify_one();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Inserts and removals cannot leave the map half-changed.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Watches until [`WatchThread`] is dropped: `seen` tells when the data plane last saw an
    /// advert for an instance.
    fn run(&self, seen: impl Fn(InstanceKey) -> Option<Instant>) {
        let mut state = self.lock();
        while !state.stopping {
            let now = Instant::now();
            let next = review(&mut state.watched, now, &seen);
            state.woken = false;
            state = match next {
                Some(at) => {
                    let timeout = at.saturating_duration_since(now);
                    let wait = self
                        .changed
                        .wait_timeout_while(state, timeout, |s| !s.woken);
                    wait.unwrap_or_else(|poisoned| poisoned.into_inner()).0
                }
                None => {
                    let wait = self.changed.wait_while(state, |s| !s.woken);
                    wait.unwrap_or_else(|poisoned| poisoned.into_inner())
                }
            };
        }
    }
}

/// Reviews every watched deadline at `now` with `seen`: wakes and forgets the passed ones;
/// when to look next.
fn review(
    watched: &mut HashMap<InstanceKey, Watched>,
    now: Instant,
    seen: impl Fn(InstanceKey) -> Option<Instant>,
) -> Option<Instant> {
    watched.retain(|&key, watched| {
        let passed = watched.review(seen(key), now);
        if passed {
            watched.due.notify_one();
        }
        !passed
    });
    watched.values().map(|watched| watched.deadline).min()
}

/// The watching thread; dropping it stops and joins it.
pub struct WatchThread {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl WatchThread {
    pub fn spawn(shared: Arc<Shared>) -> anyhow::Result<WatchThread> {
        let thread = std::thread::Builder::new()
            .name("master-watch".into())
            .spawn({
                let shared = Arc::clone(&shared);
                move || {
                    (shared.master_watch).run(|key| shared.last_advert_seen(key));
                }
            })
            .context("starting the Master_Down_Timer watch thread")?;
        Ok(WatchThread {
            shared,
            thread: Some(thread),
        })
    }
}

impl Drop for WatchThread {
    fn drop(&mut self) {
        self.shared.master_watch.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn key(vrid: u8) -> InstanceKey {
        InstanceKey {
            ifindex: 7,
            vrid,
            family: vrrp_common::FAMILY_V4,
            ..InstanceKey::default()
        }
    }

    fn watched(deadline: Instant, postponed_by: Option<Duration>) -> Watched {
        Watched {
            deadline,
            postponed_by,
            due: Arc::new(Notify::new()),
        }
    }

    #[test]
    fn adverts_seen_move_the_deadline_and_silence_wakes_the_backup() {
        let t0 = Instant::now();
        let watch = MasterWatch::default();
        let alive = watched(t0 + 36 * MS, Some(36 * MS));
        let silent = watched(t0 + 36 * MS, Some(36 * MS));
        watch.watch(key(1), alive.clone());
        watch.watch(key(2), silent.clone());
        // At 36 ms: VRID 1's Master was seen at 30 ms, VRID 2's last at 0.
        let seen = |key: InstanceKey| {
            Some(
                t0 + if key.vrid == 1 {
                    30 * MS
                } else {
                    Duration::ZERO
                },
            )
        };
        let next =
            review(&mut watch.lock().watched, t0 + 36 * MS, seen).expect("VRID 1 still watched");
        assert_eq!(next, t0 + 66 * MS, "the next look is the earliest deadline");
        assert_eq!(watch.lock().watched[&key(1)].deadline, t0 + 66 * MS);
        assert!(
            !watch.lock().watched.contains_key(&key(2)),
            "a passed deadline is forgotten"
        );
        // Only the silent Master's Backup was woken.
        assert!(now_or_never(silent.due.notified()));
        assert!(!now_or_never(alive.due.notified()));
    }

    #[test]
    fn without_postponement_only_the_deadline_counts() {
        let t0 = Instant::now();
        let mut resigned = watched(t0 + 10 * MS, None);
        assert!(!resigned.review(Some(t0 + 9 * MS), t0 + 9 * MS));
        assert!(resigned.review(Some(t0 + 9 * MS), t0 + 10 * MS));
        assert_eq!(resigned.deadline, t0 + 10 * MS);
    }

    #[test]
    fn an_earlier_deadline_wakes_the_watcher_a_later_one_does_not() {
        let t0 = Instant::now();
        let watch = MasterWatch::default();
        let woken = || std::mem::take(&mut watch.lock().woken);
        watch.watch(key(1), watched(t0 + 50 * MS, None));
        assert!(woken());
        watch.watch(key(1), watched(t0 + 60 * MS, None));
        assert!(!woken());
        watch.watch(key(1), watched(t0 + 40 * MS, None));
        assert!(woken());
        watch.unwatch(key(1));
        assert_eq!(review(&mut watch.lock().watched, t0, |_| None), None);
    }

    #[test]
    fn the_thread_wakes_the_backup_of_a_silent_master_and_stops_when_told() {
        let watch = MasterWatch::default();
        let t0 = Instant::now();
        let alive = watched(t0 + 30 * MS, Some(36 * MS));
        let silent = watched(t0 + 30 * MS, Some(36 * MS));
        std::thread::scope(|scope| {
            // VRID 1's Master always was just seen; VRID 2's never.
            let thread = scope.spawn(|| {
                watch.run(|key| (key.vrid == 1).then(Instant::now));
            });
            watch.watch(key(1), alive.clone());
            watch.watch(key(2), silent.clone());
            futures::executor::block_on(silent.due.notified());
            assert!(Instant::now() >= t0 + 30 * MS, "woken before its deadline");
            assert!(watch.lock().watched.contains_key(&key(1)));
            assert!(!now_or_never(alive.due.notified()));
            watch.stop();
            thread.join().expect("the watch thread ends");
        });
    }

    /// Whether a `Notified` is ready at once (a permit was stored).
    fn now_or_never(notified: tokio::sync::futures::Notified<'_>) -> bool {
        futures::FutureExt::now_or_never(notified).is_some()
    }
}
