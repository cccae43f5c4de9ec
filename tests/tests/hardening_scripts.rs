//! Misbehaving scripts around a running pair of xvrrpd routers (100 ms adverts): notify
//! scripts that hang (`sleep 1000`) and check scripts that flood their output (50 MB through
//! `yes | head`, and an endless `yes` cut by its timeout). The daemons are unaffected: the
//! master keeps advertising at its interval and its peer sees it, status answers, failover
//! happens in time, the master's memory stays flat, and the hung script is killed at its
//! time limit; nothing is left running afterwards. Root only.
use std::{
    fs,
    path::Path,
    time::{Duration, Instant},
};

use serde_json::Value;
use tests::lab::{Lab, config};

const VIP: &str = "192.0.2.100";
const SETTLE: Duration = Duration::from_secs(5);
/// The notify scripts' time limit (`notify::DEFAULT_SCRIPT_TIMEOUT`).
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the daemons run under the scripts' load while they are measured.
const WINDOW: Duration = Duration::from_secs(10);

/// Router `router`'s instance: notify scripts that hang, two flooding checks.
fn router_config(router: usize, priority: u8) -> String {
    let extra = format!(
        "track_scripts = [\"chk_flood\", \"chk_endless\"]\n\
         notify_master = \"@DIR@/hang-r{router}.sh\"\n\
         notify_backup = \"@DIR@/hang-r{router}.sh\"\n\n\
         [[script]]\nname = \"chk_flood\"\n\
         command = [\"/bin/sh\", \"-c\", \"yes | head -c 50000000\"]\n\
         interval = \"1s\"\ntimeout = \"5s\"\nweight = 2\n\n\
         [[script]]\nname = \"chk_endless\"\ncommand = [\"yes\"]\n\
         interval = \"1s\"\ntimeout = \"500ms\"\nweight = 1\n"
    );
    config(&format!("r{router}"), priority, "100ms", &extra)
}

/// The marker in the command line of router `router`'s hung `sleep`: unique to this test run.
fn sleep_marker(router: usize) -> String {
    format!("1000.{router}{}", std::process::id())
}

/// PIDs of the processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if text.contains(marker) && pid != std::process::id() {
            found.push(pid);
        }
    }
    found
}

/// VmRSS of `pid` in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .expect("VmRSS")
}

fn counter(status: &Value, name: &str) -> u64 {
    status["instances"][0]["counters"][name]
        .as_u64()
        .unwrap_or_else(|| panic!("counter {name} in {status}"))
}

fn wait(limit: Duration, mut done: impl FnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if done() {
            return Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

fn log_of(dir: &Path, router: usize) -> String {
    fs::read_to_string(dir.join(format!("r{router}.log"))).unwrap_or_default()
}

#[test]
fn hung_notify_scripts_and_flooding_checks_leave_the_daemon_unaffected() {
    tests::require_root();
    let mut lab = Lab::new("hscripts", 2);
    let dir = lab.dir().to_path_buf();
    for router in 0..2 {
        lab.write_script(
            &format!("hang-r{router}.sh"),
            &format!("sleep {}\n", sleep_marker(router)),
        );
    }

    lab.start(0, &router_config(0, 101));
    assert!(
        lab.wait_for_holder(0, VIP, SETTLE),
        "r0 should become master\n{}",
        lab.logs()
    );
    // Its notify_master hangs from now on.
    let mut hung = Vec::new();
    assert!(
        wait(SETTLE, || {
            hung = processes_with(&sleep_marker(0));
            !hung.is_empty()
        })
        .is_some(),
        "r0's notify_master did not start\n{}",
        lab.logs()
    );
    let hung_since = Instant::now();
    lab.start(1, &router_config(1, 100));
    assert!(lab.wait_for_state(1, "backup", SETTLE), "{}", lab.logs());
    // Both flooding checks have run a few times: 101 + 2 (chk_endless never passes).
    assert!(
        wait(
            SETTLE,
            || lab.status(0)["instances"][0]["effective_priority"] == 103
        )
        .is_some(),
        "{}\n{}",
        lab.status(0),
        lab.logs()
    );

    let pid = lab.daemon_pid(0);
    let (rss_before, status_before, peer_before) = (rss_kib(pid), lab.status(0), lab.status(1));
    let started = Instant::now();
    let mut slowest_status = Duration::ZERO;
    while started.elapsed() < WINDOW {
        let asked = Instant::now();
        let status = lab.status(0);
        slowest_status = slowest_status.max(asked.elapsed());
        assert_eq!(status["instances"][0]["state"], "master", "{status}");
        std::thread::sleep(Duration::from_millis(250));
    }
    let elapsed = started.elapsed();
    let (rss_after, status_after, peer_after) = (rss_kib(pid), lab.status(0), lab.status(1));
    let sent = counter(&status_after, "adverts_sent") - counter(&status_before, "adverts_sent");
    let heard =
        counter(&peer_after, "adverts_received") - counter(&peer_before, "adverts_received");
    let expected = elapsed.as_millis() as u64 / 100;
    eprintln!(
        "over {elapsed:?}: {sent} adverts sent, {heard} heard by the peer (interval 100 ms: \
         {expected}); slowest status {slowest_status:?}; VmRSS {rss_before} -> {rss_after} KiB"
    );
    assert!(
        sent * 10 >= expected * 9,
        "{sent} adverts in {elapsed:?}\n{}",
        lab.logs()
    );
    assert!(
        heard * 10 >= expected * 9,
        "the peer heard {heard} adverts in {elapsed:?}"
    );
    assert!(
        slowest_status < Duration::from_secs(1),
        "status took {slowest_status:?}"
    );
    assert!(
        rss_after <= rss_before + 4 * 1024,
        "VmRSS grew from {rss_before} to {rss_after} KiB"
    );

    // Failover in time: r0's link goes; r1 (its own notify scripts hung as well) takes over
    // within three intervals and the skew, plus a generous margin.
    lab.cut(0);
    let failover = wait(SETTLE, || lab.holds(1, VIP)).expect("r1 took over");
    assert!(
        failover < Duration::from_secs(1),
        "failover took {failover:?}"
    );
    lab.restore(0);
    assert!(lab.wait_for_holder(0, VIP, SETTLE), "{}", lab.logs());

    // The first hung notify script is killed at its time limit (SIGTERM, SIGKILL 2 s later).
    let killed = wait(NOTIFY_TIMEOUT + Duration::from_secs(10), || {
        hung.iter()
            .all(|p| !Path::new(&format!("/proc/{p}")).exists())
    })
    .map(|_| hung_since.elapsed());
    let killed = killed.unwrap_or_else(|| panic!("{hung:?} still run\n{}", lab.logs()));
    eprintln!("failover {failover:?}; hung notify script gone after {killed:?}");
    assert!(
        killed + Duration::from_secs(1) >= NOTIFY_TIMEOUT,
        "killed after {killed:?}, before its time limit"
    );
    assert!(
        log_of(&dir, 0).contains("ran past 30s and was killed"),
        "{}",
        lab.logs()
    );
    assert_eq!(lab.status(0)["instances"][0]["state"], "master");

    // Stopped daemons leave nothing behind: no hung script, no check.
    for router in 0..2 {
        lab.signal(router, "TERM");
        assert_eq!(
            lab.wait_exit(router, Duration::from_secs(10)),
            Some(0),
            "{}",
            lab.logs()
        );
    }
    let leftovers = || {
        let mut all = processes_with(&sleep_marker(0));
        all.extend(processes_with(&sleep_marker(1)));
        all.extend(processes_with(&dir.display().to_string()));
        all
    };
    assert!(
        wait(Duration::from_secs(3), || leftovers().is_empty()).is_some(),
        "left running: {:?}",
        leftovers()
    );
}
