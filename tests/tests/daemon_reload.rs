//! Operations on a running pair: configuration reloads that must not disturb the network, the
//! status JSON, the Prometheus endpoint, and the systemd notification protocol. Root only.
use std::{
    io::{Read, Write},
    net::TcpStream,
    os::unix::net::UnixDatagram,
    time::{Duration, Instant},
};

use tests::lab::{Lab, Outage};

const VIP: &str = "192.0.2.100";
const ADDED_VIP: &str = "192.0.2.101";
const OTHER_INSTANCE_VIP: &str = "192.0.2.102";
const SETTLE: Duration = Duration::from_secs(5);
const METRICS: &str = "127.0.0.1:9650";

/// Router `name`'s native config: instance VI_1 (VRID 51, 100 ms adverts) with `vips`, and
/// `extra` appended (more instances).
fn config(name: &str, priority: u8, vips: &[&str], extra: &str) -> String {
    let vips: Vec<String> = vips.iter().map(|vip| format!("\"{vip}/24\"")).collect();
    format!(
        "[global]\nrouter_id = \"{name}\"\ncontrol_socket = \"@SOCKET@\"\n\
         metrics_listen = \"{METRICS}\"\n\n\
         [[instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvrid = 51\n\
         priority = {priority}\nadvert_interval = \"100ms\"\nvirtual_ips = [{}]\n{extra}",
        vips.join(", ")
    )
}

const SECOND_INSTANCE: &str = "\n[[instance]]\nname = \"VI_2\"\ninterface = \"eth0\"\n\
    vrid = 52\npriority = 150\nadvert_interval = \"100ms\"\nvirtual_ips = [\"192.0.2.102/24\"]\n";

/// r0 master at 150, r1 backup at 100.
fn pair(tag: &str) -> Lab {
    let mut lab = Lab::new(tag, 2);
    lab.start_file(0, "r0.toml", &config("r0", 150, &[VIP], ""));
    assert!(lab.wait_for_holder(0, VIP, SETTLE), "{}", lab.logs());
    lab.start_file(1, "r1.toml", &config("r1", 100, &[VIP], ""));
    assert!(lab.wait_for_state(1, "backup", SETTLE), "{}", lab.logs());
    lab
}

fn counter(status: &serde_json::Value, instance: usize, name: &str) -> u64 {
    status["instances"][instance]["counters"][name]
        .as_u64()
        .unwrap_or_else(|| panic!("counter {name} missing in {status}"))
}

/// Pings the VIP every 2 ms for `duration` while `during` runs after 300 ms.
fn pings_during(lab: &Lab, target: &str, duration: Duration, during: impl FnOnce()) -> Outage {
    std::thread::scope(|scope| {
        let ping = scope.spawn(|| lab.ping_outage(target, Duration::from_millis(2), duration));
        std::thread::sleep(Duration::from_millis(300));
        during();
        ping.join().expect("ping thread")
    })
}

/// Reloads r0 with `new` through `xvrrpd reload` and returns its stdout.
fn reload_r0(lab: &Lab, new: &str) -> String {
    lab.reload_with(0, "r0.toml", new)
}

/// The backup never took over and the master never left.
fn assert_no_transition(lab: &Lab) {
    let master = lab.status(0);
    let backup = lab.status(1);
    assert_eq!(master["instances"][0]["state"], "master", "{master}");
    assert_eq!(counter(&master, 0, "released_master"), 0, "{master}");
    assert_eq!(backup["instances"][0]["state"], "backup", "{backup}");
    assert_eq!(counter(&backup, 0, "became_master"), 0, "{backup}");
}

#[test]
fn reloads_leave_unchanged_instances_alone() {
    tests::require_root();
    let lab = pair("reload");
    let window = Duration::from_secs(2);

    // The same file again: nothing happens, not even a lost ping.
    let same = config("r0", 150, &[VIP], "");
    let mut summary = String::new();
    let outage = pings_during(&lab, VIP, window, || summary = reload_r0(&lab, &same));
    assert_eq!(
        summary.trim(),
        "reloaded: 1 unchanged, 0 changed in place, 0 restarted, 0 added, 0 removed"
    );
    assert_eq!(outage.received, outage.sent, "{outage:?}\n{}", lab.logs());
    assert_no_transition(&lab);

    // A lower priority that still wins, by SIGHUP this time: advertised, no transition.
    lab.write_config(0, "r0.toml", &config("r0", 120, &[VIP], ""));
    let outage = pings_during(&lab, VIP, window, || lab.signal(0, "HUP"));
    assert_eq!(outage.received, outage.sent, "{outage:?}\n{}", lab.logs());
    let status = lab.status(0);
    assert_eq!(status["instances"][0]["priority"], 120, "{status}");
    assert_eq!(status["instances"][0]["effective_priority"], 120);
    assert_no_transition(&lab);

    // An added VIP is added in place and announced; the first one keeps answering.
    let before = counter(&lab.status(0), 0, "gratuitous_sent");
    let two_vips = config("r0", 120, &[VIP, ADDED_VIP], "");
    let outage = pings_during(&lab, VIP, window, || {
        reload_r0(&lab, &two_vips);
    });
    assert_eq!(outage.received, outage.sent, "{outage:?}\n{}", lab.logs());
    assert!(lab.holds(0, ADDED_VIP), "{}", lab.logs());
    assert!(counter(&lab.status(0), 0, "gratuitous_sent") > before);
    let reach = lab.ping_outage(
        ADDED_VIP,
        Duration::from_millis(10),
        Duration::from_millis(300),
    );
    assert!(reach.received > 0, "the added VIP answers: {reach:?}");
    assert_no_transition(&lab);

    // A removed VIP goes; the other stays.
    let outage = pings_during(&lab, VIP, window, || {
        reload_r0(&lab, &config("r0", 120, &[VIP], ""));
    });
    assert_eq!(outage.received, outage.sent, "{outage:?}\n{}", lab.logs());
    assert!(!lab.holds(0, ADDED_VIP), "{}", lab.logs());
    assert!(lab.holds(0, VIP));
    assert_no_transition(&lab);

    // An added instance starts (and, alone on its VRID, becomes master); VI_1 is untouched.
    let with_second = config("r0", 120, &[VIP], SECOND_INSTANCE);
    let outage = pings_during(&lab, VIP, window, || {
        let summary = reload_r0(&lab, &with_second);
        assert!(summary.contains("1 added"), "{summary}");
    });
    assert_eq!(outage.received, outage.sent, "{outage:?}\n{}", lab.logs());
    assert!(
        tests::eventually(SETTLE, || lab.holds(0, OTHER_INSTANCE_VIP)),
        "{}",
        lab.logs()
    );
    assert_eq!(lab.status(0)["instances"][1]["name"], "VI_2");
    assert_no_transition(&lab);

    // ... and a removed one resigns and releases its VIP.
    let outage = pings_during(&lab, VIP, window, || {
        let summary = reload_r0(&lab, &config("r0", 120, &[VIP], ""));
        assert!(summary.contains("1 removed"), "{summary}");
    });
    assert_eq!(outage.received, outage.sent, "{outage:?}\n{}", lab.logs());
    assert!(!lab.holds(0, OTHER_INSTANCE_VIP), "{}", lab.logs());
    assert_eq!(lab.status(0)["instances"].as_array().map(Vec::len), Some(1));
    assert_no_transition(&lab);

    // An invalid file changes nothing: `xvrrpd reload` fails and says why.
    lab.write_config(0, "r0.toml", "[[instance]]\nname = \"VI_1\"\nvrid = 300\n");
    let outage = pings_during(&lab, VIP, window, || {
        let out = lab.reload(0);
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("the new configuration is invalid; keeping the running one")
                && stderr.contains("r0.toml:3:"),
            "{stderr}"
        );
    });
    assert_eq!(outage.received, outage.sent, "{outage:?}\n{}", lab.logs());
    assert_eq!(lab.status(0)["instances"][0]["priority"], 120);
    assert_no_transition(&lab);
}

#[test]
fn a_vip_moved_between_kept_instances_stays_on_the_interface() {
    tests::require_root();
    let mut lab = Lab::new("reload-move", 1);
    lab.start_file(
        0,
        "r0.toml",
        &config("r0", 150, &[VIP, ADDED_VIP], SECOND_INSTANCE),
    );
    assert!(lab.wait_for_holder(0, ADDED_VIP, SETTLE), "{}", lab.logs());
    assert!(
        lab.wait_for_holder(0, OTHER_INSTANCE_VIP, SETTLE),
        "{}",
        lab.logs()
    );
    // ADDED_VIP goes from VI_1 to VI_2, which the file now lists first.
    let instance = |name: &str, vrid: u8, vips: &[&str]| {
        let vips: Vec<String> = vips.iter().map(|vip| format!("\"{vip}/24\"")).collect();
        format!(
            "\n[[instance]]\nname = \"{name}\"\ninterface = \"eth0\"\nvrid = {vrid}\n\
             priority = 150\nadvert_interval = \"100ms\"\nvirtual_ips = [{}]\n",
            vips.join(", ")
        )
    };
    let moved = format!(
        "[global]\nrouter_id = \"r0\"\ncontrol_socket = \"@SOCKET@\"\n\
         metrics_listen = \"{METRICS}\"\n{}{}",
        instance("VI_2", 52, &[OTHER_INSTANCE_VIP, ADDED_VIP]),
        instance("VI_1", 51, &[VIP]),
    );
    let summary = reload_r0(&lab, &moved);
    assert!(summary.contains("2 changed in place"), "{summary}");
    std::thread::sleep(Duration::from_millis(500));
    assert!(lab.holds(0, ADDED_VIP), "{}", lab.logs());
    let reach = lab.ping_outage(
        ADDED_VIP,
        Duration::from_millis(10),
        Duration::from_millis(300),
    );
    assert_eq!(reach.received, reach.sent, "{reach:?}\n{}", lab.logs());
    let status = lab.status(0);
    let names: Vec<_> = status["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["name"].clone(), i["virtual_ips"].clone()))
        .collect();
    assert!(
        names
            .iter()
            .any(|(name, vips)| name == "VI_2" && vips.to_string().contains(ADDED_VIP)),
        "{names:?}"
    );
}

/// What is waiting in the FIFO at `path` (another process holds it open), without blocking.
fn fifo_lines(path: &std::path::Path) -> String {
    use std::os::unix::fs::OpenOptionsExt;
    let mut text = String::new();
    if let Ok(mut fifo) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
    {
        let _ = fifo.read_to_string(&mut text);
    }
    text
}

#[test]
fn a_reload_gives_notify_scripts_and_the_fifo_the_new_name_and_path() {
    tests::require_root();
    let mut lab = Lab::new("reload-notify", 2);
    let dir = lab.dir().to_path_buf();
    lab.write_script("record.sh", "echo \"$*\" >> \"$(dirname \"$0\")/calls\"\n");
    let r0 = |name: &str, fifo: &str| {
        config("r0", 150, &[VIP], "notify = \"@DIR@/record.sh\"\n")
            .replace(
                "[global]\n",
                &format!("[global]\nnotify_fifo = \"@DIR@/{fifo}\"\n"),
            )
            .replace("name = \"VI_1\"", &format!("name = \"{name}\""))
    };
    lab.start_file(0, "r0.toml", &r0("VI_1", "a.fifo"));
    assert!(lab.wait_for_holder(0, VIP, SETTLE), "{}", lab.logs());
    let summary = reload_r0(&lab, &r0("VI_X", "b.fifo"));
    assert!(summary.contains("1 changed in place"), "{summary}");
    // A higher-priority router: r0 goes Backup and tells of it under the new name.
    lab.start_file(1, "r1.toml", &config("r1", 200, &[VIP], ""));
    assert!(lab.wait_for_holder(1, VIP, SETTLE), "{}", lab.logs());
    let calls = || std::fs::read_to_string(dir.join("calls")).unwrap_or_default();
    assert!(
        tests::eventually(SETTLE, || calls().contains("INSTANCE VI_X BACKUP 150")),
        "{}\n{}",
        calls(),
        lab.logs()
    );
    let fifo = fifo_lines(&dir.join("b.fifo"));
    assert!(fifo.contains("INSTANCE \"VI_X\" BACKUP 150"), "{fifo:?}");
    assert!(!dir.join("a.fifo").exists(), "the old FIFO is removed");
}

/// A check that always passes, tracked with weight 0: were it ever pending again, the master
/// would go to Fault.
const PASSING_CHECK: &str = "\n[[script]]\nname = \"ok\"\ncommand = \"/bin/true\"\n\
    interval = \"200ms\"\n";

#[test]
fn reloads_keep_checks_running_and_follow_tracking_changes() {
    tests::require_root();
    let mut lab = Lab::new("reload-track", 2);
    let tracking = |extra: &str| {
        config(
            "r0",
            150,
            &[VIP],
            &format!("track_scripts = [\"ok\"]\n{extra}{PASSING_CHECK}"),
        )
    };
    lab.start_file(0, "r0.toml", &tracking(""));
    assert!(lab.wait_for_holder(0, VIP, SETTLE), "{}", lab.logs());
    lab.start_file(1, "r1.toml", &config("r1", 100, &[VIP], ""));
    assert!(lab.wait_for_state(1, "backup", SETTLE), "{}", lab.logs());
    let window = Duration::from_secs(2);

    // Another instance, and the script's definition moved down a line: the check keeps
    // running, VI_1 keeps its health and stays master.
    let moved = tracking("").replace(
        "\n[[script]]",
        &format!("{SECOND_INSTANCE}\n# one line down\n[[script]]"),
    );
    let outage = pings_during(&lab, VIP, window, || {
        let summary = reload_r0(&lab, &moved);
        assert!(
            summary.contains("1 unchanged") && summary.contains("1 added"),
            "{summary}"
        );
    });
    assert_eq!(outage.received, outage.sent, "{outage:?}\n{}", lab.logs());
    assert_no_transition(&lab);
    assert_eq!(lab.status(0)["instances"][0]["effective_priority"], 150);

    // A newly tracked interface that is down (weight 0) takes VI_1 to Fault: r1 takes over.
    lab.routers[0].netns.ip(&[
        "link", "add", "xdown0", "type", "veth", "peer", "name", "xdown1",
    ]);
    reload_r0(&lab, &tracking("track_interfaces = [\"xdown0\"]\n"));
    assert!(lab.wait_for_holder(1, VIP, SETTLE), "{}", lab.logs());
    assert_eq!(lab.status(0)["instances"][0]["state"], "fault");

    // No tracking at all any more: the fault ends and r0 preempts again.
    reload_r0(&lab, &config("r0", 150, &[VIP], PASSING_CHECK));
    assert!(lab.wait_for_holder(0, VIP, SETTLE), "{}", lab.logs());
    assert_eq!(lab.status(0)["instances"][0]["state"], "master");
}

#[test]
fn a_master_keeps_advertising_across_reloads_that_change_its_sender() {
    tests::require_root();
    let lab = pair("reload-peers");
    // Multicast frames to unicast datagrams through a raw socket, and back: r1 (multicast,
    // no allow-list) hears r0 either way, and must not take over.
    for (to, extra) in [
        ("unicast", "unicast_peers = [\"192.0.2.12\"]\n"),
        ("multicast", ""),
    ] {
        let before = counter(&lab.status(0), 0, "adverts_sent");
        let summary = reload_r0(&lab, &config("r0", 150, &[VIP], extra));
        assert!(summary.contains("1 changed in place"), "{to}: {summary}");
        // 20 adverts at 100 ms; the backup would take over after 360 ms of silence.
        std::thread::sleep(Duration::from_secs(2));
        let sent = counter(&lab.status(0), 0, "adverts_sent") - before;
        assert!(
            sent >= 10,
            "{to}: {sent} adverts sent in 2 s\n{}",
            lab.logs()
        );
        assert_no_transition(&lab);
    }
}

#[test]
fn status_json_describes_each_instance() {
    tests::require_root();
    let lab = pair("stjson");
    let status = lab.status(0);
    assert_eq!(status["router_id"], "r0");
    let instance = &status["instances"][0];
    assert_eq!(instance["name"], "VI_1");
    assert_eq!(instance["interface"], "eth0");
    assert_eq!(instance["vrid"], 51);
    assert_eq!(instance["family"], "ipv4");
    assert_eq!(instance["version"], 3);
    assert_eq!(instance["state"], "master");
    assert_eq!(instance["priority"], 150);
    assert_eq!(instance["effective_priority"], 150);
    assert_eq!(instance["master_address"], "192.0.2.11");
    assert_eq!(instance["virtual_ips"][0], "192.0.2.100/24");
    assert_eq!(instance["advert_interval_ms"], 100);
    assert!(instance["since_secs"].as_f64().is_some_and(|s| s > 0.0));
    assert!(counter(&status, 0, "adverts_sent") > 0);
    assert_eq!(counter(&status, 0, "became_master"), 1);
    // The backup is not woken per advert, yet its status counts them (from the data plane).
    std::thread::sleep(Duration::from_millis(500));
    let backup = lab.status(1);
    assert_eq!(backup["instances"][0]["master_address"], "192.0.2.11");
    assert!(counter(&backup, 0, "adverts_received") >= 3, "{backup}");
    assert_eq!(status["dataplane"]["mode"], "skb", "auto on veth");
    assert!(status["dataplane"]["counters"]["advert_accepted"].is_u64());
}

/// `GET /metrics` from inside router `index`'s namespace.
fn scrape(lab: &Lab, index: usize) -> String {
    lab.routers[index].netns.enter(|| {
        let mut stream = TcpStream::connect(METRICS).expect("metrics endpoint");
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        reply
    })
}

fn metric(text: &str, name: &str) -> u64 {
    let labels = r#"{iname="VI_1",intf="eth0",vrid="51"}"#;
    let prefix = format!("{name}{labels} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("{prefix} missing in\n{text}"))
}

#[test]
fn metrics_follow_adverts_and_failovers() {
    tests::require_root();
    let lab = pair("metrics");
    let first = scrape(&lab, 0);
    assert_eq!(metric(&first, "xvrrpd_vrrp_state"), 2);
    assert_eq!(metric(&first, "xvrrpd_vrrp_effective_priority"), 150);
    assert!(
        // `auto` on veth: generic XDP.
        first.contains("xvrrpd_dataplane_mode{mode=\"skb\"} 1"),
        "{first}"
    );
    std::thread::sleep(Duration::from_millis(500));
    let second = scrape(&lab, 0);
    assert!(
        metric(&second, "xvrrpd_advertisements_sent_total")
            >= metric(&first, "xvrrpd_advertisements_sent_total") + 3
    );
    let backup = scrape(&lab, 1);
    assert_eq!(metric(&backup, "xvrrpd_vrrp_state"), 1);
    assert!(metric(&backup, "xvrrpd_advertisements_received_total") > 0);
    assert!(
        backup.contains("xvrrpd_xdp_adverts_absorbed_total "),
        "{backup}"
    );

    // The master resigns: the backup's metrics show the takeover.
    lab.signal(0, "TERM");
    assert!(lab.wait_for_holder(1, VIP, SETTLE), "{}", lab.logs());
    let after = scrape(&lab, 1);
    assert_eq!(metric(&after, "xvrrpd_vrrp_state"), 2);
    assert_eq!(metric(&after, "xvrrpd_became_master_total"), 1);
    assert!(metric(&after, "xvrrpd_priority_zero_received_total") >= 1);
}

#[test]
fn systemd_hears_ready_watchdog_reloading_and_stopping() {
    tests::require_root();
    let mut lab = Lab::new("sdnotify", 1);
    let socket_path = lab.dir().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("notify socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let notify = socket_path.display().to_string();
    lab.start_file_env(
        0,
        "r0.toml",
        &config("r0", 150, &[VIP], ""),
        &[("NOTIFY_SOCKET", &notify), ("WATCHDOG_USEC", "200000")],
    );
    let mut heard = Vec::<String>::new();
    let listen = |limit: Duration, until: &str, heard: &mut Vec<String>| {
        let deadline = Instant::now() + limit;
        let mut buf = [0u8; 512];
        while Instant::now() < deadline {
            if let Ok(len) = socket.recv(&mut buf) {
                let message = String::from_utf8_lossy(&buf[..len]).into_owned();
                let found = message.lines().any(|line| line == until);
                heard.push(message);
                if found {
                    return true;
                }
            }
        }
        false
    };
    assert!(
        listen(SETTLE, "READY=1", &mut heard),
        "{heard:?}\n{}",
        lab.logs()
    );
    // Started means every instance has taken its first state.
    assert!(
        lab.try_status(0)
            .is_some_and(|s| s["instances"][0]["state"] != "init")
    );
    let pings_before = heard.iter().filter(|m| m.contains("WATCHDOG=1")).count();
    std::thread::sleep(Duration::from_millis(350));
    assert!(listen(Duration::from_secs(1), "WATCHDOG=1", &mut heard));
    assert!(
        heard.iter().filter(|m| m.contains("WATCHDOG=1")).count() > pings_before,
        "{heard:?}"
    );
    lab.signal(0, "HUP");
    assert!(listen(SETTLE, "RELOADING=1", &mut heard), "{heard:?}");
    assert!(listen(SETTLE, "STATUS=reloaded", &mut heard), "{heard:?}");
    // A reload that fails says so in the status systemd shows.
    lab.write_config(0, "r0.toml", "[[instance]]\nvrid = 300\n");
    lab.signal(0, "HUP");
    assert!(listen(SETTLE, "RELOADING=1", &mut heard), "{heard:?}");
    assert!(
        listen(SETTLE, "STATUS=reload failed: see the log", &mut heard),
        "{heard:?}"
    );
    assert!(heard.last().is_some_and(|m| m.contains("READY=1")));
    // A slow reload (VI_1 resigns, its notify_stop takes a second) keeps the watchdog fed.
    let slow_stop = config("r0", 150, &[VIP], "notify_stop = \"/bin/sleep 1\"\n");
    reload_r0(&lab, &slow_stop);
    assert!(listen(SETTLE, "STATUS=reloaded", &mut heard), "{heard:?}");
    let replaced = slow_stop.replace("vrid = 51", "vrid = 52");
    lab.write_config(0, "r0.toml", &replaced);
    heard.clear();
    lab.signal(0, "HUP");
    assert!(listen(SETTLE, "STATUS=reloaded", &mut heard), "{heard:?}");
    let reloading = heard.iter().position(|m| m.contains("RELOADING=1"));
    let pings = reloading.map_or(0, |at| {
        heard[at..]
            .iter()
            .filter(|m| m.contains("WATCHDOG=1"))
            .count()
    });
    assert!(
        pings >= 3,
        "{pings} watchdog pings in a 1 s reload: {heard:?}\n{}",
        lab.logs()
    );
    lab.signal(0, "TERM");
    assert!(listen(SETTLE, "STOPPING=1", &mut heard), "{heard:?}");
    assert_eq!(lab.wait_exit(0, SETTLE), Some(0), "{}", lab.logs());
}

/// The instances `status` names and their states.
fn states(status: &serde_json::Value) -> Vec<(String, String)> {
    let instances = status["instances"].as_array().cloned().unwrap_or_default();
    instances
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap_or("?").into(),
                i["state"].as_str().unwrap_or("?").into(),
            )
        })
        .collect()
}

#[test]
fn an_instance_a_reload_cannot_start_starts_when_its_interface_comes_up() {
    tests::require_root();
    let mut lab = Lab::new("latecomer", 1);
    lab.start_file(0, "r0.toml", &config("r0", 150, &[VIP], ""));
    assert!(lab.wait_for_holder(0, VIP, SETTLE), "{}", lab.logs());
    // VI_2 is on eth1, which does not exist yet (a VLAN or bond created after the reload).
    let late = "\n[[instance]]\nname = \"VI_2\"\ninterface = \"eth1\"\nvrid = 52\n\
                priority = 150\nadvert_interval = \"100ms\"\nvirtual_ips = [\"198.51.100.100/24\"]\n";
    lab.write_config(0, "r0.toml", &config("r0", 150, &[VIP], late));
    let out = lab.reload(0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("instance VI_2") && stderr.contains("tried again when eth1 next comes up"),
        "the reload says what failed and what happens next: {stderr}"
    );
    assert_eq!(
        states(&lab.status(0)),
        [("VI_1".to_string(), "master".to_string())],
        "VI_1 carries on"
    );

    let netns = &lab.routers[0].netns;
    netns.ip(&[
        "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p",
    ]);
    netns.ip(&["addr", "add", "198.51.100.1/24", "dev", "eth1"]);
    netns.ip(&["link", "set", "eth1p", "up"]);
    netns.ip(&["link", "set", "eth1", "up"]);
    let deadline = Instant::now() + SETTLE;
    let started = loop {
        let states = states(&lab.status(0));
        if states.contains(&("VI_2".to_string(), "master".to_string())) || Instant::now() > deadline
        {
            break states;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        started,
        [
            ("VI_1".to_string(), "master".to_string()),
            ("VI_2".to_string(), "master".to_string())
        ],
        "{}",
        lab.logs()
    );
    let addresses = netns.ip(&["-o", "addr", "show", "dev", "eth1"]);
    assert!(
        String::from_utf8_lossy(&addresses.stdout).contains("198.51.100.100/24"),
        "{}",
        lab.logs()
    );
    assert!(lab.logs().contains("eth1 is back"), "{}", lab.logs());
}

#[test]
fn an_instance_added_with_a_vip_another_holds_leaves_it_in_place() {
    // VI_2 is added listing VI_1's VIP too: as it starts, the VIP on eth0 is VI_1's, not one
    // a killed daemon left, and must stay (a client pinging it loses nothing).
    let mut lab = Lab::new("sharedvip", 1);
    lab.start_file(0, "r0.toml", &config("r0", 150, &[VIP], ""));
    assert!(lab.wait_for_holder(0, VIP, SETTLE), "{}", lab.logs());
    let shared = SECOND_INSTANCE
        .replace("priority = 150", "priority = 100")
        .replace("192.0.2.102/24", "192.0.2.100/24");
    let outage = pings_during(&lab, VIP, Duration::from_secs(2), || {
        reload_r0(&lab, &config("r0", 150, &[VIP], &shared));
    });
    assert_eq!(outage.received, outage.sent, "{outage:?}\n{}", lab.logs());
    assert!(lab.holds(0, VIP), "{}", lab.logs());
    assert!(
        !lab.logs().contains("already configured before start"),
        "{}",
        lab.logs()
    );
}
