//! A configuration change while running (reload): state and timers are kept.
use super::*;

/// Priority 100 at 100 cs: Master_Down_Interval 3.609375 s.
const DOWN: u64 = 3_609_375;
/// Priority 150 at 100 cs: 3.4140625 s.
const DOWN_150: u64 = 3_414_062_500;

fn master(c: Clock) -> VirtualRouter {
    master_after_silence(config(v3(100), 100), c.s(0), us(DOWN))
}

#[test]
fn an_unchanged_configuration_changes_nothing() {
    let c = Clock::new();
    let mut vr = master(c);
    let before = vr.timer(Timer::Advert);
    assert_eq!(vr.reconfigure(config(v3(100), 100), c.s(4)), Ok(vec![]));
    assert_eq!(vr.state(), State::Master);
    assert_eq!(vr.timer(Timer::Advert), before);
}

#[test]
fn a_master_advertises_a_new_interval_at_once() {
    let c = Clock::new();
    let mut vr = master(c);
    assert_eq!(
        vr.reconfigure(config(v3(50), 100), c.s(4)),
        Ok(vec![send(100), arm(Timer::Advert, c.ms(4_500))])
    );
    assert_eq!(vr.master_adver_interval(), v3(50));
    assert_eq!(vr.state(), State::Master);
    // The next adverts keep the new pace.
    assert_eq!(
        vr.handle(Event::AdvertTimerFired, c.ms(4_500)),
        vec![send(100), arm(Timer::Advert, c.s(5))]
    );
}

#[test]
fn a_new_priority_is_advertised_at_once_by_a_master() {
    let c = Clock::new();
    let mut vr = master(c);
    assert_eq!(vr.reconfigure(config(v3(100), 120), c.s(4)), Ok(vec![]));
    assert_eq!(
        vr.handle(Event::PriorityChanged(120), c.s(4)),
        vec![send(120), arm(Timer::Advert, c.s(5))]
    );
    assert_eq!(vr.priority(), 120);
}

#[test]
fn a_v3_backup_keeps_the_masters_interval() {
    let c = Clock::new();
    let mut vr = started_backup(config(v3(100), 100), c.s(0), us(DOWN));
    vr.handle(advert(HIGHER_V4, 200, v3(200)), c.s(1));
    let down = vr.master_down_interval();
    let timer = vr.timer(Timer::MasterDown);
    assert_eq!(vr.reconfigure(config(v3(50), 100), c.s(2)), Ok(vec![]));
    assert_eq!(vr.master_adver_interval(), v3(200));
    assert_eq!(vr.master_down_interval(), down);
    assert_eq!(vr.timer(Timer::MasterDown), timer);
}

#[test]
fn a_v3_backup_that_heard_no_master_takes_its_new_interval() {
    // §6.4.1: Master_Adver_Interval is the Advertisement_Interval until a Master is heard.
    let c = Clock::new();
    let mut vr = started_backup(config(v3(100), 100), c.s(0), us(DOWN));
    assert_eq!(vr.reconfigure(config(v3(50), 100), c.s(1)), Ok(vec![]));
    assert_eq!(vr.master_adver_interval(), v3(50));
    // 3 × 0.5 s + (256 − 100) / 256 × 0.5 s, for the next time the timer is set.
    assert_eq!(vr.master_down_interval(), ns(1_804_687_500));
    assert_eq!(vr.timer(Timer::MasterDown), Some(c.us(DOWN)));
}

#[test]
fn a_v2_backup_takes_its_new_interval_for_the_next_timer() {
    let c = Clock::new();
    let mut vr = started_backup(config(v2(1), 100), c.s(0), us(DOWN));
    assert_eq!(vr.reconfigure(config(v2(2), 100), c.s(1)), Ok(vec![]));
    // RFC 3768 §6.1: 3 × 2 s + (256 − 100) / 256 s (the v2 skew does not scale).
    assert_eq!(vr.master_down_interval(), us(6_609_375));
    // The running timer is left alone.
    assert_eq!(vr.timer(Timer::MasterDown), Some(c.us(DOWN)));
}

#[test]
fn turning_preemption_off_stops_the_preempt_delay() {
    let c = Clock::new();
    let delayed = Config {
        preempt_delay: Duration::from_secs(10),
        ..config(v3(100), 150)
    };
    let mut vr = started_backup(delayed.clone(), c.s(0), ns(DOWN_150));
    vr.handle(advert(LOWER_V4, 100, v3(100)), c.ms(800));
    assert_eq!(vr.timer(Timer::PreemptDelay), Some(c.s(10)));
    let no_preempt = Config {
        preempt: false,
        ..delayed
    };
    assert_eq!(
        vr.reconfigure(no_preempt, c.s(2)),
        Ok(vec![Action::CancelTimer(Timer::PreemptDelay)])
    );
    assert_eq!(vr.state(), State::Backup);
}

#[test]
fn identity_changes_are_refused_and_change_nothing() {
    let c = Clock::new();
    let mut vr = master(c);
    let cases = [
        (
            Config {
                vrid: 52,
                ..config(v3(100), 100)
            },
            "the VRID changed",
        ),
        (config(v2(1), 100), "the protocol version changed"),
        (
            Config {
                primary_address: HIGHER_V4,
                ..config(v3(100), 100)
            },
            "the primary address changed",
        ),
        (
            config(v3(100), OWNER_PRIORITY),
            "address ownership (priority 255) changed",
        ),
    ];
    for (changed, message) in cases {
        let err = vr.reconfigure(changed, c.s(4)).unwrap_err();
        assert_eq!(err.to_string(), message);
    }
    assert_eq!(vr.config(), &config(v3(100), 100));
    assert_eq!(vr.state(), State::Master);
}

#[test]
fn an_invalid_configuration_is_refused() {
    let c = Clock::new();
    let mut vr = master(c);
    assert!(matches!(
        vr.reconfigure(config(v3(0), 100), c.s(4)),
        Err(ReconfigureError::Invalid(_))
    ));
    assert_eq!(vr.master_adver_interval(), v3(100));
}
