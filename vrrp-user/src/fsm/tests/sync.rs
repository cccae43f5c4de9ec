//! Sync groups: the transitions the daemon's group coordinator forces on a member.
use super::*;

/// Master_Down_Interval for v3, 1 s, priority 100: 3 s + (256 - 100) / 256 s.
const DOWN: u64 = 3_609_375;

#[test]
fn a_backup_synced_to_master_takes_over_at_once() {
    let c = Clock::new();
    let mut vr = started_backup(config(v3(100), 100), c.s(0), us(DOWN));
    // A Master is known and honoured: the group still moves us (keepalived's vrrp_sync_master).
    vr.handle(advert(HIGHER_V4, 200, v3(100)), c.us(500_000));
    assert_eq!(
        vr.handle(Event::SyncToMaster, c.us(700_001)),
        vec![
            changed(State::Backup, State::Master, Reason::SyncGroup),
            Action::CancelTimer(Timer::MasterDown),
            send(100),
            Action::AddVips,
            Action::SendGratuitous,
            arm(Timer::Advert, c.us(1_700_001)),
        ]
    );
    assert_eq!(vr.state(), State::Master);
    // Already Master: nothing more.
    assert_eq!(vr.handle(Event::SyncToMaster, c.us(800_000)), vec![]);
}

#[test]
fn a_master_synced_to_backup_releases_the_addresses_without_resigning() {
    let c = Clock::new();
    let mut vr = master_after_silence(config(v3(100), 100), c.s(0), us(DOWN));
    assert_eq!(
        vr.handle(Event::SyncToBackup, c.us(4_000_003)),
        vec![
            changed(State::Master, State::Backup, Reason::SyncGroup),
            Action::CancelTimer(Timer::Advert),
            Action::RemoveVips,
            arm(Timer::MasterDown, c.us(4_000_003 + DOWN)),
        ]
    );
    assert_eq!(vr.state(), State::Backup);
    assert_eq!(vr.handle(Event::SyncToBackup, c.s(5)), vec![]);
}

#[test]
fn a_master_that_had_adopted_another_interval_uses_its_own_once_master() {
    // §6.1: a Master's Master_Adver_Interval is its own. The last Master's (4 s) must not set
    // the Master_Down_Interval when the group moves us back to Backup.
    let c = Clock::new();
    let mut vr = started_backup(config(v3(100), 100), c.s(0), us(DOWN));
    vr.handle(advert(HIGHER_V4, 200, v3(400)), c.s(1));
    assert_eq!(vr.master_adver_interval(), v3(400));
    vr.handle(Event::SyncToMaster, c.s(2));
    assert_eq!(vr.master_adver_interval(), v3(100));
    assert_eq!(
        vr.handle(Event::SyncToBackup, c.s(3)),
        vec![
            changed(State::Master, State::Backup, Reason::SyncGroup),
            Action::CancelTimer(Timer::Advert),
            Action::RemoveVips,
            arm(Timer::MasterDown, c.us(3_000_000 + DOWN)),
        ]
    );
}

#[test]
fn an_owner_held_in_backup_by_its_group_preempts_even_with_preemption_off() {
    // §6.1: the owner "always preempts, independent of the setting of this flag".
    let c = Clock::new();
    let mut owner = config(v3(100), 255);
    owner.preempt = false;
    let mut vr = router(owner);
    vr.handle(Event::Startup, c.s(0));
    assert_eq!(vr.state(), State::Master);
    vr.handle(Event::SyncToBackup, c.s(1));
    // 3 s + (256 - 255) / 256 s.
    let down = c.ns(1_000_000_000 + 3_003_906_250);
    assert_eq!(vr.timer(Timer::MasterDown), Some(down));
    // A lower Master's advert is discarded: the timer is not reset, nor held by repeats.
    assert_eq!(vr.handle(advert(LOWER_V4, 100, v3(100)), c.s(2)), vec![]);
    assert_eq!(vr.postponed_by_adverts_seen(), None);
    let fired = vr.handle(down_fired(Some(c.s(4))), down);
    assert_eq!(vr.state(), State::Master, "{fired:?}");
}

#[test]
fn sync_moves_are_ignored_outside_backup_and_master() {
    let c = Clock::new();
    let mut vr = router(config(v3(100), 100));
    assert_eq!(vr.handle(Event::SyncToMaster, c.s(0)), vec![]);
    assert_eq!(vr.handle(Event::SyncToBackup, c.s(0)), vec![]);
    assert_eq!(vr.state(), State::Initialize);
    let mut vr = started_backup(config(v3(100), 100), c.s(0), us(DOWN));
    vr.handle(Event::FaultDetected, c.s(1));
    assert_eq!(vr.handle(Event::SyncToMaster, c.s(2)), vec![]);
    assert_eq!(vr.state(), State::Fault);
}

#[test]
fn a_synced_fault_holds_a_master_in_fault_until_the_group_clears_it() {
    let c = Clock::new();
    let mut vr = master_after_silence(config(v3(100), 100), c.s(0), us(DOWN));
    assert_eq!(
        vr.handle(Event::SyncFault, c.us(4_100_000)),
        vec![
            changed(State::Master, State::Fault, Reason::SyncGroup),
            Action::CancelTimer(Timer::Advert),
            send(0),
            Action::RemoveVips,
        ]
    );
    // Its own fault comes and goes meanwhile: still Fault, nothing happens.
    assert_eq!(vr.handle(Event::FaultDetected, c.s(5)), vec![]);
    assert_eq!(vr.handle(Event::FaultCleared, c.s(6)), vec![]);
    assert_eq!(vr.state(), State::Fault);
    assert_eq!(
        vr.handle(Event::SyncFaultCleared, c.us(7_000_009)),
        vec![
            changed(
                State::Fault,
                State::Backup,
                Reason::SyncFaultCleared { owner: false }
            ),
            arm(Timer::MasterDown, c.us(7_000_009 + DOWN)),
        ]
    );
    assert_eq!(vr.handle(Event::SyncFaultCleared, c.s(8)), vec![]);
}

#[test]
fn the_group_fault_ending_first_leaves_the_members_own_fault_in_charge() {
    let c = Clock::new();
    let mut vr = started_backup(config(v3(100), 100), c.s(0), us(DOWN));
    assert_eq!(
        vr.handle(Event::FaultDetected, c.s(1)),
        vec![
            changed(State::Backup, State::Fault, Reason::FaultDetected),
            Action::CancelTimer(Timer::MasterDown),
        ]
    );
    assert_eq!(vr.handle(Event::SyncFault, c.s(1)), vec![]);
    assert_eq!(vr.handle(Event::SyncFaultCleared, c.s(2)), vec![]);
    assert_eq!(vr.state(), State::Fault);
    assert_eq!(
        vr.handle(Event::FaultCleared, c.us(3_000_001)),
        vec![
            changed(
                State::Fault,
                State::Backup,
                Reason::FaultCleared { owner: false }
            ),
            arm(Timer::MasterDown, c.us(3_000_001 + DOWN)),
        ]
    );
}

#[test]
fn a_synced_fault_before_startup_starts_in_fault_and_the_owner_comes_back_master() {
    let c = Clock::new();
    let mut vr = router(config(v2(1), 255));
    assert_eq!(vr.handle(Event::SyncFault, c.s(0)), vec![]);
    assert_eq!(
        vr.handle(Event::Startup, c.s(1)),
        vec![changed(
            State::Initialize,
            State::Fault,
            Reason::FaultDetected
        )]
    );
    assert_eq!(
        vr.handle(Event::SyncFaultCleared, c.us(2_000_250)),
        becomes_master(
            State::Fault,
            Reason::SyncFaultCleared { owner: true },
            255,
            c.us(2_000_250),
            Duration::from_secs(1)
        )
    );
}

// ---- a member asks its group before taking over (keepalived's `wantstate`) ----------------

/// A started sync-group member in Backup, Master_Down_Timer at `DOWN` µs.
fn member_backup(c: Clock) -> VirtualRouter {
    let mut vr = router(config(v3(100), 100));
    vr.set_sync_member(true);
    assert_eq!(
        vr.handle(Event::Startup, c.s(0)),
        vec![
            changed(
                State::Initialize,
                State::Backup,
                Reason::Startup { owner: false }
            ),
            arm(Timer::MasterDown, c.us(DOWN)),
        ]
    );
    vr
}

/// What a member whose election is won at `now` does: ask, and wait Master_Down_Interval.
fn asks(now: Instant) -> Vec<Action> {
    vec![
        Action::WantsMaster(true),
        arm(Timer::MasterDown, now + us(DOWN)),
    ]
}

/// Becoming Master from Backup at `now` for `reason`, the Master_Down_Timer still armed.
fn takes_over(reason: Reason, now: Instant) -> Vec<Action> {
    let mut actions = becomes_master(State::Backup, reason, 100, now, us(1_000_000));
    actions.insert(1, Action::CancelTimer(Timer::MasterDown));
    actions
}

#[test]
fn a_member_whose_master_down_timer_runs_out_asks_the_group_and_stays_backup() {
    let c = Clock::new();
    let mut vr = member_backup(c);
    assert_eq!(vr.handle(down_fired(None), c.us(DOWN)), asks(c.us(DOWN)));
    assert_eq!(vr.state(), State::Backup);
    assert!(vr.wants_master());
    // No answer: it asks again each time the re-armed timer runs out.
    assert_eq!(
        vr.handle(down_fired(None), c.us(2 * DOWN)),
        asks(c.us(2 * DOWN))
    );
    // The group lets it go: Master, for the reason it won (silent since it entered Backup).
    assert_eq!(
        vr.handle(Event::SyncMayTakeOver, c.us(2 * DOWN + 17)),
        takes_over(
            Reason::MasterDown {
                silent_for: us(2 * DOWN)
            },
            c.us(2 * DOWN + 17)
        )
    );
    assert_eq!(vr.state(), State::Master);
    assert!(!vr.wants_master());
    assert_eq!(
        vr.handle(Event::SyncMayTakeOver, c.us(2 * DOWN + 18)),
        vec![]
    );
}

#[test]
fn a_member_that_hears_a_master_it_honours_drops_its_wish() {
    let c = Clock::new();
    let mut vr = member_backup(c);
    assert_eq!(vr.handle(down_fired(None), c.us(DOWN)), asks(c.us(DOWN)));
    assert_eq!(
        vr.handle(advert(HIGHER_V4, 150, v3(100)), c.us(DOWN + 250_003)),
        vec![
            Action::WantsMaster(false),
            arm(Timer::MasterDown, c.us(2 * DOWN + 250_003)),
        ]
    );
    assert!(!vr.wants_master());
    // The group's leave arrives too late: ignored.
    assert_eq!(
        vr.handle(Event::SyncMayTakeOver, c.us(DOWN + 250_004)),
        vec![]
    );
    assert_eq!(vr.state(), State::Backup);
    // Repeats of that Master seen by the kernel only: the timer is re-armed, nothing to drop.
    assert_eq!(
        vr.handle(down_fired(Some(c.us(2 * DOWN))), c.us(2 * DOWN + 250_003)),
        vec![arm(Timer::MasterDown, c.us(3 * DOWN))]
    );
}

#[test]
fn adverts_of_a_live_master_seen_only_by_the_kernel_drop_the_wish() {
    let c = Clock::new();
    let mut vr = member_backup(c);
    assert_eq!(vr.handle(down_fired(None), c.us(DOWN)), asks(c.us(DOWN)));
    let seen = c.us(2 * DOWN - 1_000);
    assert_eq!(
        vr.handle(down_fired(Some(seen)), c.us(2 * DOWN)),
        vec![
            Action::WantsMaster(false),
            arm(Timer::MasterDown, c.us(3 * DOWN - 1_000)),
        ]
    );
    assert!(!vr.wants_master());
}

#[test]
fn a_member_preempting_a_lower_master_keeps_its_wish_while_it_hears_it() {
    let c = Clock::new();
    let mut vr = member_backup(c);
    // Preemption on: a lower Master's adverts are discarded and keep nothing from happening.
    assert_eq!(
        vr.handle(advert(LOWER_V4, 50, v3(100)), c.us(500_000)),
        vec![]
    );
    let preempted = Reason::Preempted {
        master: LOWER_V4,
        priority: 50,
    };
    assert_eq!(
        vr.handle(down_fired(Some(c.us(DOWN - 1))), c.us(DOWN)),
        asks(c.us(DOWN))
    );
    assert_eq!(
        vr.handle(advert(LOWER_V4, 50, v3(100)), c.us(DOWN + 1)),
        vec![]
    );
    assert!(vr.wants_master());
    assert_eq!(
        vr.handle(Event::SyncMayTakeOver, c.us(DOWN + 2)),
        takes_over(preempted, c.us(DOWN + 2))
    );
}

#[test]
fn the_end_of_the_preempt_delay_asks_the_group_too() {
    let c = Clock::new();
    let mut vr = router(Config {
        preempt_delay: Duration::from_secs(5),
        ..config(v3(100), 100)
    });
    vr.set_sync_member(true);
    vr.handle(Event::Startup, c.s(0));
    // A lower Master is honoured during the delay (from startup, 5 s), then preempted.
    vr.handle(advert(LOWER_V4, 50, v3(100)), c.s(1));
    assert_eq!(
        vr.handle(delay_fired(Some(c.us(1_000_000))), c.s(5)),
        asks(c.s(5))
    );
    assert_eq!(vr.state(), State::Backup);
    assert!(vr.wants_master());
}

#[test]
fn leaving_backup_forgets_the_wish() {
    let c = Clock::new();
    let mut vr = member_backup(c);
    vr.handle(down_fired(None), c.us(DOWN));
    vr.handle(Event::FaultDetected, c.us(DOWN + 1));
    assert!(!vr.wants_master());
    assert_eq!(
        vr.handle(Event::FaultCleared, c.us(DOWN + 2)),
        vec![
            changed(
                State::Fault,
                State::Backup,
                Reason::FaultCleared { owner: false }
            ),
            arm(Timer::MasterDown, c.us(2 * DOWN + 2)),
        ]
    );
    assert_eq!(vr.handle(Event::SyncMayTakeOver, c.us(DOWN + 3)), vec![]);
    assert_eq!(vr.state(), State::Backup);
}
