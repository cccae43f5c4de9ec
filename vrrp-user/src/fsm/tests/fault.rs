//! Fault: entered and left on tracking / link-watch events.
use super::*;

const DOWN: u64 = 3_609_375;

#[test]
fn a_backup_in_fault_stops_its_timers() {
    let c = Clock::new();
    let mut vr = started_backup(config(v3(100), 100), c.s(0), us(DOWN));
    assert_eq!(
        vr.handle(Event::FaultDetected, c.s(1)),
        vec![
            changed(State::Backup, State::Fault, Reason::FaultDetected),
            Action::CancelTimer(Timer::MasterDown),
        ]
    );
    assert_eq!(vr.state(), State::Fault);
    assert_eq!(vr.handle(Event::FaultDetected, c.s(1)), vec![]);
    // No adverts processed, no timers honoured while in Fault.
    assert_eq!(
        vr.handle(advert(HIGHER_V4, 200, v3(100)), c.s(2)),
        vec![Action::Dropped(DropReason::Inactive(State::Fault))]
    );
    assert_eq!(vr.handle(down_fired(None), c.us(DOWN)), vec![]);
    assert_eq!(vr.handle(Event::AdvertTimerFired, c.s(5)), vec![]);
}

#[test]
fn a_master_in_fault_resigns_and_releases_the_addresses() {
    let c = Clock::new();
    let mut vr = master_after_silence(config(v3(100), 100), c.s(0), us(DOWN));
    assert_eq!(
        vr.handle(Event::FaultDetected, c.s(4)),
        vec![
            changed(State::Master, State::Fault, Reason::FaultDetected),
            Action::CancelTimer(Timer::Advert),
            send(0),
            Action::RemoveVips,
        ]
    );
    assert_eq!(vr.timer(Timer::Advert), None);
}

#[test]
fn fault_cleared_starts_over_as_backup_with_the_configured_interval() {
    // Like Startup (§6.4.1): Master_Adver_Interval = Advertisement_Interval again.
    let c = Clock::new();
    let mut vr = started_backup(config(v3(100), 100), c.s(0), us(DOWN));
    vr.handle(advert(HIGHER_V4, 200, v3(50)), c.s(1));
    vr.handle(Event::FaultDetected, c.s(2));
    assert_eq!(
        vr.handle(Event::FaultCleared, c.s(3)),
        vec![
            changed(
                State::Fault,
                State::Backup,
                Reason::FaultCleared { owner: false }
            ),
            arm(Timer::MasterDown, c.us(3_000_000 + DOWN)),
        ]
    );
    assert_eq!(vr.master_adver_interval(), v3(100));
    assert_eq!(vr.current_master(), None);
    assert_eq!(vr.handle(Event::FaultCleared, c.s(3)), vec![]);
}

#[test]
fn fault_cleared_makes_the_owner_master_again() {
    let c = Clock::new();
    let mut vr = router(config(v2(1), 255));
    vr.handle(Event::Startup, c.s(0));
    vr.handle(Event::FaultDetected, c.s(1));
    assert_eq!(
        vr.handle(Event::FaultCleared, c.s(2)),
        becomes_master(
            State::Fault,
            Reason::FaultCleared { owner: true },
            255,
            c.s(2),
            Duration::from_secs(1)
        )
    );
}

#[test]
fn a_fault_present_at_startup_holds_the_router_in_fault() {
    let c = Clock::new();
    let mut vr = router(config(v3(100), 100));
    assert_eq!(vr.handle(Event::FaultDetected, c.s(0)), vec![]);
    assert_eq!(vr.state(), State::Initialize);
    assert_eq!(
        vr.handle(Event::Startup, c.s(1)),
        vec![changed(
            State::Initialize,
            State::Fault,
            Reason::FaultDetected
        )]
    );
    assert_eq!(
        vr.handle(Event::FaultCleared, c.s(2)),
        vec![
            changed(
                State::Fault,
                State::Backup,
                Reason::FaultCleared { owner: false }
            ),
            arm(Timer::MasterDown, c.us(2_000_000 + DOWN)),
        ]
    );
}

#[test]
fn shutdown_in_fault_and_fault_changes_while_stopped() {
    let c = Clock::new();
    let mut vr = started_backup(config(v3(100), 100), c.s(0), us(DOWN));
    vr.handle(Event::FaultDetected, c.s(1));
    assert_eq!(
        vr.handle(Event::Shutdown, c.s(2)),
        vec![changed(State::Fault, State::Initialize, Reason::Shutdown)]
    );
    // Stopped: the fault clearing does not start anything.
    assert_eq!(vr.handle(Event::FaultCleared, c.s(3)), vec![]);
    assert_eq!(vr.state(), State::Initialize);
    started_backup_again(&mut vr, c.s(4));
}

fn started_backup_again(vr: &mut VirtualRouter, now: Instant) {
    assert_eq!(
        vr.handle(Event::Startup, now),
        vec![
            changed(
                State::Initialize,
                State::Backup,
                Reason::Startup { owner: false }
            ),
            arm(Timer::MasterDown, now + us(DOWN)),
        ]
    );
}

#[test]
fn fault_cancels_the_preempt_delay_timer_too() {
    let c = Clock::new();
    let config = Config {
        preempt_delay: Duration::from_secs(5),
        ..config(v3(100), 150)
    };
    let mut vr = started_backup(config, c.s(0), ns(3_414_062_500));
    vr.handle(advert(LOWER_V4, 100, v3(100)), c.s(1));
    assert_eq!(vr.timer(Timer::PreemptDelay), Some(c.s(5)));
    assert_eq!(
        vr.handle(Event::FaultDetected, c.s(2)),
        vec![
            changed(State::Backup, State::Fault, Reason::FaultDetected),
            Action::CancelTimer(Timer::MasterDown),
            Action::CancelTimer(Timer::PreemptDelay),
        ]
    );
    // Leaving Fault restarts the delay (keepalived), but with no Master known no timer yet.
    vr.handle(Event::FaultCleared, c.s(3));
    assert_eq!(
        vr.handle(advert(LOWER_V4, 100, v3(100)), c.s(4)),
        vec![
            arm(Timer::MasterDown, c.ns(7_414_062_500)),
            arm(Timer::PreemptDelay, c.s(8)),
        ]
    );
}

#[test]
fn priority_changes_in_fault_apply_on_return() {
    let c = Clock::new();
    let mut vr = started_backup(config(v3(100), 100), c.s(0), us(DOWN));
    vr.handle(Event::FaultDetected, c.s(1));
    assert_eq!(vr.handle(Event::PriorityChanged(200), c.s(2)), vec![]);
    // Priority 200: 3 s + 218.75 ms.
    assert_eq!(
        vr.handle(Event::FaultCleared, c.s(3)),
        vec![
            changed(
                State::Fault,
                State::Backup,
                Reason::FaultCleared { owner: false }
            ),
            arm(Timer::MasterDown, c.us(6_218_750)),
        ]
    );
}
