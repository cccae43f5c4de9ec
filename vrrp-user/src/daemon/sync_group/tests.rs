//! The coordinator's rules, without tasks or I/O.
use super::*;

fn group() -> Coordinator {
    Coordinator::new(&["VI_1".into(), "VI_2".into(), "VI_3".into()])
}

fn own(from: State, to: State) -> Report {
    Report::Transition {
        from,
        to,
        forced: false,
    }
}

fn forced(from: State, to: State) -> Report {
    Report::Transition {
        from,
        to,
        forced: true,
    }
}

fn force(members: &[&str], force: Force) -> Vec<(String, Force)> {
    members.iter().map(|m| (m.to_string(), force)).collect()
}

/// All three members started and reported Backup.
fn started() -> Coordinator {
    let mut g = group();
    let first = g.report("VI_1", own(State::Initialize, State::Backup));
    assert_eq!(
        first,
        Outcome {
            forced: vec![],
            entered: Some(State::Backup)
        }
    );
    for m in ["VI_2", "VI_3"] {
        assert_eq!(
            g.report(m, own(State::Initialize, State::Backup)),
            Outcome::default()
        );
    }
    g
}

/// Started, then VI_1 won its election and took the others along.
fn mastered() -> Coordinator {
    let mut g = started();
    g.report("VI_1", own(State::Backup, State::Master));
    for m in ["VI_2", "VI_3"] {
        assert_eq!(
            g.report(m, forced(State::Backup, State::Master)),
            Outcome::default()
        );
    }
    g
}

#[test]
fn a_member_becoming_master_takes_the_backups_along() {
    let mut g = started();
    assert_eq!(
        g.report("VI_2", own(State::Backup, State::Master)),
        Outcome {
            forced: force(&["VI_1", "VI_3"], Force::ToMaster),
            entered: Some(State::Master),
        }
    );
    assert_eq!(g.state(), State::Master);
    // The others' forced moves and a second own takeover change nothing.
    assert_eq!(
        g.report("VI_1", forced(State::Backup, State::Master)),
        Outcome::default()
    );
    assert_eq!(
        g.report("VI_3", own(State::Backup, State::Master)),
        Outcome::default()
    );
}

#[test]
fn a_master_member_falling_back_takes_the_others_to_backup() {
    let mut g = mastered();
    assert_eq!(
        g.report("VI_3", own(State::Master, State::Backup)),
        Outcome {
            forced: force(&["VI_1", "VI_2"], Force::ToBackup),
            entered: Some(State::Backup),
        }
    );
    assert_eq!(
        g.report("VI_1", forced(State::Master, State::Backup)),
        Outcome::default()
    );
}

#[test]
fn a_stale_forced_move_is_corrected() {
    let mut g = started();
    g.report("VI_1", own(State::Backup, State::Master));
    // VI_1 fell back before VI_2's forced move to Master was reported.
    g.report("VI_1", own(State::Master, State::Backup));
    assert_eq!(g.state(), State::Backup);
    assert_eq!(
        g.report("VI_2", forced(State::Backup, State::Master))
            .forced,
        force(&["VI_2"], Force::ToBackup)
    );
}

#[test]
fn a_fault_holds_every_member_in_fault_until_no_member_is_faulted() {
    let mut g = mastered();
    assert_eq!(
        g.report("VI_2", Report::OwnFault(true)),
        Outcome {
            forced: force(&["VI_1", "VI_2", "VI_3"], Force::Fault),
            entered: Some(State::Fault),
        }
    );
    // The members' moves to Fault, and a second member's fault, change nothing more.
    assert_eq!(
        g.report("VI_2", own(State::Master, State::Fault)),
        Outcome::default()
    );
    assert_eq!(
        g.report("VI_1", forced(State::Master, State::Fault)),
        Outcome::default()
    );
    assert_eq!(g.report("VI_3", Report::OwnFault(true)), Outcome::default());
    // VI_2 recovers, VI_3 is still faulted.
    assert_eq!(
        g.report("VI_2", Report::OwnFault(false)),
        Outcome::default()
    );
    assert_eq!(g.state(), State::Fault);
    assert_eq!(
        g.report("VI_3", Report::OwnFault(false)),
        Outcome {
            forced: force(&["VI_1", "VI_2", "VI_3"], Force::FaultCleared),
            entered: None,
        }
    );
    // The group follows the first member back.
    assert_eq!(
        g.report("VI_3", forced(State::Fault, State::Backup))
            .entered,
        Some(State::Backup)
    );
    assert_eq!(
        g.report("VI_1", forced(State::Fault, State::Backup)),
        Outcome::default()
    );
    assert_eq!(g.state(), State::Backup);
}

#[test]
fn an_owner_back_from_a_fault_makes_the_group_master() {
    let mut g = started();
    g.report("VI_1", Report::OwnFault(true));
    for m in ["VI_1", "VI_2", "VI_3"] {
        g.report(m, forced(State::Backup, State::Fault));
    }
    g.report("VI_1", Report::OwnFault(false));
    assert_eq!(
        g.report("VI_1", forced(State::Fault, State::Master)),
        Outcome {
            forced: force(&["VI_2", "VI_3"], Force::ToMaster),
            entered: Some(State::Master),
        }
    );
}

#[test]
fn moves_during_a_fault_do_not_move_the_group() {
    let mut g = started();
    g.report("VI_1", Report::OwnFault(true));
    assert_eq!(
        g.report("VI_2", own(State::Backup, State::Master)),
        Outcome::default()
    );
    assert_eq!(g.state(), State::Fault);
}

#[test]
fn a_restarted_member_joins_the_groups_state() {
    let mut g = mastered();
    assert_eq!(g.attached("VI_2", false), Outcome::default());
    assert_eq!(
        g.report("VI_2", own(State::Initialize, State::Backup))
            .forced,
        force(&["VI_2"], Force::ToMaster)
    );
    // While the group is in Fault, a restarted member is held there.
    g.report("VI_1", Report::OwnFault(true));
    assert_eq!(
        g.attached("VI_3", false).forced,
        force(&["VI_3"], Force::Fault)
    );
    // A restart forgets the old task's fault: the new one reports its own.
    assert_eq!(
        g.attached("VI_1", false).forced,
        force(&["VI_1", "VI_2", "VI_3"], Force::FaultCleared)
    );
}

#[test]
fn strangers_are_ignored() {
    let mut g = started();
    assert_eq!(
        g.report("VI_9", own(State::Backup, State::Master)),
        Outcome::default()
    );
    assert_eq!(g.report("VI_9", Report::OwnFault(true)), Outcome::default());
    assert_eq!(g.attached("VI_9", false), Outcome::default());
    assert_eq!(g.state(), State::Backup);
}

// ---- keepalived's "only sync to master if everyone wants to" ------------------------------

fn wants(g: &mut Coordinator, member: &str) -> Outcome {
    g.report(member, Report::WantsMaster(true))
}

fn may_take_over(member: &str) -> Outcome {
    Outcome {
        forced: force(&[member], Force::TakeOver),
        entered: None,
    }
}

#[test]
fn a_member_takes_over_only_once_every_other_member_wants_master() {
    let mut g = started();
    assert_eq!(wants(&mut g, "VI_1"), Outcome::default());
    assert_eq!(wants(&mut g, "VI_2"), Outcome::default());
    assert_eq!(g.state(), State::Backup);
    // The last one to want it is let go; it takes the others along as it becomes Master.
    assert_eq!(wants(&mut g, "VI_3"), may_take_over("VI_3"));
    assert_eq!(g.state(), State::Backup);
    assert_eq!(
        g.report("VI_3", own(State::Backup, State::Master)),
        Outcome {
            forced: force(&["VI_1", "VI_2"], Force::ToMaster),
            entered: Some(State::Master),
        }
    );
}

#[test]
fn a_member_that_hears_a_better_master_holds_the_group_back() {
    // Crossing priorities on two routers: VI_2 hears the other router's VI_2 and defers to it,
    // so this router's group stays Backup although VI_1 and VI_3 won their elections.
    let mut g = started();
    wants(&mut g, "VI_1");
    wants(&mut g, "VI_2");
    assert_eq!(
        g.report("VI_2", Report::WantsMaster(false)),
        Outcome::default()
    );
    assert_eq!(wants(&mut g, "VI_3"), Outcome::default());
    assert_eq!(wants(&mut g, "VI_1"), Outcome::default());
    // VI_2's Master goes away and VI_2 wins too.
    assert_eq!(wants(&mut g, "VI_2"), may_take_over("VI_2"));
}

#[test]
fn a_member_is_let_go_at_once_while_the_group_is_master() {
    let mut g = started();
    g.report("VI_1", own(State::Backup, State::Master));
    // VI_2's own timer ran out before the group's order reached it.
    assert_eq!(wants(&mut g, "VI_2"), may_take_over("VI_2"));
}

#[test]
fn a_member_that_is_not_running_holds_nobody_back() {
    let mut g = started();
    g.report("VI_3", own(State::Backup, State::Initialize));
    assert_eq!(wants(&mut g, "VI_1"), Outcome::default());
    assert_eq!(wants(&mut g, "VI_2"), may_take_over("VI_2"));
}

#[test]
fn no_member_is_let_go_while_the_group_is_in_fault() {
    let mut g = started();
    wants(&mut g, "VI_1");
    wants(&mut g, "VI_2");
    g.report("VI_3", Report::OwnFault(true));
    assert_eq!(g.state(), State::Fault);
    // VI_1's wish crossed the group's Fault order: refused.
    assert_eq!(wants(&mut g, "VI_1"), Outcome::default());
}

#[test]
fn a_move_or_a_restart_forgets_a_members_wish() {
    let mut g = started();
    wants(&mut g, "VI_1");
    wants(&mut g, "VI_2");
    // VI_1 restarts (a reload): back in Backup, it has not won anything yet.
    g.report("VI_1", own(State::Backup, State::Initialize));
    g.attached("VI_1", false);
    g.report("VI_1", own(State::Initialize, State::Backup));
    assert_eq!(wants(&mut g, "VI_3"), Outcome::default());
    // A wish from a member that is not Backup (overtaken by its own move) is ignored.
    g.report("VI_2", own(State::Backup, State::Fault));
    assert_eq!(wants(&mut g, "VI_2"), Outcome::default());
    assert_eq!(wants(&mut g, "VI_1"), Outcome::default());
}

/// A reload that forms a group of running instances: each joins in the state it is in.
#[test]
fn members_joining_as_they_are_settle_the_group_without_a_resignation() {
    // Two Masters and a Backup, joining one at a time: the group is Master with the first, and
    // only the Backup moves.
    let mut g = group();
    assert_eq!(
        g.joined("VI_1", State::Master, false),
        Outcome {
            forced: force(&["VI_2", "VI_3"], Force::ToMaster),
            entered: Some(State::Master)
        }
    );
    assert_eq!(g.joined("VI_2", State::Master, false), Outcome::default());
    assert_eq!(
        g.joined("VI_3", State::Backup, false).forced,
        force(&["VI_3"], Force::ToMaster)
    );
    assert_eq!(g.state(), State::Master);

    // Backups make a Backup group that lets nobody go alone.
    let mut g = group();
    for m in ["VI_1", "VI_2", "VI_3"] {
        g.joined(m, State::Backup, false);
    }
    assert_eq!(g.state(), State::Backup);
    assert_eq!(wants(&mut g, "VI_1"), Outcome::default());

    // A member with a fault of its own puts the group in Fault; one that joins later is held.
    let mut g = group();
    g.joined("VI_1", State::Master, false);
    assert_eq!(
        g.joined("VI_2", State::Fault, true),
        Outcome {
            forced: force(&["VI_1", "VI_2", "VI_3"], Force::Fault),
            entered: Some(State::Fault)
        }
    );
    assert_eq!(
        g.joined("VI_3", State::Backup, false).forced,
        force(&["VI_3"], Force::Fault)
    );
}

/// A reload that changes a group in Fault: VI_1's fault carries over to the new group.
#[test]
fn a_fault_carried_over_keeps_the_held_members_held() {
    let faults = ["VI_1".to_owned()].into();
    let mut g = Coordinator::with_faults(
        &["VI_1".into(), "VI_2".into(), "VI_3".into()],
        &faults,
        &BTreeSet::new(),
    );
    assert_eq!(g.state(), State::Fault);
    // VI_2, held by the old group, stays held: no order, so it never leaves Fault.
    assert_eq!(g.joined("VI_2", State::Fault, false), Outcome::default());
    // VI_3 is new to the group: it is held too.
    assert_eq!(
        g.joined("VI_3", State::Master, false).forced,
        force(&["VI_3"], Force::Fault)
    );
    // VI_1 is still faulted: nothing changes. Its fault ending releases everyone.
    assert_eq!(
        g.joined("VI_1", State::Fault, true).forced,
        force(&["VI_1"], Force::Fault)
    );
    assert_eq!(
        g.report("VI_1", Report::OwnFault(false)).forced,
        force(&["VI_1", "VI_2", "VI_3"], Force::FaultCleared)
    );

    // A fault that ended while the groups changed hands releases the group as its member joins.
    let mut g =
        Coordinator::with_faults(&["VI_1".into(), "VI_2".into()], &faults, &BTreeSet::new());
    assert_eq!(g.joined("VI_2", State::Fault, false), Outcome::default());
    assert_eq!(
        g.joined("VI_1", State::Fault, false).forced,
        force(&["VI_1", "VI_2"], Force::FaultCleared)
    );

    // A member held only by its old group is let go in a group that is not in Fault.
    let mut g = group();
    assert_eq!(
        g.joined("VI_2", State::Fault, false).forced,
        force(&["VI_2"], Force::FaultCleared)
    );
    // Faults of members outside the group do not count.
    let outside = ["VI_9".to_owned()].into();
    let g = Coordinator::with_faults(&["VI_1".into()], &outside, &BTreeSet::new());
    assert_eq!(g.state(), State::Initialize);
}

/// A member restarted by a reload with its fault still there keeps the group in Fault; one that
/// cannot start (waits for its interface) lets it go, as at start-up.
#[test]
fn a_restart_keeps_a_lasting_fault_and_a_member_that_cannot_start_holds_nothing() {
    let faults = ["VI_1".to_owned()].into();
    let mut g =
        Coordinator::with_faults(&["VI_1".into(), "VI_2".into()], &faults, &BTreeSet::new());
    assert_eq!(g.joined("VI_2", State::Fault, false), Outcome::default());
    assert_eq!(
        g.attached("VI_1", true).forced,
        force(&["VI_1"], Force::Fault)
    );
    assert_eq!(g.state(), State::Fault);
    assert_eq!(
        g.left("VI_1").forced,
        force(&["VI_1", "VI_2"], Force::FaultCleared)
    );

    // Started with a fault in a group that was not in Fault: the group enters it.
    let mut g = started();
    assert_eq!(
        g.attached("VI_3", true),
        Outcome {
            forced: force(&["VI_1", "VI_2", "VI_3"], Force::Fault),
            entered: Some(State::Fault)
        }
    );
}

/// Members a reload moves into a group join one at a time: the group does not settle as Backup
/// before the last of them, which may be Master, has joined.
#[test]
fn a_group_settles_once_every_joining_member_has_joined() {
    let members = ["VI_1".to_owned(), "VI_2".to_owned(), "VI_3".to_owned()];
    let joining: BTreeSet<String> = members[..2].iter().cloned().collect();
    let mut g = Coordinator::with_faults(&members, &BTreeSet::new(), &joining);
    // A Backup first: nothing yet (VI_3 is not running, and not awaited).
    assert_eq!(g.joined("VI_1", State::Backup, false), Outcome::default());
    assert_eq!(g.state(), State::Initialize);
    // Then a Master: the group is Master, never Backup on the way.
    assert_eq!(
        g.joined("VI_2", State::Master, false),
        Outcome {
            forced: force(&["VI_1", "VI_3"], Force::ToMaster),
            entered: Some(State::Master)
        }
    );

    // Backups only: Backup once the last has joined.
    let mut g = Coordinator::with_faults(&members, &BTreeSet::new(), &joining);
    assert_eq!(g.joined("VI_2", State::Backup, false), Outcome::default());
    assert_eq!(
        g.joined("VI_1", State::Backup, false).entered,
        Some(State::Backup)
    );

    // One that cannot join (it stopped) is not waited for.
    let mut g = Coordinator::with_faults(&members, &BTreeSet::new(), &joining);
    g.joined("VI_1", State::Backup, false);
    assert_eq!(g.left("VI_2").entered, Some(State::Backup));
}

/// A fault carried over that ends as its member joins last: the members held until then restart
/// and report afresh; what they reported before does not settle the group.
#[test]
fn a_fault_ending_on_the_last_join_waits_for_fresh_reports() {
    let members = ["VI_1".to_owned(), "VI_2".to_owned()];
    let faults = ["VI_1".to_owned()].into();
    let joining: BTreeSet<String> = members.iter().cloned().collect();
    let mut g = Coordinator::with_faults(&members, &faults, &joining);
    assert_eq!(
        g.joined("VI_2", State::Backup, false).forced,
        force(&["VI_2"], Force::Fault)
    );
    assert_eq!(
        g.joined("VI_1", State::Fault, false),
        Outcome {
            forced: force(&["VI_1", "VI_2"], Force::FaultCleared),
            entered: None
        }
    );
    assert_eq!(g.state(), State::Initialize);
    // And a wish to take over waits for members still to join.
    let mut g = Coordinator::with_faults(&members, &BTreeSet::new(), &joining);
    g.joined("VI_1", State::Backup, false);
    assert_eq!(wants(&mut g, "VI_1"), Outcome::default());
}
