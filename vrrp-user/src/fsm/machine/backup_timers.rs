//! The Backup's timers, and the adverts the data plane saw without reporting them (see the
//! [module documentation](crate::fsm)): a steady Master's repeats reach the machine only as
//! `last_advert_seen`, when a timer fires.
use std::time::{Duration, Instant};

use super::{MasterView, VirtualRouter};
use crate::fsm::{Action, Reason, State, Timer};

impl VirtualRouter {
    pub(super) fn on_master_down_timer(
        &mut self,
        last_advert_seen: Option<Instant>,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        if self.state != State::Backup || self.take_fired(Timer::MasterDown, now).is_none() {
            return; // stale
        }
        let master = self.backup_mut().master;
        let honoured = self.honours_unreported(now);
        if honoured
            && let Some(seen) = last_advert_seen
            && self.postpone_master_down(seen, now, out)
        {
            return;
        }
        // §6.4.2: "If the Master_Down_Timer fires" → Master.
        let reason = match master {
            MasterView::Resigned { source } => Reason::PriorityZeroReceived { source },
            MasterView::Known { source, priority } if !honoured => Reason::Preempted {
                master: source,
                priority,
            },
            MasterView::Unknown | MasterView::Known { .. } | MasterView::Discarded => {
                Reason::MasterDown {
                    silent_for: now.saturating_duration_since(self.backup_mut().last_honoured),
                }
            }
        };
        self.take_over(reason, now, out);
    }

    /// A look at the data plane before the Master_Down_Timer is due: adverts seen since move
    /// it on as if each had been received (§6.4.2). Lets the runtime check many instances on
    /// one wake-up instead of waking for each deadline.
    pub(super) fn on_preempt_delay_timer(
        &mut self,
        last_advert_seen: Option<Instant>,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        if self.state != State::Backup || self.take_fired(Timer::PreemptDelay, now).is_none() {
            return; // stale
        }
        let MasterView::Known { source, priority } = self.backup_mut().master else {
            return;
        };
        if self.defers_to(priority, now) {
            return; // not a Master we preempt (any more)
        }
        // The delay is over: from now on its adverts are discarded (§6.4.2). Those seen until
        // now were honoured, so the Master_Down_Timer runs from the last of them.
        let backup = self.backup_mut();
        let last =
            last_advert_seen.map_or(backup.last_honoured, |seen| seen.max(backup.last_honoured));
        backup.last_honoured = last;
        let at = last + self.timing.master_down_interval;
        if at > now {
            self.arm(Timer::MasterDown, at, out);
        } else {
            let reason = Reason::Preempted {
                master: source,
                priority,
            };
            self.take_over(reason, now, out);
        }
    }

    /// While Backup: the Master_Down_Interval by which adverts the kernel saw (without reporting
    /// them) postpone the Master_Down_Timer whatever the time, so that the daemon may watch the
    /// data plane for them without waking the machine
    /// ([`crate::fsm::Event::MasterDownTimerFired`] decides when it does).
    /// `None` where only the machine can tell: a resigned Master, one we preempt, one whose
    /// preempt delay runs, or repeats of a discarded advert.
    pub fn postponed_by_adverts_seen(&self) -> Option<Duration> {
        let backup = self
            .backup
            .as_ref()
            .filter(|_| self.state == State::Backup)?;
        let honoured = match backup.master {
            MasterView::Unknown => true,
            MasterView::Known { priority, .. } => {
                priority >= self.priority || !self.config.preempts()
            }
            MasterView::Resigned { .. } | MasterView::Discarded => false,
        };
        honoured.then_some(self.timing.master_down_interval)
    }

    /// Whether adverts the kernel saw without reporting them reset the Master_Down_Timer: yes
    /// for a Master we honour (or do not know yet); no after priority 0, after a discarded
    /// advert (§7.1), or for a lower-priority Master we are preempting (§6.4.2 discards its
    /// adverts).
    fn honours_unreported(&mut self, now: Instant) -> bool {
        match self.backup_mut().master {
            MasterView::Unknown => true,
            MasterView::Known { priority, .. } => self.defers_to(priority, now),
            MasterView::Resigned { .. } | MasterView::Discarded => false,
        }
    }

    /// Adverts the data plane saw until `seen` without reporting them move the
    /// Master_Down_Timer on, if they came from a Master we honour (see
    /// [`VirtualRouter::postponed_by_adverts_seen`]).
    pub(super) fn catch_up_with_repeats(
        &mut self,
        seen: Instant,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        if self.honours_unreported(now) {
            self.postpone_master_down(seen, now, out);
        }
    }

    /// The Master is alive if it was seen within Master_Down_Interval: the timer should have
    /// been reset at `seen` (§6.4.2). Re-arms it there unless it already runs that long;
    /// whether the Master is alive.
    fn postpone_master_down(&mut self, seen: Instant, now: Instant, out: &mut Vec<Action>) -> bool {
        let backup = self.backup_mut();
        backup.last_honoured = backup.last_honoured.max(seen);
        let at = seen + self.timing.master_down_interval;
        if at <= now {
            return false;
        }
        if self.timer(Timer::MasterDown).is_none_or(|armed| at > armed) {
            self.drop_wish(out);
            self.arm(Timer::MasterDown, at, out);
            self.sync_preempt_timer(now, out);
        }
        true
    }
}
