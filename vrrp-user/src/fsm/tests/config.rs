//! Config validation.
use super::*;

#[test]
fn valid_configs_are_accepted() {
    for interval in [v2(1), v2(255), v3(1), v3(4095)] {
        let vr = router(config(interval, 100));
        assert_eq!(vr.state(), State::Initialize);
        assert_eq!(vr.config().version(), interval.version());
        assert_eq!(vr.priority(), 100);
    }
    let mut v6 = config(v3(100), 255);
    v6.primary_address = OURS_V6;
    v6.preempt_delay = MAX_PREEMPT_DELAY;
    assert!(v6.is_owner());
    assert!(VirtualRouter::new(v6).is_ok());
}

#[test]
fn invalid_configs_are_refused_with_the_reason() {
    let cases: Vec<(Config, ConfigError, &str)> = vec![
        (
            Config {
                vrid: 0,
                ..config(v3(100), 100)
            },
            ConfigError::ZeroVrid,
            "VRID 0 is not valid (1..=255)",
        ),
        (
            config(v3(100), 0),
            ConfigError::ZeroPriority,
            "priority 0 is reserved for a Master that is stopping (1..=255)",
        ),
        (
            config(v3(0), 100),
            ConfigError::InvalidInterval(v3(0)),
            "advertisement interval 0 cs is out of range (VRRPv2: 1..=255 s, VRRPv3: 1..=4095 cs)",
        ),
        (
            config(v3(4096), 100),
            ConfigError::InvalidInterval(v3(4096)),
            "advertisement interval 4096 cs is out of range (VRRPv2: 1..=255 s, VRRPv3: 1..=4095 cs)",
        ),
        (
            config(v2(0), 100),
            ConfigError::InvalidInterval(v2(0)),
            "advertisement interval 0 s is out of range (VRRPv2: 1..=255 s, VRRPv3: 1..=4095 cs)",
        ),
        (
            Config {
                primary_address: OURS_V6,
                ..config(v2(1), 100)
            },
            ConfigError::V2NeedsIpv4(OURS_V6),
            "VRRPv2 is IPv4 only, but the primary address is 2001:db8::10",
        ),
        (
            Config {
                preempt_delay: Duration::from_secs(1001),
                ..config(v3(100), 100)
            },
            ConfigError::PreemptDelayTooLong(Duration::from_secs(1001)),
            "preempt_delay 1001s is longer than the maximum of 1000s",
        ),
    ];
    for (config, error, text) in cases {
        assert_eq!(
            VirtualRouter::new(config.clone()).unwrap_err(),
            error,
            "{config:?}"
        );
        assert_eq!(error.to_string(), text);
    }
}

#[test]
fn timer_fired_maps_each_timer_to_its_event() {
    let c = Clock::new();
    let seen = Some(c.s(1));
    assert_eq!(
        Event::timer_fired(Timer::Advert, seen),
        Event::AdvertTimerFired
    );
    assert_eq!(
        Event::timer_fired(Timer::MasterDown, seen),
        down_fired(seen)
    );
    assert_eq!(
        Event::timer_fired(Timer::PreemptDelay, seen),
        delay_fired(seen)
    );
}

#[test]
fn reasons_read_well_in_logs() {
    let cases: Vec<(String, &str)> = vec![
        (
            Reason::MasterDown {
                silent_for: us(3_609_375),
            }
            .to_string(),
            "master down: no advert for 3.609375s",
        ),
        (
            Reason::EqualPriorityHigherAddress {
                source: HIGHER_V4,
                priority: 100,
            }
            .to_string(),
            "advert of equal priority 100 from higher address 192.0.2.11",
        ),
        (
            Reason::Startup { owner: true }.to_string(),
            "startup as address owner",
        ),
        (
            DropReason::IntervalMismatch {
                ours: v2(1),
                theirs: v2(2),
            }
            .to_string(),
            "advert interval 2 s differs from ours, 1 s",
        ),
        (
            DropReason::VersionMismatch {
                ours: Version::V3,
                theirs: Version::V2,
            }
            .to_string(),
            "VRRPv2 advert for a VRRPv3 instance",
        ),
        (
            DropReason::Inactive(State::Fault).to_string(),
            "instance is in Fault",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(text, expected);
    }
}
