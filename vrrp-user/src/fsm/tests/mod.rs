//! Scenario tests of the state machine with a fake clock. Every timer instant is checked exactly.
use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    time::{Duration, Instant},
};

use super::*;
use crate::units::{Centiseconds, Seconds};

mod backup;
mod config;
mod fault;
mod master;
mod preempt;
mod props;
mod reconfigure;
mod startup;
mod sync;

/// A fake clock: a fixed base instant plus offsets. Nothing here reads the real time again.
#[derive(Clone, Copy, Debug)]
struct Clock(Instant);

impl Clock {
    fn new() -> Self {
        Clock(Instant::now())
    }
    fn ns(self, n: u64) -> Instant {
        self.0 + Duration::from_nanos(n)
    }
    fn us(self, n: u64) -> Instant {
        self.0 + Duration::from_micros(n)
    }
    fn ms(self, n: u64) -> Instant {
        self.0 + Duration::from_millis(n)
    }
    fn s(self, n: u64) -> Instant {
        self.0 + Duration::from_secs(n)
    }
}

// Addresses from the documentation ranges. The numeric and the textual order of 192.0.2.9 and
// 192.0.2.10 differ, which the tie-break tests rely on.
const OURS_V4: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
const HIGHER_V4: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 11));
const LOWER_V4: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9));
const OURS_V6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10));
const HIGHER_V6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 1, 0));
const LOWER_V6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0xf));

const fn v2(s: u8) -> AdvertInterval {
    AdvertInterval::V2(Seconds(s))
}

const fn v3(cs: u16) -> AdvertInterval {
    AdvertInterval::V3(Centiseconds(cs))
}

/// Preempt on, no preempt delay, IPv4.
fn config(advert_interval: AdvertInterval, priority: u8) -> Config {
    Config {
        vrid: 51,
        priority,
        advert_interval,
        preempt: true,
        preempt_delay: Duration::ZERO,
        primary_address: OURS_V4,
    }
}

fn router(config: Config) -> VirtualRouter {
    VirtualRouter::new(config).expect("valid test config")
}

fn advert(source: IpAddr, priority: u8, interval: AdvertInterval) -> Event {
    Event::AdvertReceived(Advert {
        source,
        priority,
        interval,
        previous_seen: None,
    })
}

fn down_fired(last_advert_seen: Option<Instant>) -> Event {
    Event::MasterDownTimerFired { last_advert_seen }
}

fn delay_fired(last_advert_seen: Option<Instant>) -> Event {
    Event::PreemptDelayTimerFired { last_advert_seen }
}

fn changed(from: State, to: State, reason: Reason) -> Action {
    Action::StateChanged { from, to, reason }
}

fn arm(timer: Timer, at: Instant) -> Action {
    Action::ArmTimer { timer, at }
}

fn send(priority: u8) -> Action {
    Action::SendAdvert { priority }
}

/// The actions of becoming Master at `now` with `priority` and Advertisement_Interval `interval`.
fn becomes_master(
    from: State,
    reason: Reason,
    priority: u8,
    now: Instant,
    interval: Duration,
) -> Vec<Action> {
    vec![
        changed(from, State::Master, reason),
        send(priority),
        Action::AddVips,
        Action::SendGratuitous,
        arm(Timer::Advert, now + interval),
    ]
}

/// A started non-owner, checked to be in Backup with its Master_Down_Timer at `t0 + down`.
fn started_backup(config: Config, t0: Instant, down: Duration) -> VirtualRouter {
    let mut vr = router(config);
    assert_eq!(
        vr.handle(Event::Startup, t0),
        vec![
            changed(
                State::Initialize,
                State::Backup,
                Reason::Startup { owner: false }
            ),
            arm(Timer::MasterDown, t0 + down),
        ]
    );
    assert_eq!(vr.state(), State::Backup);
    vr
}

/// A non-owner started at `t0` that heard nobody and became Master at `t0 + down`.
fn master_after_silence(config: Config, t0: Instant, down: Duration) -> VirtualRouter {
    let interval = config.advert_interval.as_duration();
    let priority = config.priority;
    let mut vr = started_backup(config, t0, down);
    let at = t0 + down;
    assert_eq!(
        vr.handle(down_fired(None), at),
        becomes_master(
            State::Backup,
            Reason::MasterDown { silent_for: down },
            priority,
            at,
            interval
        )
    );
    vr
}

fn us(n: u64) -> Duration {
    Duration::from_micros(n)
}

fn ns(n: u64) -> Duration {
    Duration::from_nanos(n)
}
