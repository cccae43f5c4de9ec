//! Sync group events and the member's wish to take over (see the [module documentation](super)).
use std::time::Instant;

use super::VirtualRouter;
use crate::fsm::{Action, Reason, State, Timer};

impl VirtualRouter {
    /// The sync group moves us along with another member: Backup → Master or Master → Backup.
    pub(super) fn on_sync_to(&mut self, to: State, now: Instant, out: &mut Vec<Action>) {
        let from = match to {
            State::Master => State::Backup,
            _ => State::Master,
        };
        if self.state == from {
            self.change_state(to, Reason::SyncGroup, now, out);
        }
    }

    /// The group lets us take over: only if we still want to (see [`crate::fsm::Event::SyncMayTakeOver`]).
    pub(super) fn on_sync_may_take_over(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.state != State::Backup {
            return;
        }
        if let Some(reason) = self.backup_mut().wants_master {
            self.change_state(State::Master, reason, now, out);
        }
    }

    pub(super) fn on_sync_fault(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.sync_faulted {
            return;
        }
        self.sync_faulted = true;
        if self.running && self.state != State::Fault {
            self.change_state(State::Fault, Reason::SyncGroup, now, out);
        }
    }

    pub(super) fn on_sync_fault_cleared(&mut self, now: Instant, out: &mut Vec<Action>) {
        if !self.sync_faulted {
            return;
        }
        self.sync_faulted = false;
        if self.running && !self.faulted {
            self.start(now, out, |owner| Reason::SyncFaultCleared { owner });
        }
    }

    /// The election is won: Master, or, in a sync group, ask the group and wait another
    /// Master_Down_Interval (keepalived re-arms the timer the same way while the others do not
    /// want Master yet; the timer decides again if no answer comes).
    pub(super) fn take_over(&mut self, reason: Reason, now: Instant, out: &mut Vec<Action>) {
        if !self.sync_member {
            self.change_state(State::Master, reason, now, out);
            return;
        }
        self.backup_mut().wants_master = Some(reason);
        out.push(Action::WantsMaster(true));
        self.arm(
            Timer::MasterDown,
            now + self.timing.master_down_interval,
            out,
        );
    }

    /// A Master we honour is alive: a sync member no longer wants to take over.
    pub(super) fn drop_wish(&mut self, out: &mut Vec<Action>) {
        if self.backup_mut().wants_master.take().is_some() {
            out.push(Action::WantsMaster(false));
        }
    }
}
