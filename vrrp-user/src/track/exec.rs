//! Running one script, shared by check scripts and notify scripts: no shell, its own process
//! group, stdin/stdout/stderr on /dev/null, as a given user, with a timeout.
//!
//! As keepalived does: the command is exec'd directly (argv as configured); the script leads a
//! new process group so that on timeout the whole group gets SIGTERM, then SIGKILL 2 s later;
//! `IFS`, `LD_PRELOAD` and `LD_LIBRARY_PATH` are removed from its environment. Unlike keepalived,
//! the script is not told to die with the daemon (`PR_SET_PDEATHSIG` follows the spawning
//! *thread*, which a tokio runtime may retire); instead a run that is cancelled (its task
//! aborted, the daemon shutting down) kills the group at once.
use std::{
    fmt, io,
    os::unix::process::ExitStatusExt,
    process::{ExitStatus, Stdio},
    time::Duration,
};

use nix::unistd::{Group, User};
use tokio::process::{Child, Command};

use super::reaper;

/// Between SIGTERM and SIGKILL of a timed-out script's process group (keepalived's figure).
pub const TERM_GRACE: Duration = Duration::from_secs(2);
/// How long to wait for a SIGKILLed script to be reaped before leaving it to the runtime.
const KILL_WAIT: Duration = Duration::from_secs(10);
/// The user keepalived runs scripts as by default, if it exists.
pub const KEEPALIVED_SCRIPT_USER: &str = "keepalived_script";

/// Who a script runs as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunAs {
    /// For messages: the user name, or the uid when run as the daemon's own user.
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

impl RunAs {
    /// The daemon's own user and group.
    pub fn daemon() -> RunAs {
        // SAFETY: geteuid/getegid have no preconditions and cannot fail.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        RunAs {
            name: if uid == 0 {
                "root".into()
            } else {
                uid.to_string()
            },
            uid,
            gid,
        }
    }

    /// The user called `name` and its primary group, from the passwd database.
    pub fn lookup(name: &str) -> Result<RunAs, UserError> {
        let user = User::from_name(name)
            .map_err(|errno| UserError::Lookup(name.into(), errno.into()))?
            .ok_or_else(|| UserError::Unknown(name.into()))?;
        Ok(RunAs {
            name: name.into(),
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
        })
    }

    /// The user called `user` with `group` (a group name) if given, else its primary group.
    pub fn lookup_as(user: &str, group: Option<&str>) -> Result<RunAs, UserError> {
        let mut run_as = RunAs::lookup(user)?;
        if let Some(group) = group {
            run_as.gid = lookup_group(group)?;
            run_as.name = format!("{user}:{group}");
        }
        Ok(run_as)
    }

    /// keepalived's choice: the configured user; without one, `keepalived_script` if that user
    /// exists, else the daemon's own user (root).
    pub fn resolve(user: Option<&str>, group: Option<&str>) -> Result<RunAs, UserError> {
        match user {
            Some(name) => RunAs::lookup_as(name, group),
            None => Ok(RunAs::lookup(KEEPALIVED_SCRIPT_USER).unwrap_or_else(|_| RunAs::daemon())),
        }
    }

    /// Whether the script would run with root's powers (uid or gid 0).
    pub fn is_root(&self) -> bool {
        self.uid == 0 || self.gid == 0
    }
}

impl fmt::Display for RunAs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}:{})", self.name, self.uid, self.gid)
    }
}

/// The gid of the group called `name`, from the group database.
fn lookup_group(name: &str) -> Result<u32, UserError> {
    Group::from_name(name)
        .map_err(|errno| UserError::LookupGroup(name.into(), errno.into()))?
        .map(|group| group.gid.as_raw())
        .ok_or_else(|| UserError::UnknownGroup(name.into()))
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("user {0} does not exist")]
    Unknown(String),
    #[error("group {0} does not exist")]
    UnknownGroup(String),
    #[error("cannot look up group {0}: {1}")]
    LookupGroup(String, io::Error),
    #[error("cannot look up user {0}: {1}")]
    Lookup(String, io::Error),
}

/// How one run ended.
#[derive(Debug)]
pub enum Outcome {
    Exited(i32),
    /// Killed by a signal it was not sent by us.
    Signalled(i32),
    /// Ran past its timeout; its process group was killed.
    TimedOut,
    /// Could not be started (missing program, not executable, no such user, …).
    SpawnFailed(io::Error),
}

impl Outcome {
    /// Exit status 0, the only success.
    pub fn succeeded(&self) -> bool {
        matches!(self, Outcome::Exited(0))
    }

    fn of(status: ExitStatus) -> Outcome {
        match (status.code(), status.signal()) {
            (Some(code), _) => Outcome::Exited(code),
            (None, Some(signal)) => Outcome::Signalled(signal),
            (None, None) => Outcome::Exited(-1),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Exited(code) => write!(f, "exited with status {code}"),
            Outcome::Signalled(signal) => write!(f, "killed by signal {signal}"),
            Outcome::TimedOut => f.write_str("timed out and was killed"),
            Outcome::SpawnFailed(err) => write!(f, "could not be started: {err}"),
        }
    }
}

/// A started script whose process group is killed if it is dropped before being reaped.
struct Running {
    child: Child,
    /// The process group id: the script's pid.
    group: i32,
    reaped: bool,
}

impl Running {
    /// Signals the script's process group. Until the leader is reaped its pid cannot be reused,
    /// so the group id cannot name anyone else's group.
    fn signal_group(&self, signal: i32) {
        // SAFETY: killpg has no memory preconditions; a vanished group is ESRCH, ignored.
        unsafe { libc::killpg(self.group, signal) };
    }

    async fn wait(&mut self) -> io::Result<ExitStatus> {
        let status = self.child.wait().await;
        if status.is_ok() && !self.reaped {
            self.reaped = true;
            reaper::reaped(self.group.unsigned_abs());
        }
        status
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.reaped {
            self.signal_group(libc::SIGKILL);
            // The runtime reaps it from here on; should the orphan reaper get there first,
            // the runtime takes the missing child for reaped.
            reaper::reaped(self.group.unsigned_abs());
        }
    }
}

/// Runs `command` (program and arguments) as `run_as`, waits at most `timeout`, and kills the
/// whole process group if it runs longer. Never panics; a bad command is an outcome.
pub async fn run(command: &[String], run_as: &RunAs, timeout: Duration) -> Outcome {
    let mut running = match spawn(command, run_as) {
        Ok(running) => running,
        Err(err) => return Outcome::SpawnFailed(err),
    };
    match tokio::time::timeout(timeout, running.wait()).await {
        Ok(Ok(status)) => return Outcome::of(status),
        Ok(Err(err)) => return Outcome::SpawnFailed(err),
        Err(_elapsed) => {}
    }
    running.signal_group(libc::SIGTERM);
    if tokio::time::timeout(TERM_GRACE, running.wait())
        .await
        .is_err()
    {
        running.signal_group(libc::SIGKILL);
        let _ = tokio::time::timeout(KILL_WAIT, running.wait()).await;
    } else {
        // The leader died of SIGTERM; members of its group that ignore SIGTERM must go too
        // (keepalived does the same). The group id was only just released, and pids are
        // handed out in sequence, so it still names that group or none.
        running.signal_group(libc::SIGKILL);
    }
    Outcome::TimedOut
}

fn spawn(command: &[String], run_as: &RunAs) -> io::Result<Running> {
    let Some((program, args)) = command.split_first() else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty command"));
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .env_remove("IFS")
        .env_remove("LD_PRELOAD")
        .env_remove("LD_LIBRARY_PATH");
    let own = RunAs::daemon();
    if run_as.gid != own.gid {
        cmd.gid(run_as.gid);
    }
    if run_as.uid != own.uid {
        // The standard library also drops root's supplementary groups when it changes the uid.
        cmd.uid(run_as.uid);
    }
    let child = reaper::spawn(&mut cmd)?;
    let group = child
        .id()
        .and_then(|pid| i32::try_from(pid).ok())
        .ok_or_else(|| io::Error::other("the started script has no pid"))?;
    Ok(Running {
        child,
        group,
        reaped: false,
    })
}
