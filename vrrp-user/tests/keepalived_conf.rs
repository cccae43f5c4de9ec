//! keepalived.conf files modelled on the setups operators publish (`tests/data/keepalived-conf/
//! good`) and on the mistakes found in them (`bad`): `xvrrpd check` on every file with every
//! warning and error asserted exactly, what the reader makes of them, and `xvrrpd convert`
//! whose TOML loads back to the same configuration.
use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    time::Duration,
};

use vrrp_user::{
    config::{Config, NotifyScript, TrackFile, TrackInterface, TrackScript, Vip},
    fsm::AdvertInterval,
    units::{Centiseconds, Seconds},
};

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/keepalived-conf")
}

/// `xvrrpd ARGS` run in the data directory (messages name files relative to it).
fn xvrrpd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xvrrpd"))
        .args(args)
        .current_dir(data_dir())
        .env("RUST_LOG", "off")
        .output()
        .expect("run xvrrpd")
}

/// `xvrrpd check -c FILE`: its exit code, stdout and stderr.
fn check(file: &str) -> (Option<i32>, String, String) {
    // The fixtures' scripts are not on this host: that is the file's business alone.
    let out = xvrrpd(&["check", "--file-only", "-c", file]);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Loads a file of the data directory as the library does.
fn load(file: &str) -> Config {
    Config::load(data_dir().join(file))
        .unwrap_or_else(|e| panic!("{file}: {e}"))
        .config
}

/// Good files: `good!(test, "file", instances, ["warning", ...])`; each warning is printed as
/// `FILE:LINE: warning: ...` and the check ends with `FILE: OK (N instance(s))`.
macro_rules! good {
    ($($test:ident, $file:literal, $instances:literal, [$($warning:expr),* $(,)?];)*) => {$(
        #[test]
        fn $test() {
            let (code, stdout, stderr) = check($file);
            let warnings: Vec<String> = vec![$($warning.to_string()),*];
            let expected: String = warnings.iter().map(|w| format!("{w}\n")).collect();
            assert_eq!(stderr, expected, "{}", $file);
            let plural = if $instances == 1 { "" } else { "s" };
            assert_eq!(stdout, format!("{}: OK ({} instance{plural})\n", $file, $instances));
            assert_eq!(code, Some(0));
        }
    )*};
}

/// Bad files: `bad!(test, "file", ["error", ...])`; each error is printed as `FILE:LINE:
/// error: ...`, then `xvrrpd: FILE: N error(s)`, and the exit code is 1.
macro_rules! bad {
    ($($test:ident, $file:literal, [$($line:expr),* $(,)?];)*) => {$(
        #[test]
        fn $test() {
            let (code, stdout, stderr) = check($file);
            let lines: Vec<String> = vec![$($line.to_string()),*];
            let errors = lines.iter().filter(|l| l.contains(": error: ")).count();
            let plural = if errors == 1 { "" } else { "s" };
            let expected: String = lines.iter().map(|l| format!("{l}\n")).collect::<String>()
                + &format!("xvrrpd: {}: {errors} error{plural}\n", $file);
            assert_eq!(stderr, expected, "{}", $file);
            assert_eq!(stdout, "");
            assert_eq!(code, Some(1));
        }
    )*};
}

const MAIL: &str = "xvrrpd sends no mail; ignored (notify scripts can)";

good! {
    sync_group_members_keepalived_does_not_know_are_left_out, "good/sync-group-members.conf", 1, [
        "good/sync-group-members.conf:6: warning: vrrp_sync_group G1: instance VI_MISSING is not \
         defined; left out, as keepalived does",
        "good/sync-group-members.conf:9: warning: vrrp_sync_group G2 has no member left; ignored",
        "good/sync-group-members.conf:11: warning: vrrp_sync_group G2: instance VI_1 is in sync \
         group G1; left out, as keepalived does",
    ];
    a_plain_include_of_a_missing_file_is_a_warning, "good/include-missing.conf", 1, [
        "good/include-missing.conf:2: warning: include optional-scripts.conf: \
         good/optional-scripts.conf does not exist; nothing included, as keepalived does \
         (includem, includew and includea refuse this)",
    ];
    haproxy_master, "good/haproxy-master.conf", 1, [
        format!("good/haproxy-master.conf:5: warning: notification_email: {MAIL}"),
        format!("good/haproxy-master.conf:8: warning: notification_email_from: {MAIL}"),
        format!("good/haproxy-master.conf:9: warning: smtp_server: {MAIL}"),
        format!("good/haproxy-master.conf:10: warning: smtp_connect_timeout: {MAIL}"),
    ];
    haproxy_backup, "good/haproxy-backup.conf", 1, [
        format!("good/haproxy-backup.conf:5: warning: notification_email: {MAIL}"),
        format!("good/haproxy-backup.conf:8: warning: notification_email_from: {MAIL}"),
        format!("good/haproxy-backup.conf:9: warning: smtp_server: {MAIL}"),
        format!("good/haproxy-backup.conf:10: warning: smtp_connect_timeout: {MAIL}"),
    ];
    cloud_unicast, "good/cloud-unicast.conf", 2, [];
    track_weights, "good/track-weights.conf", 1, [];
    v3_ipv6, "good/v3-ipv6.conf", 2, [
        "good/v3-ipv6.conf:30: warning: advert_int 0.125 is not a multiple of 10 ms, which \
         VRRPv3 needs; rounded to 0.13, as keepalived does",
    ];
    includes_with_globs, "good/includes/keepalived.conf", 2, [
        "good/includes/conf.d/20-private.conf:5: warning: unknown or unsupported keyword \
         \"vrrp_unknown_option\" in vrrp_instance; ignored",
        "good/includes/keepalived.conf:8: warning: include optional.d/*.conf: \
         good/includes/optional.d does not exist; nothing included, as keepalived does \
         (includem, includew and includea refuse this)",
    ];
    common_mistakes_are_accepted_with_the_right_form, "good/common-mistakes.conf", 2, [
        "good/common-mistakes.conf:3: warning: lvs_id is the old name of router_id; read as \
         router_id",
        "good/common-mistakes.conf:4: warning: unknown or unsupported keyword \
         \"vrrp_skip_check_adv_addr\" in global_defs; ignored",
        "good/common-mistakes.conf:5: warning: strict mode: read as keepalived reads it (no \
         authentication, state MASTER only for priority 255, no preempt_delay); traffic to the \
         VIPs is accepted, as with keepalived's `accept` (xvrrpd does not drop it)",
        "good/common-mistakes.conf:9: warning: state SLAVE is not MASTER or BACKUP; read as state \
         BACKUP, as keepalived does (write state BACKUP)",
        "good/common-mistakes.conf:14: warning: unicast_srcip is not a keepalived keyword \
         (keepalived ignores it): write unicast_src_ip; read as unicast_src_ip",
        "good/common-mistakes.conf:16: warning: strict mode: keepalived 2.2 refuses unicast peers \
         on an interface that can multicast; xvrrpd uses them",
        "good/common-mistakes.conf:24: warning: strict mode: state MASTER does not match priority \
         90 (MASTER is for the address owner, 255); read as state BACKUP, as keepalived does",
        "good/common-mistakes.conf:31: warning: strict mode has no authentication; the \
         authentication block is ignored, as keepalived does",
        "good/common-mistakes.conf:39: warning: virtual_server skipped: xvrrpd does the VRRP part \
         of keepalived only, not LVS (keep keepalived or ipvsadm for load balancing)",
    ];
}

bad! {
    vip_options_are_checked_and_labels_start_with_their_interface, "bad/vip-options.conf", [
        "bad/vip-options.conf:7: warning: virtual IP 192.0.2.12 goes on eth1, not on eth0: the \
         kernel answers ARP / NS for it there (the XDP data plane runs on eth0 only); gratuitous \
         ARP / NA for it go out of eth1",
        "bad/vip-options.conf:6: error: virtual IP 192.0.2.11: label \"vip1\" must start with \
         the name of its interface \"eth0\" (such as \"eth0:1\")",
        "bad/vip-options.conf:7: error: virtual IP 192.0.2.12: label \"eth0:2\" must start with \
         the name of its interface \"eth1\" (such as \"eth1:1\")",
        "bad/vip-options.conf:8: error: scope \"galaxy\" is not a scope: use global, site, link, \
         host, nowhere or a number 0..255",
        "bad/vip-options.conf:9: error: virtual IP 192.0.2.14: brd \"192.0.2.\" is not an IPv4 \
         address",
        "bad/vip-options.conf:12: error: virtual IP 198.51.100.7: label \"lo:1\" must start with \
         the name of its interface \"eth0\" (such as \"eth0:1\")",
    ];
    addresses_are_checked, "bad/addresses.conf", [
        "bad/addresses.conf:4: error: interface \"a-very-long-interface-name\" is not a valid \
         interface name (1 to 15 bytes, not \".\" or \"..\", no \"/\", \":\" or spaces)",
        "bad/addresses.conf:6: error: invalid virtual IP \"192.0.2.300/24\": \"192.0.2.300\" is \
         not an IP address",
        "bad/addresses.conf:7: error: virtual IP 192.0.2.9: label needs a value",
        "bad/addresses.conf:8: error: virtual IP 2001:db8::1: a broadcast address is for IPv4 \
         addresses only",
    ];
    ah_authentication_is_refused_clearly, "bad/auth-ah.conf", [
        "bad/auth-ah.conf:5: error: auth_type AH (IPsec authentication header) is not supported \
         by xvrrpd: use auth_type PASS, or no authentication",
    ];
    a_virtual_router_is_defined_once, "bad/duplicate-vrid.conf", [
        "bad/duplicate-vrid.conf:11: error: vrid 51 on eth0 for IPv4 is already used by instance \
         \"VI_1\" at line 1",
    ];
    an_included_file_must_exist, "bad/include-missing.conf", [
        "bad/include-missing.conf:1: error: includea missing.conf: bad/missing.conf does not \
         exist; nothing included",
    ];
    an_included_directory_is_named_so, "bad/include-directory.conf", [
        "bad/include-directory.conf:1: error: includea ../good/includes/conf.d: \
         bad/../good/includes/conf.d is a directory; skipped",
    ];
    interface_and_vrid_are_required, "bad/missing-keys.conf", [
        "bad/missing-keys.conf:1: error: vrrp_instance VI_1 has no interface",
        "bad/missing-keys.conf:1: error: vrrp_instance VI_1 has no virtual_router_id",
    ];
    vips_are_of_one_family, "bad/mixed-family.conf", [
        "bad/mixed-family.conf:7: error: virtual IP 2001:db8::51 is IPv6, but the first one is \
         IPv4; use one instance per address family",
    ];
    an_instance_is_required, "bad/no-instance.conf", [
        "bad/no-instance.conf:1: error: no vrrp_instance is defined; at least one is needed",
    ];
    a_vip_is_required, "bad/no-vip.conf", [
        "bad/no-vip.conf:1: error: vrrp_instance VI_1 has no virtual_ipaddress; xvrrpd needs at \
         least one (VRRPv3 requires one)",
    ];
    files_are_utf8, "bad/not-utf8.conf", [
        "bad/not-utf8.conf:4: error: this line is not valid UTF-8 (outside a comment)",
    ];
    peers_are_of_the_vips_family_and_listed_once, "bad/peers.conf", [
        "bad/peers.conf:6: error: unicast peer 2001:db8::2 is IPv6, but the virtual IPs are IPv4",
        "bad/peers.conf:8: error: unicast peer 192.0.2.3 is listed twice",
    ];
    vrid_and_priority_ranges, "bad/ranges.conf", [
        "bad/ranges.conf:3: error: virtual_router_id must be 1..255, got 0",
        "bad/ranges.conf:4: error: priority must be 1..255, got 256",
    ];
    reverse_weights_are_refused, "bad/reverse-weight.conf", [
        "bad/reverse-weight.conf:3: error: reverse is not supported by xvrrpd: use a weight of \
         the opposite sense (a positive weight counts while up, a negative one while down)",
    ];
    scripts_are_checked, "bad/scripts.conf", [
        "bad/scripts.conf:1: error: vrrp_script chk has no script to run",
        "bad/scripts.conf:5: error: script \"/bin/check 'unclosed\" is not a command: a single \
         quote is not closed",
        "bad/scripts.conf:6: error: weight must be -253..253, got 300",
    ];
    timers_are_in_range, "bad/timers.conf", [
        "bad/timers.conf:4: error: preempt_delay must be at most 1000 seconds, got 1500",
        "bad/timers.conf:5: error: advert_int must be more than 0",
        "bad/timers.conf:6: error: garp_master_repeat must be 0..100, got 500",
    ];
    tracked_files_are_defined, "bad/track-file-unknown.conf", [
        "bad/track-file-unknown.conf:5: error: track_file maintenance: no vrrp_track_file of that \
         name",
    ];
    blocks_are_closed, "bad/unclosed-block.conf", [
        "bad/unclosed-block.conf:1: error: this block is not closed: a } is missing",
    ];
    tracked_scripts_are_defined, "bad/unknown-script.conf", [
        "bad/unknown-script.conf:5: error: instance \"VI_1\" tracks script \"chk_haproxy\", which \
         is not defined",
    ];
    quotes_are_closed, "bad/unterminated-quote.conf", [
        "bad/unterminated-quote.conf:2: error: a \" quote is not closed on this line",
    ];
}

/// The files `xvrrpd check` is run on: the top-level `.conf` files of `good` and `bad`, and the
/// main file of `good/includes`.
fn fixture_files() -> Vec<String> {
    let mut files = vec!["good/includes/keepalived.conf".to_owned()];
    for dir in ["good", "bad"] {
        for entry in std::fs::read_dir(data_dir().join(dir)).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".conf") {
                files.push(format!("{dir}/{name}"));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn every_file_has_a_test() {
    let source = include_str!("keepalived_conf.rs");
    let files = fixture_files();
    assert!(files.len() >= 25, "{files:?}");
    for file in files {
        assert!(
            source.contains(&format!("\"{file}\"")),
            "{file} is not tested"
        );
    }
}

/// `line` fields say where things are written: the converted file writes them elsewhere.
fn without_lines(mut config: Config) -> Config {
    for instance in &mut config.instances {
        instance.line = 0;
    }
    for script in &mut config.scripts {
        script.line = 0;
    }
    for group in &mut config.sync_groups {
        group.line = 0;
    }
    config
}

#[test]
fn convert_prints_toml_that_loads_back_to_the_same_config() {
    let dir = std::env::temp_dir().join(format!("xvrrpd-convert-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good: Vec<String> = fixture_files()
        .into_iter()
        .filter(|f| f.starts_with("good/"))
        .collect();
    assert_eq!(good.len(), 9);
    for file in good {
        let out = xvrrpd(&["convert", "-c", &file]);
        assert_eq!(out.status.code(), Some(0), "{file}");
        let toml = String::from_utf8(out.stdout).unwrap();
        assert!(
            toml.starts_with("# xvrrpd configuration converted from "),
            "{toml}"
        );
        let converted = dir.join(format!("{}.toml", file.replace('/', "_")));
        std::fs::write(&converted, &toml).unwrap();
        let loaded = Config::load(&converted).unwrap_or_else(|e| panic!("{file}:\n{toml}\n{e}"));
        assert!(loaded.warnings.is_empty(), "{file}: {:?}", loaded.warnings);
        assert_eq!(
            without_lines(loaded.config),
            without_lines(load(&file)),
            "{file}:\n{toml}"
        );
        let checked = Command::new(env!("CARGO_BIN_EXE_xvrrpd"))
            .args(["check", "--file-only", "-c"])
            .arg(&converted)
            .output()
            .unwrap();
        assert_eq!(checked.status.code(), Some(0), "{file}");
        assert!(checked.stderr.is_empty(), "{file}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn convert_refuses_a_bad_file_like_check() {
    let out = xvrrpd(&["convert", "-c", "bad/auth-ah.conf"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("bad/auth-ah.conf:5: error: "));
}

fn vip(text: &str) -> Vip {
    let (address, len) = text.split_once('/').unwrap();
    Vip::plain(address.parse().unwrap(), len.parse().unwrap())
}

#[test]
fn the_haproxy_pair() {
    let master = load("good/haproxy-master.conf");
    let backup = load("good/haproxy-backup.conf");
    assert_eq!(master.global.router_id, "LB1");
    assert_eq!(backup.global.router_id, "LB2");
    let (m, b) = (&master.instances[0], &backup.instances[0]);
    assert_eq!((m.priority, b.priority), (101, 100));
    assert_eq!((m.vrid, m.interface.as_str()), (51, "eth0"));
    assert_eq!(m.interval, AdvertInterval::V2(Seconds(1)));
    assert_eq!(m.auth, Some(*b"h4pr0xy\0"));
    let addresses: Vec<String> = m.virtual_ips.iter().map(ToString::to_string).collect();
    assert_eq!(
        addresses,
        ["192.0.2.10/24", "192.0.2.11/24", "192.0.2.12/24"]
    );
    assert_eq!(m.virtual_ips[0].device.as_deref(), Some("eth0"));
    assert_eq!(m.virtual_ips[2].label.as_deref(), Some("eth0:vip3"));
    let script = &master.scripts[0];
    assert_eq!(script.name, "chk_haproxy");
    assert_eq!(script.command, ["killall", "-0", "haproxy"]);
    assert_eq!(script.interval, Duration::from_secs(2));
    assert_eq!(script.weight, 2);
    assert_eq!(
        m.track_scripts,
        [TrackScript {
            script: "chk_haproxy".into(),
            weight: None
        }]
    );
    assert_eq!(master.scripts, backup.scripts);
}

#[test]
fn the_cloud_unicast_setup() {
    let config = load("good/cloud-unicast.conf");
    let global = &config.global;
    assert_eq!(global.script_security.default_user.as_deref(), Some("root"));
    assert!(global.script_security.enforce);
    assert_eq!(
        global.notify_fifo.as_deref(),
        Some(Path::new("/run/keepalived/notify.fifo"))
    );
    let [public, private] = &config.instances[..] else {
        panic!("two instances")
    };
    assert!(!public.preempt && !private.preempt);
    assert_eq!(public.priority, 150);
    assert_eq!(
        public.unicast_source,
        Some("198.51.100.11".parse().unwrap())
    );
    assert_eq!(
        public.unicast_peers,
        ["198.51.100.12".parse::<std::net::IpAddr>().unwrap()]
    );
    assert_eq!(public.auth, Some(*b"cl0udlb1"));
    assert_eq!(public.garp.refresh, Duration::from_secs(60));
    assert_eq!(public.garp.refresh_repeat, 2);
    assert_eq!(private.garp.delay, Duration::from_secs(1));
    assert_eq!(
        private.garp.refresh_repeat, 3,
        "the instance's own overrides global_defs'"
    );
    let notify = &public.notify;
    let words = |s: &str| Some(NotifyScript::new(s.split(' ').map(String::from).collect()));
    assert_eq!(
        notify.master,
        words("/etc/keepalived/notify.sh INSTANCE VI_PUBLIC MASTER")
    );
    assert_eq!(
        notify.stop,
        words("/etc/keepalived/notify.sh INSTANCE VI_PUBLIC STOP")
    );
    assert_eq!(notify.any, words("/etc/keepalived/notify-all.sh"));
    assert!(private.notify.is_empty());
    let group = &config.sync_groups[0];
    assert_eq!(group.name, "VG_1");
    assert_eq!(group.members, ["VI_PUBLIC", "VI_PRIVATE"]);
    assert_eq!(
        group.notify.fault,
        words("/etc/keepalived/notify.sh GROUP FAULT")
    );
    assert_eq!(group.notify.stop, None);
}

#[test]
fn track_interface_file_and_script_weights() {
    let config = load("good/track-weights.conf");
    let vi = &config.instances[0];
    let interface = |name: &str, weight| TrackInterface {
        interface: name.into(),
        weight,
    };
    assert_eq!(
        vi.track_interfaces,
        [
            interface("eth1", -20),
            interface("eth2", 10),
            interface("eth3", 0)
        ]
    );
    assert_eq!(
        vi.track_files,
        [
            TrackFile {
                name: "maintenance".into(),
                path: "/run/keepalived/maintenance".into(),
                weight: -10
            },
            TrackFile {
                name: "bonus".into(),
                path: "/run/keepalived/bonus".into(),
                weight: 5
            },
        ]
    );
    assert_eq!(vi.track_scripts[0].weight, Some(-50));
    let script = &config.scripts[0];
    assert_eq!(
        script.command,
        [
            "/usr/bin/curl",
            "-fsS",
            "-o",
            "/dev/null",
            "http://127.0.0.1:8080/health"
        ]
    );
    assert_eq!(script.interval, Duration::from_millis(1500));
    assert_eq!(script.timeout, Duration::from_secs(1));
    assert_eq!((script.rise, script.fall, script.weight), (2, 3, -30));
    assert_eq!(script.user.as_deref(), Some("nobody"));
}

#[test]
fn vrrpv3_ipv6_and_vip_options() {
    let config = load("good/v3-ipv6.conf");
    let [v6, v4] = &config.instances[..] else {
        panic!("two instances")
    };
    assert_eq!(v6.interval, AdvertInterval::V3(Centiseconds(50)));
    assert_eq!(v4.interval, AdvertInterval::V3(Centiseconds(13)));
    assert_eq!(v6.virtual_ips[0], vip("fe80::80/64"));
    assert_eq!(v6.virtual_ips[2].scope, Some(0));
    assert_eq!(v6.excluded_ips, [vip("192.0.2.80/24")]);
    assert_eq!(v6.garp.interval, Duration::from_millis(10));
    assert_eq!(v4.garp.interval, Duration::ZERO);
    assert_eq!(
        v4.virtual_ips[0].broadcast,
        Some("192.0.2.255".parse().unwrap())
    );
    assert_eq!(v4.virtual_ips[0].scope, Some(253));
}

#[test]
fn includes_are_read_in_order() {
    let config = load("good/includes/keepalived.conf");
    assert_eq!(config.global.router_id, "lb-inc");
    let names: Vec<&str> = config.instances.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["VI_A", "VI_B"]);
    assert_eq!(config.scripts[0].name, "chk_nginx");
    assert_eq!(config.instances[0].track_scripts[0].script, "chk_nginx");
}

#[test]
fn common_mistakes_mean_what_keepalived_makes_of_them() {
    let config = load("good/common-mistakes.conf");
    assert_eq!(config.global.router_id, "LVS_DEVEL");
    let [vi1, vi2] = &config.instances[..] else {
        panic!("two instances")
    };
    assert_eq!(vi1.unicast_source, Some("192.0.2.2".parse().unwrap()));
    assert_eq!(vi1.priority, 100);
    // vrrp_strict: state MASTER below 255 is read as BACKUP, so nopreempt holds.
    assert!(!vi2.preempt);
    assert_eq!(vi2.auth, None);
    assert_eq!(vi2.interval, AdvertInterval::V3(Centiseconds(100)));
}

/// The configurations real keepalived ran to produce the captured packets load as they are.
#[test]
fn the_captured_keepalived_configs_load_without_warnings() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/keepalived");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "conf") {
            let loaded = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
            count += 1;
        }
    }
    assert_eq!(count, 7);
}

/// Writes `files` (name, text) into a fresh directory and checks its `keepalived.conf`.
fn check_files(tag: &str, files: &[(&str, &str)]) -> vrrp_user::config::Checked {
    let dir = std::env::temp_dir().join(format!("xvrrpd-kc-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let checked = Config::check(dir.join("keepalived.conf"));
    let _ = std::fs::remove_dir_all(&dir);
    checked
}

#[test]
fn an_include_a_parameter_makes_is_read_where_it_stands() {
    // keepalived reads a parameter's lines one at a time: each include sees the N set before it.
    let instance = "vrrp_instance VI_${N} {\n interface eth0\n virtual_router_id 5${N}\n \
                    virtual_ipaddress {\n  192.0.2.${N}/24\n }\n}\n";
    let main = "$T=$N=1 \\\ninclude inst.conf \\\n$N=2 \\\ninclude inst.conf\n$T\n\
                vrrp_script chk {\n script \"${_PWD}/chk.sh\"\n}\n";
    let checked = check_files(
        "param-include",
        &[("keepalived.conf", main), ("inst.conf", instance)],
    );
    let config = checked.result.unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = config.instances.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["VI_1", "VI_2"]);
    // ${_PWD}: the main file's directory again after the includes, absolute.
    let program = &config.scripts[0].command[0];
    let expected = std::env::temp_dir().canonicalize().unwrap().join(format!(
        "xvrrpd-kc-param-include-{}/chk.sh",
        std::process::id()
    ));
    assert_eq!(Path::new(program), expected);
}

#[test]
fn include_variants_fail_on_what_they_check_for() {
    let instance = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n \
                    virtual_ipaddress {\n  192.0.2.1/24\n }\n}\n";
    // As keepalived 2.2.7 (checked with keepalived -t): includer refuses what it cannot read,
    // includem that and a missing name (a wildcard in a directory that does not exist too),
    // includew those and a wildcard that matches nothing, includeb what it cannot read and a
    // missing brace alternative; braces make a missing name includeb's business alone.
    for (line, fails) in [
        ("include missing.conf", false),
        ("includer missing.conf", false),
        ("includem missing.conf", true),
        ("includea missing.conf", true),
        ("include none.d/*.conf", false),
        ("includem none.d/*.conf", true),
        ("includew none.d/*.conf", true),
        ("includew missing.conf", true),
        ("includeb missing.conf", false),
        ("includea none.d/*.conf", true),
        ("includem empty.d/*.conf", false),
        ("includew empty.d/*.conf", true),
        ("includea empty.d/*.conf", true),
        ("includem {gone,missing}.conf", false),
        ("includeb {gone,missing}.conf", true),
        ("includem empty.d", true),
        ("includew {gone,missing}.conf", false),
        ("include {inst,missing}.conf", false),
        ("includeb {inst,missing}.conf", true),
        ("includer empty.d", true),
        ("include empty.d", false),
    ] {
        let main = format!("{line}\n{instance}");
        let files = [
            ("keepalived.conf", main.as_str()),
            ("empty.d/README", ""),
            ("inst.conf", "! nothing\n"),
        ];
        let checked = check_files("variants", &files);
        assert_eq!(
            checked.result.is_err(),
            fails,
            "{line}: {:?}",
            checked.result.err()
        );
        if !fails {
            assert!(
                checked.warnings[0]
                    .message
                    .contains(", as keepalived does ("),
                "{line}: {:?}",
                checked.warnings
            );
        }
    }
}

#[test]
fn an_include_line_takes_brace_alternatives_in_order_and_spaces_in_names() {
    let instance = |n: u8| {
        format!(
            "vrrp_instance VI_{n} {{\n interface eth0\n virtual_router_id {n}\n \
             virtual_ipaddress {{\n  192.0.2.{n}/24\n }}\n}}\n"
        )
    };
    let main = "include {b,a}.conf\ninclude with space.conf\n";
    let (a, b, c) = (instance(1), instance(2), instance(3));
    let checked = check_files(
        "braces",
        &[
            ("keepalived.conf", main),
            ("a.conf", &a),
            ("b.conf", &b),
            ("with space.conf", &c),
        ],
    );
    let config = checked.result.unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = config.instances.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["VI_2", "VI_1", "VI_3"]);
    assert!(checked.warnings.is_empty(), "{:?}", checked.warnings);
}
