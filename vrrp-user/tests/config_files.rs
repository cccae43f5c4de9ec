//! The configuration reader on files: the shipped example, the defaults, one bad file per rule
//! with its exact `FILE:LINE: message`, and a property test that no input makes it panic.
use std::{
    net::IpAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use proptest::prelude::*;
use vrrp_user::{
    config::{
        Config, Family, Garp, Loaded, ScriptSecurity, TrackFile, TrackInterface, TrackScript, Vip,
    },
    dataplane::{AttachMode, AttachRequest, Request},
    fsm::AdvertInterval,
    units::{Centiseconds, Seconds},
    wire::vrrp::ChecksumMode,
};

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/config")
}

/// Loads `tests/data/config/{name}`; messages name the file relative to that directory.
fn load(name: &str) -> Result<Loaded, String> {
    let dir = data_dir();
    let strip = |text: String| text.replace(&format!("{}/", dir.display()), "");
    match Config::load(dir.join(name)) {
        Ok(mut loaded) => {
            for warning in &mut loaded.warnings {
                warning.file = strip(std::mem::take(&mut warning.file));
            }
            Ok(loaded)
        }
        Err(err) => Err(strip(err.to_string())),
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn vip(address: &str, prefix_len: u8) -> Vip {
    Vip::plain(ip(address), prefix_len)
}

#[test]
fn the_shipped_example_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/xvrrpd.toml");
    let loaded = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(loaded.warnings.is_empty());
    let config = loaded.config;
    assert_eq!(config.global.router_id, "lb1");
    assert_eq!(config.global.control_socket, Path::new("/run/xvrrpd.sock"));
    assert_eq!(config.global.xdp, Request::Auto);
    let names: Vec<&str> = config.instances.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["VI_1", "VI_6", "VI_2"]);
    let vi1 = &config.instances[0];
    assert_eq!(vi1.interval, AdvertInterval::V3(Centiseconds(10)));
    assert_eq!(vi1.priority, 150);
    assert_eq!(
        vi1.virtual_ips,
        [vip("192.0.2.100", 24), vip("192.0.2.101", 32)]
    );
    assert_eq!(vi1.garp, Garp::default());
    let vi6 = &config.instances[1];
    assert_eq!(vi6.family(), Family::V6);
    assert_eq!(vi6.vrid, vi1.vrid);
    let vi2 = &config.instances[2];
    assert_eq!(vi2.interval, AdvertInterval::V2(Seconds(1)));
    assert_eq!(vi2.auth, Some(*b"secret\0\0"));
    assert_eq!(vi2.unicast_source, Some(ip("198.51.100.11")));
}

#[test]
fn a_minimal_file_gets_every_default() {
    let loaded = load("minimal.toml").unwrap();
    assert!(loaded.warnings.is_empty());
    let global = &loaded.config.global;
    assert_eq!(global.router_id, vrrp_user::config::hostname());
    assert!(!global.router_id.is_empty());
    assert_eq!(global.control_socket, Path::new("/run/xvrrpd.sock"));
    assert_eq!(global.xdp, Request::Auto);
    let [instance] = &loaded.config.instances[..] else {
        panic!("one instance expected: {:?}", loaded.config.instances)
    };
    assert_eq!(instance.name, "VI_1");
    assert_eq!(instance.interface, "eth0");
    assert_eq!(instance.vrid, 51);
    assert_eq!(instance.priority, 100);
    assert_eq!(instance.interval, AdvertInterval::V3(Centiseconds(100)));
    assert!(instance.preempt);
    assert_eq!(instance.preempt_delay, Duration::ZERO);
    assert_eq!(instance.virtual_ips, [vip("192.0.2.100", 32)]);
    assert_eq!(instance.family(), Family::V4);
    assert!(instance.unicast_peers.is_empty());
    assert_eq!(instance.unicast_source, None);
    assert_eq!(instance.auth, None);
    assert_eq!(instance.checksum, ChecksumMode::PseudoHeader);
    assert!(!instance.pass_adverts);
    assert_eq!(
        instance.garp,
        Garp {
            repeat: 5,
            interval: Duration::ZERO,
            delay: Duration::from_secs(5),
            refresh: Duration::ZERO,
            refresh_repeat: 1,
        }
    );
    assert_eq!(instance.line, 2);
}

#[test]
fn every_key_can_be_set() {
    let loaded = load("good_v2_unicast.toml").unwrap();
    // Every key at once includes a preemption delay with preemption off.
    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        ["good_v2_unicast.toml:15: preempt_delay does not apply with preempt = false; ignored"]
    );
    let global = &loaded.config.global;
    assert_eq!(global.router_id, "lb2");
    assert_eq!(global.control_socket, Path::new("/tmp/xvrrpd-test.sock"));
    assert_eq!(global.xdp, Request::Off);
    let instance = &loaded.config.instances[0];
    assert_eq!(instance.name, "VI_2");
    assert_eq!(instance.interface, "eth1");
    assert_eq!(instance.vrid, 52);
    assert_eq!(instance.priority, 255);
    assert_eq!(instance.interval, AdvertInterval::V2(Seconds(3)));
    assert!(!instance.preempt);
    assert_eq!(instance.preempt_delay, Duration::from_millis(2500));
    assert_eq!(
        instance.virtual_ips,
        [vip("198.51.100.10", 24), vip("198.51.100.11", 32)]
    );
    assert_eq!(
        instance.unicast_peers,
        [ip("198.51.100.12"), ip("198.51.100.13")]
    );
    assert!(instance.is_unicast());
    assert_eq!(instance.unicast_source, Some(ip("198.51.100.2")));
    assert_eq!(instance.auth, Some(*b"12345678"));
    assert!(instance.pass_adverts);
    assert_eq!(
        instance.garp,
        Garp {
            repeat: 0,
            interval: Duration::from_millis(10),
            delay: Duration::ZERO,
            refresh: Duration::ZERO,
            refresh_repeat: 1,
        }
    );
    assert_eq!(instance.line, 7);
    let fsm = instance.fsm_config(ip("198.51.100.2"));
    assert_eq!(fsm.advert_interval, AdvertInterval::V2(Seconds(3)));
    assert!(fsm.is_owner());
    assert_eq!(fsm.validate(), Ok(()));
}

#[test]
fn one_vrid_serves_both_families_on_one_interface() {
    let loaded = load("good_ipv6.toml").unwrap();
    let config = loaded.config;
    assert_eq!(
        config.global.xdp,
        Request::Xdp(AttachRequest::Only(AttachMode::Skb))
    );
    let [v4, v6] = &config.instances[..] else {
        panic!("two instances expected")
    };
    assert_eq!((v4.vrid, v4.family()), (7, Family::V4));
    assert_eq!((v6.vrid, v6.family()), (7, Family::V6));
    assert_eq!(v4.interval, AdvertInterval::V3(Centiseconds(1)));
    assert_eq!(v6.interval, AdvertInterval::V3(Centiseconds(4095)));
    assert_eq!(v4.checksum, ChecksumMode::VrrpOnly);
    assert_eq!(
        v6.virtual_ips,
        [vip("fe80::7", 64), vip("2001:db8::7", 128)]
    );
    assert_eq!(v6.unicast_peers, [ip("fe80::2")]);
}

#[test]
fn a_long_password_is_cut_to_8_bytes_with_a_warning() {
    let loaded = load("warn_auth_long.toml").unwrap();
    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "warn_auth_long.toml:8: auth_pass is 12 bytes long; only the first 8 are used, as \
          keepalived does"
        ]
    );
    assert_eq!(loaded.config.instances[0].auth, Some(*b"01234567"));
}

#[test]
fn a_preempt_delay_without_preemption_is_a_warning() {
    let loaded = load("warn_preempt_delay.toml").unwrap();
    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        ["warn_preempt_delay.toml:7: preempt_delay does not apply with preempt = false; ignored"]
    );
    assert!(!loaded.config.instances[0].preempt);
}

#[test]
fn other_names_are_read_as_keepalived_conf() {
    // `tests/keepalived_conf.rs` tests that reader; this file lacks a virtual_ipaddress.
    assert_eq!(
        load("keepalived.conf").unwrap_err(),
        "keepalived.conf:1: vrrp_instance VI_1 has no virtual_ipaddress; xvrrpd needs at least \
         one (VRRPv3 requires one)"
    );
}

#[test]
fn a_missing_file_is_named() {
    assert_eq!(
        load("no-such-file.toml").unwrap_err(),
        "no-such-file.toml: No such file or directory (os error 2)"
    );
}

#[test]
fn every_problem_of_a_file_is_reported_in_line_order() {
    assert_eq!(
        load("bad_many.toml").unwrap_err(),
        "bad_many.toml:3: xdp must be \"auto\", \"native\", \"skb\" or \"off\", got \"native \"\n\
         bad_many.toml:8: vrid must be 1..255, got 300\n\
         bad_many.toml:9: priority must be 1..255, got 0\n\
         bad_many.toml:10: advert_interval \"1 s\" is not a valid duration: it contains spaces \
         (write a number followed by \"ms\" or \"s\", such as \"100ms\" or \"2.5s\")\n\
         bad_many.toml:11: virtual IP 192.0.2.1 is listed twice\n\
         bad_many.toml:11: invalid virtual IP \"bad\": \"bad\" is not an IP address\n\
         bad_many.toml:12: garp_repeat must be 0..100, got -1"
    );
}

/// One test per bad file: `bad!(test_name, "file.toml", "exact message")`.
macro_rules! bad {
    ($($test:ident, $file:literal, $message:expr;)*) => {$(
        #[test]
        fn $test() {
            assert_eq!(load($file).unwrap_err(), $message);
        }
    )*};
}

const DURATION_HINT: &str = "(write a number followed by \"ms\" or \"s\", such as \"100ms\" or \
                             \"2.5s\")";

bad! {
    vrid_is_1_to_255, "bad_vrid.toml",
        "bad_vrid.toml:9: vrid must be 1..255, got 0";
    vrid_is_required, "bad_missing_vrid.toml",
        "bad_missing_vrid.toml:5: missing key \"vrid\" in [[instance]]";
    priority_is_1_to_255, "bad_priority.toml",
        "bad_priority.toml:10: priority must be 1..255, got 256";
    version_is_2_or_3, "bad_version.toml",
        "bad_version.toml:10: version must be 2 or 3, got 4";
    v2_interval_is_whole_seconds, "bad_v2_interval.toml",
        "bad_v2_interval.toml:11: advert_interval must be whole seconds 1s..255s with version = 2, \
         got \"100ms\"";
    v2_interval_is_at_most_255_s, "bad_v2_interval_range.toml",
        "bad_v2_interval_range.toml:11: advert_interval must be whole seconds 1s..255s with \
         version = 2, got \"256s\"";
    v3_interval_is_at_least_10_ms, "bad_v3_interval_range.toml",
        "bad_v3_interval_range.toml:10: advert_interval must be 10ms..40.95s with version = 3, \
         got \"5ms\"";
    v3_interval_is_at_most_40_95_s, "bad_v3_interval_max.toml",
        "bad_v3_interval_max.toml:10: advert_interval must be 10ms..40.95s with version = 3, got \
         \"41s\"";
    v3_interval_is_in_10_ms_steps, "bad_v3_interval_step.toml",
        "bad_v3_interval_step.toml:10: advert_interval must be a multiple of 10ms with version = \
         3, got \"15ms\"";
    durations_are_strings_with_a_unit, "bad_duration_bare.toml",
        "bad_duration_bare.toml:10: advert_interval must be a duration such as \"100ms\" or \
         \"2.5s\", got 1";
    durations_are_in_ms_or_s, "bad_duration_unit.toml",
        format!("bad_duration_unit.toml:10: preempt_delay \"1m\" is not a valid duration: unknown \
                 unit \"m\" {DURATION_HINT}");
    durations_are_not_negative, "bad_duration_negative.toml",
        format!("bad_duration_negative.toml:10: garp_interval \"-1s\" is not a valid duration: it \
                 is negative {DURATION_HINT}");
    preempt_delay_is_at_most_1000_s, "bad_preempt_delay.toml",
        "bad_preempt_delay.toml:10: preempt_delay must be at most 1000s, got \"1001s\"";
    garp_delay_is_at_most_an_hour, "bad_garp_delay.toml",
        "bad_garp_delay.toml:10: garp_delay must be at most 3600s, got \"3601s\"";
    garp_interval_is_at_most_10_s, "bad_garp_interval.toml",
        "bad_garp_interval.toml:10: garp_interval must be at most 10s, got \"11s\"";
    garp_repeat_is_at_most_100, "bad_garp_repeat.toml",
        "bad_garp_repeat.toml:10: garp_repeat must be 0..100, got 101";
    garp_refresh_repeat_is_at_most_100, "bad_garp_refresh_repeat.toml",
        "bad_garp_refresh_repeat.toml:10: garp_refresh_repeat must be 1..100, got 101";
    garp_refresh_is_none_or_at_least_a_second, "bad_garp_refresh.toml",
        "bad_garp_refresh.toml:10: garp_refresh must be \"0s\" (none) or at least 1s, got \"500ms\"";
    booleans_are_true_or_false, "bad_bool.toml",
        "bad_bool.toml:10: preempt must be true or false, got \"yes\"";
    virtual_ips_are_required, "bad_vips_missing.toml",
        "bad_vips_missing.toml:2: missing key \"virtual_ips\" in [[instance]]";
    virtual_ips_are_not_empty, "bad_vips_empty.toml",
        "bad_vips_empty.toml:7: virtual_ips must not be empty";
    virtual_ips_are_a_list, "bad_vips_type.toml",
        "bad_vips_type.toml:7: virtual_ips must be a list of addresses such as \
         [\"192.0.2.100/24\"], got \"192.0.2.1/24\"";
    virtual_ips_are_addresses, "bad_vip_address.toml",
        "bad_vip_address.toml:7: invalid virtual IP \"192.0.2.300/24\": \"192.0.2.300\" is not an \
         IP address";
    ipv4_prefixes_are_at_most_32, "bad_vip_prefix.toml",
        "bad_vip_prefix.toml:7: invalid virtual IP \"192.0.2.1/33\": the prefix length of an IPv4 \
         address is 0..32";
    prefixes_are_numbers, "bad_vip_prefix_text.toml",
        "bad_vip_prefix_text.toml:7: invalid virtual IP \"192.0.2.1/\": the prefix length \"\" is \
         not a number";
    virtual_ips_are_unicast, "bad_vip_multicast.toml",
        "bad_vip_multicast.toml:7: invalid virtual IP \"224.0.0.1\": not a unicast address";
    virtual_ips_are_of_one_family, "bad_vips_mixed.toml",
        "bad_vips_mixed.toml:9: virtual IP 2001:db8::1 is IPv6, but the first one is IPv4; use one \
         instance per address family";
    ipv6_needs_version_3, "bad_vip_v6_v2.toml",
        "bad_vip_v6_v2.toml:7: virtual IP 2001:db8::1 is IPv6, which needs version = 3 (VRRPv2 is \
         IPv4 only)";
    virtual_ips_are_listed_once, "bad_vip_duplicate.toml",
        "bad_vip_duplicate.toml:7: virtual IP 192.0.2.1 is listed twice";
    peers_are_of_the_vips_family, "bad_peer_family.toml",
        "bad_peer_family.toml:10: unicast peer 2001:db8::2 is IPv6, but the virtual IPs are IPv4";
    peers_are_unicast_addresses_on_their_own_line, "bad_peer_multicast.toml",
        "bad_peer_multicast.toml:12: unicast peer 224.0.0.18 is not a unicast address";
    peers_are_listed_once, "bad_peer_duplicate.toml",
        "bad_peer_duplicate.toml:10: unicast peer 192.0.2.12 is listed twice";
    the_source_is_of_the_vips_family, "bad_source_family.toml",
        "bad_source_family.toml:10: unicast_source 2001:db8::1 is IPv6, but the virtual IPs are \
         IPv4";
    the_source_is_an_address, "bad_source_address.toml",
        "bad_source_address.toml:10: unicast_source \"192.0.2\" is not an IP address";
    auth_pass_is_for_version_2, "bad_auth_v3.toml",
        "bad_auth_v3.toml:10: auth_pass needs version = 2 (VRRPv3 has no authentication)";
    checksum_is_for_version_3, "bad_checksum_v2.toml",
        "bad_checksum_v2.toml:11: checksum only applies to version = 3 (VRRPv2 checksums the VRRP \
         message alone)";
    checksum_is_for_ipv4, "bad_checksum_ipv6.toml",
        "bad_checksum_ipv6.toml:6: checksum only applies to IPv4 (VRRPv3 over IPv6 always \
         includes the pseudo-header)";
    checksum_has_two_modes, "bad_checksum_value.toml",
        "bad_checksum_value.toml:10: checksum must be \"pseudo-header\" or \"vrrp-only\", got \
         \"none\"";
    instance_names_are_unique, "bad_duplicate_name.toml",
        "bad_duplicate_name.toml:9: instance name \"VI_1\" is already used at line 2";
    interface_vrid_family_is_unique, "bad_duplicate_router.toml",
        "bad_duplicate_router.toml:11: vrid 51 on eth0 for IPv4 is already used by instance \
         \"VI_1\" at line 2";
    interface_names_are_linux_names, "bad_interface.toml",
        "bad_interface.toml:4: interface \"a-very-long-interface\" is not a valid interface name \
         (1 to 15 bytes, not \".\" or \"..\", no \"/\", \":\" or spaces)";
    at_least_one_instance, "bad_no_instance.toml",
        "bad_no_instance.toml:1: no [[instance]] is defined; at least one is needed";
    unknown_keys_in_instances, "bad_unknown_key.toml",
        "bad_unknown_key.toml:10: unknown key \"prioirty\" in [[instance]]";
    unknown_keys_in_global, "bad_unknown_global_key.toml",
        "bad_unknown_global_key.toml:4: unknown key \"metrics\" in [global]";
    unknown_keys_at_the_top, "bad_unknown_top_key.toml",
        "bad_unknown_top_key.toml:2: unknown key \"router_id\" at the top level";
    instances_have_double_brackets, "bad_single_bracket.toml",
        "bad_single_bracket.toml:2: instances are written [[instance]], with double brackets";
    syntax_errors_have_a_line, "bad_syntax.toml",
        "bad_syntax.toml:3: invalid basic string, expected `\"`";
    xdp_has_four_modes, "bad_xdp.toml",
        "bad_xdp.toml:3: xdp must be \"auto\", \"native\", \"skb\" or \"off\", got \"fast\"";
    router_id_is_not_empty, "bad_router_id.toml",
        "bad_router_id.toml:3: router_id must not be empty";
    control_socket_fits_a_unix_socket_path, "bad_control_socket.toml",
        format!("bad_control_socket.toml:3: control_socket \"/run/{}.sock\" is not a valid unix \
                 socket path (at most 107 bytes)", "x".repeat(120));
    files_are_utf8, "bad_utf8.toml",
        "bad_utf8.toml:3: the file is not valid UTF-8";
    a_track_file_name_stands_for_one_path, "bad_track_file_paths.toml",
        "bad_track_file_paths.toml:8: instance \"VI_2\" tracks file \"maint\" at /run/b, but \
         instance \"VI_1\" (line 1) tracks \"maint\" at /run/a: one name, one path";
    tracked_scripts_are_defined, "bad_track_unknown_script.toml",
        "bad_track_unknown_script.toml:6: instance \"VI_1\" tracks script \"chk_missing\", which \
         is not defined";
    script_weights_are_at_most_253, "bad_script_weight.toml",
        "bad_script_weight.toml:4: weight must be -253..253, got 254";
    scripts_have_a_command, "bad_script_no_command.toml",
        "bad_script_no_command.toml:1: missing key \"command\" in [[script]]";
    script_commands_are_split_like_keepalived, "bad_script_command.toml",
        "bad_script_command.toml:3: command \"/bin/check 'x\" is not a command: a single quote is \
         not closed";
    unknown_keys_in_scripts, "bad_script_unknown_key.toml",
        "bad_script_unknown_key.toml:4: unknown key \"when\" in [[script]]";
    sync_group_members_exist_and_are_in_one_group, "bad_sync_group_members.toml",
        "bad_sync_group_members.toml:9: sync group \"G1\": instance \"VI_9\" is not defined\n\
         bad_sync_group_members.toml:13: sync group \"G2\": instance \"VI_1\" is already in sync \
         group \"G1\" at line 9; an instance can be in one sync group only";
    sync_group_members_share_their_weighted_trackers, "bad_sync_group_weight.toml",
        "bad_sync_group_weight.toml:22: sync group \"G\": member \"VI_1\" tracks script \"chk\" \
         with weight 5, and member \"VI_2\" does not; a weighted tracker of sync group members \
         must be on every member with the same weight, else have weight 0 (a failure puts the \
         whole group in Fault), or the group needs tracking_weight = true\n\
         bad_sync_group_weight.toml:22: sync group \"G\": member \"VI_2\" tracks script \"chk\" \
         with weight 10, and member \"VI_1\" does not; a weighted tracker of sync group members \
         must be on every member with the same weight, else have weight 0 (a failure puts the \
         whole group in Fault), or the group needs tracking_weight = true";
    track_interface_entries, "bad_track_interfaces.toml",
        "bad_track_interfaces.toml:6: weight must be -253..253, got -300\n\
         bad_track_interfaces.toml:6: unknown key \"name\" in a track_interfaces entry \
         (interface, weight)";
    excluded_ips_are_not_vips, "bad_excluded_ips.toml",
        "bad_excluded_ips.toml:6: excluded IP 192.0.2.1 is also a virtual IP; list it once\n\
         bad_excluded_ips.toml:6: virtual IP 2001:db8::1: a label is for IPv4 addresses only";
    vip_labels_start_with_their_interface, "bad_vip_label.toml",
        "bad_vip_label.toml:7: virtual IP 192.0.2.11: label \"vip\" must start with the name of \
         its interface \"eth0\" (such as \"eth0:1\")\n\
         bad_vip_label.toml:8: virtual IP 192.0.2.12: label \"eth0:2\" must start with the name \
         of its interface \"eth1\" (such as \"eth1:1\")\n\
         bad_vip_label.toml:10: virtual IP 198.51.100.8: label \"lo\" must start with the name \
         of its interface \"eth0\" (such as \"eth0:1\")";
    metrics_listen_is_an_address_and_port, "bad_metrics_listen.toml",
        "bad_metrics_listen.toml:2: metrics_listen \"9650\" is not an address and port such as \
         \"127.0.0.1:9650\" or \"[::1]:9650\"";
    notify_commands, "bad_notify.toml",
        "bad_notify.toml:6: notify_master \"\" is not a command: it is empty\n\
         bad_notify.toml:7: notify_backup must be a command line (a string) or a list of its \
         words, got 3";
}

#[test]
fn health_checks_tracking_notify_and_sync_groups() {
    let loaded = load("good_health.toml").unwrap();
    assert!(loaded.warnings.is_empty());
    let config = loaded.config;
    let global = &config.global;
    assert_eq!(
        global.metrics_listen,
        Some("127.0.0.1:9650".parse().unwrap())
    );
    assert_eq!(
        global.script_security,
        ScriptSecurity {
            default_user: Some("keepalived_script".into()),
            default_group: None,
            enforce: true
        }
    );
    assert_eq!(
        global.notify_fifo,
        Some(PathBuf::from("/run/xvrrpd/notify.fifo"))
    );
    let [haproxy, http] = &config.scripts[..] else {
        panic!("two scripts")
    };
    assert_eq!(haproxy.command, ["killall", "-0", "haproxy"]);
    assert_eq!(
        (
            haproxy.interval,
            haproxy.timeout,
            haproxy.weight,
            haproxy.rise,
            haproxy.fall
        ),
        (Duration::from_secs(2), Duration::from_secs(2), 2, 1, 1)
    );
    assert_eq!(haproxy.user, None);
    assert_eq!(haproxy.line, 9);
    assert_eq!(
        http.command,
        ["/usr/bin/curl", "-fsS", "http://127.0.0.1/health check"]
    );
    assert_eq!(
        (
            http.interval,
            http.timeout,
            http.weight,
            http.rise,
            http.fall
        ),
        (
            Duration::from_millis(1500),
            Duration::from_secs(1),
            -30,
            2,
            3
        )
    );
    assert_eq!(http.user.as_deref(), Some("nobody"));
    let vi = &config.instances[0];
    assert_eq!(
        vi.virtual_ips[1],
        Vip {
            address: ip("192.0.2.11"),
            prefix_len: 24,
            device: Some("eth0".into()),
            label: Some("eth0:vip".into()),
            scope: Some(253),
            broadcast: Some("192.0.2.255".parse().unwrap()),
        }
    );
    assert_eq!(vi.excluded_ips[0], vip("2001:db8::10", 64));
    assert_eq!(vi.excluded_ips[1].scope, Some(200));
    assert_eq!(vi.garp.refresh, Duration::from_secs(60));
    assert_eq!(vi.garp.refresh_repeat, 2);
    assert_eq!(
        vi.track_scripts,
        [
            TrackScript {
                script: "chk_haproxy".into(),
                weight: None
            },
            TrackScript {
                script: "chk_http".into(),
                weight: Some(-40)
            }
        ]
    );
    assert_eq!(
        vi.track_interfaces,
        [
            TrackInterface {
                interface: "eth1".into(),
                weight: 0
            },
            TrackInterface {
                interface: "eth2".into(),
                weight: -20
            }
        ]
    );
    assert_eq!(
        vi.track_files,
        [
            TrackFile {
                name: "maint".into(),
                path: "/run/maint".into(),
                weight: -10
            },
            TrackFile {
                name: "/run/bonus".into(),
                path: "/run/bonus".into(),
                weight: 1
            }
        ]
    );
    assert_eq!(
        vi.notify.master.as_ref().map(|s| &s.command[..]),
        Some(&["/etc/xvrrpd/notify.sh", "master", "two words"].map(String::from)[..])
    );
    assert_eq!(
        vi.notify.any.as_ref().map(|s| &s.command[..]),
        Some(&["/etc/xvrrpd/notify-all.sh".to_owned()][..])
    );
    assert_eq!(vi.notify.backup, None);
    let group = &config.sync_groups[0];
    assert_eq!(group.members, ["VI_2", "VI_3"]);
    let fault = group
        .notify
        .fault
        .as_ref()
        .expect("the group's notify_fault");
    assert_eq!(fault.command, ["/etc/xvrrpd/group.sh", "FAULT"]);
    let user = fault.user.as_ref().expect("its user");
    assert_eq!(
        (user.user.as_str(), user.group.as_deref()),
        ("nobody", Some("nogroup"))
    );
    assert_eq!(
        vi.notify.master.as_ref().and_then(|s| s.user.as_ref()),
        None
    );
    assert_eq!(group.line, 56);
}

#[test]
fn every_bad_file_has_a_test() {
    let source = include_str!("config_files.rs");
    let mut names: Vec<String> = std::fs::read_dir(data_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with("bad_"))
        .collect();
    names.sort();
    for name in names {
        assert!(
            source.contains(&format!("\"{name}\"")),
            "{name} is not tested"
        );
    }
}

/// Whatever the text, the reader answers; an error has a sensible line, and an accepted
/// configuration makes valid state machine configurations.
fn check_any(text: &str) {
    let lines = text.split('\n').count();
    match Config::from_toml_str(text, "p.toml") {
        Ok(loaded) => {
            assert!(!loaded.config.instances.is_empty());
            for instance in &loaded.config.instances {
                let primary = match instance.family() {
                    Family::V4 => ip("192.0.2.250"),
                    Family::V6 => ip("fe80::250"),
                };
                assert_eq!(instance.fsm_config(primary).validate(), Ok(()));
                assert!((1..=lines).contains(&instance.line));
            }
        }
        Err(err) => {
            assert!(!err.diagnostics().is_empty(), "{err}");
            for diagnostic in err.diagnostics() {
                assert_eq!(diagnostic.file, "p.toml");
                assert!((1..=lines).contains(&diagnostic.line), "{diagnostic}");
                assert!(!diagnostic.message.is_empty());
            }
            assert!(err.to_string().starts_with("p.toml:"));
        }
    }
}

/// Lines made of the configuration's own keys and plausible values, to get past the parser.
fn config_line() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "name",
        "interface",
        "vrid",
        "priority",
        "version",
        "advert_interval",
        "preempt",
        "preempt_delay",
        "virtual_ips",
        "unicast_peers",
        "unicast_source",
        "auth_pass",
        "checksum",
        "pass_adverts",
        "garp_repeat",
        "garp_interval",
        "garp_delay",
        "garp_refresh",
        "garp_refresh_repeat",
        "router_id",
        "control_socket",
        "xdp",
        "bogus",
    ]);
    let word = prop::sample::select(vec![
        "1s",
        "100ms",
        "2.5s",
        "0s",
        "15ms",
        "40.95s",
        "-1s",
        "1m",
        "",
        "VI_1",
        "eth0",
        "auto",
        "off",
        "skb",
        "vrrp-only",
        "pseudo-header",
        "secret",
        "0123456789",
        "192.0.2.1/24",
        "192.0.2.2",
        "2001:db8::1/64",
        "fe80::1",
        "224.0.0.18",
        "192.0.2.1/40",
    ]);
    let value = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        (0i64..300).prop_map(|n| n.to_string()),
        word.clone().prop_map(|w| toml::Value::from(w).to_string()),
        "\\PC{0,12}".prop_map(|s| toml::Value::from(s).to_string()),
        prop::collection::vec(word, 0..4)
            .prop_map(|ws| toml::Value::from(ws.into_iter().collect::<Vec<_>>()).to_string()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        Just("1.5".to_owned()),
        Just("1979-05-27".to_owned()),
        Just("{ a = 1 }".to_owned()),
    ];
    prop_oneof![
        1 => Just("[global]".to_owned()),
        2 => Just("[[instance]]".to_owned()),
        1 => prop::sample::select(vec!["[instance]", "[[global]]", "[x]", "#", ""])
            .prop_map(str::to_owned),
        12 => (key, value).prop_map(|(k, v)| format!("{k} = {v}")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC*") {
        check_any(&text);
    }

    #[test]
    fn arbitrary_bytes_as_text_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        check_any(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn config_like_text_never_panics(lines in prop::collection::vec(config_line(), 0..40)) {
        check_any(&lines.join("\n"));
    }

    #[test]
    fn a_valid_instance_plus_noise_never_panics(
        noise in prop::collection::vec(config_line(), 0..6),
    ) {
        let text = format!(
            "[[instance]]\nname = \"a\"\ninterface = \"eth0\"\nvrid = 1\n\
             virtual_ips = [\"192.0.2.1\"]\n{}",
            noise.join("\n")
        );
        check_any(&text);
    }
}

#[test]
fn a_sync_group_with_tracking_weight_lets_members_weigh_their_own_trackers() {
    let path = format!(
        "{}/tests/data/config/bad_sync_group_weight.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).unwrap() + "tracking_weight = true\n";
    let config = Config::from_toml_str(&text, "weights.toml")
        .unwrap_or_else(|e| panic!("{e}"))
        .config;
    assert!(config.sync_groups[0].tracking_weight);
    assert_eq!(config.instances[1].track_scripts[0].weight, Some(10));
    let converted = Config::from_toml_str(&vrrp_user::config::to_toml(&config), "c.toml")
        .unwrap_or_else(|e| panic!("{e}"))
        .config;
    assert!(converted.sync_groups[0].tracking_weight);
    assert_eq!(
        converted.instances[1].track_scripts,
        config.instances[1].track_scripts
    );
}
