//! Notifier tests with real scripts: recorders that append their argv to a file.
use std::{
    fs,
    io::{BufRead, BufReader},
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    time::Duration,
};

use super::*;
use crate::config::{Notify, NotifyScript, ScriptUser};

/// A temp directory with a recorder script, removed at the end.
struct Lab {
    dir: PathBuf,
}

impl Lab {
    fn new(tag: &str) -> Lab {
        let dir = std::env::temp_dir().join(format!("xvrrpd-notify-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let lab = Lab { dir };
        // Each argument in brackets, one line per run. `sleep` first if asked (slow recorder).
        lab.write(
            "rec.sh",
            "out=$1; shift\n\
             { for a in \"$@\"; do printf '[%s]' \"$a\"; done; printf '\\n'; } >> \"$out\"\n",
        );
        lab.write(
            "slow.sh",
            "sleep \"$1\"; shift\nexec /bin/sh \"$(dirname \"$0\")/rec.sh\" \"$@\"\n",
        );
        // Records its pid, then hangs.
        lab.write("hang.sh", "echo $$ > \"$1\"\nexec sleep 600\n");
        lab
    }

    fn write(&self, name: &str, body: &str) -> PathBuf {
        let path = self.dir.join(name);
        fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_owned()
    }

    /// The recorder, via sh (exec'ing a script file just written races with forks in other
    /// test threads: ETXTBSY), writing to `out`, with `args` before the appended ones.
    fn recorder(&self, out: &str, args: &[&str]) -> NotifyScript {
        let mut command = vec!["/bin/sh".into(), self.path("rec.sh"), self.path(out)];
        command.extend(args.iter().map(|a| (*a).to_owned()));
        NotifyScript::new(command)
    }

    fn slow_recorder(&self, seconds: &str, out: &str, args: &[&str]) -> NotifyScript {
        let mut command = vec![
            "/bin/sh".into(),
            self.path("slow.sh"),
            seconds.into(),
            self.path(out),
        ];
        command.extend(args.iter().map(|a| (*a).to_owned()));
        NotifyScript::new(command)
    }

    fn hang(&self, pid_file: &str) -> NotifyScript {
        NotifyScript::new(vec![
            "/bin/sh".into(),
            self.path("hang.sh"),
            self.path(pid_file),
        ])
    }

    /// Waits (up to 10 s) for `n` lines in `out` and returns them.
    async fn lines(&self, out: &str, n: usize) -> Vec<String> {
        let path = self.dir.join(out);
        for _ in 0..1000 {
            let lines = read_lines(&path);
            if lines.len() >= n {
                return lines;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "{out}: fewer than {n} lines after 10 s: {:?}",
            read_lines(&path)
        );
    }

    async fn pid(&self, pid_file: &str) -> i32 {
        let line = self.lines(pid_file, 1).await;
        line[0].trim().parse().unwrap()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn read_lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .map(|text| text.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Whether the process is gone (or a zombie: dead, waiting to be reaped).
fn is_gone(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

async fn wait_gone(pid: i32) {
    for _ in 0..1000 {
        if is_gone(pid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("process {pid} still alive after 10 s");
}

fn notifier(subject: Subject, name: &str, notify: &Notify, timeout: Duration) -> Notifier {
    Notifier::with(
        subject,
        name,
        notify,
        Ok(RunAs::daemon()),
        true,
        None,
        timeout,
    )
}

const LONG: Duration = Duration::from_secs(30);

#[test]
fn fifo_lines_are_keepalived_s() {
    assert_eq!(
        fifo_line(Subject::Instance, "VI_1", NotifyState::Master, 100),
        "INSTANCE \"VI_1\" MASTER 100\n"
    );
    assert_eq!(
        fifo_line(Subject::Group, "G1", NotifyState::Fault, 0),
        "GROUP \"G1\" FAULT 0\n"
    );
    assert_eq!(
        fifo_line(Subject::Instance, "x", NotifyState::Stop, 1),
        "INSTANCE \"x\" STOP 1\n"
    );
}

#[test]
fn states_map_from_the_state_machine() {
    assert_eq!(NotifyState::of(State::Master), Some(NotifyState::Master));
    assert_eq!(NotifyState::of(State::Backup), Some(NotifyState::Backup));
    assert_eq!(NotifyState::of(State::Fault), Some(NotifyState::Fault));
    assert_eq!(NotifyState::of(State::Initialize), None);
}

#[tokio::test]
async fn state_scripts_get_their_arguments_and_notify_gets_four_more() {
    let lab = Lab::new("args");
    let notify = Notify {
        master: Some(lab.recorder("out", &["master", "two words"])),
        backup: Some(lab.recorder("out", &["backup"])),
        fault: Some(lab.recorder("out", &["fault"])),
        stop: Some(lab.recorder("out", &["stop"])),
        any: Some(lab.recorder("out", &["any"])),
    };
    let n = notifier(Subject::Instance, "VI_1", &notify, LONG);
    n.transition(State::Initialize, 100);
    n.transition(State::Master, 102);
    n.transition(State::Backup, 100);
    n.transition(State::Fault, 98);
    n.stop(98);
    assert!(n.close(LONG).await, "drained");
    assert_eq!(
        read_lines(&lab.dir.join("out")),
        [
            "[master][two words]",
            "[any][INSTANCE][VI_1][MASTER][102]",
            "[backup]",
            "[any][INSTANCE][VI_1][BACKUP][100]",
            "[fault]",
            "[any][INSTANCE][VI_1][FAULT][98]",
            "[stop]",
            "[any][INSTANCE][VI_1][STOP][98]",
        ]
    );
}

#[tokio::test]
async fn group_notify_reports_priority_zero() {
    let lab = Lab::new("group");
    let notify = Notify {
        backup: Some(lab.recorder("out", &[])),
        any: Some(lab.recorder("out", &["any"])),
        ..Notify::default()
    };
    let n = notifier(Subject::Group, "G1", &notify, LONG);
    n.transition(State::Backup, 150);
    n.transition(State::Master, 150);
    assert!(n.close(LONG).await);
    assert_eq!(
        read_lines(&lab.dir.join("out")),
        [
            "",
            "[any][GROUP][G1][BACKUP][0]",
            "[any][GROUP][G1][MASTER][0]"
        ]
    );
}

#[tokio::test]
async fn rapid_transitions_run_in_order_even_when_the_first_script_is_slow() {
    let lab = Lab::new("order");
    let notify = Notify {
        master: Some(lab.slow_recorder("0.5", "out", &["master"])),
        backup: Some(lab.recorder("out", &["backup"])),
        fault: Some(lab.slow_recorder("0.2", "out", &["fault"])),
        ..Notify::default()
    };
    let n = notifier(Subject::Instance, "VI_1", &notify, LONG);
    for state in [
        State::Master,
        State::Backup,
        State::Fault,
        State::Backup,
        State::Master,
    ] {
        n.transition(state, 100);
    }
    assert_eq!(
        lab.lines("out", 5).await,
        ["[master]", "[backup]", "[fault]", "[backup]", "[master]"]
    );
    assert!(n.close(LONG).await);
}

#[tokio::test]
async fn a_hung_script_blocks_neither_the_caller_nor_another_instance() {
    let lab = Lab::new("hung");
    let stuck = notifier(
        Subject::Instance,
        "A",
        &Notify {
            master: Some(lab.hang("a.pid")),
            ..Notify::default()
        },
        LONG,
    );
    let other = notifier(
        Subject::Instance,
        "B",
        &Notify {
            master: Some(lab.recorder("b", &["B master"])),
            ..Notify::default()
        },
        LONG,
    );
    stuck.transition(State::Master, 100);
    let hung = lab.pid("a.pid").await;
    other.transition(State::Master, 100);
    assert_eq!(lab.lines("b", 1).await, ["[B master]"]);
    assert!(!is_gone(hung), "A's script still hangs");
    // Closing without grace kills it.
    assert!(
        !stuck.close(Duration::ZERO).await,
        "A's queue did not drain"
    );
    wait_gone(hung).await;
    assert!(other.close(LONG).await);
}

#[tokio::test]
async fn a_script_past_its_time_limit_is_killed_and_the_next_one_runs() {
    let lab = Lab::new("timeout");
    let notify = Notify {
        master: Some(lab.hang("m.pid")),
        backup: Some(lab.recorder("out", &["backup"])),
        ..Notify::default()
    };
    let n = notifier(
        Subject::Instance,
        "VI_1",
        &notify,
        Duration::from_millis(200),
    );
    n.transition(State::Master, 100);
    n.transition(State::Backup, 100);
    let hung = lab.pid("m.pid").await;
    assert_eq!(lab.lines("out", 1).await, ["[backup]"]);
    wait_gone(hung).await;
    assert!(n.close(LONG).await);
}

#[tokio::test]
async fn insecure_scripts_are_never_run_under_script_security() {
    let lab = Lab::new("insecure");
    // World-writable and would run as root: refused, whoever owns it.
    let script = lab.write("open.sh", "echo ran >> \"$1\"\n");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o777)).unwrap();
    let root = RunAs {
        name: "root".into(),
        uid: 0,
        gid: 0,
    };
    let command = vec![script.to_str().unwrap().to_owned(), lab.path("out")];
    let notify = Notify {
        master: Some(NotifyScript::new(command.clone())),
        any: Some(NotifyScript::new(command)),
        ..Notify::default()
    };
    let n = Notifier::with(
        Subject::Instance,
        "VI_1",
        &notify,
        Ok(root),
        true,
        None,
        LONG,
    );
    n.transition(State::Master, 100);
    assert!(n.close(LONG).await, "nothing left to run");
    assert!(!lab.dir.join("out").exists(), "the script ran");
}

#[tokio::test]
async fn unknown_user_runs_nothing() {
    let lab = Lab::new("nouser");
    let notify = Notify {
        master: Some(lab.recorder("out", &[])),
        ..Notify::default()
    };
    let n = Notifier::with(
        Subject::Instance,
        "VI_1",
        &notify,
        Err("user x does not exist".into()),
        false,
        None,
        LONG,
    );
    n.transition(State::Master, 100);
    assert!(n.close(LONG).await);
    assert!(!lab.dir.join("out").exists());
}

#[tokio::test]
async fn a_script_runs_as_its_own_user_and_group_and_an_unknown_user_never_runs() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(euid, 0, "this test needs root: it runs scripts as nobody");
    let lab = Lab::new("runas");
    // The scripts run as nobody must be able to write their record.
    fs::set_permissions(&lab.dir, fs::Permissions::from_mode(0o777)).unwrap();
    let id = lab.write(
        "id.sh",
        "id -u -n >/dev/null; echo \"$(id -u) $(id -g)\" >> \"$1\"\n",
    );
    let script = |user: Option<(&str, Option<&str>)>| NotifyScript {
        command: vec![
            "/bin/sh".into(),
            id.to_str().unwrap().to_owned(),
            lab.path("out"),
        ],
        user: user.map(|(user, group)| ScriptUser {
            user: user.into(),
            group: group.map(String::from),
        }),
    };
    let notify = Notify {
        master: Some(script(Some(("nobody", None)))),
        backup: Some(script(Some(("nobody", Some("root"))))),
        fault: Some(script(Some(("xvrrpd-no-such-user", None)))),
        stop: Some(script(Some(("nobody", Some("xvrrpd-no-such-group"))))),
        any: Some(script(None)),
    };
    let n = Notifier::with(
        Subject::Instance,
        "VI_1",
        &notify,
        Ok(RunAs::daemon()),
        false,
        None,
        LONG,
    );
    for state in [State::Master, State::Backup, State::Fault] {
        n.transition(state, 100);
    }
    n.stop(100);
    assert!(n.close(LONG).await);
    let nobody = RunAs::lookup("nobody").expect("a nobody user");
    assert_eq!(
        read_lines(&lab.dir.join("out")),
        [
            format!("{} {}", nobody.uid, nobody.gid),
            "0 0".to_owned(),
            format!("{} 0", nobody.uid),
            "0 0".to_owned(),
            // notify_fault and notify_stop never run: their user or group does not exist.
            "0 0".to_owned(),
            "0 0".to_owned(),
        ]
    );
}

#[tokio::test]
async fn fifo_lines_reach_a_reader_in_order() {
    let lab = Lab::new("fifo");
    let path = lab.dir.join("notify.fifo");
    let fifo = NotifyFifo::open(&path).unwrap();
    let reader = {
        let path = path.clone();
        std::thread::spawn(move || {
            // Opening for reading does not wait: the daemon holds the FIFO open.
            let file = fs::File::open(&path).unwrap();
            BufReader::new(file)
                .lines()
                .take(4)
                .map(Result::unwrap)
                .collect::<Vec<_>>()
        })
    };
    let instance = Notifier::with(
        Subject::Instance,
        "VI_1",
        &Notify::default(),
        Ok(RunAs::daemon()),
        true,
        Some(fifo.clone()),
        LONG,
    );
    let group = Notifier::with(
        Subject::Group,
        "G1",
        &Notify::default(),
        Ok(RunAs::daemon()),
        true,
        Some(fifo.clone()),
        LONG,
    );
    instance.transition(State::Backup, 100);
    group.transition(State::Backup, 100);
    instance.transition(State::Master, 101);
    instance.stop(101);
    let lines = tokio::task::spawn_blocking(move || reader.join().unwrap())
        .await
        .unwrap();
    assert_eq!(
        lines,
        [
            "INSTANCE \"VI_1\" BACKUP 100",
            "GROUP \"G1\" BACKUP 0",
            "INSTANCE \"VI_1\" MASTER 101",
            "INSTANCE \"VI_1\" STOP 101",
        ]
    );
    assert_eq!(fifo.dropped(), 0);
    instance.close(LONG).await;
    group.close(LONG).await;
    drop(fifo);
    assert!(!path.exists(), "the FIFO we created is removed");
}

#[test]
fn fifo_without_reader_never_blocks_and_counts_what_it_drops() {
    let lab = Lab::new("fifofull");
    let fifo = NotifyFifo::open(&lab.dir.join("full.fifo")).unwrap();
    // ~30 bytes a line: 10,000 lines are far more than a 64 KiB pipe holds.
    let written = (0..10_000)
        .filter(|_| fifo.write_line(Subject::Instance, "VI_1", NotifyState::Master, 100))
        .count();
    assert!(written > 0 && written < 10_000, "{written} written");
    assert_eq!(fifo.dropped(), 10_000 - written as u64);
}

#[test]
fn fifo_refuses_a_regular_file_and_keeps_an_existing_fifo() {
    let lab = Lab::new("fifokind");
    let plain = lab.dir.join("plain");
    fs::write(&plain, "").unwrap();
    assert!(NotifyFifo::open(&plain).is_err());
    assert!(plain.exists(), "not ours to remove");
    let path = lab.dir.join("existing.fifo");
    drop(NotifyFifo::open(&path).unwrap());
    let c_path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: c_path is a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    drop(NotifyFifo::open(&path).unwrap());
    assert!(path.exists(), "a FIFO we did not create stays");
}
