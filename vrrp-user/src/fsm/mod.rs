//! The VRRP state machine of RFC 5798 §6.4 (VRRPv3) and RFC 3768 §6.4 (VRRPv2), sans IO.
//!
//! One [`VirtualRouter`] per VRRP instance. It owns no socket, no task and no clock: the daemon
//! feeds it [`Event`]s together with the current time and carries out the [`Action`]s it
//! returns, in order. Everything the RFC says about elections lives here and is tested with a
//! fake clock; the daemon only translates.
//!
//! # The daemon's side of the contract
//!
//! - **Timers.** There are three, named by [`Timer`]. [`Action::ArmTimer`] sets (or replaces) the
//!   one deadline of that timer; [`Action::CancelTimer`] removes it. When a deadline passes, feed
//!   [`Event::timer_fired`] with a `now` at or after the deadline. A fire the machine no longer
//!   expects (cancelled or re-armed to a later instant in the meantime) is ignored, so races
//!   between a firing timer and a re-arm are harmless.
//! - **Adverts.** Feed [`Event::AdvertReceived`] for every advert the data plane reports
//!   (already validated: TTL, checksum, VRID, auth, …). With XDP, repeats from the same Master at
//!   the same priority are *not* reported; instead, when [`Timer::MasterDown`] (or
//!   [`Timer::PreemptDelay`]) fires, pass the kernel time of the last valid advert of this
//!   instance as `last_advert_seen`. If that advert is one the machine would have honoured and is
//!   recent enough, the machine re-arms instead of taking over: a late wake-up can delay a
//!   takeover, never cause a false one. In socket-only mode every advert is an event; passing
//!   `None` (or the last receive time) is then correct. The runtime may watch the data plane
//!   itself before waking the machine, where [`VirtualRouter::postponed_by_adverts_seen`] says
//!   adverts seen postpone the takeover, so that one wake-up can serve many instances.
//!   The data plane must report an advert whenever its source, priority or (v3) interval differs
//!   from the last one reported, every priority-0 advert, and the first advert after the machine
//!   enters Backup (on [`Action::StateChanged`] to Backup, forget the recorded master). Until the
//!   machine has heard of a Master, any advert the kernel saw postpones the takeover. Each
//!   reported advert carries when the data plane saw the one before ([`Advert::previous_seen`]):
//!   an advert the machine discards (a third router's, a lower priority) then leaves the
//!   Master_Down_Timer where the honoured Master's unreported repeats had moved it.
//! - **Dropped adverts.** [`Action::Dropped`] says why an advert was not processed (for example
//!   a VRRPv2 interval mismatch, RFC 3768 §7.1): count it, and log it if you like.
//! - **Priority and faults.** Tracking sends the effective priority with
//!   [`Event::PriorityChanged`]; link watch and tracking aggregate their faults into one
//!   [`Event::FaultDetected`] / [`Event::FaultCleared`] pair.
//! - **Sync groups.** The daemon's group coordinator feeds [`Event::SyncToMaster`],
//!   [`Event::SyncToBackup`], [`Event::SyncFault`] and [`Event::SyncFaultCleared`]; the group's
//!   fault is kept apart from the instance's own, and the machine is in Fault while either is.
//!   A member ([`VirtualRouter::set_sync_member`]) does not take over on its own: when its
//!   Master_Down_Timer (or preempt delay) runs out it reports [`Action::WantsMaster`]`(true)`,
//!   re-arms the Master_Down_Timer to Master_Down_Interval and stays Backup until the group
//!   answers [`Event::SyncMayTakeOver`] (keepalived's `wantstate` and
//!   `vrrp_sync_can_goto_master`); an advert it honours drops the wish
//!   ([`Action::WantsMaster`]`(false)`).
//! - **Logging.** [`Action::StateChanged`] carries a [`Reason`]; it is always the first action of
//!   a transition.
//!
//! # RFC points resolved here
//!
//! - A Master receiving a lower-priority advert (or an equal one from a lower address) answers at
//!   once with its own advert and restarts its Adver_Timer, as keepalived does, so the other
//!   side backs off quickly. RFC 5798 §6.4.3 only says "discard".
//! - A Master entering Fault sends a priority-0 advert first (keepalived does; RFC 5798 has no
//!   Fault state). Fault cleared is handled like a Startup event (§6.4.1).
//! - `preempt_delay` follows keepalived: the delay starts when the router enters Backup from
//!   Initialize/Fault, or, if it is not running, when a Backup first hears a Master with a lower
//!   priority than its own; hearing a Master of equal or higher priority stops it. While it runs,
//!   lower-priority adverts are honoured as if preemption were off; once it has passed they are
//!   discarded (§6.4.2) and the Master_Down_Timer, restarted by the last advert heard before the
//!   delay ended, runs out: the takeover comes Master_Down_Interval after that advert.
//!   [`Timer::PreemptDelay`] is armed only while a lower-priority Master is known and the delay
//!   has not passed.
//! - A change of our own priority while Backup recomputes Skew_Time and Master_Down_Interval
//!   (both depend on it) for the next time the Master_Down_Timer is set; the running timer is
//!   left alone. If the known Master now has a lower priority and preemption is on, its adverts
//!   are no longer honoured, so the running timer decides (after the preempt delay).
//! - The effective priority of a non-owner is clamped to 1..=254 (0 means "stopping" and 255
//!   "address owner", §5.2.4); an owner (configured priority 255) ignores priority changes.
//! - Skew_Time is exact to the nanosecond (see [`timing`]); v3 Master_Adver_Interval is adopted
//!   from the Master's adverts (§6.4.2, §6.4.3), v2 adverts with a different interval are
//!   dropped (RFC 3768 §7.1).
//! - An advert from our own primary address, of the other protocol version, of the other
//!   address family, or with an interval of 0 (or over 4095 cs) is dropped.
use std::{
    fmt,
    net::IpAddr,
    time::{Duration, Instant},
};

mod machine;
pub mod timing;

#[cfg(test)]
mod tests;

pub use machine::{ReconfigureError, VirtualRouter};
pub use timing::{AdvertGrid, AdvertInterval, Version};

/// The longest `preempt_delay` accepted (keepalived's limit).
pub const MAX_PREEMPT_DELAY: Duration = Duration::from_secs(1000);

/// The priority of the router that owns the virtual addresses (RFC 5798 §5.2.4).
pub const OWNER_PRIORITY: u8 = 255;

/// The configuration of one VRRP instance, as far as the election is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Virtual Router Identifier, 1..=255 (RFC 5798 §5.2.3). Only for identification here.
    pub vrid: u8,
    /// Configured priority, 1..=255; 255 = owner of the virtual addresses (§5.2.4).
    pub priority: u8,
    /// Advertisement_Interval; its variant selects the protocol version.
    pub advert_interval: AdvertInterval,
    /// Preempt_Mode (§6.1): whether a higher-priority Backup takes over from a lower Master.
    pub preempt: bool,
    /// How long a Backup defers to a lower-priority Master before preempting it (keepalived's
    /// `preempt_delay`; see the module documentation). Zero: no delay.
    pub preempt_delay: Duration,
    /// Our primary address on the interface, compared with a Master's on equal priority (§6.4.3).
    pub primary_address: IpAddr,
}

impl Config {
    /// The protocol version, given by the interval's unit.
    pub const fn version(&self) -> Version {
        self.advert_interval.version()
    }

    /// Whether we own the virtual addresses (priority 255).
    pub const fn is_owner(&self) -> bool {
        self.priority == OWNER_PRIORITY
    }

    /// Preempt_Mode as applied: §6.1 "the router that owns the IPvX address(es) ... always
    /// preempts, independent of the setting of this flag".
    pub const fn preempts(&self) -> bool {
        self.preempt || self.is_owner()
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.vrid == 0 {
            return Err(ConfigError::ZeroVrid);
        }
        if self.priority == 0 {
            return Err(ConfigError::ZeroPriority);
        }
        if !self.advert_interval.is_valid() {
            return Err(ConfigError::InvalidInterval(self.advert_interval));
        }
        if self.version() == Version::V2 && self.primary_address.is_ipv6() {
            return Err(ConfigError::V2NeedsIpv4(self.primary_address));
        }
        if self.preempt_delay > MAX_PREEMPT_DELAY {
            return Err(ConfigError::PreemptDelayTooLong(self.preempt_delay));
        }
        Ok(())
    }
}

/// Why a [`Config`] was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("VRID 0 is not valid (1..=255)")]
    ZeroVrid,
    #[error("priority 0 is reserved for a Master that is stopping (1..=255)")]
    ZeroPriority,
    #[error("advertisement interval {0} is out of range (VRRPv2: 1..=255 s, VRRPv3: 1..=4095 cs)")]
    InvalidInterval(AdvertInterval),
    #[error("VRRPv2 is IPv4 only, but the primary address is {0}")]
    V2NeedsIpv4(IpAddr),
    #[error("preempt_delay {0:?} is longer than the maximum of {MAX_PREEMPT_DELAY:?}")]
    PreemptDelayTooLong(Duration),
}

/// The states of RFC 5798 §6.4, plus Fault (keepalived's), entered while tracking or link watch
/// reports a fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    Initialize,
    Backup,
    Master,
    Fault,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Initialize => "Initialize",
            State::Backup => "Backup",
            State::Master => "Master",
            State::Fault => "Fault",
        })
    }
}

/// The machine's timers. Each has at most one deadline at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Timer {
    /// Adver_Timer (§6.2): armed while Master.
    Advert,
    /// Master_Down_Timer (§6.2): armed while Backup.
    MasterDown,
    /// The end of the preempt delay: armed while Backup, a lower-priority Master is known and
    /// the delay has not passed.
    PreemptDelay,
}

impl Timer {
    pub const ALL: [Timer; 3] = [Timer::Advert, Timer::MasterDown, Timer::PreemptDelay];
}

/// A received advertisement, as the machine needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Advert {
    /// The IP source address (the sender's primary address, §5.1.1.1 / §5.1.2.1).
    pub source: IpAddr,
    /// Priority field; 0 = the Master is stopping (§5.2.4).
    pub priority: u8,
    /// The advertised interval, in the unit of the version the advert came in.
    pub interval: AdvertInterval,
    /// When the data plane saw this instance's advert before this one, reported or not
    /// (`None`: none since the machine entered Backup). A Backup honouring its Master had the
    /// repeats it was not told of restart the Master_Down_Timer up to then: should this
    /// advert be discarded (a third router's, a lower priority), the timer runs from there.
    pub previous_seen: Option<Instant>,
}

/// What happened; fed to [`VirtualRouter::handle`] with the current time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Start the instance (§6.4.1).
    Startup,
    /// Stop the instance: a Master resigns with a priority-0 advert (§6.4.2, §6.4.3).
    Shutdown,
    /// A valid advert for this instance.
    AdvertReceived(Advert),
    /// [`Timer::Advert`] fired.
    AdvertTimerFired,
    /// [`Timer::MasterDown`] fired. `last_advert_seen`: when the data plane last saw a valid
    /// advert of this instance (kernel time, converted to `Instant`), if ever.
    MasterDownTimerFired { last_advert_seen: Option<Instant> },
    /// [`Timer::PreemptDelay`] fired; `last_advert_seen` as for `MasterDownTimerFired`.
    PreemptDelayTimerFired { last_advert_seen: Option<Instant> },
    /// The effective priority (configured priority adjusted by tracking) changed.
    PriorityChanged(u8),
    /// Tracking or link watch reports a fault (e.g. link down).
    FaultDetected,
    /// The fault is gone (e.g. link up): start again as on Startup (§6.4.1).
    FaultCleared,
    /// Sync group: another member became Master. A Backup becomes Master at once (keepalived's
    /// `vrrp_sync_master`); any other state ignores it.
    SyncToMaster,
    /// Sync group: another member left Master for Backup. A Master becomes Backup (without a
    /// priority-0 advert, as on a higher-priority advert); any other state ignores it.
    SyncToBackup,
    /// Sync group: the group lets this member take over (it is Master, or every other member
    /// wants Master too). A Backup that still wants Master ([`Action::WantsMaster`]) becomes
    /// Master for the reason it wanted to; otherwise it is ignored (the wish was dropped
    /// while the answer was on its way).
    SyncMayTakeOver,
    /// Sync group: a member is faulted. The machine stays in Fault (a Master sends priority 0
    /// first) until [`Event::SyncFaultCleared`], whatever its own fault does meanwhile.
    SyncFault,
    /// Sync group: no member is faulted any more. Without a fault of its own the machine starts
    /// again as on [`Event::FaultCleared`].
    SyncFaultCleared,
}

impl Event {
    /// The event for a fired timer; `last_advert_seen` is only used by the Backup's timers.
    pub fn timer_fired(timer: Timer, last_advert_seen: Option<Instant>) -> Event {
        match timer {
            Timer::Advert => Event::AdvertTimerFired,
            Timer::MasterDown => Event::MasterDownTimerFired { last_advert_seen },
            Timer::PreemptDelay => Event::PreemptDelayTimerFired { last_advert_seen },
        }
    }
}

/// What the daemon must do, in the order given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// The state changed; always the first action of a transition. Log it, notify, update status.
    StateChanged {
        from: State,
        to: State,
        reason: Reason,
    },
    /// Send an advert with this priority and our configured Advertisement_Interval.
    SendAdvert { priority: u8 },
    /// Add the virtual addresses (and claim them in the data plane).
    AddVips,
    /// Remove the virtual addresses (and release them in the data plane).
    RemoveVips,
    /// Send the gratuitous ARP / unsolicited NA burst for the virtual addresses (§6.4.1, §6.4.2).
    SendGratuitous,
    /// Set `timer` to fire at `at` (always later than the event's `now`), replacing any deadline.
    ArmTimer { timer: Timer, at: Instant },
    /// Stop `timer`.
    CancelTimer(Timer),
    /// The advert was not processed; count it.
    Dropped(DropReason),
    /// Sync group member only: `true`, its election is won (Master_Down_Timer or preempt delay
    /// ran out) but it stays Backup until [`Event::SyncMayTakeOver`]; repeated each time the
    /// re-armed Master_Down_Timer runs out again. `false`: it heard a Master it honours and no
    /// longer wants to take over. Tell the group.
    WantsMaster(bool),
}

/// Why the state changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Startup event (§6.4.1): an owner becomes Master at once, others Backup.
    Startup { owner: bool },
    /// The fault cleared; handled like Startup (§6.4.1).
    FaultCleared { owner: bool },
    /// A fault was reported (or we started while one was present).
    FaultDetected,
    /// Shutdown event.
    Shutdown,
    /// Backup → Master: Master_Down_Timer ran out (§6.4.2); no advert we honour for `silent_for`.
    MasterDown { silent_for: Duration },
    /// Backup → Master: the Master sent priority 0 and Skew_Time passed with no new Master.
    PriorityZeroReceived { source: IpAddr },
    /// Backup → Master: we preempted a Master of lower priority (preempt on, §6.4.2).
    Preempted { master: IpAddr, priority: u8 },
    /// Master → Backup: an advert of higher priority (§6.4.3).
    HigherPriorityAdvert { source: IpAddr, priority: u8 },
    /// Master → Backup: equal priority and a higher primary address (§6.4.3).
    EqualPriorityHigherAddress { source: IpAddr, priority: u8 },
    /// The sync group moved this member with another one ([`Event::SyncToMaster`],
    /// [`Event::SyncToBackup`], [`Event::SyncFault`]).
    SyncGroup,
    /// The sync group's fault ended ([`Event::SyncFaultCleared`]); handled like Startup.
    SyncFaultCleared { owner: bool },
}

/// Why an advert was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// The instance is in Initialize or Fault and processes no adverts.
    Inactive(State),
    /// The advert is of the other protocol version.
    VersionMismatch { ours: Version, theirs: Version },
    /// VRRPv2: the advert's interval differs from ours (RFC 3768 §7.1: MUST discard, SHOULD log).
    IntervalMismatch {
        ours: AdvertInterval,
        theirs: AdvertInterval,
    },
    /// The advertised interval is 0 or does not fit its field.
    InvalidInterval(AdvertInterval),
    /// The source is of the other address family than our primary address.
    AddressFamilyMismatch,
    /// The source is our own primary address.
    OwnAddress,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Startup { owner: true } => f.write_str("startup as address owner"),
            Reason::Startup { owner: false } => f.write_str("startup"),
            Reason::FaultCleared { owner: true } => f.write_str("fault cleared, address owner"),
            Reason::FaultCleared { owner: false } => f.write_str("fault cleared"),
            Reason::FaultDetected => f.write_str("fault detected"),
            Reason::Shutdown => f.write_str("shutdown"),
            Reason::MasterDown { silent_for } => {
                write!(f, "master down: no advert for {silent_for:?}")
            }
            Reason::PriorityZeroReceived { source } => {
                write!(f, "master {source} resigned (priority 0)")
            }
            Reason::Preempted { master, priority } => {
                write!(f, "preempted master {master} of lower priority {priority}")
            }
            Reason::HigherPriorityAdvert { source, priority } => {
                write!(f, "advert of higher priority {priority} from {source}")
            }
            Reason::EqualPriorityHigherAddress { source, priority } => write!(
                f,
                "advert of equal priority {priority} from higher address {source}"
            ),
            Reason::SyncGroup => f.write_str("sync group"),
            Reason::SyncFaultCleared { owner: true } => {
                f.write_str("sync group fault cleared, address owner")
            }
            Reason::SyncFaultCleared { owner: false } => f.write_str("sync group fault cleared"),
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DropReason::Inactive(state) => write!(f, "instance is in {state}"),
            DropReason::VersionMismatch { ours, theirs } => {
                write!(f, "{theirs} advert for a {ours} instance")
            }
            DropReason::IntervalMismatch { ours, theirs } => {
                write!(f, "advert interval {theirs} differs from ours, {ours}")
            }
            DropReason::InvalidInterval(interval) => {
                write!(f, "advert interval {interval} is out of range")
            }
            DropReason::AddressFamilyMismatch => {
                f.write_str("source address of the other address family")
            }
            DropReason::OwnAddress => f.write_str("source is our own primary address"),
        }
    }
}
