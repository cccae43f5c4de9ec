//! Running check scripts: one task per `vrrp_script`, shared by every instance tracking it.
//!
//! Each task runs the command every `interval` (the first run at once), waits at most
//! `timeout` (then the script's process group is killed and the run counts as failed), counts
//! results with [`CheckCounter`] and publishes the script's [`CheckStatus`] on a watch channel:
//! subscribers always see the latest status and never lag behind. A run still going when the
//! next is due makes that next one skipped, as keepalived does. What the script prints goes to
//! /dev/null. A script that cannot be started (missing program, not executable) fails every
//! run; one refused by script security, or whose user does not exist, is never run and fails
//! from the start. Each distinct problem is logged once, when it appears.
use std::time::Duration;

use tokio::{sync::watch, task::JoinHandle, time::MissedTickBehavior};

use super::{
    CheckCounter, CheckStatus,
    exec::{self, Outcome, RunAs},
    security::{Vetting, vet_script},
};
use crate::config::{CheckScript, ScriptSecurity};

/// A running check script.
#[derive(Debug)]
pub struct CheckWatch {
    name: String,
    status: watch::Receiver<CheckStatus>,
    task: JoinHandle<()>,
}

impl CheckWatch {
    /// Starts running `script` on the current tokio runtime, as its `user`, else
    /// `security.default_user`, else keepalived's default (see [`RunAs::resolve`]).
    pub fn start(script: &CheckScript, security: &ScriptSecurity) -> CheckWatch {
        let run_as = match &script.user {
            Some(user) => RunAs::lookup_as(user, script.group.as_deref()),
            None => RunAs::resolve(
                security.default_user.as_deref(),
                security.default_group.as_deref(),
            ),
        }
        .map_err(|err| err.to_string());
        CheckWatch::start_as(script, run_as, security.enforce)
    }

    /// [`CheckWatch::start`] with the user already resolved (or the reason it could not be).
    pub fn start_as(
        script: &CheckScript,
        run_as: Result<RunAs, String>,
        enforce: bool,
    ) -> CheckWatch {
        let (tx, status) = watch::channel(CheckStatus::Pending);
        let task = tokio::spawn(run_checks(script.clone(), run_as, enforce, tx));
        CheckWatch {
            name: script.name.clone(),
            status,
            task,
        }
    }

    /// The `vrrp_script` name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The status now and its changes.
    pub fn subscribe(&self) -> watch::Receiver<CheckStatus> {
        self.status.clone()
    }
}

impl Drop for CheckWatch {
    /// Stops the task; a script running at that moment has its process group killed.
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run_checks(
    script: CheckScript,
    run_as: Result<RunAs, String>,
    enforce: bool,
    tx: watch::Sender<CheckStatus>,
) {
    let name = &script.name;
    let Some(program) = script.command.first() else {
        return refuse(&tx, name, "it has no command").await;
    };
    let run_as = match run_as {
        Ok(run_as) => run_as,
        Err(err) => return refuse(&tx, name, &err).await,
    };
    match vet_script(program, &run_as, enforce) {
        Vetting::Run => {}
        Vetting::RunUnsafe(why) => tracing::warn!(
            script = %name,
            "check script runs as {run_as} although {why} (enable_script_security would refuse it)"
        ),
        Vetting::Refuse(why) => {
            let reason = format!("it would run as {run_as} and {why}");
            return refuse(&tx, name, &reason).await;
        }
    }
    let timeout = if script.timeout.is_zero() {
        script.interval
    } else {
        script.timeout
    };
    let mut counter = CheckCounter::new(script.rise, script.fall);
    // A zero interval would spin; keepalived's smallest is 1 µs, ours a millisecond.
    let mut ticker = tokio::time::interval(script.interval.max(Duration::from_millis(1)));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut last_problem: Option<String> = None;
    loop {
        ticker.tick().await;
        let outcome = exec::run(&script.command, &run_as, timeout).await;
        let problem = (!outcome.succeeded()).then(|| problem_kind(&outcome));
        if problem != last_problem {
            match &problem {
                Some(_) => tracing::info!(script = %name, "check script {outcome}"),
                None => tracing::info!(script = %name, "check script succeeds"),
            }
            last_problem = problem;
        }
        if let Some(status) = counter.record(outcome.succeeded()) {
            tracing::info!(script = %name, "check script now {}", status.as_str());
            tx.send_replace(status);
        }
    }
}

/// What makes two failed runs "the same problem" for logging: the exit status, the signal, a
/// timeout, or the start error's kind.
fn problem_kind(outcome: &Outcome) -> String {
    match outcome {
        Outcome::SpawnFailed(err) => format!("spawn {:?}", err.kind()),
        other => other.to_string(),
    }
}

async fn refuse(tx: &watch::Sender<CheckStatus>, name: &str, reason: &str) {
    tracing::warn!(script = %name, "check script not run (counts as failing): {reason}");
    tx.send_replace(CheckStatus::Failing);
    // Keep the channel open for late subscribers.
    tx.closed().await;
}
