//! Every Backup's Master_Down_Timer, watched against the data plane's observations.
//!
//! With XDP a steady Master's adverts are not reported: the data plane only records when the
//! last one arrived. Each Backup would otherwise wake (its task, its state machine, its timer)
//! at every deadline only to learn that the Master is still there. Instead the Backup hands its
//! deadline here and waits, and it is woken only once its deadline has really passed. The
//! state machine, fed the observation when its timer fires, stays the one that decides.
//!
//! Two watchers, the first that can:
//! - **the kernel** ([`Dataplane::watch_master_down`](crate::dataplane::Dataplane)): a
//!   `bpf_timer` per Backup moves the deadline on by the adverts the XDP program saw, and
//!   pushes an event only once the Master has been silent: the daemon sleeps meanwhile;
//! - **a thread of this module**, for the socket data plane (or a kernel without `bpf_timer`):
//!   it sleeps until the earliest deadline, reads the observations, moves every deadline on by
//!   the adverts seen, and wakes the Backups whose deadline passed. One look serves every
//!   instance: a live Master was seen at most one Advertisement_Interval ago, so each look
//!   moves its deadline at least 2 × Advertisement_Interval + Skew_Time ahead (RFC 5798 §6.1),
//!   fewer than 40 looks a second at 10 ms adverts however many instances. A thread, not a
//!   task: a look is one futex wake-up, where in the event loop it was an epoll round with the
//!   timer wheel's re-arming and cascading.
//!
//! The thread also backs the kernel up: should a kernel event be lost (a full ring buffer), it
//! wakes that Backup [`KERNEL_BACKSTOP`] after its deadline.
use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use tokio::sync::Notify;
use vrrp_common::maps::InstanceKey;

use super::Shared;
use crate::sleeper::{Joined, Sleeper};

/// How long after its deadline the thread wakes a Backup that the kernel watches and has not
/// reported: the worst a lost kernel event can delay a takeover.
pub const KERNEL_BACKSTOP: Duration = Duration::from_secs(1);

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

/// A watched timer, and whether the kernel watches it too (the thread is then a backstop).
#[derive(Debug)]
struct Entry {
    watched: Watched,
    in_kernel: bool,
}

impl Entry {
    /// When the thread must look at this entry next.
    fn look_at(&self) -> Instant {
        match self.in_kernel {
            true => self.watched.deadline + KERNEL_BACKSTOP,
            false => self.watched.deadline,
        }
    }
}

#[derive(Debug, Default)]
pub struct MasterWatch {
    watched: Sleeper<HashMap<InstanceKey, Entry>>,
}

impl MasterWatch {
    /// Watches (or watches anew) the instance's Master_Down_Timer; `in_kernel`: the kernel
    /// watches it too, and reports it with [`MasterWatch::kernel_due`].
    pub fn watch(&self, key: InstanceKey, watched: Watched, in_kernel: bool) {
        let mut state = self.watched.lock();
        let entry = Entry { watched, in_kernel };
        let look_at = entry.look_at();
        let before = state.insert(key, entry);
        if before.is_none_or(|before| look_at < before.look_at()) {
            self.watched.wake(&mut state);
        }
    }

    /// Whether the kernel already watches this very timer for the instance: arming it again
    /// would change nothing.
    pub fn kernel_watches(&self, key: InstanceKey, watched: &Watched) -> bool {
        self.watched.lock().get(&key).is_some_and(|entry| {
            entry.in_kernel
                && entry.watched.deadline == watched.deadline
                && entry.watched.postponed_by == watched.postponed_by
        })
    }

    /// Stops watching; returns whether the kernel watched too.
    pub fn unwatch(&self, key: InstanceKey) -> bool {
        (self.watched.lock().remove(&key)).is_some_and(|entry| entry.in_kernel)
    }

    /// The kernel reports that the instance's deadline passed: its Backup is woken.
    pub fn kernel_due(&self, key: InstanceKey) {
        if let Some(entry) = self.watched.lock().remove(&key) {
            entry.watched.due.notify_one();
        }
    }

    /// Watches until the thread's handle ([`spawn_watch_thread`]) is dropped: `seen` tells when the data plane last saw an
    /// advert for an instance.
    fn run(&self, seen: impl Fn(InstanceKey) -> Option<Instant>) {
        let mut state = self.watched.lock();
        while !state.stopping() {
            let next = review(&mut state, Instant::now(), &seen);
            state = self.watched.sleep(state, next);
        }
    }
}

/// Reviews every watched deadline at `now` with `seen`: wakes and forgets the passed ones
/// (those the kernel watches, only [`KERNEL_BACKSTOP`] after); when to look next.
fn review(
    watched: &mut HashMap<InstanceKey, Entry>,
    now: Instant,
    seen: impl Fn(InstanceKey) -> Option<Instant>,
) -> Option<Instant> {
    watched.retain(|&key, entry| {
        let judged_at = match entry.in_kernel {
            true => now.checked_sub(KERNEL_BACKSTOP),
            false => Some(now),
        };
        let passed = judged_at.is_some_and(|at| entry.watched.review(seen(key), at));
        if passed {
            if entry.in_kernel {
                tracing::warn!(
                    "the kernel did not report the Master_Down_Timer of {key:?} (a lost \
                     event?): woken {KERNEL_BACKSTOP:?} late"
                );
            }
            entry.watched.due.notify_one();
        }
        !passed
    });
    watched.values().map(Entry::look_at).min()
}

impl Shared {
    /// Watches a Backup's Master_Down_Timer: in the kernel when the data plane can (the thread
    /// then only backs it up), else in the thread.
    pub(super) fn watch_master_down(&self, key: InstanceKey, watched: Watched) {
        if self.master_watch.kernel_watches(key, &watched) {
            return;
        }
        let deadline_ns = self.clock.kernel_ns(watched.deadline);
        let in_kernel = self
            .lock_dataplane()
            .watch_master_down(key, deadline_ns, watched.postponed_by)
            .unwrap_or_else(|err| {
                tracing::warn!("{err:#}: the daemon watches the Master_Down_Timer itself");
                false
            });
        self.master_watch.watch(key, watched, in_kernel);
    }

    pub(super) fn unwatch_master_down(&self, key: InstanceKey) {
        if self.master_watch.unwatch(key)
            && let Err(err) = self.lock_dataplane().unwatch_master_down(key)
        {
            tracing::warn!("{err:#}");
        }
    }
}

/// Starts the watching thread; dropping the handle stops and joins it.
pub fn spawn_watch_thread(shared: Arc<Shared>) -> anyhow::Result<Joined> {
    let thread = std::thread::Builder::new()
        .name("master-watch".into())
        .spawn({
            let shared = Arc::clone(&shared);
            move || {
                (shared.master_watch).run(|key| shared.last_advert_seen(key));
            }
        })
        .context("starting the Master_Down_Timer watch thread")?;
    Ok(Joined::new(thread, move || {
        shared.master_watch.watched.stop()
    }))
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
        watch.watch(key(1), alive.clone(), false);
        watch.watch(key(2), silent.clone(), false);
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
            review(&mut watch.watched.lock(), t0 + 36 * MS, seen).expect("VRID 1 still watched");
        assert_eq!(next, t0 + 66 * MS, "the next look is the earliest deadline");
        assert_eq!(watch.watched.lock()[&key(1)].watched.deadline, t0 + 66 * MS);
        assert!(
            !watch.watched.lock().contains_key(&key(2)),
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
        let woken = || watch.watched.lock().take_woken();
        watch.watch(key(1), watched(t0 + 50 * MS, None), false);
        assert!(woken());
        watch.watch(key(1), watched(t0 + 60 * MS, None), false);
        assert!(!woken());
        watch.watch(key(1), watched(t0 + 40 * MS, None), false);
        assert!(woken());
        assert!(!watch.unwatch(key(1)));
        assert_eq!(review(&mut watch.watched.lock(), t0, |_| None), None);
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
            watch.watch(key(1), alive.clone(), false);
            watch.watch(key(2), silent.clone(), false);
            futures::executor::block_on(silent.due.notified());
            assert!(Instant::now() >= t0 + 30 * MS, "woken before its deadline");
            assert!(watch.watched.lock().contains_key(&key(1)));
            assert!(!now_or_never(alive.due.notified()));
            watch.watched.stop();
            thread.join().expect("the watch thread ends");
        });
    }

    #[test]
    fn a_kernel_watched_timer_is_woken_by_its_event_or_late_by_the_backstop() {
        let t0 = Instant::now();
        let watch = MasterWatch::default();
        let reported = watched(t0 + 36 * MS, Some(36 * MS));
        let lost = watched(t0 + 36 * MS, Some(36 * MS));
        watch.watch(key(1), reported.clone(), true);
        watch.watch(key(2), lost.clone(), true);
        assert!(watch.kernel_watches(key(1), &reported));
        assert!(!watch.kernel_watches(key(1), &watched(t0 + 40 * MS, Some(36 * MS))));
        // Both Masters silent: past the deadline the thread leaves them to the kernel...
        let silent = |_| Some(t0);
        let next = review(&mut watch.watched.lock(), t0 + 100 * MS, silent);
        assert_eq!(next, Some(t0 + 36 * MS + KERNEL_BACKSTOP));
        assert!(!now_or_never(lost.due.notified()));
        // ... whose event wakes VRID 1's Backup at once.
        watch.kernel_due(key(1));
        assert!(now_or_never(reported.due.notified()));
        // VRID 2's event never came: the backstop wakes it, KERNEL_BACKSTOP late.
        let next = review(
            &mut watch.watched.lock(),
            t0 + 36 * MS + KERNEL_BACKSTOP,
            silent,
        );
        assert_eq!(next, None);
        assert!(now_or_never(lost.due.notified()));
        // A late event for a timer no longer watched wakes nobody.
        watch.kernel_due(key(2));
        assert!(!now_or_never(lost.due.notified()));
    }

    #[test]
    fn unwatching_says_whether_the_kernel_watched() {
        let watch = MasterWatch::default();
        let t0 = Instant::now();
        watch.watch(key(1), watched(t0, None), true);
        watch.watch(key(2), watched(t0, None), false);
        assert!(watch.unwatch(key(1)));
        assert!(!watch.unwatch(key(2)));
        assert!(!watch.unwatch(key(3)));
    }

    /// Whether a `Notified` is ready at once (a permit was stored).
    fn now_or_never(notified: tokio::sync::futures::Notified<'_>) -> bool {
        futures::FutureExt::now_or_never(notified).is_some()
    }
}
