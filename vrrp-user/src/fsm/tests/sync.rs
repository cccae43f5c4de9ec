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
