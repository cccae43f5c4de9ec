//! Check-script runner tests with real scripts in a temp directory (no root needed; the
//! run-as-another-user test asserts the refusal when not root).
use std::{fs, os::unix::fs::PermissionsExt, path::PathBuf, time::Duration};

use tokio::sync::watch;

use super::{
    CheckStatus::{self, Failing, Passing},
    CheckWatch,
    exec::RunAs,
};
use crate::config::{CheckScript, Config, TrackFile, TrackScript};

struct Lab {
    dir: PathBuf,
}

impl Lab {
    fn new(tag: &str) -> Lab {
        let dir = std::env::temp_dir().join(format!("xvrrpd-check-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        Lab { dir }
    }

    fn write(&self, name: &str, body: &str, mode: u32) -> String {
        let path = self.dir.join(name);
        fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        path.to_str().unwrap().to_owned()
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_owned()
    }

    /// `sh -c BODY`: scripts run through sh, since exec'ing a file just written races with forks
    /// of other test threads (ETXTBSY).
    fn check(&self, body: &str, timeout: Duration) -> CheckScript {
        script(vec!["/bin/sh".into(), "-c".into(), body.into()], timeout)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn script(command: Vec<String>, timeout: Duration) -> CheckScript {
    CheckScript {
        interval: Duration::from_millis(50),
        timeout,
        ..CheckScript::for_test("chk", command)
    }
}

const LONG: Duration = Duration::from_secs(30);

fn start(script: &CheckScript) -> (CheckWatch, watch::Receiver<CheckStatus>) {
    let check = CheckWatch::start_as(script, Ok(RunAs::daemon()), true);
    let rx = check.subscribe();
    (check, rx)
}

/// Waits (up to 20 s) until the status is `expected`.
async fn status(rx: &mut watch::Receiver<CheckStatus>, expected: CheckStatus) {
    let reached = tokio::time::timeout(Duration::from_secs(20), rx.wait_for(|s| *s == expected))
        .await
        .map(|found| found.is_ok());
    match reached {
        Ok(true) => {}
        Ok(false) => panic!("the check task ended"),
        Err(_) => panic!("not {expected:?} after 20 s but {:?}", *rx.borrow()),
    }
}

fn is_gone(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

async fn read_when_present(path: &str) -> String {
    for _ in 0..2000 {
        if let Ok(text) = fs::read_to_string(path)
            && text.ends_with('\n')
        {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{path} not written after 20 s");
}

#[tokio::test]
async fn exit_zero_passes_and_anything_else_fails() {
    let lab = Lab::new("exit");
    let code = lab.path("code");
    fs::write(&code, "0").unwrap();
    let (_check, mut rx) = start(&lab.check(&format!("exit $(cat {code})"), LONG));
    status(&mut rx, Passing).await;
    fs::write(&code, "3").unwrap();
    status(&mut rx, Failing).await;
    fs::write(&code, "0").unwrap();
    status(&mut rx, Passing).await;
}

#[tokio::test]
async fn fall_counts_consecutive_failures_of_real_runs() {
    let lab = Lab::new("fall");
    let runs = lab.path("runs");
    // Passes on the first run, then fails; with fall 3 the status flips on run 4.
    let body = format!("echo x >> {runs}; [ $(wc -l < {runs}) -eq 1 ]");
    let mut script = lab.check(&body, LONG);
    script.fall = 3;
    let (_check, mut rx) = start(&script);
    status(&mut rx, Passing).await;
    status(&mut rx, Failing).await;
    let lines = fs::read_to_string(&runs).unwrap().lines().count();
    assert!(lines >= 4, "flipped after {lines} runs");
}

#[tokio::test]
async fn a_script_past_its_timeout_fails() {
    let lab = Lab::new("timeout");
    let (_check, mut rx) = start(&lab.check("sleep 600", Duration::from_millis(100)));
    status(&mut rx, Failing).await;
}

#[tokio::test]
async fn a_hung_script_and_its_children_are_killed_even_if_they_ignore_sigterm() {
    let lab = Lab::new("hang");
    let pids = lab.path("pids");
    // Ignores SIGTERM (so does the child it leaves behind), records both pids, and hangs.
    let body = format!("trap '' TERM; sleep 600 & echo $$ $! > {pids}; wait; sleep 600");
    let (check, mut rx) = start(&lab.check(&body, Duration::from_millis(200)));
    let text = read_when_present(&pids).await;
    let pids: Vec<i32> = text
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    status(&mut rx, Failing).await;
    drop(check);
    for _ in 0..2000 {
        if pids.iter().all(|&pid| is_gone(pid)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("still alive after 20 s: {pids:?}");
}

#[tokio::test]
async fn output_floods_go_nowhere() {
    let lab = Lab::new("flood");
    // 64 MiB on each of stdout and stderr: a pipe nobody read would block it after 64 KiB.
    let body = "head -c 67108864 /dev/zero; head -c 67108864 /dev/zero >&2; exit 0";
    let (_check, mut rx) = start(&lab.check(body, LONG));
    status(&mut rx, Passing).await;
}

#[tokio::test]
async fn missing_or_empty_commands_fail() {
    let missing = script(vec!["/nonexistent/xvrrpd-check".into()], LONG);
    let (_a, mut missing_rx) = start(&missing);
    status(&mut missing_rx, Failing).await;
    let on_path = script(
        vec!["xvrrpd-no-such-check-on-path".into(), "x".into()],
        LONG,
    );
    let (_b, mut on_path_rx) = start(&on_path);
    status(&mut on_path_rx, Failing).await;
    let (_c, mut empty_rx) = start(&script(vec![], LONG));
    status(&mut empty_rx, Failing).await;
}

#[tokio::test]
async fn unsafe_script_is_refused_under_script_security_and_never_runs() {
    let lab = Lab::new("refuse");
    let marker = lab.path("ran");
    // World-writable, and it would run as root: refused whoever owns it.
    let program = lab.write("check.sh", &format!("echo x >> {marker}\n"), 0o777);
    let root = RunAs {
        name: "root".into(),
        uid: 0,
        gid: 0,
    };
    let check = CheckWatch::start_as(&script(vec![program.clone()], LONG), Ok(root.clone()), true);
    let mut rx = check.subscribe();
    status(&mut rx, Failing).await;
    // Would have run about ten times by now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !std::path::Path::new(&marker).exists(),
        "the refused script ran"
    );
    assert_eq!(*rx.borrow(), Failing);
    drop(check);
    // Without enforcement the same script runs.
    let check = CheckWatch::start_as(
        &script(vec!["/bin/sh".into(), program], LONG),
        Ok(RunAs::daemon()),
        false,
    );
    let mut rx = check.subscribe();
    status(&mut rx, Passing).await;
    assert!(std::path::Path::new(&marker).exists());
}

#[tokio::test]
async fn unknown_user_fails_without_running() {
    let check = CheckWatch::start_as(
        &script(vec!["/bin/true".into()], LONG),
        Err("user x does not exist".into()),
        false,
    );
    let mut rx = check.subscribe();
    status(&mut rx, Failing).await;
}

#[tokio::test]
async fn runs_as_the_configured_user() {
    let lab = Lab::new("nobody");
    let out = lab.path("uid");
    let nobody = RunAs::lookup("nobody").expect("user nobody");
    let check = CheckWatch::start_as(
        &lab.check(&format!("id -u > {out}.tmp && mv {out}.tmp {out}"), LONG),
        Ok(nobody.clone()),
        true,
    );
    let mut rx = check.subscribe();
    let daemon = RunAs::daemon().uid;
    if daemon == 0 || daemon == nobody.uid {
        status(&mut rx, Passing).await;
        let uid = fs::read_to_string(&out).unwrap();
        assert_eq!(uid.trim(), nobody.uid.to_string());
    } else {
        // Only root may switch users: the run cannot start, so the check fails.
        status(&mut rx, Failing).await;
        assert!(!std::path::Path::new(&out).exists());
    }
}

/// One instance tracking check script "used" (`exit 0`, weight 3) and track file "f" (5, weight
/// 2), and `untracked`, a script nobody tracks; the file's path.
fn tracking_config(lab: &Lab, untracked: CheckScript) -> (Config, String) {
    let text = "[[instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvrid = 1\n\
                virtual_ips = [\"192.0.2.1\"]\n";
    let mut config = Config::from_toml_str(text, "t.toml").unwrap().config;
    let mut used = lab.check("exit 0", LONG);
    used.name = "used".into();
    used.weight = 3;
    config.scripts = vec![used, untracked];
    let value = lab.path("value");
    fs::write(&value, "5\n").unwrap();
    let instance = &mut config.instances[0];
    instance.track_scripts = vec![TrackScript {
        script: "used".into(),
        weight: None,
    }];
    instance.track_files = vec![TrackFile {
        name: "f".into(),
        path: value.clone().into(),
        weight: 2,
    }];
    (config, value)
}

#[tokio::test]
async fn monitors_run_only_tracked_scripts_and_merge_an_instances_updates() {
    use super::{Monitors, Tracker};

    let lab = Lab::new("monitors");
    let marker = lab.path("unused-ran");
    let mut unused = lab.check(&format!("echo x >> {marker}"), LONG);
    unused.name = "unused".into();
    let (config, value) = tracking_config(&lab, unused);
    let monitors = Monitors::start_polling(&config, Duration::from_millis(20));
    assert!(monitors.check("unused").is_none(), "not tracked, not run");
    let instance = &config.instances[0];
    let mut tracker = Tracker::new(instance, &config.scripts);
    let mut updates = monitors.observations(instance);
    let mut reach = async |delta: i32| {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while tracker.health().priority_delta != delta {
            let observation = tokio::time::timeout_at(deadline, updates.recv())
                .await
                .unwrap_or_else(|_| panic!("delta {delta} not reached: {:?}", tracker.health()))
                .expect("updates keep coming");
            tracker.observe(&observation);
        }
    };
    reach(3 + 10).await;
    fs::write(&value, "0\n").unwrap();
    reach(3).await;
    assert!(!std::path::Path::new(&marker).exists());
}

#[tokio::test]
async fn a_reload_keeps_the_checks_and_files_whose_work_is_unchanged() {
    use super::{Monitors, Observation, Restarted};

    let lab = Lab::new("monitors-update");
    let mut untracked = lab.check("exit 0", LONG);
    untracked.name = "untracked".into();
    let (config, _) = tracking_config(&lab, untracked);
    let mut monitors = Monitors::start_polling(&config, Duration::from_millis(20));
    status(&mut monitors.check("used").unwrap().subscribe(), Passing).await;
    let script_now = |monitors: &Monitors, config: &Config| {
        monitors
            .latest(&config.instances[0])
            .into_iter()
            .find_map(|o| match o {
                Observation::Script { status, .. } => Some(status),
                _ => None,
            })
    };
    let changed = |checks: &[&str], files: &[&str]| Restarted {
        checks: checks.iter().map(|&c| c.to_owned()).collect(),
        files: files.iter().map(|&f| f.to_owned()).collect(),
    };

    // Another weight, another line, another instance: the same check, still passing.
    let mut config2 = config.clone();
    config2.scripts[0].weight = 7;
    config2.scripts[0].line += 3;
    let mut other = config2.instances[0].clone();
    other.name = "VI_2".into();
    other.vrid = 2;
    config2.instances.push(other);
    assert_eq!(monitors.update(&config2), changed(&[], &[]));
    assert_eq!(script_now(&monitors, &config2), Some(Passing));

    // Another command: a new run, pending until its first result.
    let mut config3 = config2.clone();
    config3.scripts[0].command.push("extra".into());
    assert_eq!(monitors.update(&config3), changed(&["used"], &[]));
    assert_eq!(script_now(&monitors, &config3), Some(CheckStatus::Pending));

    // Another path for the file; then another script user for every check.
    let mut config4 = config3.clone();
    for instance in &mut config4.instances {
        instance.track_files[0].path = lab.path("other").into();
    }
    assert_eq!(monitors.update(&config4), changed(&[], &["f"]));
    config4.global.script_security.enforce = true;
    assert_eq!(monitors.update(&config4), changed(&["used"], &[]));

    // Nothing tracked any more: both stop.
    let mut config5 = config4.clone();
    for instance in &mut config5.instances {
        instance.track_scripts.clear();
        instance.track_files.clear();
    }
    assert_eq!(monitors.update(&config5), changed(&["used"], &["f"]));
    assert!(monitors.check("used").is_none() && monitors.file("f").is_none());
}

#[tokio::test]
async fn an_instances_forwarder_ends_with_its_receiver_though_the_checks_run_on() {
    use super::Monitors;

    let lab = Lab::new("monitors-forwarder");
    let mut untracked = lab.check("exit 0", LONG);
    untracked.name = "untracked".into();
    let (config, _) = tracking_config(&lab, untracked);
    let monitors = Monitors::start_polling(&config, Duration::from_secs(60));
    // Settled: no change is coming that would wake the forwarder anyway.
    status(&mut monitors.check("used").unwrap().subscribe(), Passing).await;
    let metrics = tokio::runtime::Handle::current().metrics();
    let tasks = metrics.num_alive_tasks();
    // A tracker replaced on a reload drops its receiver; the checks are not restarted.
    let mut updates = monitors.observations(&config.instances[0]);
    updates.recv().await.expect("the current values first");
    assert_eq!(metrics.num_alive_tasks(), tasks + 1);
    drop(updates);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while metrics.num_alive_tasks() > tasks {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the forwarder outlived its receiver"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
