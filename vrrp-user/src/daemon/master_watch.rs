//! One task watches every Backup's Master_Down_Timer against the data plane's observations.
//!
//! With XDP a steady Master's adverts are not reported: the data plane only records when the
//! last one arrived. Each Backup would otherwise wake (its task, its state machine, its timer)
//! a little before every deadline only to learn that the Master is still there. Instead the
//! Backup hands its deadline here and waits; this task wakes at the grid instants before the
//! deadlines ([`super::look`]: one wake-up for every instance due in the same step),
//! reads the observations from the mapped array, moves each deadline on by the adverts seen,
//! and wakes a Backup only once its deadline has really passed. The state machine, fed the
//! observation when its timer fires, stays the one that decides.
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tokio::sync::Notify;
use vrrp_common::maps::InstanceKey;

use super::{Shared, look};

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
pub struct MasterWatch {
    watched: Mutex<HashMap<InstanceKey, Watched>>,
    changed: Notify,
}

impl MasterWatch {
    /// Watches (or watches anew) the instance's Master_Down_Timer.
    pub fn watch(&self, key: InstanceKey, watched: Watched) {
        let earlier = {
            let mut all = self.lock();
            let before = all.insert(key, watched.clone());
            before.is_none_or(|before| watched.deadline < before.deadline)
        };
        if earlier {
            self.changed.notify_one();
        }
    }

    pub fn unwatch(&self, key: InstanceKey) {
        self.lock().remove(&key);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<InstanceKey, Watched>> {
        // Inserts and removals cannot leave the map half-changed.
        self.watched
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reviews every watched deadline at `now` with `seen` (when the data plane last saw an
    /// advert for an instance): wakes and forgets the passed ones; when to look next.
    fn review(
        &self,
        now: Instant,
        seen: impl Fn(InstanceKey) -> Option<Instant>,
    ) -> Option<Instant> {
        let mut all = self.lock();
        all.retain(|&key, watched| {
            let passed = watched.review(seen(key), now);
            if passed {
                watched.due.notify_one();
            }
            !passed
        });
        all.values()
            .map(|watched| look::wake_at(watched.deadline, now))
            .min()
    }
}

/// The watching task: runs as long as the daemon.
pub async fn run(shared: Arc<Shared>) {
    let watch = &shared.master_watch;
    loop {
        let next = watch.review(Instant::now(), |key| shared.last_advert_seen(key));
        let changed = watch.changed.notified();
        match next {
            Some(at) => {
                tokio::select! {
                    () = tokio::time::sleep_until(at.into()) => {}
                    () = changed => {}
                }
            }
            None => changed.await,
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
        let next = watch
            .review(t0 + 36 * MS, seen)
            .expect("VRID 1 still watched");
        assert!(next > t0 + 36 * MS && next <= t0 + 66 * MS);
        assert_eq!(watch.lock()[&key(1)].deadline, t0 + 66 * MS);
        assert!(
            !watch.lock().contains_key(&key(2)),
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
        watch.watch(key(1), watched(t0 + 50 * MS, None));
        assert!(now_or_never(watch.changed.notified()));
        watch.watch(key(1), watched(t0 + 60 * MS, None));
        assert!(!now_or_never(watch.changed.notified()));
        watch.watch(key(1), watched(t0 + 40 * MS, None));
        assert!(now_or_never(watch.changed.notified()));
        watch.unwatch(key(1));
        assert_eq!(watch.review(t0, |_| None), None);
    }

    /// Whether a `Notified` is ready at once (a permit was stored).
    fn now_or_never(notified: tokio::sync::futures::Notified<'_>) -> bool {
        futures::FutureExt::now_or_never(notified).is_some()
    }
}
