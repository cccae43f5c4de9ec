//! Faults around a running pair of xvrrpd routers: the master's daemon frozen (SIGSTOP) and
//! thawed, its link flapping a hundred times, its interface deleted; and a signal and a failure
//! during start-up. Afterwards there is exactly one master, no daemon crashed, and no VIP is
//! left where it should not be. Root only.
use std::{
    net::Ipv4Addr,
    os::unix::net::UnixDatagram,
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

use serde_json::Value;
use tests::{
    arping::{ArpReply, Probe, arping},
    attached::AttachedCounters,
    lab::{CLIENT_ADDRESS, Lab, config},
};
use vrrp_common::Counter;

const VIP: &str = "192.0.2.100";
const SETTLE: Duration = Duration::from_secs(5);
/// Adverts every 100 ms: the XDP heartbeat bound is three intervals (`daemon::heartbeat_bound`).
const HEARTBEAT_BOUND: Duration = Duration::from_millis(300);
/// The coarse clock XDP reads ticks at most every few milliseconds, and SIGSTOP takes effect
/// when the scheduler next looks: slack on top of the bound.
const STOP_SLACK: Duration = Duration::from_millis(100);

/// r0 master, r1 backup, both with `r0` / `r1` as configs.
fn pair(tag: &str, r0: &str, r1: &str) -> Lab {
    let mut lab = Lab::new(tag, 2);
    lab.start(0, r0);
    assert!(
        lab.wait_for_holder(0, VIP, SETTLE),
        "r0 should become master\n{}",
        lab.logs()
    );
    lab.start(1, r1);
    wait_for(&lab, SETTLE, "r1 backup", |lab| state(lab, 1) == "backup");
    lab
}

fn wait_for(lab: &Lab, limit: Duration, what: &str, done: impl Fn(&Lab) -> bool) -> Duration {
    let started = Instant::now();
    while started.elapsed() < limit {
        if done(lab) {
            return started.elapsed();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{what}: not within {limit:?}\n{}", lab.logs());
}

/// The first instance's state, or "" when the daemon does not answer.
fn state(lab: &Lab, index: usize) -> String {
    lab.try_status(index)
        .and_then(|status| status["instances"][0]["state"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn instance_counter(status: &Value, name: &str) -> u64 {
    status["instances"][0]["counters"][name]
        .as_u64()
        .unwrap_or_else(|| panic!("no counter {name} in {status}"))
}

fn mac_text(mac: [u8; 6]) -> String {
    mac.map(|b| format!("{b:02x}")).join(":")
}

#[test]
fn a_frozen_master_stops_answering_arp_from_xdp_and_the_backup_takes_over() {
    // Equal priorities: r0 is master because it came first; when both are masters after the
    // thaw, r1's higher address wins (RFC 5798 §6.4.3), so the frozen one must give way.
    let lab = pair(
        "freeze",
        &config("r0", 100, "100ms", ""),
        &config("r1", 100, "100ms", ""),
    );
    let r0_mac = lab.routers[0].netns.mac("eth0");
    let r1_mac = lab.routers[1].netns.mac("eth0");
    let r0_xdp = AttachedCounters::of(&lab.routers[0].netns, "eth0");
    let probe = Probe {
        ifindex: lab.client.ifindex("eth0"),
        mac: lab.client.mac("eth0"),
        sender: CLIENT_ADDRESS.parse().expect("client address"),
        target: VIP.parse::<Ipv4Addr>().expect("VIP"),
        interval: Duration::from_millis(20),
        limit: Duration::from_secs(20),
    };
    let stop_probe = AtomicBool::new(false);

    let (stopped_at, last_xdp_reply, stale, (requests, replies)) = std::thread::scope(|scope| {
        let prober = scope.spawn(|| lab.client.enter(|| arping(probe, &stop_probe)));
        std::thread::sleep(Duration::from_millis(300));
        let answering = r0_xdp.read();
        assert!(
            answering.get(Counter::ArpReply) > 0,
            "r0's XDP answers the client's ARP before the freeze: {answering:?}"
        );

        lab.signal(0, "STOP");
        let stopped_at = Instant::now();
        // Watch r0's counter straight from the kernel: the daemon cannot answer status.
        let mut replies = r0_xdp.get(Counter::ArpReply);
        let mut last_reply = Duration::ZERO;
        while stopped_at.elapsed() < Duration::from_secs(2) {
            let now = r0_xdp.get(Counter::ArpReply);
            if now != replies {
                replies = now;
                last_reply = stopped_at.elapsed();
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let stale = r0_xdp.get(Counter::OwnershipStale) - answering.get(Counter::OwnershipStale);
        wait_for(&lab, Duration::from_secs(3), "r1 takes over", |lab| {
            state(lab, 1) == "master" && lab.holds(1, VIP)
        });
        std::thread::sleep(Duration::from_millis(500));
        stop_probe.store(true, Ordering::Relaxed);
        let probe = prober.join().expect("prober");
        (stopped_at, last_reply, stale, probe)
    });
    let after = |from: Instant| -> Vec<ArpReply> {
        replies.iter().copied().filter(|r| r.at >= from).collect()
    };
    let since_stop = |mac: [u8; 6]| -> Vec<Duration> {
        after(stopped_at)
            .iter()
            .filter(|r| r.mac == mac)
            .map(|r| r.at - stopped_at)
            .collect()
    };
    let (late_r0, r1_answers) = (since_stop(r0_mac), since_stop(r1_mac));
    eprintln!(
        "freeze: {requests} ARP requests; r0's XDP answered last {last_xdp_reply:?} after \
         SIGSTOP, then passed {stale} requests on (ownership stale); r1 answered first \
         {:?} after SIGSTOP ({} replies); r0's MAC still answered {} times after SIGSTOP, \
         last at {:?} (its kernel: the VIP stays on the frozen daemon's interface)",
        r1_answers.first(),
        r1_answers.len(),
        late_r0.len(),
        late_r0.last(),
    );
    assert!(
        last_xdp_reply <= HEARTBEAT_BOUND + STOP_SLACK,
        "r0's XDP kept answering ARP {last_xdp_reply:?} after SIGSTOP (bound \
         {HEARTBEAT_BOUND:?})"
    );
    assert!(
        stale > 0,
        "r0's XDP never passed on a request for its stale VIP"
    );
    assert!(
        after(stopped_at).iter().any(|r| r.mac == r1_mac),
        "r1 never answered the client's ARP for the VIP after the freeze: {replies:?}\n{}",
        lab.logs()
    );
    // The client reaches the VIP, and r1 (its XDP) answers ARP for it.
    let ping = lab
        .client
        .command("ping")
        .args(["-c", "3", "-i", "0.2", "-W", "1", VIP])
        .output()
        .expect("ping");
    assert!(
        ping.status.success(),
        "ping the VIP after the takeover\n{}",
        lab.logs()
    );
    let neighbour = lab.client.ip(&["neigh", "show", VIP]);
    eprintln!(
        "the client pinged the VIP through {} (r0 {}, r1 {})",
        String::from_utf8_lossy(&neighbour.stdout).trim(),
        mac_text(r0_mac),
        mac_text(r1_mac)
    );
    let r1_status = lab.status(1);
    assert!(
        r1_status["dataplane"]["counters"]["arp_reply"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "{r1_status}"
    );

    // Thawed, the pair converges on one master: r1 (higher address); r0 gives the VIP back.
    lab.signal(0, "CONT");
    let converged = wait_for(
        &lab,
        Duration::from_secs(5),
        "one master after SIGCONT",
        |lab| state(lab, 0) == "backup" && state(lab, 1) == "master" && lab.holder(VIP) == Some(1),
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(lab.holder(VIP), Some(1), "{}", lab.logs());
    assert_eq!(state(&lab, 0), "backup", "{}", lab.logs());
    let r0_status = lab.status(0);
    assert_eq!(
        instance_counter(&r0_status, "released_master"),
        1,
        "{r0_status}"
    );
    eprintln!("thaw: one master {converged:?} after SIGCONT; r0 released the VIP");
}

#[test]
fn a_hundred_link_flaps_leave_one_master_and_no_stray_vip() {
    let lab = pair(
        "flap",
        &config("r0", 150, "100ms", ""),
        &config("r1", 100, "100ms", ""),
    );
    // 100 flaps in 10 s: down at every 100 ms tick, up 50 ms later.
    let started = Instant::now();
    for flap in 0..100u32 {
        let tick = started + Duration::from_millis(100) * flap;
        sleep_until(tick);
        lab.cut(0);
        sleep_until(tick + Duration::from_millis(50));
        lab.restore(0);
    }
    let flapping = started.elapsed();
    // r0 (priority 150) preempts once its link stays up.
    let settled = wait_for(
        &lab,
        Duration::from_secs(10),
        "one master after the flaps",
        |lab| state(lab, 0) == "master" && state(lab, 1) == "backup" && lab.holder(VIP) == Some(0),
    );
    std::thread::sleep(Duration::from_secs(1));
    let (r0, r1) = (lab.status(0), lab.status(1));
    eprintln!(
        "flaps: 100 in {flapping:?}, settled {settled:?} later; r0 became master {} times, \
         released {}; r1 became master {} times, released {}",
        instance_counter(&r0, "became_master"),
        instance_counter(&r0, "released_master"),
        instance_counter(&r1, "became_master"),
        instance_counter(&r1, "released_master"),
    );
    assert_eq!(
        r0["instances"][0]["state"],
        "master",
        "{r0}\n{}",
        lab.logs()
    );
    assert_eq!(
        r1["instances"][0]["state"],
        "backup",
        "{r1}\n{}",
        lab.logs()
    );
    assert_eq!(
        lab.holder(VIP),
        Some(0),
        "only the master holds the VIP\n{}",
        lab.logs()
    );
    assert!(
        instance_counter(&r0, "released_master") >= 1,
        "the flaps did take r0 out of Master: {r0}"
    );
    // No stale claim in the backup's XDP either: only the master answers ARP for the VIP.
    let r0_mac = lab.routers[0].netns.mac("eth0");
    let probe = Probe {
        ifindex: lab.client.ifindex("eth0"),
        mac: lab.client.mac("eth0"),
        sender: CLIENT_ADDRESS.parse().expect("client address"),
        target: VIP.parse().expect("VIP"),
        interval: Duration::from_millis(50),
        limit: Duration::from_millis(500),
    };
    let (requests, replies) = lab.client.enter(|| arping(probe, &AtomicBool::new(false)));
    assert!(!replies.is_empty(), "{requests} ARP requests, no reply");
    assert!(
        replies.iter().all(|r| r.mac == r0_mac),
        "ARP for the VIP answered by another MAC than the master's {}: {replies:?}",
        mac_text(r0_mac)
    );
}

fn sleep_until(at: Instant) {
    if let Some(wait) = at.checked_duration_since(Instant::now()) {
        std::thread::sleep(wait);
    }
}

#[test]
fn deleting_the_masters_interface_faults_the_instance_until_it_comes_back() {
    let mut lab = pair(
        "ifdel",
        &config("r0", 150, "100ms", ""),
        &config("r1", 100, "100ms", ""),
    );
    lab.routers[0].netns.ip(&["link", "del", "eth0"]);
    let faulted = wait_for(&lab, SETTLE, "r0 in Fault", |lab| state(lab, 0) == "fault");
    let logs = lab.logs();
    assert!(
        logs.contains("eth0 was removed: its instances go to Fault"),
        "a clear log line names the removed interface\n{logs}"
    );
    assert!(logs.contains("Master -> Fault"), "{logs}");
    // The VIP went with the interface: releasing it is not an error, nor retried for a second.
    assert!(
        !logs.contains(&format!("removing {VIP}")),
        "no failed removal of a VIP whose interface is gone\n{logs}"
    );
    let took_over = wait_for(&lab, SETTLE, "r1 takes over", |lab| {
        state(lab, 1) == "master" && lab.holds(1, VIP)
    });
    // Still alive and answering a while later, and still in Fault.
    std::thread::sleep(Duration::from_secs(2));
    for _ in 0..5 {
        let status = lab.status(0);
        assert_eq!(status["instances"][0]["state"], "fault", "{status}");
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("interface deleted: r0 in Fault after {faulted:?}, r1 master {took_over:?} later");
    // The interface comes back (another ifindex): the instance starts again on it, and r0's
    // higher priority wins again.
    lab.replug(0);
    wait_for(&lab, SETTLE, "r0 master again on the new eth0", |lab| {
        state(lab, 0) == "master" && lab.holds(0, VIP) && !lab.holds(1, VIP)
    });
    let logs = lab.logs();
    assert!(
        logs.contains("eth0 is back (ifindex"),
        "a clear log line says why the instance restarts\n{logs}"
    );
    let reach = lab.ping_outage(VIP, Duration::from_millis(10), Duration::from_millis(500));
    assert_eq!(reach.received, reach.sent, "{reach:?}\n{logs}");
    // And it still stops cleanly.
    lab.signal(0, "TERM");
    assert_eq!(
        lab.wait_exit(0, Duration::from_secs(10)),
        Some(0),
        "r0 exits 0 on SIGTERM after losing its interface\n{}",
        lab.logs()
    );
}

#[test]
fn a_signal_and_a_failure_during_start_up_leave_no_vip_behind() {
    tests::require_root();
    let mut lab = Lab::new("startup", 1);
    // VI_2's interface has no address: start-up waits for one (5 s), then fails.
    let netns = &lab.routers[0].netns;
    netns.ip(&[
        "link", "add", "xbare0", "type", "veth", "peer", "name", "xbare1",
    ]);
    netns.ip(&["link", "set", "xbare0", "up"]);
    let second = "\n[[instance]]\nname = \"VI_2\"\ninterface = \"xbare0\"\nvrid = 52\n\
                  priority = 150\nvirtual_ips = [\"198.51.100.100/24\"]\n";
    lab.start(0, &format!("{}{second}", config("r0", 150, "100ms", "")));
    // VI_1, alone on its VRID, is master while VI_2 still waits.
    assert!(lab.wait_for_holder(0, VIP, SETTLE), "{}", lab.logs());
    lab.signal(0, "TERM");
    let code = lab.wait_exit(0, Duration::from_secs(15));
    let logs = lab.logs();
    assert_eq!(code, Some(1), "an error exit, not death by signal\n{logs}");
    assert!(!lab.holds(0, VIP), "VI_1 resigned before the exit\n{logs}");
    assert!(
        logs.contains("xbare0"),
        "the failure names the interface\n{logs}"
    );
}

/// Either data plane: with XDP the second daemon used to fail later, attaching to a claimed
/// interface; with sockets it ran, a second master on the same VRID.
#[test]
fn a_second_daemon_on_the_same_control_socket_stops_and_leaves_the_first_alone() {
    tests::require_root();
    for (tag, global) in [("second", ""), ("secsock", "xdp = \"off\"\n")] {
        let mut lab = Lab::new(tag, 1);
        let config =
            config("r0", 150, "100ms", "").replace("[global]\n", &format!("[global]\n{global}"));
        lab.start(0, &config);
        assert!(lab.wait_for_holder(0, VIP, SETTLE), "{}", lab.logs());
        let before = lab.status(0);
        let asked = Instant::now();

        let second = std::process::Command::new("timeout")
            .args(["20", "ip", "netns", "exec", lab.routers[0].netns.name()])
            .arg(tests::lab::xvrrpd_binary())
            .args(["run", "-c"])
            .arg(lab.dir().join("r0.toml"))
            .arg("--socket")
            .arg(lab.dir().join("r0.sock"))
            .output()
            .expect("run a second xvrrpd");
        let stderr = String::from_utf8_lossy(&second.stderr);
        assert_eq!(
            second.status.code(),
            Some(1),
            "{tag}: {stderr}\n{}",
            lab.logs()
        );
        assert!(
            stderr.contains("is another xvrrpd running?"),
            "{tag}: the error says why: {stderr}"
        );

        // The first daemon kept its socket, its VIP and its place: nothing was claimed from it.
        std::thread::sleep(Duration::from_secs(1));
        let after = lab.status(0);
        assert_eq!(after["instances"][0]["state"], "master", "{}", lab.logs());
        let since = |status: &Value| status["instances"][0]["since_secs"].as_f64().unwrap_or(0.0);
        assert!(
            since(&after) >= since(&before) + asked.elapsed().as_secs_f64() - 0.1,
            "{tag}: no state change: {before} then {after}"
        );
        assert!(lab.holds(0, VIP), "{}", lab.logs());
        assert_eq!(after["dataplane"]["mode"], before["dataplane"]["mode"]);
    }
}

#[test]
fn the_dump_signals_write_to_the_log_and_change_nothing() {
    // keepalived users send SIGUSR1 / SIGUSR2 for its dumps: by default they would end the
    // daemon without resigning, its VIPs left behind.
    let mut lab = Lab::new("dumps", 1);
    lab.start(0, &config("r0", 150, "100ms", ""));
    assert!(lab.wait_for_holder(0, VIP, SETTLE), "{}", lab.logs());
    lab.signal(0, "USR1");
    lab.signal(0, "USR2");
    let logs = |lab: &Lab| lab.logs();
    wait_for(&lab, SETTLE, "both dumps in the log", |lab| {
        let text = logs(lab);
        text.contains("master for") && text.contains("adverts sent")
    });
    assert_eq!(
        lab.wait_exit(0, Duration::from_millis(200)),
        None,
        "the daemon ended"
    );
    assert_eq!(state(&lab, 0), "master", "{}", lab.logs());
    assert!(lab.holds(0, VIP), "{}", lab.logs());
    let status = lab.status(0);
    assert_eq!(instance_counter(&status, "became_master"), 1, "{status}");
}

#[test]
fn systemd_hears_the_watchdog_while_instances_wait_for_a_re_created_interface() {
    // Started again on a new eth0, each IPv6 instance waits for its link-local address to
    // pass duplicate address detection (a second or more), in the event loop: the watchdog
    // must be fed meanwhile, or systemd (WatchdogSec) kills the daemon mid-way.
    let mut lab = Lab::new("ifwatch", 1);
    let socket_path = lab.dir().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("notify socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let instance = |vrid: u8| {
        format!(
            "[[instance]]\nname = \"V{vrid}\"\ninterface = \"eth0\"\nvrid = {vrid}\n\
             priority = 150\nadvert_interval = \"100ms\"\n\
             virtual_ips = [\"2001:db8::{vrid}/64\"]\n\n"
        )
    };
    let config = format!(
        "[global]\nrouter_id = \"r0\"\ncontrol_socket = \"@SOCKET@\"\n\n{}{}",
        instance(51),
        instance(52)
    );
    let notify = socket_path.display().to_string();
    lab.start_file_env(
        0,
        "r0.toml",
        &config,
        &[("NOTIFY_SOCKET", &notify), ("WATCHDOG_USEC", "200000")],
    );
    wait_for(&lab, SETTLE, "r0 master", |lab| state(lab, 0) == "master");
    lab.routers[0].netns.ip(&["link", "del", "eth0"]);
    wait_for(&lab, SETTLE, "r0 in Fault", |lab| state(lab, 0) == "fault");
    let mut buf = [0u8; 512];
    while socket.recv(&mut buf).is_ok() {}

    lab.replug(0);
    let replugged = Instant::now();
    let mut pings = vec![replugged];
    let mut master_again = None;
    while replugged.elapsed() < Duration::from_secs(8) && master_again.is_none() {
        if let Ok(len) = socket.recv(&mut buf)
            && String::from_utf8_lossy(&buf[..len]).contains("WATCHDOG=1")
        {
            pings.push(Instant::now());
        }
        let status = lab.try_status(0).unwrap_or_default();
        if let Some(instances) = status["instances"].as_array()
            && instances.len() == 2
            && instances.iter().all(|i| i["state"] == "master")
        {
            master_again = Some(replugged.elapsed());
        }
    }
    let restarted = master_again.unwrap_or_else(|| panic!("not master again\n{}", lab.logs()));
    let longest = pings
        .windows(2)
        .map(|pair| pair[1] - pair[0])
        .max()
        .unwrap_or_default();
    eprintln!("both instances master {restarted:?} after the replug; longest ping gap {longest:?}");
    assert!(
        longest < Duration::from_millis(500),
        "no watchdog ping for {longest:?} (pings every 100 ms asked)\n{}",
        lab.logs()
    );
}
