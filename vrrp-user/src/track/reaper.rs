//! Reaping the orphans that end up with the daemon when it is PID 1 (a container without an
//! init) or a child subreaper: what a script left running in the background, or the members
//! of a timed-out script's group killed with it. Nobody else waits for them, and each would
//! stay a zombie for as long as the daemon runs: a check script that leaves one every second
//! uses up the pids.
//!
//! The scripts themselves are the daemon's children too, and the runtime reaps those (their
//! exit status is the check's result): each is registered from its spawn until it is reaped,
//! under the lock the reaper holds, and only the other children are reaped here.
use std::{
    collections::BTreeSet,
    io,
    sync::{Mutex, MutexGuard},
};

use tokio::{
    process::{Child, Command},
    signal::unix::{SignalKind, signal},
};

/// The scripts started and not yet reaped, by pid.
static SCRIPTS: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

fn scripts() -> MutexGuard<'static, BTreeSet<u32>> {
    SCRIPTS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Starts `command`, registered as a script until [`reaped`] says it is gone.
pub fn spawn(command: &mut Command) -> io::Result<Child> {
    let mut scripts = scripts();
    let child = command.spawn()?;
    if let Some(pid) = child.id() {
        scripts.insert(pid);
    }
    Ok(child)
}

/// The script `pid` was reaped (or left to the runtime to reap): the pid may be anyone's now.
pub fn reaped(pid: u32) {
    scripts().remove(&pid);
}

/// Whether orphans are re-parented to this process.
pub fn adopts_orphans() -> bool {
    // SAFETY: getpid has no preconditions; PR_GET_CHILD_SUBREAPER writes one int where told.
    unsafe {
        let mut subreaper: libc::c_int = 0;
        libc::getpid() == 1
            || (libc::prctl(libc::PR_GET_CHILD_SUBREAPER, &mut subreaper) == 0 && subreaper != 0)
    }
}

/// Reaps every child that has exited and is not a script being waited for; how many.
pub fn reap_orphans() -> usize {
    let scripts = scripts();
    let mut reaped = 0;
    for pid in children().into_iter().filter(|pid| !scripts.contains(pid)) {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            continue;
        };
        let mut status = 0;
        // SAFETY: waitpid writes the status where told; WNOHANG never blocks.
        if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid {
            reaped += 1;
        }
    }
    reaped
}

/// This process's children, from every thread's `children` list (an orphan goes to one of the
/// threads).
fn children() -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|pid| pid.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// Whether the kernel lists the children of this process's threads.
fn children_listed() -> bool {
    std::path::Path::new(&format!("/proc/self/task/{}/children", std::process::id())).exists()
}

/// When orphans come to this process, reaps them on every SIGCHLD, in a task of its own.
pub fn start() {
    if !adopts_orphans() {
        return;
    }
    let mut exits = match signal(SignalKind::child()) {
        Ok(exits) => exits,
        Err(err) => {
            tracing::warn!("SIGCHLD handler: {err}: orphaned script processes stay zombies");
            return;
        }
    };
    if children_listed() {
        tracing::info!("running as PID 1 or a subreaper: orphaned script processes are reaped");
    } else {
        tracing::warn!(
            "running as PID 1 or a subreaper, but this kernel does not list a process's \
             children (CONFIG_PROC_CHILDREN): orphaned script processes stay zombies"
        );
        return;
    }
    reap_orphans();
    tokio::spawn(async move {
        while exits.recv().await.is_some() {
            let reaped = reap_orphans();
            if reaped > 0 {
                tracing::debug!("reaped {reaped} orphaned process(es)");
            }
        }
    });
}
