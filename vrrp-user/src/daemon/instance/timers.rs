//! The instance's timers: which one its task waits for, and firing the due ones.
use std::{sync::Arc, time::Instant};

use tokio::sync::Notify;

use super::{Instance, precise};
use crate::{
    daemon::master_watch::Watched,
    fsm::{Event, Timer},
};

impl Instance {
    /// Fires the timers that are due.
    pub(super) async fn fire_due_timers(&mut self) {
        let now = Instant::now();
        for timer in Timer::ALL {
            let index = timer as usize;
            if self.deadlines[index].is_some_and(|at| at <= now) {
                self.deadlines[index] = None;
                // Only the Backup's timers use the data plane's observation: a Master's
                // Adver_Timer (every advert) must not pay a map read for nothing.
                let seen = match timer {
                    Timer::Advert => None,
                    Timer::MasterDown | Timer::PreemptDelay => self.last_advert_seen(),
                };
                self.apply(Event::timer_fired(timer, seen)).await;
            }
        }
    }

    /// What the run loop waits for: the earliest timer, to the microsecond after a resignation
    /// (Skew_Time); a Backup's Master_Down_Timer is left to the daemon's watch.
    pub(super) fn next_wait(&mut self) -> Wait {
        let next = self.deadlines.iter().flatten().min().copied();
        let master_down = self.deadlines[Timer::MasterDown as usize];
        let wait = match next {
            Some(at) if next == self.resign_deadline => Wait::Precise(at),
            Some(at) if next == master_down => Wait::Watched(Watched {
                deadline: at,
                postponed_by: self.router.postponed_by_adverts_seen(),
                due: Arc::clone(&self.master_down_due),
            }),
            Some(at) => Wait::Timer(at),
            None => Wait::Forever,
        };
        match &wait {
            Wait::Watched(watched) => {
                (self.shared).watch_master_down(self.placement.key, watched.clone());
                self.watched = true;
            }
            _ if self.watched => {
                self.shared.unwatch_master_down(self.placement.key);
                self.watched = false;
            }
            _ => {}
        }
        wait
    }
}

/// What an instance's task waits for besides its inputs.
pub(super) enum Wait {
    Timer(Instant),
    Precise(Instant),
    /// The Master_Down_Timer, watched by the daemon ([`MasterWatch`](crate::daemon::master_watch::MasterWatch)).
    Watched(Watched),
    Forever,
}

impl Wait {
    pub(super) async fn until(&self, master_down_due: &Notify) {
        match self {
            Wait::Timer(at) => tokio::time::sleep_until((*at).into()).await,
            Wait::Precise(at) => precise::sleep_until(*at).await,
            Wait::Watched(_) => master_down_due.notified().await,
            Wait::Forever => std::future::pending().await,
        }
    }
}
