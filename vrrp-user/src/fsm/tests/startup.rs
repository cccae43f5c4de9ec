//! Initialize (RFC 5798 §6.4.1), Startup and Shutdown.
use super::*;

#[test]
fn v3_non_owner_starts_as_backup_with_master_down_interval() {
    // Priority 100 at 100 cs: Skew_Time = 156 × 1 s / 256 = 609.375 ms, Master_Down = 3.609375 s.
    let c = Clock::new();
    let vr = started_backup(config(v3(100), 100), c.s(0), us(3_609_375));
    assert_eq!(vr.master_adver_interval(), v3(100));
    assert_eq!(vr.skew_time(), us(609_375));
    assert_eq!(vr.master_down_interval(), us(3_609_375));
    assert_eq!(vr.timer(Timer::MasterDown), Some(c.us(3_609_375)));
    assert_eq!(vr.timer(Timer::Advert), None);
    assert_eq!(vr.current_master(), None);
}

#[test]
fn v2_and_v3_skew_differ_at_two_second_intervals() {
    // v2 (RFC 3768 §6.1): skew = 156/256 s whatever the interval: 6 s + 609.375 ms.
    let c = Clock::new();
    let vr = started_backup(config(v2(2), 100), c.s(5), us(6_609_375));
    assert_eq!(vr.skew_time(), us(609_375));
    // v3 (RFC 5798 §6.1): skew = 156 × 2 s / 256 = 1.21875 s: 6 s + 1.21875 s.
    let vr = started_backup(config(v3(200), 100), c.s(5), us(7_218_750));
    assert_eq!(vr.skew_time(), us(1_218_750));
}

#[test]
fn v3_priority_254_at_one_centisecond_keeps_its_sub_millisecond_skew() {
    // 3 × 10 ms + 2 × 10 ms / 256 = 30.078125 ms; truncating the skew would give 30 ms.
    let c = Clock::new();
    let vr = started_backup(config(v3(1), 254), c.ms(7), ns(30_078_125));
    assert_eq!(vr.skew_time(), ns(78_125));
    assert_eq!(vr.timer(Timer::MasterDown), Some(c.ns(37_078_125)));
}

#[test]
fn owner_becomes_master_at_once() {
    for (interval, period) in [
        (v3(100), Duration::from_secs(1)),
        (v2(3), Duration::from_secs(3)),
    ] {
        let c = Clock::new();
        let mut vr = router(config(interval, 255));
        assert_eq!(
            vr.handle(Event::Startup, c.ms(10)),
            becomes_master(
                State::Initialize,
                Reason::Startup { owner: true },
                255,
                c.ms(10),
                period
            )
        );
        assert_eq!(vr.state(), State::Master);
        assert_eq!(vr.timer(Timer::Advert), Some(c.ms(10) + period));
        assert_eq!(vr.timer(Timer::MasterDown), None);
    }
}

#[test]
fn owner_priority_cannot_be_changed() {
    let c = Clock::new();
    let mut vr = router(config(v3(100), 255));
    vr.handle(Event::Startup, c.s(0));
    assert_eq!(vr.handle(Event::PriorityChanged(50), c.s(1)), vec![]);
    assert_eq!(vr.priority(), 255);
}

#[test]
fn repeated_startup_and_shutdown_are_ignored() {
    let c = Clock::new();
    let mut vr = router(config(v3(100), 100));
    assert_eq!(vr.handle(Event::Shutdown, c.s(0)), vec![]);
    vr.handle(Event::Startup, c.s(0));
    assert_eq!(vr.handle(Event::Startup, c.s(1)), vec![]);
    assert_eq!(vr.timer(Timer::MasterDown), Some(c.us(3_609_375)));
}

#[test]
fn initialize_drops_adverts_and_ignores_timers() {
    let c = Clock::new();
    let mut vr = router(config(v3(100), 100));
    assert_eq!(
        vr.handle(advert(HIGHER_V4, 200, v3(100)), c.s(0)),
        vec![Action::Dropped(DropReason::Inactive(State::Initialize))]
    );
    assert_eq!(vr.handle(down_fired(None), c.s(9)), vec![]);
    assert_eq!(vr.handle(Event::AdvertTimerFired, c.s(9)), vec![]);
    assert_eq!(vr.handle(delay_fired(None), c.s(9)), vec![]);
    // A priority change is remembered for later.
    assert_eq!(vr.handle(Event::PriorityChanged(200), c.s(9)), vec![]);
    started_again(&mut vr, c.s(10));
}

/// Startup at `now` of a priority-200, 100 cs router: 3 s + 56/256 s.
fn started_again(vr: &mut VirtualRouter, now: Instant) {
    assert_eq!(
        vr.handle(Event::Startup, now),
        vec![
            changed(
                State::Initialize,
                State::Backup,
                Reason::Startup { owner: false }
            ),
            arm(Timer::MasterDown, now + us(3_218_750)),
        ]
    );
}

#[test]
fn shutdown_as_backup_cancels_the_master_down_timer() {
    // §6.4.2: "Cancel the Master_Down_Timer; Transition to the {Initialize} state".
    let c = Clock::new();
    let mut vr = started_backup(config(v3(100), 100), c.s(0), us(3_609_375));
    assert_eq!(
        vr.handle(Event::Shutdown, c.s(1)),
        vec![
            changed(State::Backup, State::Initialize, Reason::Shutdown),
            Action::CancelTimer(Timer::MasterDown),
        ]
    );
    assert_eq!(vr.state(), State::Initialize);
    assert_eq!(vr.timer(Timer::MasterDown), None);
    // The fire that was already on its way is stale.
    assert_eq!(vr.handle(down_fired(None), c.us(3_609_375)), vec![]);
}

#[test]
fn shutdown_as_master_resigns_with_priority_zero() {
    // §6.4.3: "Cancel the Adver_Timer; Send an ADVERTISEMENT with Priority = 0; Transition to
    // the {Initialize} state" (and the addresses go).
    for interval in [v2(1), v3(100)] {
        let c = Clock::new();
        let mut vr = master_after_silence(config(interval, 100), c.s(0), us(3_609_375));
        assert_eq!(
            vr.handle(Event::Shutdown, c.s(5)),
            vec![
                changed(State::Master, State::Initialize, Reason::Shutdown),
                Action::CancelTimer(Timer::Advert),
                send(0),
                Action::RemoveVips,
            ]
        );
        assert_eq!(vr.state(), State::Initialize);
        assert_eq!(vr.handle(Event::AdvertTimerFired, c.us(4_609_375)), vec![]);
    }
}

#[test]
fn startup_after_shutdown_uses_the_configured_interval_again() {
    // A v3 Backup that adopted 50 cs goes back to its own 100 cs on the next Startup (§6.4.1).
    let c = Clock::new();
    let mut vr = started_backup(config(v3(100), 100), c.s(0), us(3_609_375));
    vr.handle(advert(HIGHER_V4, 200, v3(50)), c.s(1));
    assert_eq!(vr.master_adver_interval(), v3(50));
    vr.handle(Event::Shutdown, c.s(2));
    assert_eq!(
        vr.handle(Event::Startup, c.s(3)),
        vec![
            changed(
                State::Initialize,
                State::Backup,
                Reason::Startup { owner: false }
            ),
            arm(Timer::MasterDown, c.us(6_609_375)),
        ]
    );
    assert_eq!(vr.master_adver_interval(), v3(100));
}
