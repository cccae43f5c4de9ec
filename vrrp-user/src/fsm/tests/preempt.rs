//! Preempt_Mode (RFC 5798 §6.4.2) and keepalived's preempt_delay.
use super::*;

/// Priority 150 at 100 cs (or 1 s in v2): 3 s + 106/256 s = 3.4140625 s.
const DOWN: u64 = 3_414_062_500;
/// Priority 100 at 100 cs: 3.609375 s.
const DOWN_100: u64 = 3_609_375_000;
const SECOND: Duration = Duration::from_secs(1);

fn with_delay(delay: u64) -> Config {
    Config {
        preempt_delay: Duration::from_secs(delay),
        ..config(v3(100), 150)
    }
}

fn preempted(priority: u8) -> Reason {
    Reason::Preempted {
        master: LOWER_V4,
        priority,
    }
}

#[test]
fn a_lower_master_is_discarded_and_preempted_when_the_timer_runs_out() {
    // §6.4.2: preempt on and a lower priority: "Discard the ADVERTISEMENT".
    for interval in [v2(1), v3(100)] {
        let c = Clock::new();
        let mut vr = started_backup(config(interval, 150), c.s(0), ns(DOWN));
        assert_eq!(vr.handle(advert(LOWER_V4, 100, interval), c.s(1)), vec![]);
        assert_eq!(vr.current_master(), Some((LOWER_V4, 100)));
        // The kernel saw its repeats, but they are discarded adverts: they postpone nothing.
        assert_eq!(
            vr.handle(down_fired(Some(c.s(3))), c.ns(DOWN)),
            becomes_master(State::Backup, preempted(100), 150, c.ns(DOWN), SECOND)
        );
    }
}

#[test]
fn without_preempt_a_lower_master_is_honoured() {
    let c = Clock::new();
    let config = Config {
        preempt: false,
        preempt_delay: Duration::from_secs(5), // meaningless without preempt
        ..config(v3(100), 150)
    };
    let mut vr = started_backup(config, c.s(0), ns(DOWN));
    assert_eq!(
        vr.handle(advert(LOWER_V4, 100, v3(100)), c.s(1)),
        vec![arm(Timer::MasterDown, c.ns(1_000_000_000 + DOWN))]
    );
    assert_eq!(
        vr.handle(down_fired(Some(c.s(4))), c.ns(1_000_000_000 + DOWN)),
        vec![arm(Timer::MasterDown, c.ns(4_000_000_000 + DOWN))]
    );
    assert_eq!(vr.state(), State::Backup);
    assert_eq!(vr.timer(Timer::PreemptDelay), None);
}

#[test]
fn preempt_delay_defers_to_a_lower_master_then_preempts_it() {
    // Started at 0 with a 10 s delay; a lower Master advertising at x.8 s.
    let c = Clock::new();
    let mut vr = started_backup(with_delay(10), c.s(0), ns(DOWN));
    assert_eq!(
        vr.handle(advert(LOWER_V4, 100, v3(100)), c.ms(800)),
        vec![
            arm(Timer::MasterDown, c.ns(800_000_000 + DOWN)),
            arm(Timer::PreemptDelay, c.s(10)),
        ]
    );
    // While the delay runs, its adverts seen by the kernel postpone the takeover.
    assert_eq!(
        vr.handle(down_fired(Some(c.ms(3_800))), c.ns(800_000_000 + DOWN)),
        vec![arm(Timer::MasterDown, c.ns(3_800_000_000 + DOWN))]
    );
    assert_eq!(
        vr.handle(down_fired(Some(c.ms(6_800))), c.ns(3_800_000_000 + DOWN)),
        vec![arm(Timer::MasterDown, c.ns(6_800_000_000 + DOWN))]
    );
    // At the end of the delay, the Master_Down_Timer runs from the last advert before it.
    assert_eq!(
        vr.handle(delay_fired(Some(c.ms(9_800))), c.s(10)),
        vec![arm(Timer::MasterDown, c.ns(9_800_000_000 + DOWN))]
    );
    assert_eq!(
        vr.handle(down_fired(Some(c.ms(9_800))), c.ns(6_800_000_000 + DOWN)),
        vec![]
    );
    // From now on its adverts are discarded: the takeover comes 3.4140625 s after 9.8 s.
    let at = c.ns(9_800_000_000 + DOWN);
    assert_eq!(
        vr.handle(down_fired(Some(c.ms(12_800))), at),
        becomes_master(State::Backup, preempted(100), 150, at, SECOND)
    );
}

#[test]
fn preempt_delay_counts_from_startup() {
    // keepalived: "Seconds after startup or seeing a lower priority master until preemption".
    let c = Clock::new();
    let mut vr = started_backup(with_delay(2), c.s(0), ns(DOWN));
    assert_eq!(
        vr.handle(advert(LOWER_V4, 100, v3(100)), c.s(1)),
        vec![
            arm(Timer::MasterDown, c.ns(1_000_000_000 + DOWN)),
            arm(Timer::PreemptDelay, c.s(2)),
        ]
    );
    // Nothing seen since 1 s: the timer already runs from there.
    assert_eq!(vr.handle(delay_fired(Some(c.s(1))), c.s(2)), vec![]);
    let at = c.ns(1_000_000_000 + DOWN);
    assert_eq!(
        vr.handle(down_fired(Some(c.s(4))), at),
        becomes_master(State::Backup, preempted(100), 150, at, SECOND)
    );

    // A lower Master first heard after the delay has passed is discarded at once.
    let c = Clock::new();
    let mut vr = started_backup(with_delay(2), c.s(0), ns(DOWN));
    assert_eq!(
        vr.handle(advert(LOWER_V4, 100, v3(100)), c.ms(2_500)),
        vec![]
    );
    assert_eq!(vr.timer(Timer::PreemptDelay), None);
    assert_eq!(
        vr.handle(down_fired(Some(c.s(3))), c.ns(DOWN)),
        becomes_master(State::Backup, preempted(100), 150, c.ns(DOWN), SECOND)
    );
}

#[test]
fn a_higher_master_stops_the_delay_and_a_lower_one_starts_it_again() {
    let c = Clock::new();
    let mut vr = started_backup(with_delay(5), c.s(0), ns(DOWN));
    assert_eq!(
        vr.handle(advert(LOWER_V4, 100, v3(100)), c.s(1)),
        vec![
            arm(Timer::MasterDown, c.ns(1_000_000_000 + DOWN)),
            arm(Timer::PreemptDelay, c.s(5)),
        ]
    );
    assert_eq!(
        vr.handle(advert(HIGHER_V4, 200, v3(100)), c.s(2)),
        vec![
            arm(Timer::MasterDown, c.ns(2_000_000_000 + DOWN)),
            Action::CancelTimer(Timer::PreemptDelay),
        ]
    );
    // That Master drops below us: a fresh 5 s delay.
    assert_eq!(
        vr.handle(advert(HIGHER_V4, 120, v3(100)), c.s(3)),
        vec![
            arm(Timer::MasterDown, c.ns(3_000_000_000 + DOWN)),
            arm(Timer::PreemptDelay, c.s(8)),
        ]
    );
    // Priority 0 from it: no lower Master to wait for any more.
    assert_eq!(
        vr.handle(advert(HIGHER_V4, 0, v3(100)), c.s(4)),
        vec![
            arm(Timer::MasterDown, c.ns(4_414_062_500)),
            Action::CancelTimer(Timer::PreemptDelay),
        ]
    );
}

#[test]
fn a_late_end_of_delay_takes_over_at_once_if_the_master_is_silent() {
    let c = Clock::new();
    let mut vr = started_backup(with_delay(2), c.s(0), ns(DOWN));
    vr.handle(advert(LOWER_V4, 100, v3(100)), c.s(1));
    // The daemon only gets to the delay's end at 5 s; nothing seen since 1 s.
    assert_eq!(
        vr.handle(delay_fired(Some(c.s(1))), c.s(5)),
        vec![
            changed(State::Backup, State::Master, preempted(100)),
            Action::CancelTimer(Timer::MasterDown),
            send(150),
            Action::AddVips,
            Action::SendGratuitous,
            arm(Timer::Advert, c.s(6)),
        ]
    );
}

#[test]
fn rising_above_the_master_lets_the_running_timer_preempt() {
    // The running timer is not touched; when it fires, the Master (150) is below us (200).
    let c = Clock::new();
    let mut vr = started_backup(config(v3(100), 100), c.s(0), ns(DOWN_100));
    vr.handle(advert(LOWER_V4, 150, v3(100)), c.s(1));
    assert_eq!(vr.handle(Event::PriorityChanged(200), c.s(2)), vec![]);
    // Priority 200: 3 s + 56/256 s.
    assert_eq!(vr.master_down_interval(), ns(3_218_750_000));
    let at = c.ns(1_000_000_000 + DOWN_100);
    assert_eq!(
        vr.handle(down_fired(Some(c.s(4))), at),
        becomes_master(State::Backup, preempted(150), 200, at, SECOND)
    );
}

#[test]
fn priority_changes_start_and_stop_the_delay() {
    let c = Clock::new();
    let config = Config {
        preempt_delay: Duration::from_secs(5),
        ..config(v3(100), 100)
    };
    let mut vr = started_backup(config, c.s(0), ns(DOWN_100));
    assert_eq!(
        vr.handle(advert(LOWER_V4, 150, v3(100)), c.s(1)),
        vec![arm(Timer::MasterDown, c.ns(1_000_000_000 + DOWN_100))]
    );
    assert_eq!(
        vr.handle(Event::PriorityChanged(200), c.s(2)),
        vec![arm(Timer::PreemptDelay, c.s(7))]
    );
    assert_eq!(
        vr.handle(Event::PriorityChanged(100), c.s(3)),
        vec![Action::CancelTimer(Timer::PreemptDelay)]
    );
    assert_eq!(
        vr.handle(Event::PriorityChanged(200), c.s(4)),
        vec![arm(Timer::PreemptDelay, c.s(9))]
    );
    // Stale: the first deadline was cancelled.
    assert_eq!(vr.handle(delay_fired(None), c.s(7)), vec![]);
    assert_eq!(vr.state(), State::Backup);
}
