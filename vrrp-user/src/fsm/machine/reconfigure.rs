//! A configuration change while running (a reload): the instance keeps its state and timers.
use std::time::Instant;

use super::{MasterView, VirtualRouter};
use crate::fsm::{Action, Config, State, Timer, Version, timing::Timing};

/// Why [`VirtualRouter::reconfigure`] refused a change: the instance must be restarted instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReconfigureError {
    #[error(transparent)]
    Invalid(#[from] crate::fsm::ConfigError),
    /// The VRID, the protocol version, the primary address or owner-ness (priority 255)
    /// changed: the other routers would see a different virtual router.
    #[error("{0} changed")]
    Identity(&'static str),
}

impl VirtualRouter {
    /// Takes a new configuration in place: the state, the known Master and the running timers
    /// are kept. A Master whose advertisement interval changed advertises at once with the new
    /// one and re-arms its Adver_Timer (the Backups of v3 adopt it from that advert, §6.4.2);
    /// a Backup recomputes its timing for the next time its timer is set and re-evaluates the
    /// preempt delay with the new preempt settings.
    ///
    /// A new configured priority is not applied here: send [`crate::fsm::Event::PriorityChanged`]
    /// with the new effective priority afterwards (that advertises it at once when Master).
    pub fn reconfigure(
        &mut self,
        config: Config,
        now: Instant,
    ) -> Result<Vec<Action>, ReconfigureError> {
        config.validate()?;
        let old = &self.config;
        let changed = if config.vrid != old.vrid {
            Some("the VRID")
        } else if config.version() != old.version() {
            Some("the protocol version")
        } else if config.primary_address != old.primary_address {
            Some("the primary address")
        } else if config.is_owner() != old.is_owner() {
            Some("address ownership (priority 255)")
        } else {
            None
        };
        if let Some(what) = changed {
            return Err(ReconfigureError::Identity(what));
        }
        let interval_changed = config.advert_interval != old.advert_interval;
        self.config = config;
        let mut out = Vec::new();
        // Master_Adver_Interval is ours (§6.4.1) except once a v3 Backup has heard a Master,
        // whose it may follow (§6.4.2).
        let follows_master = self.state == State::Backup
            && self.config.version() == Version::V3
            && self.backup.is_some_and(|b| b.master != MasterView::Unknown);
        if !follows_master {
            self.timing = Timing::new(self.config.advert_interval, self.priority);
        }
        match self.state {
            State::Master if interval_changed => self.advertise(now, &mut out),
            State::Backup => {
                if let Some(MasterView::Known { priority, .. }) = self.backup.map(|b| b.master) {
                    if !self.config.preempts() || self.config.preempt_delay.is_zero() {
                        self.backup_mut().preempt_deadline = None;
                    }
                    self.defers_to(priority, now);
                }
                self.sync_preempt_timer(now, &mut out);
            }
            State::Master | State::Initialize | State::Fault => {}
        }
        debug_assert!(
            self.state != State::Master || self.timer(Timer::Advert).is_some(),
            "a Master always has its Adver_Timer armed"
        );
        Ok(out)
    }
}
