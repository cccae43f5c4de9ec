//! keepalived's `vrrp_sync_group` at run time: members change state together.
//!
//! [`Coordinator`] is the sans-IO core: fed what each member did (its transitions and its own
//! fault), it returns the transitions to force on the other members and the state the group
//! entered (for the group's notify scripts). The daemon runs one [`task`] per group, which
//! forwards the forced transitions to the member tasks as [`super::instance::Input::Sync`].
//!
//! Rules (keepalived 2.2's `vrrp_sync.c`, see the module's tests):
//! - a member does not take over on its own: when it wins its election (Master_Down_Timer or
//!   preempt delay ran out) it reports that it wants Master ([`Report::WantsMaster`]) and stays
//!   Backup. The group lets it go ([`Force::TakeOver`]) if the group is Master already or every
//!   other member wants Master too (keepalived's `wantstate` and `vrrp_sync_can_goto_master`:
//!   "only sync to master if everyone wants to, i.e. prefer backup state to avoid thrashing").
//!   A member that is not running (Initialize: stopped, or not started yet) does not hold the
//!   others back; it is made Master when it starts (below). A member that hears a Master it
//!   honours no longer wants Master. Otherwise the member waits another Master_Down_Interval and
//!   asks again. So with two routers that each prefer a different member, neither router's
//!   group takes over while the other's is Master, instead of both fighting for ever;
//! - a member becomes Master (so allowed, or as address owner): the group is Master and every
//!   other member that is Backup becomes Master at once (`vrrp_sync_master`);
//! - a member leaves Master for Backup: the group is Backup and every other Master member
//!   becomes Backup (`vrrp_sync_backup`);
//! - a member reports a fault of its own (link, tracked interface, script or file): the group is
//!   Fault and every member is held in Fault (a Master resigns with priority 0,
//!   `vrrp_sync_fault`) until no member has a fault of its own any more; then all start again
//!   as on Startup and the group is Backup once the first member is. No member can want Master
//!   meanwhile, so a faulted member never leaves the others waiting in Backup;
//! - a member that enters Backup from Initialize or Fault while the group is Master (a member
//!   restarted by a reload, or one that joins the group as a reload made it) is made Master too.
use std::collections::{BTreeMap, BTreeSet};

use crate::fsm::{Event, State};

pub mod task;

/// What a member tells its group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Report {
    /// Its state machine changed state; `forced`: on the group's order.
    Transition {
        from: State,
        to: State,
        forced: bool,
    },
    /// Its own fault (link or tracking) started (`true`) or ended.
    OwnFault(bool),
    /// It won its election and waits for the group's leave (`true`), or no longer wants Master.
    WantsMaster(bool),
}

/// A transition the group forces on a member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Force {
    /// The member that wants Master may take over.
    TakeOver,
    ToMaster,
    ToBackup,
    Fault,
    FaultCleared,
}

impl Force {
    /// The state machine's event for it.
    pub const fn event(self) -> Event {
        match self {
            Force::TakeOver => Event::SyncMayTakeOver,
            Force::ToMaster => Event::SyncToMaster,
            Force::ToBackup => Event::SyncToBackup,
            Force::Fault => Event::SyncFault,
            Force::FaultCleared => Event::SyncFaultCleared,
        }
    }

    pub const fn describe(self) -> &'static str {
        match self {
            Force::TakeOver => "to Master (everyone wants it)",
            Force::ToMaster => "to Master",
            Force::ToBackup => "to Backup",
            Force::Fault => "to Fault",
            Force::FaultCleared => "out of Fault",
        }
    }
}

/// What the group does after a report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Members to move, in membership order.
    pub forced: Vec<(String, Force)>,
    /// The state the group entered, for its notify scripts.
    pub entered: Option<State>,
}

/// One sync group's joint state. See the module documentation.
#[derive(Clone, Debug)]
pub struct Coordinator {
    /// Member names, in configuration order.
    members: Vec<String>,
    /// The last state each member reported.
    states: BTreeMap<String, State>,
    /// Members with a fault of their own.
    own_faults: BTreeSet<String>,
    /// Backup members that won their election and wait for the group (keepalived's
    /// `wantstate` Master).
    wants_master: BTreeSet<String>,
    /// Initialize until the first member settles (and again when a fault clears).
    state: State,
    /// Running members a reload moves into the group that have not joined yet: until the last
    /// of them has, the group does not settle as Backup (one still to come may be Master).
    joining: BTreeSet<String>,
}

impl Coordinator {
    #[cfg(test)]
    pub fn new(members: &[String]) -> Coordinator {
        Coordinator::with_faults(members, &BTreeSet::new(), &BTreeSet::new())
    }

    /// A group that replaces another on a reload: the members with a fault of their own in
    /// the groups it replaces hold it in Fault from the start (they stay faulted as they join
    /// it, and the members held with them stay held, instead of leaving Fault for an instant);
    /// the members `joining` will join it as they are ([`Coordinator::joined`]).
    pub fn with_faults(
        members: &[String],
        own_faults: &BTreeSet<String>,
        joining: &BTreeSet<String>,
    ) -> Coordinator {
        let own_faults: BTreeSet<String> = members
            .iter()
            .filter(|m| own_faults.contains(*m))
            .cloned()
            .collect();
        Coordinator {
            members: members.to_vec(),
            states: members
                .iter()
                .map(|m| (m.clone(), State::Initialize))
                .collect(),
            state: match own_faults.is_empty() {
                true => State::Initialize,
                false => State::Fault,
            },
            own_faults,
            wants_master: BTreeSet::new(),
            joining: members
                .iter()
                .filter(|m| joining.contains(*m))
                .cloned()
                .collect(),
        }
    }

    /// The members with a fault of their own.
    pub fn own_faults(&self) -> &BTreeSet<String> {
        &self.own_faults
    }

    /// The group's joint state (Initialize before the first member settled).
    pub fn state(&self) -> State {
        self.state
    }

    pub fn is_member(&self, name: &str) -> bool {
        self.members.iter().any(|m| m == name)
    }

    /// `member` did something.
    pub fn report(&mut self, member: &str, report: Report) -> Outcome {
        if !self.is_member(member) {
            return Outcome::default();
        }
        match report {
            // After a fault, the group follows the first member back, forced or not.
            Report::Transition { to, forced, .. } if forced && self.state != State::Initialize => {
                self.forced_transition(member, to)
            }
            Report::Transition { from, to, .. } => self.transition(member, from, to),
            Report::OwnFault(true) => self.own_fault(member),
            Report::OwnFault(false) => self.own_fault_cleared(member),
            Report::WantsMaster(true) => self.wants_master(member),
            Report::WantsMaster(false) => {
                self.wants_master.remove(member);
                Outcome::default()
            }
        }
    }

    /// `member` (re)started: a new instance task that knows nothing of the group yet, with a
    /// fault of its own from the start (`own_fault`: its link down, a tracked fault) or not. A
    /// fault the old task reported is forgotten; if the group is in Fault, the new task is
    /// held there too.
    pub fn attached(&mut self, member: &str, own_fault: bool) -> Outcome {
        if !self.is_member(member) {
            return Outcome::default();
        }
        self.record(member, State::Initialize);
        if own_fault {
            return self.faulted_member(member);
        }
        if self.own_faults.remove(member) && self.own_faults.is_empty() {
            return self.clear_fault();
        }
        let mut outcome = Outcome::default();
        if self.state == State::Fault {
            outcome.forced.push((member.to_owned(), Force::Fault));
        }
        outcome
    }

    /// `member`, running, joins the group in `state` (a reload made the group): the group
    /// settles from it as from a member that entered that state. A member in Fault without a
    /// fault of its own was held there by its old group: it stays held if this group is in
    /// Fault, else it starts again.
    pub fn joined(&mut self, member: &str, state: State, own_fault: bool) -> Outcome {
        if !self.is_member(member) {
            return Outcome::default();
        }
        self.joining.remove(member);
        let outcome = self.join(member, state, own_fault);
        self.settle_if_joined(outcome)
    }

    fn join(&mut self, member: &str, state: State, own_fault: bool) -> Outcome {
        self.record(member, state);
        if own_fault {
            return self.faulted_member(member);
        }
        if self.own_faults.remove(member) && self.own_faults.is_empty() {
            // Its fault ended while the groups changed hands.
            return self.clear_fault();
        }
        let hold = |force| Outcome {
            forced: vec![(member.to_owned(), force)],
            entered: None,
        };
        match (self.state, state) {
            (State::Fault, State::Fault) => Outcome::default(),
            (State::Fault, _) => hold(Force::Fault),
            (_, State::Fault) => hold(Force::FaultCleared),
            (_, state) => self.transition(member, State::Initialize, state),
        }
    }

    /// A member that has not run in this group yet (or not as this task) `left`: it no longer
    /// holds the group back, nor in Fault.
    pub fn left(&mut self, member: &str) -> Outcome {
        if !self.is_member(member) {
            return Outcome::default();
        }
        self.joining.remove(member);
        self.record(member, State::Initialize);
        if self.own_faults.remove(member) && self.own_faults.is_empty() {
            return self.clear_fault();
        }
        self.settle_if_joined(Outcome::default())
    }

    /// Once the last member a reload moved here has joined, a group that no member made
    /// Master (or Fault) settles as Backup if one of them is.
    fn settle_if_joined(&mut self, mut outcome: Outcome) -> Outcome {
        let backup = self.states.values().any(|state| *state == State::Backup);
        if self.joining.is_empty() && self.state == State::Initialize && backup {
            self.state = State::Backup;
            outcome.entered.get_or_insert(State::Backup);
        }
        outcome
    }

    /// A member that comes with a fault of its own: the group is in Fault, and the member held
    /// with the others, as its own fault may end before theirs.
    fn faulted_member(&mut self, member: &str) -> Outcome {
        let held_already = self.state == State::Fault;
        let mut outcome = self.own_fault(member);
        if held_already {
            outcome.forced.push((member.to_owned(), Force::Fault));
        }
        outcome
    }

    /// `vrrp_sync_can_goto_master`: the group is Master, or no other member holds it back.
    fn wants_master(&mut self, member: &str) -> Outcome {
        if self.states.get(member) != Some(&State::Backup) {
            // A report overtaken by a move of the member's own: it asks again if it still must.
            return Outcome::default();
        }
        self.wants_master.insert(member.to_owned());
        // A member a reload moves here that has not joined yet may be Master: not ready.
        let ready = |other: &String| {
            self.wants_master.contains(other)
                || !self.joining.contains(other)
                    && matches!(
                        self.states.get(other),
                        Some(State::Master | State::Initialize)
                    )
        };
        let may = match self.state {
            State::Fault => false,
            State::Master => true,
            State::Initialize | State::Backup => {
                self.members.iter().filter(|m| *m != member).all(ready)
            }
        };
        Outcome {
            forced: may
                .then(|| (member.to_owned(), Force::TakeOver))
                .into_iter()
                .collect(),
            entered: None,
        }
    }

    /// `member` is in `state` now. Whatever it wanted was for the state it left: a Backup
    /// asks again when it must.
    fn record(&mut self, member: &str, state: State) {
        self.states.insert(member.to_owned(), state);
        self.wants_master.remove(member);
    }

    fn transition(&mut self, member: &str, from: State, to: State) -> Outcome {
        self.record(member, to);
        let mut outcome = Outcome::default();
        match (from, to, self.state) {
            // A member moved while the group is in Fault (a report already on its way): the
            // fault decides.
            (_, _, State::Fault) => {}
            (_, State::Master, group) if group != State::Master => {
                self.state = State::Master;
                outcome.entered = Some(State::Master);
                outcome.forced = self.others(member, Force::ToMaster);
            }
            (State::Master, State::Backup, State::Master) => {
                self.state = State::Backup;
                outcome.entered = Some(State::Backup);
                outcome.forced = self.others(member, Force::ToBackup);
            }
            (State::Initialize | State::Fault, State::Backup, State::Master) => {
                outcome.forced.push((member.to_owned(), Force::ToMaster));
            }
            // Not while members a reload moved here have yet to join: one may be Master.
            (_, State::Backup, State::Initialize) if self.joining.is_empty() => {
                self.state = State::Backup;
                outcome.entered = Some(State::Backup);
            }
            _ => {}
        }
        outcome
    }

    /// A move the group ordered never moves the group; one that arrives after the group has
    /// moved on (two members changed at once) is corrected.
    fn forced_transition(&mut self, member: &str, to: State) -> Outcome {
        self.record(member, to);
        let correction = match (to, self.state) {
            (State::Master, State::Backup) => Some(Force::ToBackup),
            (State::Backup, State::Master) => Some(Force::ToMaster),
            _ => None,
        };
        Outcome {
            forced: correction
                .map(|force| (member.to_owned(), force))
                .into_iter()
                .collect(),
            entered: None,
        }
    }

    fn own_fault(&mut self, member: &str) -> Outcome {
        self.own_faults.insert(member.to_owned());
        if self.state == State::Fault {
            return Outcome::default();
        }
        self.state = State::Fault;
        Outcome {
            // The member at fault too: it must stay in Fault while another member is faulted,
            // even once its own fault has ended.
            forced: self.all(Force::Fault),
            entered: Some(State::Fault),
        }
    }

    fn own_fault_cleared(&mut self, member: &str) -> Outcome {
        if !self.own_faults.remove(member) || !self.own_faults.is_empty() {
            return Outcome::default();
        }
        self.clear_fault()
    }

    fn clear_fault(&mut self) -> Outcome {
        if self.state != State::Fault {
            return Outcome::default();
        }
        // The members report Backup (or Master, an owner) as they start again; the group
        // follows the first of them. What they reported before the fault is stale.
        self.state = State::Initialize;
        self.states
            .values_mut()
            .for_each(|state| *state = State::Initialize);
        Outcome {
            forced: self.all(Force::FaultCleared),
            entered: None,
        }
    }

    fn others(&self, member: &str, force: Force) -> Vec<(String, Force)> {
        // Sent to every other member not known to be there already: a report on its way may
        // be stale, and the state machine ignores a move that does not apply.
        let target = match force {
            Force::ToMaster => State::Master,
            _ => State::Backup,
        };
        self.members
            .iter()
            .filter(|m| *m != member && self.states.get(*m) != Some(&target))
            .map(|m| (m.clone(), force))
            .collect()
    }

    fn all(&self, force: Force) -> Vec<(String, Force)> {
        self.members.iter().map(|m| (m.clone(), force)).collect()
    }
}

#[cfg(test)]
mod tests;
