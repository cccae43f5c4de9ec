//! Unit tests: the duration parser, and the reader on inline texts. The file-based tests (one
//! file per rule, the shipped example) are in `tests/config_files.rs`.
use std::time::Duration;

use super::*;
use crate::units::{Centiseconds, Seconds};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn durations_that_parse() {
    let cases = [
        ("0s", Duration::ZERO),
        ("0ms", Duration::ZERO),
        ("0.0s", Duration::ZERO),
        ("1s", ms(1000)),
        ("100ms", ms(100)),
        ("2.5s", ms(2500)),
        ("40.95s", ms(40_950)),
        ("0.01s", ms(10)),
        ("1.500s", ms(1500)),
        ("0.5ms", Duration::from_micros(500)),
        ("1.000000001s", Duration::from_nanos(1_000_000_001)),
        ("0.000001ms", Duration::from_nanos(1)),
        ("1.0000000000s", ms(1000)),
        ("007s", ms(7000)),
        ("3600s", Duration::from_secs(3600)),
        ("18446744073s", Duration::from_secs(18_446_744_073)),
    ];
    for (text, expected) in cases {
        assert_eq!(parse_duration(text), Ok(expected), "{text:?}");
    }
}

#[test]
fn durations_that_do_not() {
    use DurationError::*;
    let cases = [
        ("", Empty),
        ("-1s", Negative),
        ("-0s", Negative),
        ("1 s", Whitespace),
        (" 1s", Whitespace),
        ("1s ", Whitespace),
        ("1", MissingUnit),
        ("2.5", MissingUnit),
        ("1m", UnknownUnit("m".into())),
        ("1min", UnknownUnit("min".into())),
        ("1h", UnknownUnit("h".into())),
        ("1us", UnknownUnit("us".into())),
        ("1S", UnknownUnit("S".into())),
        ("1MS", UnknownUnit("MS".into())),
        ("1e3ms", UnknownUnit("e3ms".into())),
        ("1sec", UnknownUnit("sec".into())),
        ("1s1s", UnknownUnit("s1s".into())),
        ("s", BadNumber),
        ("ms", BadNumber),
        ("abc", BadNumber),
        ("+1s", BadNumber),
        (".5s", BadNumber),
        ("1.s", BadNumber),
        ("1.2.3s", BadNumber),
        ("..s", BadNumber),
        ("½s", BadNumber),
        ("١s", BadNumber),
        ("1.0000000001s", TooPrecise),
        ("0.0000001ms", TooPrecise),
        ("18446744074s", TooLarge),
        ("99999999999999999999999s", TooLarge),
    ];
    for (text, expected) in cases {
        assert_eq!(parse_duration(text), Err(expected), "{text:?}");
    }
}

#[test]
fn duration_errors_read_well() {
    assert_eq!(
        parse_duration("1m").unwrap_err().to_string(),
        "unknown unit \"m\""
    );
    assert_eq!(
        parse_duration("1").unwrap_err().to_string(),
        "the unit is missing"
    );
    assert_eq!(
        parse_duration("-1s").unwrap_err().to_string(),
        "it is negative"
    );
}

fn parse(text: &str) -> Result<Loaded, String> {
    Config::from_toml_str(text, "t.toml").map_err(|e| e.to_string())
}

const MINIMAL: &str = "[[instance]]\nname = \"a\"\ninterface = \"eth0\"\nvrid = 1\n\
                       virtual_ips = [\"192.0.2.1\"]\n";

#[test]
fn minimal_instance_and_its_helpers() {
    let loaded = parse(MINIMAL).unwrap();
    assert!(loaded.warnings.is_empty());
    let instance = &loaded.config.instances[0];
    assert_eq!(instance.family(), Family::V4);
    assert_eq!(instance.family().code(), vrrp_common::FAMILY_V4);
    assert_eq!(Family::V6.code(), vrrp_common::FAMILY_V6);
    assert_eq!(instance.version(), fsm::Version::V3);
    assert!(!instance.is_unicast());
    assert_eq!(instance.line, 1);
    let primary: IpAddr = "192.0.2.11".parse().unwrap();
    let fsm = instance.fsm_config(primary);
    assert_eq!(
        fsm,
        fsm::Config {
            vrid: 1,
            priority: 100,
            advert_interval: AdvertInterval::V3(Centiseconds(100)),
            preempt: true,
            preempt_delay: Duration::ZERO,
            primary_address: primary,
        }
    );
    assert_eq!(fsm.validate(), Ok(()));
}

#[test]
fn v2_interval_is_in_seconds_and_v3_in_centiseconds() {
    let v2 = format!("{MINIMAL}version = 2\nadvert_interval = \"3s\"\n");
    assert_eq!(
        parse(&v2).unwrap().config.instances[0].interval,
        AdvertInterval::V2(Seconds(3))
    );
    let v3 = format!("{MINIMAL}advert_interval = \"40.95s\"\n");
    assert_eq!(
        parse(&v3).unwrap().config.instances[0].interval,
        AdvertInterval::V3(Centiseconds(4095))
    );
    let v2_default = format!("{MINIMAL}version = 2\n");
    assert_eq!(
        parse(&v2_default).unwrap().config.instances[0].interval,
        AdvertInterval::V2(Seconds(1))
    );
}

#[test]
fn use_vmac_is_a_boolean_that_defaults_to_false() {
    assert!(!parse(MINIMAL).unwrap().config.instances[0].use_vmac);
    let on = format!("{MINIMAL}use_vmac = true\n");
    assert!(parse(&on).unwrap().config.instances[0].use_vmac);
    let off = format!("{MINIMAL}use_vmac = false\n");
    assert!(!parse(&off).unwrap().config.instances[0].use_vmac);
    let wrong = format!("{MINIMAL}use_vmac = \"yes\"\n");
    assert_eq!(
        parse(&wrong).unwrap_err(),
        "t.toml:6: use_vmac must be true or false, got \"yes\""
    );
}

#[test]
fn values_of_every_type_are_described() {
    let cases = [
        ("vrid = \"x\"", "vrid must be an integer 1..255, got \"x\""),
        ("vrid = 1.5", "vrid must be an integer 1..255, got 1.5"),
        ("vrid = true", "vrid must be an integer 1..255, got true"),
        ("vrid = [1]", "vrid must be an integer 1..255, got a list"),
        (
            "vrid = {a = 1}",
            "vrid must be an integer 1..255, got a table",
        ),
        (
            "vrid = 1979-05-27T07:32:00Z",
            "vrid must be an integer 1..255, got a date-time",
        ),
        (
            "vrid = 99999999999999999999",
            "vrid must be 1..255, got 99999999999999999999",
        ),
        ("vrid = -1", "vrid must be 1..255, got -1"),
        ("vrid = 0x100", "vrid must be 1..255, got 256"),
    ];
    for (line, expected) in cases {
        let text = format!(
            "[[instance]]\nname = \"a\"\ninterface = \"eth0\"\n{line}\n\
             virtual_ips = [\"192.0.2.1\"]\n"
        );
        assert_eq!(parse(&text).unwrap_err(), format!("t.toml:4: {expected}"));
    }
}

#[test]
fn every_problem_is_reported_in_line_order() {
    let text = "[[instance]]\nname = \"a\"\ninterface = \"eth0\"\nvrid = 0\npriority = 0\n\
                virtual_ips = [\"192.0.2.1\", \"x\"]\n[global]\nxdp = \"fast\"\n";
    let err = Config::from_toml_str(text, "t.toml").unwrap_err();
    assert_eq!(err.diagnostics().len(), 4);
    assert_eq!(
        err.to_string(),
        "t.toml:4: vrid must be 1..255, got 0\n\
         t.toml:5: priority must be 1..255, got 0\n\
         t.toml:6: invalid virtual IP \"x\": \"x\" is not an IP address\n\
         t.toml:8: xdp must be \"auto\", \"native\", \"skb\" or \"off\", got \"fast\""
    );
}

#[test]
fn an_invalid_version_does_not_cascade() {
    let text = format!("{MINIMAL}version = 4\nauth_pass = \"x\"\nchecksum = \"vrrp-only\"\n");
    assert_eq!(
        parse(&text).unwrap_err(),
        "t.toml:6: version must be 2 or 3, got 4"
    );
}

#[test]
fn syntax_errors_have_a_line() {
    let cases = [
        (
            "[[instance]\n",
            "t.toml:1: unclosed array table, expected `]`",
        ),
        (
            "a = \n",
            "t.toml:1: string values must be quoted, expected literal string",
        ),
        (
            "\n\nx = 'abc\n",
            "t.toml:3: invalid literal string, expected `'`",
        ),
        (
            "[[instance]]\nname = 1\nname = 2\n",
            "t.toml:3: duplicate key \"name\"",
        ),
        (
            "[global]\nx = 1\n",
            "t.toml:2: unknown key \"x\" in [global]",
        ),
        ("y = 1\n", "t.toml:1: unknown key \"y\" at the top level"),
        (
            "[instance]\nname = \"a\"\n",
            "t.toml:1: instances are written [[instance]], with double brackets",
        ),
        (
            "[[global]]\n",
            "t.toml:1: [global] is a single table: write [global], not [[global]]",
        ),
        (
            "instance = [[1]]\n",
            "t.toml:1: an [[instance]] is a table, not a list",
        ),
        (
            "instance = [1]\n",
            "t.toml:1: invalid type: integer `1`, expected an [[instance]] table",
        ),
        (
            "[[instance]]\nname = \"a\"\n[[instance.x]]\n",
            "t.toml:3: unknown key \"x\" in [[instance]]",
        ),
        (
            "global = 1\n",
            "t.toml:1: invalid type: integer `1`, expected a [global] table",
        ),
        (
            "",
            "t.toml:1: no [[instance]] is defined; at least one is needed",
        ),
        (
            "instance = []\n",
            "t.toml:1: no [[instance]] is defined; at least one is needed",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(parse(text).unwrap_err(), expected, "{text:?}");
    }
}

#[test]
fn inline_instances_are_accepted() {
    let text = "instance = [\n  { name = \"a\", interface = \"eth0\", vrid = 1, \
                virtual_ips = [\"192.0.2.1\"] },\n]\n";
    let loaded = parse(text).unwrap();
    assert_eq!(loaded.config.instances[0].line, 2);
}

#[test]
fn other_names_are_read_as_keepalived_conf() {
    let err = Config::load("/nonexistent/keepalived.conf").unwrap_err();
    assert_eq!(
        err.to_string(),
        "/nonexistent/keepalived.conf: No such file or directory (os error 2)"
    );
    assert!(err.diagnostics().is_empty());
}

#[test]
fn script_group_goes_with_script_user() {
    let loaded = parse(&format!(
        "[global]\nscript_user = \"lb\"\nscript_group = \"ops\"\n{MINIMAL}"
    ))
    .unwrap();
    let security = &loaded.config.global.script_security;
    assert_eq!(security.default_user.as_deref(), Some("lb"));
    assert_eq!(security.default_group.as_deref(), Some("ops"));
    let reread = parse(&to_toml(&loaded.config)).unwrap();
    assert_eq!(reread.config.global.script_security, *security);
    assert_eq!(
        parse(&format!("[global]\nscript_group = \"ops\"\n{MINIMAL}")).unwrap_err(),
        "t.toml:2: script_group needs script_user"
    );
}
