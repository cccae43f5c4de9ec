//! [`VirtualRouter`]: one VRRP instance's election, RFC 5798 §6.4 / RFC 3768 §6.4.
//!
//! Every state change goes through [`VirtualRouter::change_state`], the one place that cancels
//! the old state's timers, removes or adds the virtual addresses, sends the resigning or
//! announcing adverts and arms the new state's timer.
use std::{
    net::IpAddr,
    time::{Duration, Instant},
};

mod backup_timers;
mod reconfigure;
mod sync;

pub use reconfigure::ReconfigureError;

use super::{
    Action, Advert, AdvertInterval, Config, ConfigError, DropReason, Event, OWNER_PRIORITY, Reason,
    State, Timer, Version,
    timing::{self, AdvertGrid, Timing},
};

/// What a Backup knows of the current Master.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MasterView {
    /// No advert reported since we entered Backup: adverts the kernel saw are honoured.
    Unknown,
    /// The last advert reported came from `source` at `priority` (> 0).
    Known { source: IpAddr, priority: u8 },
    /// The last advert reported was a priority-0 one: that Master is gone, and adverts the kernel
    /// saw no longer postpone the takeover (a new Master is reported as an event).
    Resigned { source: IpAddr },
    /// The last advert reported was discarded (§7.1: another VRRPv2 interval, an invalid one, our
    /// own address): the kernel saw its repeats without reporting them, as nothing changed, and
    /// they must not postpone the takeover either. A valid advert differs from it in source,
    /// priority or interval, so it is reported as an event.
    Discarded,
}

/// Backup-only bookkeeping, reset whenever Backup is entered.
#[derive(Clone, Copy, Debug)]
struct BackupView {
    master: MasterView,
    /// The latest instant that restarted the Master_Down_Timer (entering Backup, an honoured
    /// advert, or a kernel-seen advert used to re-arm).
    last_honoured: Instant,
    /// The end of the preempt delay, once started (see the module documentation).
    preempt_deadline: Option<Instant>,
    /// Sync group member: the election is won, for this reason, and the group is asked.
    wants_master: Option<Reason>,
}

/// One VRRP instance's state machine. See the [module documentation](super).
#[derive(Clone, Debug)]
pub struct VirtualRouter {
    config: Config,
    /// The effective priority (configured, adjusted by tracking).
    priority: u8,
    state: State,
    /// Startup received and no Shutdown since.
    running: bool,
    /// A fault is present (independent of running: a fault can come and go while stopped).
    faulted: bool,
    /// The sync group holds us in Fault (another member, or we, faulted).
    sync_faulted: bool,
    /// In a sync group: a won election only asks the group ([`Action::WantsMaster`]).
    sync_member: bool,
    timing: Timing,
    /// Where a Master's Adver_Timer is armed, if the daemon aligns its instances' adverts.
    advert_grid: Option<AdvertGrid>,
    /// The deadline of each [`Timer`], as armed through actions, indexed by `timer_index`.
    timers: [Option<Instant>; 3],
    backup: Option<BackupView>,
}

const fn timer_index(timer: Timer) -> usize {
    match timer {
        Timer::Advert => 0,
        Timer::MasterDown => 1,
        Timer::PreemptDelay => 2,
    }
}

/// The unsigned-integer value of an address in network byte order (§6.4.3).
fn address_value(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

impl VirtualRouter {
    /// A machine in Initialize, waiting for [`Event::Startup`].
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(VirtualRouter {
            priority: config.priority,
            state: State::Initialize,
            running: false,
            faulted: false,
            sync_faulted: false,
            sync_member: false,
            timing: Timing::new(config.advert_interval, config.priority),
            advert_grid: None,
            timers: [None; 3],
            backup: None,
            config,
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Makes the machine a sync group member (or not): from now on a won election asks the
    /// group first (see the [module documentation](super)).
    pub fn set_sync_member(&mut self, member: bool) {
        self.sync_member = member;
    }

    /// Arms the Adver_Timer on `grid` from now on: the first deadline after becoming Master (or
    /// after a stall) comes up to [`AdvertGrid::STEP`] early, never late, and the phase stays
    /// on the grid from there, shared with the daemon's other instances.
    pub fn set_advert_grid(&mut self, grid: AdvertGrid) {
        self.advert_grid = Some(grid);
    }

    /// While Backup in a sync group: whether it wants to take over ([`Action::WantsMaster`]).
    pub fn wants_master(&self) -> bool {
        self.backup.is_some_and(|b| b.wants_master.is_some())
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// The effective priority we advertise.
    pub fn priority(&self) -> u8 {
        self.priority
    }

    /// Master_Adver_Interval (v3: adopted from the Master's adverts; otherwise ours).
    pub fn master_adver_interval(&self) -> AdvertInterval {
        self.timing.master_adver_interval
    }

    /// Skew_Time for the current priority and Master_Adver_Interval.
    pub fn skew_time(&self) -> Duration {
        self.timing.skew_time
    }

    /// Master_Down_Interval for the current priority and Master_Adver_Interval.
    pub fn master_down_interval(&self) -> Duration {
        self.timing.master_down_interval
    }

    /// The deadline `timer` is armed for, if it is armed.
    pub fn timer(&self, timer: Timer) -> Option<Instant> {
        self.timers[timer_index(timer)]
    }

    /// While Backup: the Master we last heard of and its priority.
    pub fn current_master(&self) -> Option<(IpAddr, u8)> {
        match self.backup?.master {
            MasterView::Known { source, priority } => Some((source, priority)),
            MasterView::Unknown | MasterView::Resigned { .. } | MasterView::Discarded => None,
        }
    }

    /// Feed one event; returns the actions to carry out, in order.
    pub fn handle(&mut self, event: Event, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        self.handle_into(event, now, &mut out);
        out
    }

    /// As [`handle`](Self::handle), appending to `out`.
    pub fn handle_into(&mut self, event: Event, now: Instant, out: &mut Vec<Action>) {
        match event {
            Event::Startup => self.on_startup(now, out),
            Event::Shutdown => self.on_shutdown(now, out),
            Event::FaultDetected => self.on_fault_detected(now, out),
            Event::FaultCleared => self.on_fault_cleared(now, out),
            Event::SyncToMaster => self.on_sync_to(State::Master, now, out),
            Event::SyncToBackup => self.on_sync_to(State::Backup, now, out),
            Event::SyncMayTakeOver => self.on_sync_may_take_over(now, out),
            Event::SyncFault => self.on_sync_fault(now, out),
            Event::SyncFaultCleared => self.on_sync_fault_cleared(now, out),
            Event::PriorityChanged(priority) => self.on_priority_changed(priority, now, out),
            Event::AdvertReceived(advert) => self.on_advert(advert, now, out),
            Event::AdvertTimerFired => self.on_advert_timer(now, out),
            Event::MasterDownTimerFired { last_advert_seen } => {
                self.on_master_down_timer(last_advert_seen, now, out)
            }
            Event::PreemptDelayTimerFired { last_advert_seen } => {
                self.on_preempt_delay_timer(last_advert_seen, now, out)
            }
        }
    }

    // ---- the choke point ----------------------------------------------------------------------

    /// Leaves the current state and enters `to`. Actions, in order: `StateChanged`; cancel every
    /// armed timer; leaving Master: a priority-0 advert (to Initialize or Fault only) and
    /// `RemoveVips`; entering Master: advert, `AddVips`, gratuitous burst, Adver_Timer; entering
    /// Backup: Master_Down_Timer.
    ///
    /// Entering Backup from Master, the caller has already set Master_Adver_Interval (§6.4.3).
    fn change_state(&mut self, to: State, reason: Reason, now: Instant, out: &mut Vec<Action>) {
        let from = self.state;
        out.push(Action::StateChanged { from, to, reason });
        for timer in Timer::ALL {
            self.cancel(timer, out);
        }
        if from == State::Master {
            if matches!(to, State::Initialize | State::Fault) {
                // §6.4.3 Shutdown: "Send an ADVERTISEMENT with Priority = 0"; keepalived does the
                // same on Fault so that a Backup takes over after Skew_Time.
                out.push(Action::SendAdvert { priority: 0 });
            }
            out.push(Action::RemoveVips);
        }
        self.state = to;
        self.backup = None;
        match to {
            State::Master => {
                // §6.4.1 (owner) and §6.4.2 (Master_Down_Timer fired): send an ADVERTISEMENT,
                // announce the addresses (gratuitous ARP / unsolicited NA), set the Adver_Timer
                // to Advertisement_Interval, transition to Master.
                // §6.1: Master_Adver_Interval is the Master's own interval, which is now ours;
                // the last Master's would otherwise last until our next Backup.
                self.timing = Timing::new(self.config.advert_interval, self.priority);
                out.push(Action::SendAdvert {
                    priority: self.priority,
                });
                out.push(Action::AddVips);
                out.push(Action::SendGratuitous);
                self.arm_advert_timer(now, out);
            }
            State::Backup => {
                let from_outside = from != State::Master;
                if from_outside {
                    // §6.4.1: "Set Master_Adver_Interval to Advertisement_Interval".
                    self.timing = Timing::new(self.config.advert_interval, self.priority);
                }
                // keepalived: the preempt delay starts on startup and on leaving Fault.
                let preempt_deadline = (from_outside
                    && self.config.preempts()
                    && !self.config.preempt_delay.is_zero())
                .then(|| now + self.config.preempt_delay);
                self.backup = Some(BackupView {
                    master: MasterView::Unknown,
                    last_honoured: now,
                    preempt_deadline,
                    wants_master: None,
                });
                // §6.4.1 / §6.4.3: "Set the Master_Down_Timer to Master_Down_Interval".
                self.arm(
                    Timer::MasterDown,
                    now + self.timing.master_down_interval,
                    out,
                );
            }
            State::Initialize | State::Fault => {}
        }
    }

    /// From Initialize or Fault into the running states (§6.4.1).
    fn start(&mut self, now: Instant, out: &mut Vec<Action>, reason: impl FnOnce(bool) -> Reason) {
        let owner = self.priority == OWNER_PRIORITY;
        // §6.4.1: "If the Priority = 255 ... Transition to the {Master} state", else Backup.
        let to = if owner { State::Master } else { State::Backup };
        self.change_state(to, reason(owner), now, out);
    }

    // ---- timers -------------------------------------------------------------------------------

    /// Sets `timer` to `at`; says nothing if it is already set to exactly that.
    fn arm(&mut self, timer: Timer, at: Instant, out: &mut Vec<Action>) {
        let slot = &mut self.timers[timer_index(timer)];
        if *slot != Some(at) {
            *slot = Some(at);
            out.push(Action::ArmTimer { timer, at });
        }
    }

    fn cancel(&mut self, timer: Timer, out: &mut Vec<Action>) {
        if self.timers[timer_index(timer)].take().is_some() {
            out.push(Action::CancelTimer(timer));
        }
    }

    /// Whether a fire of `timer` at `now` is the one we expect; if so it is no longer armed.
    /// Disarms `timer` if it is due at `now`; when it was due.
    fn take_fired(&mut self, timer: Timer, now: Instant) -> Option<Instant> {
        let slot = &mut self.timers[timer_index(timer)];
        match *slot {
            Some(at) if at <= now => {
                *slot = None;
                Some(at)
            }
            _ => None,
        }
    }

    fn arm_advert_timer(&mut self, now: Instant, out: &mut Vec<Action>) {
        // §6.4.3: "Reset the Adver_Timer to Advertisement_Interval".
        let at = now + self.config.advert_interval.as_duration();
        self.arm(Timer::Advert, self.on_advert_grid(at), out);
    }

    fn on_advert_grid(&self, at: Instant) -> Instant {
        self.advert_grid.map_or(at, |grid| grid.floor(at))
    }

    /// Master: advertise now and restart the Adver_Timer.
    fn advertise(&mut self, now: Instant, out: &mut Vec<Action>) {
        out.push(Action::SendAdvert {
            priority: self.priority,
        });
        self.arm_advert_timer(now, out);
    }

    // ---- events -------------------------------------------------------------------------------

    fn on_startup(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.running {
            return;
        }
        self.running = true;
        if self.faulted || self.sync_faulted {
            self.change_state(State::Fault, Reason::FaultDetected, now, out);
        } else {
            self.start(now, out, |owner| Reason::Startup { owner });
        }
    }

    fn on_shutdown(&mut self, now: Instant, out: &mut Vec<Action>) {
        if !self.running {
            return;
        }
        self.running = false;
        // §6.4.2 / §6.4.3 Shutdown: cancel the timer (a Master sends priority 0), → Initialize.
        self.change_state(State::Initialize, Reason::Shutdown, now, out);
    }

    fn on_fault_detected(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.faulted {
            return;
        }
        self.faulted = true;
        if self.running && self.state != State::Fault {
            self.change_state(State::Fault, Reason::FaultDetected, now, out);
        }
    }

    fn on_fault_cleared(&mut self, now: Instant, out: &mut Vec<Action>) {
        if !self.faulted {
            return;
        }
        self.faulted = false;
        if self.running && !self.sync_faulted {
            self.start(now, out, |owner| Reason::FaultCleared { owner });
        }
    }

    fn on_priority_changed(&mut self, priority: u8, now: Instant, out: &mut Vec<Action>) {
        if self.config.is_owner() {
            // §5.2.4: the owner's priority MUST be 255.
            return;
        }
        let priority = priority.clamp(1, OWNER_PRIORITY - 1);
        if priority == self.priority {
            return;
        }
        self.priority = priority;
        // §6.1: Skew_Time and Master_Down_Interval depend on the priority.
        self.timing = Timing::new(self.timing.master_adver_interval, priority);
        match self.state {
            // The other routers must learn the new priority at once (a lower one may let a
            // Backup preempt us).
            State::Master => self.advertise(now, out),
            State::Backup => {
                if let Some(MasterView::Known {
                    priority: theirs, ..
                }) = self.backup.map(|b| b.master)
                {
                    // Start (or stop) the preempt delay as an advert of that priority would.
                    self.defers_to(theirs, now);
                }
                self.sync_preempt_timer(now, out);
            }
            State::Initialize | State::Fault => {}
        }
    }

    fn on_advert(&mut self, advert: Advert, now: Instant, out: &mut Vec<Action>) {
        if self.state == State::Backup
            && let Some(seen) = advert.previous_seen
        {
            // The repeats before this advert, which the data plane did not report, reset the
            // timer (§6.4.2) as long as the Master they came from was honoured: were this
            // advert discarded, the timer must run from the last of them, not from the last
            // advert reported (long ago, for a steady Master).
            self.catch_up_with_repeats(seen, now, out);
        }
        if let Err(reason) = self.check_advert(&advert) {
            if self.state == State::Backup {
                self.backup_mut().master = MasterView::Discarded;
            }
            out.push(Action::Dropped(reason));
            return;
        }
        match self.state {
            State::Backup => self.backup_advert(advert, now, out),
            State::Master => self.master_advert(advert, now, out),
            State::Initialize | State::Fault => {} // dropped by check_advert
        }
    }

    fn check_advert(&self, advert: &Advert) -> Result<(), DropReason> {
        if matches!(self.state, State::Initialize | State::Fault) {
            return Err(DropReason::Inactive(self.state));
        }
        let ours = self.config.advert_interval;
        let theirs = advert.interval;
        if theirs.version() != ours.version() {
            return Err(DropReason::VersionMismatch {
                ours: ours.version(),
                theirs: theirs.version(),
            });
        }
        if !theirs.is_valid() {
            return Err(DropReason::InvalidInterval(theirs));
        }
        // RFC 3768 §7.1: "MUST verify that the Adver Interval in the packet is the same as the
        // locally configured for this virtual router. If the above check fails, the receiver
        // MUST discard the packet". (VRRPv3 adopts the Master's interval instead.)
        if ours.version() == Version::V2 && theirs != ours {
            return Err(DropReason::IntervalMismatch { ours, theirs });
        }
        if advert.source.is_ipv4() != self.config.primary_address.is_ipv4() {
            return Err(DropReason::AddressFamilyMismatch);
        }
        if advert.source == self.config.primary_address {
            return Err(DropReason::OwnAddress);
        }
        Ok(())
    }

    /// §6.4.2, Backup: "If an ADVERTISEMENT is received".
    fn backup_advert(&mut self, advert: Advert, now: Instant, out: &mut Vec<Action>) {
        let Advert {
            source, priority, ..
        } = advert;
        if priority == 0 {
            // §6.4.2: "If the Priority in the ADVERTISEMENT is zero, then: Set the
            // Master_Down_Timer to Skew_Time".
            self.backup_mut().master = MasterView::Resigned { source };
            self.arm(Timer::MasterDown, now + self.timing.skew_time, out);
            self.sync_preempt_timer(now, out);
            return;
        }
        // Recorded even when the advert is discarded below: the Master_Down_Timer decides on
        // the last Master reported.
        self.backup_mut().master = MasterView::Known { source, priority };
        // §6.4.2: "If Preempt_Mode is False, or if the Priority in the ADVERTISEMENT is greater
        // than or equal to the local Priority" (or the preempt delay still runs), then:
        if self.defers_to(priority, now) {
            if self.config.version() == Version::V3 {
                // §6.4.2: "Set Master_Adver_Interval to Adver Interval contained in the
                // ADVERTISEMENT", recompute Skew_Time and Master_Down_Interval.
                self.timing = Timing::new(advert.interval, self.priority);
            }
            // §6.4.2: "Reset the Master_Down_Timer to Master_Down_Interval".
            self.backup_mut().last_honoured = now;
            self.drop_wish(out);
            self.arm(
                Timer::MasterDown,
                now + self.timing.master_down_interval,
                out,
            );
        }
        // else §6.4.2: "Discard the ADVERTISEMENT": the Master_Down_Timer runs out and we
        // preempt the lower-priority Master.
        self.sync_preempt_timer(now, out);
    }

    /// §6.4.3, Master: "If an ADVERTISEMENT is received".
    fn master_advert(&mut self, advert: Advert, now: Instant, out: &mut Vec<Action>) {
        let Advert {
            source, priority, ..
        } = advert;
        if priority == 0 {
            // §6.4.3: "If the Priority in the ADVERTISEMENT is zero, then: Send an
            // ADVERTISEMENT; Reset the Adver_Timer to Advertisement_Interval".
            self.advertise(now, out);
            return;
        }
        // §6.4.3: "If the Priority in the ADVERTISEMENT is greater than the local Priority, or
        // ... equal to the local Priority and the primary IPvX Address of the sender is greater
        // than the local primary IPvX Address (based on an unsigned integer comparison of the
        // IPvX addresses in network byte order)".
        let reason = if priority > self.priority {
            Reason::HigherPriorityAdvert { source, priority }
        } else if priority == self.priority
            && address_value(source) > address_value(self.config.primary_address)
        {
            Reason::EqualPriorityHigherAddress { source, priority }
        } else {
            // §6.4.3 says "Discard ADVERTISEMENT"; like keepalived (and as RFC 3768 routers
            // commonly do) we answer with our own advert at once so the other side backs off.
            self.advertise(now, out);
            return;
        };
        if self.config.version() == Version::V3 {
            // §6.4.3: "Set Master_Adver_Interval to Adver Interval contained in the
            // ADVERTISEMENT; Recompute the Skew_Time; Recompute the Master_Down_Interval".
            self.timing = Timing::new(advert.interval, self.priority);
        }
        // §6.4.3: "Cancel Adver_Timer; ... Set Master_Down_Timer to Master_Down_Interval;
        // Transition to the {Backup} state".
        self.change_state(State::Backup, reason, now, out);
        self.backup_mut().master = MasterView::Known { source, priority };
    }

    fn on_advert_timer(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.state != State::Master {
            return; // stale
        }
        let Some(due) = self.take_fired(Timer::Advert, now) else {
            return; // early or stale
        };
        // §6.4.3: "If the Adver_Timer fires, then: Send an ADVERTISEMENT; Reset the Adver_Timer
        // to Advertisement_Interval".
        out.push(Action::SendAdvert {
            priority: self.priority,
        });
        let interval = self.config.advert_interval.as_duration();
        let next = timing::next_advert_deadline(due, now, interval, self.advert_grid);
        self.arm(Timer::Advert, next, out);
    }

    // ---- Backup helpers -----------------------------------------------------------------------

    fn backup_mut(&mut self) -> &mut BackupView {
        self.backup
            .as_mut()
            .expect("Backup bookkeeping exists while in Backup")
    }

    /// Whether a Backup honours (resets its Master_Down_Timer for) a Master of priority
    /// `theirs` > 0 at `now`: if preemption is off or `theirs` ≥ ours (§6.4.2), or while the
    /// preempt delay runs. Starts the delay on the first lower-priority Master, stops it on an
    /// equal or higher one (keepalived).
    fn defers_to(&mut self, theirs: u8, now: Instant) -> bool {
        let (preempt, delay) = (self.config.preempts(), self.config.preempt_delay);
        let ours = self.priority;
        let backup = self.backup_mut();
        if theirs >= ours {
            backup.preempt_deadline = None;
            return true;
        }
        if !preempt {
            return true;
        }
        if delay.is_zero() {
            return false;
        }
        let deadline = *backup.preempt_deadline.get_or_insert(now + delay);
        now < deadline
    }

    /// Keeps [`Timer::PreemptDelay`] armed exactly while a lower-priority Master is known and
    /// the preempt delay has not passed.
    fn sync_preempt_timer(&mut self, now: Instant, out: &mut Vec<Action>) {
        let ours = self.priority;
        let backup = self.backup_mut();
        let wanted = match (backup.master, backup.preempt_deadline) {
            (MasterView::Known { priority, .. }, Some(deadline))
                if priority < ours && deadline > now =>
            {
                Some(deadline)
            }
            _ => None,
        };
        if wanted == self.timer(Timer::PreemptDelay) {
            return;
        }
        match wanted {
            Some(at) => self.arm(Timer::PreemptDelay, at, out),
            None => self.cancel(Timer::PreemptDelay, out),
        }
    }
}
