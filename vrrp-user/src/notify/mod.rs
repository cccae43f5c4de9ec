//! Telling scripts and a FIFO about transitions (keepalived's `notify_master`, `notify_backup`,
//! `notify_fault`, `notify_stop`, `notify` and `notify_fifo`), for instances and sync groups.
//!
//! One [`Notifier`] per instance and per sync group. [`Notifier::transition`] returns at once:
//! it writes the FIFO line right away (non-blocking, see [`NotifyFifo`]) and queues the scripts
//! for the notifier's own task, which runs them one at a time in transition order, so a later
//! transition's script never overtakes an earlier one's. For each transition, as keepalived:
//!
//! 1. the state's own script (`notify_master` …) with its configured arguments;
//! 2. the `notify` script with `INSTANCE|GROUP NAME STATE PRIORITY` appended as four separate
//!    arguments (the name unquoted, STATE one of MASTER, BACKUP, FAULT, STOP; a group's
//!    priority is 0);
//! 3. the FIFO line `INSTANCE "NAME" STATE PRIORITY` (written first, in fact: it needs no wait).
//!
//! Scripts run without a shell, as the user configured for that script (`notify_master CMD USER
//! [GROUP]`; a user or group that does not exist is an error logged once, and the script never
//! runs) or else the default script user, after the same security check as check scripts ([`crate::track::security::vet_script`]); a refused script is logged once and
//! never run (keepalived drops it the same way).
//!
//! **Hung scripts.** keepalived starts notify scripts and never waits for them, so they may
//! overlap and finish out of order. Here they are ordered, so each gets a time limit
//! ([`DEFAULT_SCRIPT_TIMEOUT`] unless the daemon says otherwise): a script still running then
//! has its process group killed (SIGTERM, SIGKILL 2 s later), the kill is logged, and the next
//! queued script runs. Other instances are never held up: each notifier has its own task.
//! [`Notifier::close`] lets the queue (typically ending with the Stop scripts) drain for a
//! grace period, then kills what still runs; keepalived gives `notify_stop` 1 s at shutdown.
mod fifo;

#[cfg(test)]
mod tests;

use std::{sync::Arc, time::Duration};

use tokio::{sync::mpsc, task::JoinHandle};

pub use fifo::{NotifyFifo, fifo_line};

use crate::{
    config::{Command, Notify, NotifyScript, ScriptSecurity},
    fsm::State,
    track::{
        exec::{self, Outcome, RunAs},
        security::{Vetting, vet_script},
    },
};

/// How long one notify script may run before it is killed.
pub const DEFAULT_SCRIPT_TIMEOUT: Duration = Duration::from_secs(30);

/// A state as notify scripts and the FIFO name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NotifyState {
    Master,
    Backup,
    Fault,
    Stop,
}

impl NotifyState {
    pub const fn as_str(self) -> &'static str {
        match self {
            NotifyState::Master => "MASTER",
            NotifyState::Backup => "BACKUP",
            NotifyState::Fault => "FAULT",
            NotifyState::Stop => "STOP",
        }
    }

    /// The state machine's state; Initialize is not notified (keepalived does not either).
    pub const fn of(state: State) -> Option<NotifyState> {
        match state {
            State::Master => Some(NotifyState::Master),
            State::Backup => Some(NotifyState::Backup),
            State::Fault => Some(NotifyState::Fault),
            State::Initialize => None,
        }
    }
}

/// Whose transitions a notifier reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Subject {
    Instance,
    Group,
}

impl Subject {
    pub const fn as_str(self) -> &'static str {
        match self {
            Subject::Instance => "INSTANCE",
            Subject::Group => "GROUP",
        }
    }
}

/// A script that passed the security check, and who it runs as.
#[derive(Debug)]
struct Script {
    command: Command,
    run_as: RunAs,
}

/// The scripts of one notifier that passed the security check.
#[derive(Debug, Default)]
struct Scripts {
    master: Option<Script>,
    backup: Option<Script>,
    fault: Option<Script>,
    stop: Option<Script>,
    any: Option<Script>,
}

impl Scripts {
    fn for_state(&self, state: NotifyState) -> Option<&Script> {
        match state {
            NotifyState::Master => self.master.as_ref(),
            NotifyState::Backup => self.backup.as_ref(),
            NotifyState::Fault => self.fault.as_ref(),
            NotifyState::Stop => self.stop.as_ref(),
        }
    }
}

/// Runs the notify scripts of one instance or sync group, in transition order.
#[derive(Debug)]
pub struct Notifier {
    subject: Subject,
    name: Arc<str>,
    jobs: mpsc::UnboundedSender<(NotifyState, u8)>,
    fifo: Option<NotifyFifo>,
    task: JoinHandle<()>,
}

impl Notifier {
    /// A notifier on the current tokio runtime. Scripts run as their own user if configured,
    /// else as `security.default_user`, else keepalived's default ([`RunAs::resolve`]), with
    /// [`DEFAULT_SCRIPT_TIMEOUT`].
    pub fn new(
        subject: Subject,
        name: &str,
        notify: &Notify,
        security: &ScriptSecurity,
        fifo: Option<NotifyFifo>,
    ) -> Notifier {
        let run_as = RunAs::resolve(
            security.default_user.as_deref(),
            security.default_group.as_deref(),
        )
        .map_err(|e| e.to_string());
        Notifier::with(
            subject,
            name,
            notify,
            run_as,
            security.enforce,
            fifo,
            DEFAULT_SCRIPT_TIMEOUT,
        )
    }

    /// [`Notifier::new`] with the default user already resolved (or why it could not be) and
    /// the time limit of one script.
    pub fn with(
        subject: Subject,
        name: &str,
        notify: &Notify,
        run_as: Result<RunAs, String>,
        enforce: bool,
        fifo: Option<NotifyFifo>,
        timeout: Duration,
    ) -> Notifier {
        let name: Arc<str> = name.into();
        let vet = |kind: &str, script: &Option<NotifyScript>| {
            let script = script.as_ref()?;
            let run_as = match &script.user {
                Some(user) => RunAs::lookup_as(&user.user, user.group.as_deref())
                    .map_err(|err| err.to_string()),
                None => run_as.clone(),
            };
            let run_as = run_as
                .map_err(|err| {
                    tracing::error!(
                        "{} {name}: {kind} is never run: {err}",
                        subject_word(subject)
                    )
                })
                .ok()?;
            let command = vetted(subject, &name, kind, &script.command, &run_as, enforce)?;
            Some(Script { command, run_as })
        };
        let scripts = Scripts {
            master: vet("notify_master", &notify.master),
            backup: vet("notify_backup", &notify.backup),
            fault: vet("notify_fault", &notify.fault),
            stop: vet("notify_stop", &notify.stop),
            any: vet("notify", &notify.any),
        };
        let (jobs, queue) = mpsc::unbounded_channel();
        let task = tokio::spawn(run_jobs(subject, name.clone(), scripts, timeout, queue));
        Notifier {
            subject,
            name,
            jobs,
            fifo,
            task,
        }
    }

    /// The state machine entered `state` with effective priority `priority` (ignored for a
    /// group: keepalived reports 0). Returns at once; Initialize is not notified.
    pub fn transition(&self, state: State, priority: u8) {
        if let Some(state) = NotifyState::of(state) {
            self.notify(state, priority);
        }
    }

    /// The instance (or group) stops: runs `notify_stop` and `notify … STOP`.
    pub fn stop(&self, priority: u8) {
        self.notify(NotifyState::Stop, priority);
    }

    /// Writes the FIFO line and queues the scripts for `state`.
    pub fn notify(&self, state: NotifyState, priority: u8) {
        let priority = match self.subject {
            Subject::Instance => priority,
            Subject::Group => 0,
        };
        if let Some(fifo) = &self.fifo {
            fifo.write_line(self.subject, &self.name, state, priority);
        }
        // The task only ends when the sender is gone, so this cannot fail while `self` lives.
        let _ = self.jobs.send((state, priority));
    }

    /// Lets the queued scripts run for at most `grace`, then kills any still running and drops
    /// the rest. Returns whether the queue drained in time.
    pub async fn close(self, grace: Duration) -> bool {
        let Notifier { jobs, mut task, .. } = self;
        drop(jobs);
        if tokio::time::timeout(grace, &mut task).await.is_ok() {
            return true;
        }
        // Dropping the running script kills its process group.
        task.abort();
        let _ = task.await;
        false
    }
}

fn subject_word(subject: Subject) -> &'static str {
    match subject {
        Subject::Instance => "instance",
        Subject::Group => "sync group",
    }
}

/// The command if it may run (a warning is logged when it is unsafe or refused).
fn vetted(
    subject: Subject,
    name: &str,
    kind: &str,
    command: &Command,
    run_as: &RunAs,
    enforce: bool,
) -> Option<Command> {
    let Some(program) = command.first() else {
        tracing::warn!("{} {name}: {kind} has no command", subject_word(subject));
        return None;
    };
    match vet_script(program, run_as, enforce) {
        Vetting::Run => Some(command.clone()),
        Vetting::RunUnsafe(why) => {
            tracing::warn!(
                "{} {name}: {kind} runs as {run_as} although {why} \
                 (enable_script_security would refuse it)",
                subject_word(subject)
            );
            Some(command.clone())
        }
        Vetting::Refuse(why) => {
            tracing::warn!(
                "{} {name}: {kind} refused, it would run as {run_as} and {why}",
                subject_word(subject)
            );
            None
        }
    }
}

async fn run_jobs(
    subject: Subject,
    name: Arc<str>,
    scripts: Scripts,
    timeout: Duration,
    mut queue: mpsc::UnboundedReceiver<(NotifyState, u8)>,
) {
    while let Some((state, priority)) = queue.recv().await {
        if let Some(script) = scripts.for_state(state) {
            let Script { command, run_as } = script;
            run_one(subject, &name, state, command, run_as, timeout).await;
        }
        if let Some(Script { command, run_as }) = &scripts.any {
            let mut argv = command.clone();
            argv.extend([
                subject.as_str().to_owned(),
                name.to_string(),
                state.as_str().to_owned(),
                priority.to_string(),
            ]);
            run_one(subject, &name, state, &argv, run_as, timeout).await;
        }
    }
}

async fn run_one(
    subject: Subject,
    name: &str,
    state: NotifyState,
    command: &[String],
    run_as: &RunAs,
    timeout: Duration,
) {
    let program = command.first().map_or("", String::as_str);
    match exec::run(command, run_as, timeout).await {
        Outcome::Exited(0) => {
            tracing::debug!(
                "{} {name}: {program} ({}) done",
                subject_word(subject),
                state.as_str()
            )
        }
        Outcome::TimedOut => tracing::warn!(
            "{} {name}: notify script {program} ({}) ran past {timeout:?} and was killed",
            subject_word(subject),
            state.as_str()
        ),
        outcome => tracing::warn!(
            "{} {name}: notify script {program} ({}) {outcome}",
            subject_word(subject),
            state.as_str()
        ),
    }
}
