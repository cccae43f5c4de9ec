//! The keepalived.conf reader on inline texts: keepalived's defaults and corrections, one
//! rule at a time. Whole files, includes and `xvrrpd check` are in `tests/keepalived_conf.rs`.
use std::time::Duration;

use super::read_text;
use crate::{
    config::{
        Config, InstanceConfig, NotifyScript, ScriptUser, TrackInterface, TrackScript, to_toml,
    },
    fsm::AdvertInterval,
    units::{Centiseconds, Seconds},
};

/// The configuration and the warnings (`LINE: message`), or the errors.
fn read(text: &str) -> Result<(Config, Vec<String>), Vec<String>> {
    let outcome = read_text(text, "k.conf");
    let lines = |list: Vec<crate::config::Diagnostic>| -> Vec<String> {
        list.into_iter()
            .map(|d| {
                assert_eq!(d.file, "k.conf");
                format!("{}: {}", d.line, d.message)
            })
            .collect()
    };
    match outcome.result {
        Ok(config) => Ok((config, lines(outcome.warnings))),
        Err(err) => Err(lines(err.diagnostics().to_vec())),
    }
}

fn instance(body: &str) -> (InstanceConfig, Vec<String>) {
    let text = format!(
        "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n{body}\n virtual_ipaddress {{\n  192.0.2.10/24\n }}\n}}\n"
    );
    let (config, warnings) = read(&text).unwrap_or_else(|e| panic!("{e:?}"));
    (config.instances.into_iter().next().unwrap(), warnings)
}

fn errors(text: &str) -> Vec<String> {
    read(text).expect_err("errors expected")
}

#[test]
fn defaults_are_keepalived_s() {
    let (vi, warnings) = instance("");
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(vi.priority, 100);
    assert_eq!(vi.interval, AdvertInterval::V2(Seconds(1)));
    assert!(vi.preempt);
    assert_eq!(vi.garp.repeat, 5);
    assert_eq!(vi.garp.delay, Duration::from_secs(5));
    assert!(!vi.use_vmac);
}

#[test]
fn state_master_without_priority_is_the_address_owner() {
    assert_eq!(instance(" state MASTER").0.priority, 255);
    assert_eq!(instance(" state BACKUP").0.priority, 100);
    assert_eq!(instance(" state MASTER\n priority 150").0.priority, 150);
}

#[test]
fn state_slave_is_read_as_backup_with_a_warning() {
    let (vi, warnings) = instance(" state SLAVE");
    assert_eq!(vi.priority, 100);
    assert_eq!(
        warnings,
        [
            "4: state SLAVE is not MASTER or BACKUP; read as state BACKUP, as keepalived does \
          (write state BACKUP)"
        ]
    );
}

#[test]
fn nopreempt_and_preempt_delay_are_corrected_as_keepalived_does() {
    let (vi, warnings) = instance(" state MASTER\n priority 100\n nopreempt\n preempt_delay 5");
    assert!(vi.preempt);
    assert_eq!(vi.preempt_delay, Duration::ZERO);
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    let (vi, warnings) = instance(" state BACKUP\n nopreempt\n preempt_delay 5");
    assert!(!vi.preempt);
    assert_eq!(vi.preempt_delay, Duration::ZERO);
    assert_eq!(
        warnings,
        ["6: preempt_delay does not apply with nopreempt; ignored, as keepalived does"]
    );
    let (vi, warnings) = instance(" preempt_delay 2.5");
    assert_eq!(vi.preempt_delay, Duration::from_millis(2500));
    assert!(warnings.is_empty());
    let (vi, warnings) = instance(" priority 255\n nopreempt");
    assert!(vi.preempt);
    assert_eq!(warnings.len(), 1);
}

#[test]
fn advert_int_is_rounded_per_version() {
    let (vi, warnings) = instance(" advert_int 1.4");
    assert_eq!(vi.interval, AdvertInterval::V2(Seconds(1)));
    assert_eq!(
        warnings,
        [
            "4: advert_int 1.4 is not a whole number of seconds, which VRRPv2 needs; rounded to 1, \
          as keepalived does"
        ]
    );
    assert_eq!(
        instance(" advert_int 0.2").0.interval,
        AdvertInterval::V2(Seconds(1))
    );
    // keepalived reads 0.01..255 s and ignores the rest: its peers keep the default.
    let (vi, warnings) = instance(" advert_int 300");
    assert_eq!(vi.interval, AdvertInterval::V2(Seconds(1)));
    assert_eq!(
        warnings,
        [
            "4: advert_int 300 is not 0.01..255 seconds; ignored, as keepalived does (the \
             default, 1 second, is used)"
        ]
    );
    let (vi, warnings) = instance(" version 3\n advert_int 0.125");
    assert_eq!(vi.interval, AdvertInterval::V3(Centiseconds(13)));
    assert_eq!(
        warnings,
        [
            "5: advert_int 0.125 is not a multiple of 10 ms, which VRRPv3 needs; rounded to 0.13, \
          as keepalived does"
        ]
    );
    let (vi, warnings) = instance(" version 3\n advert_int 0.05");
    assert_eq!(vi.interval, AdvertInterval::V3(Centiseconds(5)));
    assert!(warnings.is_empty());
    assert_eq!(
        instance(" version 3\n advert_int 0.001").0.interval,
        AdvertInterval::V3(Centiseconds(100))
    );
    assert_eq!(
        instance(" version 3\n advert_int 41").0.interval,
        AdvertInterval::V3(Centiseconds(4095))
    );
}

#[test]
fn the_global_version_applies_and_ipv6_is_always_version_3() {
    let text = "global_defs {\n vrrp_version 3\n}\nvrrp_instance A {\n interface eth0\n \
                virtual_router_id 1\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n\
                vrrp_instance B {\n interface eth0\n virtual_router_id 1\n version 2\n \
                virtual_ipaddress {\n  2001:db8::1/64\n }\n}\n";
    let (config, warnings) = read(text).unwrap();
    assert_eq!(
        config.instances[0].interval,
        AdvertInterval::V3(Centiseconds(100))
    );
    assert_eq!(
        config.instances[1].interval,
        AdvertInterval::V3(Centiseconds(100))
    );
    assert_eq!(
        warnings,
        ["14: version 2 cannot carry IPv6 addresses; using version 3, as keepalived does"]
    );
}

#[test]
fn authentication() {
    let pass = " authentication {\n  auth_type PASS\n  auth_pass 123456789\n }";
    let (vi, warnings) = instance(pass);
    assert_eq!(vi.auth, Some(*b"12345678"));
    assert_eq!(
        warnings,
        ["6: auth_pass is 9 bytes long; only the first 8 are used, as keepalived does"]
    );
    let (vi, warnings) = instance(&format!(" version 3\n{pass}"));
    assert_eq!(vi.auth, None);
    assert_eq!(warnings.len(), 1);
    // Without auth_type, keepalived keeps the password but authenticates nothing.
    let (vi, warnings) = instance(" authentication {\n  auth_pass secret\n }");
    assert_eq!(vi.auth, None);
    assert_eq!(
        warnings,
        ["5: auth_pass without auth_type; ignored, as keepalived does (no authentication)"]
    );
    // Read as a keepalived peer reads it: single quotes are part of the password, and a
    // backslash inside double quotes escapes nothing.
    for (written, password) in [
        ("'secret'", b"'secret'"),
        (r#""se\cret""#, b"se\\cret\0"),
        ("\"sec ret\"", b"sec ret\0"),
        ("'a#b'", b"'a\0\0\0\0\0\0"),
    ] {
        let (vi, warnings) = instance(&format!(
            " authentication {{\n  auth_type PASS\n  auth_pass {written}\n }}"
        ));
        assert_eq!(vi.auth.as_ref(), Some(password), "{written}");
        if written == "\"sec ret\"" {
            assert!(warnings.is_empty(), "{warnings:?}");
        } else {
            assert_eq!(
                warnings,
                [format!(
                    "6: auth_pass {written}: keepalived reads the password as {:?}, and so does \
                     xvrrpd (its values have no single quotes or escapes, a comment starts at \
                     any # or ! outside double quotes)",
                    String::from_utf8_lossy(password).trim_end_matches('\0')
                )]
            );
        }
    }
    let text = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n authentication {\n \
                auth_type AH\n auth_pass x\n }\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n";
    assert_eq!(
        errors(text),
        [
            "5: auth_type AH (IPsec authentication header) is not supported by xvrrpd: use \
          auth_type PASS, or no authentication"
        ]
    );
}

#[test]
fn trackers_and_their_weights() {
    let text = "vrrp_script chk {\n script \"killall -0 haproxy\"\n interval 2\n weight 2\n}\n\
                vrrp_track_file maint {\n file /run/maint\n}\n\
                vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n \
                virtual_ipaddress {\n 192.0.2.1\n }\n track_script {\n  chk weight -5\n }\n \
                track_interface {\n  eth1 weight -20\n  eth2\n }\n track_file {\n  maint weight 3\n }\n}\n";
    let (config, warnings) = read(text).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let script = &config.scripts[0];
    assert_eq!(script.command, ["killall", "-0", "haproxy"]);
    assert_eq!(script.interval, Duration::from_secs(2));
    assert_eq!(script.timeout, Duration::from_secs(2));
    assert_eq!((script.weight, script.rise, script.fall), (2, 1, 1));
    let vi = &config.instances[0];
    assert_eq!(
        vi.track_scripts,
        [TrackScript {
            script: "chk".into(),
            weight: Some(-5)
        }]
    );
    assert_eq!(
        vi.track_interfaces,
        [
            TrackInterface {
                interface: "eth1".into(),
                weight: -20
            },
            TrackInterface {
                interface: "eth2".into(),
                weight: 0
            }
        ]
    );
    assert_eq!(vi.track_files[0].path.to_str(), Some("/run/maint"));
    assert_eq!(vi.track_files[0].weight, 3);
    let text = text.replace("chk weight -5", "chk weight -5 reverse");
    assert_eq!(
        errors(&text),
        [
            "16: reverse is not supported by xvrrpd: use a weight of the opposite sense (a \
          positive weight counts while up, a negative one while down)"
        ]
    );
}

#[test]
fn notify_commands_and_users() {
    let (vi, warnings) = instance(
        " notify_master \"/etc/keepalived/notify.sh master 'two words'\"\n notify /bin/n.sh \
         keepalived_script\n notify_fault /bin/f.sh nobody nogroup\n notify_stop /bin/s.sh u g extra",
    );
    assert_eq!(
        vi.notify.master,
        Some(NotifyScript::new(
            ["/etc/keepalived/notify.sh", "master", "two words"]
                .map(String::from)
                .to_vec()
        ))
    );
    let run_as = |user: &str, group: Option<&str>| ScriptUser {
        user: user.into(),
        group: group.map(String::from),
    };
    assert_eq!(
        vi.notify.any,
        Some(NotifyScript {
            command: vec!["/bin/n.sh".to_owned()],
            user: Some(run_as("keepalived_script", None)),
        })
    );
    assert_eq!(
        vi.notify.fault,
        Some(NotifyScript {
            command: vec!["/bin/f.sh".to_owned()],
            user: Some(run_as("nobody", Some("nogroup"))),
        })
    );
    assert_eq!(
        vi.notify.stop.and_then(|s| s.user),
        Some(run_as("u", Some("g")))
    );
    assert_eq!(
        warnings,
        [
            "7: notify_stop: \"extra\" and what follows is ignored (COMMAND [USER [GROUP]]); to \
             pass arguments, quote the whole command"
        ]
    );
}

#[test]
fn a_sync_group_s_weighted_trackers_survive_conversion_to_toml() {
    // keepalived applies a group's weighted trackers to every member; so does the native
    // format once they are on every member with the same weight.
    let text = "vrrp_script chk {\n script /c\n weight -20\n}\n\
                vrrp_sync_group G {\n group {\n  VI_1\n  VI_2\n }\n track_script {\n  chk\n }\n \
                track_interface {\n  eth9 weight -30\n }\n}\n\
                vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n \
                virtual_ipaddress {\n 192.0.2.1\n }\n}\n\
                vrrp_instance VI_2 {\n interface eth1\n virtual_router_id 2\n \
                virtual_ipaddress {\n 198.51.100.1\n }\n}\n";
    let (config, _) = read(text).unwrap();
    let toml = to_toml(&config);
    let back = Config::from_toml_str(&toml, "converted.toml")
        .unwrap_or_else(|e| panic!("{toml}\n{e}"))
        .config;
    for (converted, original) in back.instances.iter().zip(&config.instances) {
        assert_eq!(converted.track_scripts, original.track_scripts, "{toml}");
        assert_eq!(
            converted.track_interfaces, original.track_interfaces,
            "{toml}"
        );
        assert_eq!(converted.track_interfaces[0].weight, -30, "{toml}");
    }
}

#[test]
fn notify_users_survive_conversion_to_toml() {
    let text = "vrrp_sync_group G {\n group {\n  VI_1\n }\n notify_master /g.sh nobody\n}\n\
                vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n \
                virtual_ipaddress {\n 192.0.2.1\n }\n notify_fault \"/f.sh a b\" nobody nogroup\n \
                notify /n.sh\n}\n";
    let (config, _) = read(text).unwrap();
    let toml = to_toml(&config);
    let back = Config::from_toml_str(&toml, "converted.toml")
        .unwrap_or_else(|e| panic!("{toml}\n{e}"))
        .config;
    assert_eq!(
        back.instances[0].notify, config.instances[0].notify,
        "{toml}"
    );
    assert_eq!(
        back.sync_groups[0].notify, config.sync_groups[0].notify,
        "{toml}"
    );
    assert_eq!(
        back.instances[0]
            .notify
            .fault
            .as_ref()
            .and_then(|s| s.user.clone()),
        Some(ScriptUser {
            user: "nobody".into(),
            group: Some("nogroup".into())
        })
    );
}

#[test]
fn a_check_script_runs_as_its_user_and_group() {
    let text = "vrrp_script s {\n script /x\n user nobody nogroup\n}\nvrrp_script t {\n script /y\n \
                user daemon\n}\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n \
                virtual_ipaddress {\n 192.0.2.1\n }\n track_script {\n  s\n  t\n }\n}\n";
    let (config, warnings) = read(text).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let users: Vec<_> = config
        .scripts
        .iter()
        .map(|s| (s.user.as_deref(), s.group.as_deref()))
        .collect();
    assert_eq!(
        users,
        [(Some("nobody"), Some("nogroup")), (Some("daemon"), None)]
    );
    let toml = to_toml(&config);
    let back = Config::from_toml_str(&toml, "converted.toml")
        .unwrap_or_else(|e| panic!("{toml}\n{e}"))
        .config;
    assert_eq!(back.scripts[0].group.as_deref(), Some("nogroup"), "{toml}");
}

#[test]
fn use_vmac_is_read_and_converted() {
    let (vi, warnings) = instance(" use_vmac");
    assert!(vi.use_vmac);
    assert!(warnings.is_empty());
    let (vi, warnings) = instance(" use_vmac vrrp.51");
    assert!(vi.use_vmac);
    assert_eq!(warnings.len(), 1);
    let config = Config {
        global: crate::config::Global::default_for_host(),
        instances: vec![vi],
        scripts: Vec::new(),
        sync_groups: Vec::new(),
    };
    assert!(to_toml(&config).contains("\nuse_vmac = true\n"));
}

#[test]
fn sync_group_members_lose_weighted_trackers_and_gain_the_group_s() {
    // As keepalived's vrrp_complete_instance: a weighted script goes, a weighted interface and
    // a file at the default weight stay with weight 0, a file with another weight goes.
    let text = "vrrp_script a {\n script /a\n weight 5\n}\nvrrp_script b {\n script /b\n}\n\
                vrrp_track_file f {\n file /run/f\n}\nvrrp_track_file g {\n file /run/g\n}\n\
                vrrp_sync_group G {\n group {\n  VI_1\n }\n track_script {\n  b\n }\n}\n\
                vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n \
                virtual_ipaddress {\n 192.0.2.1\n }\n track_script {\n  a\n }\n \
                track_interface {\n  eth1 weight -20\n  eth2\n }\n \
                track_file {\n  f\n  g weight -10\n }\n}\n";
    let (config, warnings) = read(text).unwrap();
    let instance = &config.instances[0];
    assert_eq!(
        instance.track_scripts,
        [TrackScript {
            script: "b".into(),
            weight: None
        }]
    );
    let interfaces: Vec<(&str, i32)> = instance
        .track_interfaces
        .iter()
        .map(|t| (t.interface.as_str(), t.weight))
        .collect();
    assert_eq!(interfaces, [("eth1", 0), ("eth2", 0)]);
    let files: Vec<(&str, i32)> = instance
        .track_files
        .iter()
        .map(|t| (t.name.as_str(), t.weight))
        .collect();
    assert_eq!(files, [("f", 0)]);
    assert_eq!(
        warnings,
        [
            "29: track_script a has weight 5, but VI_1 is in vrrp_sync_group G: as keepalived, \
             xvrrpd ignores it",
            "32: track_interface eth1 has weight -20, but VI_1 is in vrrp_sync_group G: as \
             keepalived, xvrrpd tracks it with weight 0 (its link going down faults the group)",
            "36: track_file f has weight 1, but VI_1 is in vrrp_sync_group G: as keepalived, \
             xvrrpd tracks it with weight 0 (write weight 0 to say so)",
            "37: track_file g has weight -10, but VI_1 is in vrrp_sync_group G: as keepalived, \
             xvrrpd ignores it",
        ]
    );
    assert_eq!(config.sync_groups[0].members, ["VI_1"]);
}

#[test]
fn unknown_keywords_are_warnings_and_lvs_is_skipped_once() {
    let text = "global_defs {\n vrrp_strict\n lvs_id LB\n smtp_server 127.0.0.1\n}\n\
                virtual_server 192.0.2.1 80 {\n real_server 192.0.2.5 80 {\n weight 1\n }\n}\n\
                vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n dont_track_primary\n \
                virtual_ipaddress {\n 192.0.2.1 no_track\n }\n}\nbogus\n";
    let (config, warnings) = read(text).unwrap();
    assert_eq!(config.global.router_id, "LB");
    assert_eq!(
        warnings,
        [
            "2: strict mode: read as keepalived reads it (no authentication, state MASTER only \
             for priority 255, no preempt_delay); traffic to the VIPs is accepted, as with \
             keepalived's `accept` (xvrrpd does not drop it)",
            "3: lvs_id is the old name of router_id; read as router_id",
            "4: smtp_server: xvrrpd sends no mail; ignored (notify scripts can)",
            "6: virtual_server skipped: xvrrpd does the VRRP part of keepalived only, not LVS \
             (keep keepalived or ipvsadm for load balancing)",
            "14: unknown or unsupported keyword \"dont_track_primary\" in vrrp_instance; ignored",
            "16: virtual_ipaddress 192.0.2.1: no_track not supported; ignored",
            "19: unknown or unsupported keyword \"bogus\" in the top level; ignored",
        ]
    );
}

#[test]
fn more_than_255_vips_spill_into_excluded_ones() {
    let vips: String = (0..300)
        .map(|i| format!("  192.0.{}.{}\n", i / 200, i % 200 + 1))
        .collect();
    let (vi, warnings) = instance(&format!(" virtual_ipaddress_excluded {{\n{vips} }}"));
    // The one virtual_ipaddress entry of `instance` plus 300 excluded.
    assert_eq!(vi.virtual_ips.len(), 1);
    assert_eq!(vi.excluded_ips.len(), 300);
    assert!(warnings.is_empty());
}

#[test]
fn structure_errors_have_lines() {
    assert_eq!(
        errors("vrrp_instance A {\n"),
        ["1: this block is not closed: a } is missing"]
    );
    assert_eq!(
        errors("global_defs {\n}\n"),
        ["1: no vrrp_instance is defined; at least one is needed"]
    );
    assert_eq!(
        errors("vrrp_instance A {\n interface eth0\n}\n"),
        [
            "1: vrrp_instance A has no virtual_router_id",
            "1: vrrp_instance A has no virtual_ipaddress; xvrrpd needs at least one (VRRPv3 \
             requires one)"
        ]
    );
}

#[test]
fn a_broken_track_file_block_is_reported_once() {
    let tracked = |block: &str| {
        errors(&format!(
            "vrrp_track_file maint {{\n{block}\n}}\nvrrp_instance A {{\n interface eth0\n \
             virtual_router_id 5\n virtual_ipaddress {{\n  192.0.2.1\n }}\n track_file {{\n  \
             maint\n }}\n}}\n"
        ))
    };
    // Not also "has no file", nor "track_file maint: no vrrp_track_file of that name".
    assert_eq!(tracked(" file"), ["2: file needs a value"]);
    assert_eq!(
        tracked(" file /run/maint\n weight 300"),
        ["3: weight must be -254..254, got 300"]
    );
    assert_eq!(tracked(""), ["1: vrrp_track_file maint has no file"]);
}

mod never_panics {
    use proptest::prelude::*;

    use super::read_text;

    /// Whatever the text, the reader answers; every diagnostic has a line of the text.
    fn check_any(text: &str) {
        let lines = text.split('\n').count().max(1);
        let outcome = read_text(text, "p.conf");
        let errors = outcome
            .result
            .as_ref()
            .err()
            .map(|e| e.diagnostics().to_vec())
            .unwrap_or_default();
        for d in outcome.warnings.iter().chain(&errors) {
            assert_eq!(d.file, "p.conf");
            assert!((1..=lines).contains(&d.line), "{d}");
        }
        if let Ok(config) = &outcome.result {
            assert!(!config.instances.is_empty());
        }
    }

    fn line() -> impl Strategy<Value = String> {
        let word = prop::sample::select(vec![
            "vrrp_instance",
            "VI_1",
            "{",
            "}",
            "interface",
            "eth0",
            "virtual_router_id",
            "51",
            "0",
            "256",
            "priority",
            "state",
            "MASTER",
            "SLAVE",
            "advert_int",
            "0.125",
            "-1",
            "virtual_ipaddress",
            "192.0.2.1/24",
            "2001:db8::1",
            "dev",
            "label",
            "scope",
            "brd",
            "track_script",
            "vrrp_script",
            "script",
            "\"killall -0 x\"",
            "'a b",
            "weight",
            "reverse",
            "vrrp_sync_group",
            "group",
            "notify",
            "authentication",
            "auth_type",
            "AH",
            "PASS",
            "auth_pass",
            "unicast_peer",
            "nopreempt",
            "preempt_delay",
            "version",
            "3",
            "track_file",
            "vrrp_track_file",
            "file",
            "global_defs",
            "#",
            "!",
            "\"",
            "include",
            "use_vmac",
            "garp_master_delay",
            "garp_master_refresh_repeat",
            "x\\",
        ]);
        prop::collection::vec(word, 0..6).prop_map(|words| words.join(" "))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC*") {
            check_any(&text);
        }

        #[test]
        fn config_like_text_never_panics(lines in prop::collection::vec(line(), 0..40)) {
            check_any(&lines.join("\n"));
        }
    }
}

#[test]
fn a_text_in_memory_includes_nothing() {
    // The fuzzer and these tests hand the reader texts: it must not open files for them.
    let text = "include /etc/keepalived/*.conf\nvrrp_instance VI_1 {\n interface eth0\n \
                virtual_router_id 51\n virtual_ipaddress {\n  192.0.2.10/24\n }\n}\n";
    assert_eq!(
        errors(text),
        ["1: include /etc/keepalived/*.conf: includes are only read from a file on disk"]
    );
}

#[test]
fn script_user_takes_a_group() {
    let vi = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 5\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n";
    let (config, warnings) = read(&format!(
        "global_defs {{\n script_user lb ops extra\n}}\n{vi}"
    ))
    .unwrap();
    let security = &config.global.script_security;
    assert_eq!(security.default_user.as_deref(), Some("lb"));
    assert_eq!(security.default_group.as_deref(), Some("ops"));
    assert_eq!(
        warnings,
        ["2: script_user takes a user and a group; \"extra\" is ignored"]
    );
}

#[test]
fn a_sync_group_s_members_may_share_a_line() {
    let text = "vrrp_sync_group G {\n group { VI_1 VI_2 }\n}\n\
                vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n \
                virtual_ipaddress {\n 192.0.2.1\n }\n}\n\
                vrrp_instance VI_2 {\n interface eth1\n virtual_router_id 2\n \
                virtual_ipaddress {\n 198.51.100.1\n }\n}\n";
    let (config, warnings) = read(text).unwrap();
    assert_eq!(config.sync_groups[0].members, ["VI_1", "VI_2"]);
    assert!(warnings.is_empty(), "{warnings:?}");
    let twice = text.replace("{ VI_1 VI_2 }", "{ VI_1 VI_2 VI_1 }");
    let (config, warnings) = read(&twice).unwrap();
    assert_eq!(config.sync_groups[0].members, ["VI_1", "VI_2"]);
    assert_eq!(
        warnings,
        ["2: vrrp_sync_group G: instance VI_1 is listed twice; left out, as keepalived does"]
    );
}

#[test]
fn a_virtual_ip_listed_twice_is_added_once() {
    // As in keepalived's own samples/keepalived.conf.vrrp.
    let (vi, warnings) = instance(" virtual_ipaddress {\n  192.0.2.10/24\n  192.0.2.11/24\n }");
    let addresses: Vec<String> = vi
        .virtual_ips
        .iter()
        .map(|v| v.address.to_string())
        .collect();
    assert_eq!(addresses, ["192.0.2.10", "192.0.2.11"]);
    assert_eq!(
        warnings,
        ["9: virtual IP 192.0.2.10 is listed twice; this entry is ignored"]
    );
}

#[test]
fn strict_mode_is_read_as_keepalived_reads_it() {
    // The stock configuration of some distributions: vrrp_strict with PASS authentication.
    let body = " state MASTER\n priority 150\n nopreempt\n preempt_delay 10\n \
                authentication {\n  auth_type PASS\n  auth_pass 1111\n }";
    let text = |global: &str, own: &str| {
        format!(
            "global_defs {{\n{global}}}\nvrrp_instance VI_1 {{\n interface eth0\n \
             virtual_router_id 51\n{own}{body}\n virtual_ipaddress {{\n  192.0.2.10/24\n }}\n}}\n"
        )
    };
    let (config, warnings) = read(&text(" vrrp_strict\n", "")).unwrap();
    let vi = &config.instances[0];
    // MASTER is for the owner: read as BACKUP, so nopreempt holds; no delay, no password.
    assert_eq!(vi.auth, None);
    assert!(!vi.preempt);
    assert_eq!(vi.preempt_delay, Duration::ZERO);
    assert_eq!(vi.priority, 150);
    assert_eq!(
        warnings[1..],
        [
            "7: strict mode: state MASTER does not match priority 150 (MASTER is for the \
             address owner, 255); read as state BACKUP, as keepalived does",
            "10: strict mode: preempt_delay does not apply; ignored, as keepalived does",
            "12: strict mode has no authentication; the authentication block is ignored, as \
             keepalived does",
        ]
    );
    // An instance's strict_mode off undoes vrrp_strict; on, it does it alone.
    let (config, _) = read(&text(" vrrp_strict\n", " strict_mode off\n")).unwrap();
    assert_eq!(config.instances[0].auth, Some(*b"1111\0\0\0\0"));
    assert!(config.instances[0].preempt, "state MASTER clears nopreempt");
    let (config, _) = read(&text("", " strict_mode\n")).unwrap();
    assert_eq!(config.instances[0].auth, None);
    // keepalived logs a value it does not know (its words are lower case) and goes on.
    let (config, warnings) = read(&text("", " strict_mode On\n")).unwrap();
    assert!(config.instances[0].auth.is_some());
    assert_eq!(
        warnings[0],
        "6: strict_mode takes on/off, true/false or yes/no, got \"On\"; ignored"
    );
    // Unicast peers, which keepalived 2.2 refuses in strict mode, are used.
    let peers = text(" vrrp_strict\n", " unicast_peer {\n  192.0.2.2\n }\n");
    let (config, warnings) = read(&peers).unwrap();
    assert_eq!(config.instances[0].unicast_peers.len(), 1);
    assert!(
        warnings.contains(
            &"8: strict mode: keepalived 2.2 refuses unicast peers on an interface that can \
          multicast; xvrrpd uses them"
                .to_owned()
        )
    );
}

#[test]
fn a_script_tracked_before_its_definition_is_tracked_with_a_warning() {
    let text = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n \
                track_script {\n  chk\n }\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n\
                vrrp_script chk {\n script /bin/true\n}\n";
    let (config, warnings) = read(text).unwrap();
    assert_eq!(config.instances[0].track_scripts[0].script, "chk");
    assert_eq!(
        warnings,
        [
            "5: track_script chk: vrrp_script chk comes later in the file, so keepalived does \
             not find it and tracks nothing; xvrrpd tracks it (define scripts first to keep both \
             the same)"
        ]
    );
    // Defined first: no warning.
    let first = "vrrp_script chk {\n script /bin/true\n}\n".to_owned()
        + &text[..text.find("vrrp_script").unwrap()];
    assert!(read(&first).unwrap().1.is_empty());
}

#[test]
fn sync_group_tracking_weight_keeps_the_members_weights() {
    let text = "vrrp_script a {\n script /a\n weight 5\n}\n\
                vrrp_sync_group G {\n group {\n  VI_1\n }\n sync_group_tracking_weight\n}\n\
                vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n \
                virtual_ipaddress {\n 192.0.2.1\n }\n track_script {\n  a\n }\n \
                track_interface {\n  eth1 weight -20\n }\n}\n";
    let (config, warnings) = read(text).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(config.sync_groups[0].tracking_weight);
    let instance = &config.instances[0];
    assert_eq!(instance.track_scripts[0].script, "a");
    assert_eq!(instance.track_interfaces[0].weight, -20);
    let toml = to_toml(&config);
    let back = Config::from_toml_str(&toml, "converted.toml")
        .unwrap_or_else(|e| panic!("{toml}\n{e}"))
        .config;
    assert!(back.sync_groups[0].tracking_weight, "{toml}");
    assert_eq!(
        back.instances[0].track_interfaces,
        instance.track_interfaces
    );
}
