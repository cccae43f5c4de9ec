//! Property tests: invariants over arbitrary event sequences, and the XDP-mode guarantee that a
//! late wake-up delays a takeover but never causes a false one.
use proptest::prelude::*;

use super::*;

// ---- arbitrary configurations and events -------------------------------------------------------

fn any_interval() -> impl Strategy<Value = AdvertInterval> {
    prop_oneof![
        (1u8..=4).prop_map(v2),
        prop_oneof![Just(1u16), 1u16..=400, Just(4095)].prop_map(v3),
    ]
}

fn any_config() -> impl Strategy<Value = Config> {
    (
        any_interval(),
        prop_oneof![Just(255u8), Just(254), 1u8..=255],
        any::<bool>(),
        prop_oneof![Just(0u64), 1u64..=5_000],
    )
        .prop_map(|(interval, priority, preempt, delay_ms)| Config {
            preempt,
            preempt_delay: Duration::from_millis(delay_ms),
            ..config(interval, priority)
        })
}

#[derive(Clone, Debug)]
enum Op {
    /// Let time pass.
    Wait(u64),
    Startup,
    Shutdown,
    FaultDetected,
    FaultCleared,
    /// A sync group order: `[SyncToMaster, SyncToBackup, SyncFault, SyncFaultCleared][i]`.
    Sync(usize),
    Priority(u8),
    /// An advert from one of a few sources, in our version (or the other one).
    Advert {
        source: usize,
        priority: u8,
        interval: AdvertInterval,
    },
    /// The daemon's timer `Timer::ALL[timer]` fires `late` µs after its deadline (or a stray fire
    /// now, if it is not armed); the kernel saw an advert `seen_ago` µs before.
    Fire {
        timer: usize,
        late: u64,
        seen_ago: Option<u64>,
    },
}

fn any_op() -> impl Strategy<Value = Op> {
    let sources = [LOWER_V4, HIGHER_V4, OURS_V4, HIGHER_V6].len();
    prop_oneof![
        2 => (0u64..5_000_000).prop_map(Op::Wait),
        1 => Just(Op::Startup),
        1 => Just(Op::Shutdown),
        1 => Just(Op::FaultDetected),
        1 => Just(Op::FaultCleared),
        2 => (0..5usize).prop_map(Op::Sync),
        1 => any::<u8>().prop_map(Op::Priority),
        4 => (0..sources, prop_oneof![Just(0u8), any::<u8>()], any_interval())
            .prop_map(|(source, priority, interval)| Op::Advert { source, priority, interval }),
        5 => (0..3usize, 0u64..2_000_000, proptest::option::of(0u64..10_000_000))
            .prop_map(|(timer, late, seen_ago)| Op::Fire { timer, late, seen_ago }),
    ]
}

/// What the daemon knows from the actions alone: timer deadlines and whether it holds the VIPs.
#[derive(Default)]
struct Daemon {
    timers: [Option<Instant>; 3],
    vips: bool,
}

fn index(timer: Timer) -> usize {
    Timer::ALL.iter().position(|t| *t == timer).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// For any sequence of events with non-decreasing `now`: VIPs are added and removed
    /// alternately and held exactly while Master; every timer is armed in the future; the timers
    /// armed are exactly those of the state; adverts carry the effective priority (0 only when
    /// leaving Master); state changes are reported truthfully; a started machine is in Fault
    /// exactly while its own fault or its sync group's is present.
    #[test]
    fn invariants_hold_for_any_event_sequence(
        config in any_config(),
        sync_member in any::<bool>(),
        ops in proptest::collection::vec(any_op(), 1..80),
    ) {
        let c = Clock::new();
        let mut now = c.s(0);
        let mut vr = router(config);
        vr.set_sync_member(sync_member);
        let mut daemon = Daemon::default();
        let (mut running, mut faulted, mut sync_faulted) = (false, false, false);
        for op in ops {
            let event = match op {
                Op::Wait(us) => {
                    now += Duration::from_micros(us);
                    continue;
                }
                Op::Startup => {
                    running = true;
                    Event::Startup
                }
                Op::Shutdown => {
                    running = false;
                    Event::Shutdown
                }
                Op::FaultDetected => {
                    faulted = true;
                    Event::FaultDetected
                }
                Op::FaultCleared => {
                    faulted = false;
                    Event::FaultCleared
                }
                Op::Sync(i) => {
                    match i {
                        2 => sync_faulted = true,
                        3 => sync_faulted = false,
                        _ => {}
                    }
                    [
                        Event::SyncToMaster,
                        Event::SyncToBackup,
                        Event::SyncFault,
                        Event::SyncFaultCleared,
                        Event::SyncMayTakeOver,
                    ][i]
                }
                Op::Priority(p) => Event::PriorityChanged(p),
                Op::Advert { source, priority, interval } => {
                    let source = [LOWER_V4, HIGHER_V4, OURS_V4, HIGHER_V6][source];
                    advert(source, priority, interval)
                }
                Op::Fire { timer, late, seen_ago } => {
                    if let Some(at) = daemon.timers[timer] {
                        now = now.max(at + Duration::from_micros(late));
                        daemon.timers[timer] = None; // the daemon's timer went off
                    }
                    let seen = seen_ago.map(|ago| {
                        now.checked_sub(Duration::from_micros(ago)).unwrap_or(c.s(0))
                    });
                    Event::timer_fired(Timer::ALL[timer], seen)
                }
            };
            let before = vr.state();
            let actions = vr.handle(event, now);
            let after = vr.state();

            let transitions: Vec<_> = actions
                .iter()
                .filter_map(|a| match a {
                    Action::StateChanged { from, to, .. } => Some((*from, *to)),
                    _ => None,
                })
                .collect();
            if before == after {
                prop_assert!(transitions.is_empty(), "{event:?}: {actions:?}");
            } else {
                prop_assert_eq!(transitions, vec![(before, after)]);
                let first_is_change = matches!(actions[0], Action::StateChanged { .. });
                prop_assert!(first_is_change, "{:?}", actions);
            }
            for action in &actions {
                match *action {
                    Action::AddVips => {
                        prop_assert!(!daemon.vips, "AddVips twice: {actions:?}");
                        daemon.vips = true;
                    }
                    Action::RemoveVips => {
                        prop_assert!(daemon.vips, "RemoveVips without AddVips: {actions:?}");
                        daemon.vips = false;
                    }
                    Action::ArmTimer { timer, at } => {
                        prop_assert!(at > now, "{timer:?} armed in the past");
                        daemon.timers[index(timer)] = Some(at);
                    }
                    Action::CancelTimer(timer) => {
                        prop_assert!(daemon.timers[index(timer)].is_some());
                        daemon.timers[index(timer)] = None;
                    }
                    Action::SendAdvert { priority: 0 } => {
                        prop_assert_eq!(before, State::Master);
                        prop_assert!(matches!(after, State::Initialize | State::Fault));
                    }
                    Action::SendAdvert { priority } => {
                        prop_assert_eq!(after, State::Master);
                        prop_assert_eq!(priority, vr.priority());
                    }
                    Action::SendGratuitous => prop_assert_eq!(after, State::Master),
                    Action::WantsMaster(_) => {
                        prop_assert!(sync_member, "a lone instance asked a group: {actions:?}");
                        prop_assert_eq!(after, State::Backup);
                    }
                    Action::StateChanged { .. } | Action::Dropped(_) => {}
                }
            }
            prop_assert_eq!(daemon.vips, after == State::Master);
            for timer in Timer::ALL {
                prop_assert_eq!(daemon.timers[index(timer)], vr.timer(timer));
            }
            let armed = |t: Timer| vr.timer(t).is_some();
            match after {
                State::Master => {
                    prop_assert!(armed(Timer::Advert));
                    prop_assert!(!armed(Timer::MasterDown) && !armed(Timer::PreemptDelay));
                }
                State::Backup => {
                    prop_assert!(armed(Timer::MasterDown) && !armed(Timer::Advert));
                }
                State::Initialize | State::Fault => {
                    prop_assert!(Timer::ALL.iter().all(|t| !armed(*t)));
                }
            }
            prop_assert!(vr.config().is_owner() == (vr.priority() == 255));
            prop_assert_eq!(after == State::Initialize, !running);
            prop_assert_eq!(after == State::Fault, running && (faulted || sync_faulted));
        }
    }
}

// ---- XDP mode: a live Master is never taken over, however late the daemon wakes up -----------

/// A Master that advertises every `interval` from time 0 until `until` (exclusive); the kernel
/// records each one. The Backup is started at 0, hears about the Master through one reported
/// advert (delivered `report_late` µs late) and afterwards only through its timers, woken
/// `lateness[i]` µs after each deadline. Returns the instant the Backup became Master, if it did
/// within `wakeups` timer events.
fn run_xdp_backup(
    c: Clock,
    backup: Config,
    master_priority: u8,
    master_interval: AdvertInterval,
    until: Option<Duration>,
    report_late: u64,
    lateness: &[u64],
) -> Option<Instant> {
    let period = master_interval.as_duration();
    let last_advert = |now: Instant| -> Instant {
        let mut elapsed = now - c.s(0);
        if let Some(until) = until {
            elapsed = elapsed.min(until - Duration::from_nanos(1));
        }
        let n = elapsed.as_nanos() / period.as_nanos();
        c.s(0) + period * u32::try_from(n).unwrap()
    };
    let mut vr = router(backup);
    vr.handle(Event::Startup, c.s(0));
    let report = c.us(report_late);
    let reported = advert(HIGHER_V4, master_priority, master_interval);
    assert!(report < vr.timer(Timer::MasterDown).unwrap());
    vr.handle(reported, report);
    for late in lateness {
        let armed: Vec<_> = Timer::ALL
            .iter()
            .filter_map(|t| Some((vr.timer(*t)?, *t)))
            .collect();
        let (at, timer) = *armed
            .iter()
            .min_by_key(|(at, _)| *at)
            .expect("a Backup has a timer armed");
        let now = at + Duration::from_micros(*late);
        vr.handle(Event::timer_fired(timer, Some(last_advert(now))), now);
        if vr.state() == State::Master {
            return Some(now);
        }
    }
    None
}

fn v3_interval() -> impl Strategy<Value = AdvertInterval> {
    prop_oneof![Just(1u16), 1u16..=300].prop_map(v3)
}

/// A Backup config, a Master priority it must defer to, and matching Master interval.
fn deferring_pair() -> impl Strategy<Value = (Config, u8, AdvertInterval)> {
    (
        prop_oneof![(1u8..=3).prop_map(v2), v3_interval()],
        v3_interval(),
        1u8..=254,
        any::<u8>(),
        any::<bool>(),
        0u64..=3_000,
    )
        .prop_map(|(ours, theirs_v3, priority, master, preempt, delay_ms)| {
            // With preemption on, only an equal or higher Master is not preempted.
            let master = if preempt {
                master.max(priority)
            } else {
                master.max(1)
            };
            let theirs = if ours.version() == Version::V2 {
                ours
            } else {
                theirs_v3
            };
            let backup = Config {
                preempt,
                preempt_delay: Duration::from_millis(delay_ms),
                ..config(ours, priority)
            };
            (backup, master, theirs)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_live_master_is_never_taken_over_however_late_the_wake_ups(
        (backup, master, interval) in deferring_pair(),
        report_late in 0u64..10_000,
        lateness in proptest::collection::vec(0u64..20_000_000, 1..40),
    ) {
        let c = Clock::new();
        let took_over = run_xdp_backup(c, backup, master, interval, None, report_late, &lateness);
        prop_assert_eq!(took_over, None);
    }

    /// Once the Master falls silent, a Backup woken on time takes over exactly
    /// Master_Down_Interval (with the Master's interval, v3) after its last advert; woken late,
    /// no later than that plus its lateness.
    #[test]
    fn a_silent_master_is_taken_over_on_time(
        (backup, master, interval) in deferring_pair(),
        adverts in 1u32..20,
        late in 0u64..2_000_000,
    ) {
        let c = Clock::new();
        let period = interval.as_duration();
        let until = period * adverts;
        let last = c.s(0) + period * (adverts - 1);
        let down = timing::master_down_interval(interval, backup.priority);
        let on_time = run_xdp_backup(c, backup.clone(), master, interval, Some(until), 0, &[0; 64]);
        prop_assert_eq!(on_time, Some(last + down));
        let late_by = Duration::from_micros(late);
        let woken_late =
            run_xdp_backup(c, backup, master, interval, Some(until), 0, &[late; 64]).unwrap();
        prop_assert!(woken_late >= last + down);
        prop_assert!(woken_late <= last + down + late_by);
    }
}
