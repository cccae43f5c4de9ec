//! Tracking: what an instance watches besides adverts (keepalived's `vrrp_script`,
//! `track_script`, `track_interface`, `track_file`), turned into its health: a fault or not,
//! and a priority adjustment.
//!
//! - [`Tracker`] (sans IO): one per instance, fed [`Observation`]s, answers with the new
//!   [`Health`] when it changes. All of keepalived's weight rules live there.
//! - [`CheckCounter`] (sans IO): keepalived's rise/fall counting, one per check script.
//! - [`CheckWatch`]: one task per check script, shared by all instances tracking it; runs it
//!   through [`exec`] (no shell, own process group, timeout, output discarded, as its user) after
//!   [`security::vet_script`] (also used by notify scripts).
//! - [`FileWatch`]: one poller per track file.
//! - [`Monitors`]: starts the tasks a configuration needs (on a reload, only those whose work
//!   changed) and merges, per instance, the updates of the scripts and files it tracks into one
//!   channel of [`Observation`]s.
//!   Interface link states come from the daemon's link watch instead.
mod counter;
pub mod exec;
pub mod file;
pub mod preflight;
pub mod reaper;
mod runner;
pub mod security;
mod tracker;

#[cfg(test)]
mod runner_tests;
#[cfg(test)]
mod tests;

use std::{collections::BTreeSet, path::PathBuf, time::Duration};

use futures::{StreamExt, stream::BoxStream};
use tokio::sync::{mpsc, watch};

pub use counter::{CheckCounter, CheckStatus};
pub use file::FileWatch;
pub use runner::CheckWatch;
pub use tracker::{Fault, Health, Observation, Tracker};

use crate::config::{CheckScript, Config, InstanceConfig, ScriptSecurity};

/// How many observations may wait for an instance's task before the forwarder waits too (the
/// watch channels behind it keep only the latest value, so nothing piles up).
const OBSERVATION_QUEUE: usize = 64;

/// The check-script and track-file tasks of one configuration.
#[derive(Debug, Default)]
pub struct Monitors {
    /// Each task with the definition it runs ([`runs_alike`]).
    checks: Vec<(CheckScript, CheckWatch)>,
    /// Each poller with the path it reads.
    files: Vec<(PathBuf, FileWatch)>,
    /// The script security the checks were started under.
    security: ScriptSecurity,
    poll: Duration,
}

/// The tasks [`Monitors::update`] started, restarted or stopped, by `vrrp_script` and
/// `vrrp_track_file` name: instances tracking one of them must follow the new task.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Restarted {
    pub checks: BTreeSet<String>,
    pub files: BTreeSet<String>,
}

impl Restarted {
    pub fn is_empty(&self) -> bool {
        self.checks.is_empty() && self.files.is_empty()
    }

    /// Whether `instance` tracks a task that changed.
    pub fn affects(&self, instance: &InstanceConfig) -> bool {
        instance
            .track_scripts
            .iter()
            .any(|track| self.checks.contains(&track.script))
            || instance
                .track_files
                .iter()
                .any(|track| self.files.contains(&track.name))
    }
}

impl Monitors {
    /// Starts a task for every check script some instance tracks (keepalived ignores the
    /// others) and a poller for every track file, on the current tokio runtime. Track files
    /// are read once right away.
    pub fn start(config: &Config) -> Monitors {
        Monitors::start_polling(config, file::POLL_INTERVAL)
    }

    /// [`Monitors::start`] with another track-file poll interval.
    pub fn start_polling(config: &Config, poll: Duration) -> Monitors {
        let mut monitors = Monitors {
            poll,
            ..Monitors::default()
        };
        monitors.update(config);
        monitors
    }

    /// Brings the tasks in line with `config` (a reload): a check whose run is unchanged keeps
    /// its task, and with it its status and rise/fall count, and a file whose path is unchanged
    /// keeps its poller; the others start or stop.
    pub fn update(&mut self, config: &Config) -> Restarted {
        let mut restarted = Restarted::default();
        let security = &config.global.script_security;
        let mut old_checks = std::mem::take(&mut self.checks);
        if *security != self.security {
            // Who the scripts run as, and whether they are vetted: all of them run anew.
            restarted
                .checks
                .extend(old_checks.drain(..).map(|(script, _)| script.name));
            self.security = security.clone();
        }
        let tracked = |name: &str| {
            config
                .instances
                .iter()
                .any(|i| i.track_scripts.iter().any(|t| t.script == name))
        };
        for script in config.scripts.iter().filter(|s| tracked(&s.name)) {
            match old_checks
                .iter()
                .position(|(running, _)| runs_alike(running, script))
            {
                Some(at) => self.checks.push(old_checks.swap_remove(at)),
                None => {
                    restarted.checks.insert(script.name.clone());
                    let watch = CheckWatch::start(script, security);
                    self.checks.push((script.clone(), watch));
                }
            }
        }
        restarted
            .checks
            .extend(old_checks.into_iter().map(|(script, _)| script.name));

        let mut old_files = std::mem::take(&mut self.files);
        for track in config.instances.iter().flat_map(|i| &i.track_files) {
            if self.file(&track.name).is_some() {
                continue;
            }
            match old_files
                .iter()
                .position(|(path, watch)| watch.name() == track.name && *path == track.path)
            {
                Some(at) => self.files.push(old_files.swap_remove(at)),
                None => {
                    restarted.files.insert(track.name.clone());
                    let watch = FileWatch::start(track.name.clone(), track.path.clone(), self.poll);
                    self.files.push((track.path.clone(), watch));
                }
            }
        }
        restarted
            .files
            .extend(old_files.iter().map(|(_, watch)| watch.name().to_owned()));
        restarted
    }

    /// Every check script's name and result, in the order they are defined.
    pub fn check_statuses(&self) -> Vec<(String, watch::Receiver<CheckStatus>)> {
        self.checks
            .iter()
            .map(|(_, watch)| (watch.name().to_owned(), watch.subscribe()))
            .collect()
    }

    pub fn check(&self, name: &str) -> Option<&CheckWatch> {
        self.checks
            .iter()
            .map(|(_, watch)| watch)
            .find(|c| c.name() == name)
    }

    pub fn file(&self, name: &str) -> Option<&FileWatch> {
        self.files
            .iter()
            .map(|(_, watch)| watch)
            .find(|f| f.name() == name)
    }

    /// The status of every script and the value of every file `instance` tracks, as they are
    /// now: a tracker fed them starts where the checks are, not pending.
    pub fn latest(&self, instance: &InstanceConfig) -> Vec<Observation> {
        let scripts = instance.track_scripts.iter().filter_map(|track| {
            let status = *self.check(&track.script)?.subscribe().borrow();
            Some(Observation::Script {
                name: track.script.clone(),
                status,
            })
        });
        let files = instance.track_files.iter().filter_map(|track| {
            let value = *self.file(&track.name)?.subscribe().borrow();
            Some(Observation::File {
                name: track.name.clone(),
                value,
            })
        });
        scripts.chain(files).collect()
    }

    /// The status of every script and the value of every file `instance` tracks, first as they
    /// are now, then each change. Feed them to the instance's [`Tracker::observe`]. The
    /// forwarding task ends when the receiver is dropped or the monitors stop.
    pub fn observations(&self, instance: &InstanceConfig) -> mpsc::Receiver<Observation> {
        let mut streams: Vec<BoxStream<'static, Observation>> = Vec::new();
        for track in &instance.track_scripts {
            if let Some(check) = self.check(&track.script) {
                let name = track.script.clone();
                streams.push(follow(check.subscribe(), move |status| {
                    Observation::Script {
                        name: name.clone(),
                        status,
                    }
                }));
            }
        }
        for track in &instance.track_files {
            if let Some(file) = self.file(&track.name) {
                let name = track.name.clone();
                streams.push(follow(file.subscribe(), move |value| Observation::File {
                    name: name.clone(),
                    value,
                }));
            }
        }
        let (tx, rx) = mpsc::channel(OBSERVATION_QUEUE);
        if !streams.is_empty() {
            tokio::spawn(async move {
                let mut all = futures::stream::select_all(streams);
                loop {
                    // Ends as soon as the receiver goes (a tracker replaced on a reload), not
                    // at the next change of a check that a reload kept running.
                    let observation = tokio::select! {
                        () = tx.closed() => return,
                        next = all.next() => next,
                    };
                    let Some(observation) = observation else {
                        return;
                    };
                    if tx.send(observation).await.is_err() {
                        return;
                    }
                }
            });
        }
        rx
    }
}

/// Whether two definitions of a check script run the same check: its weight is the trackers'
/// business, and its line number nobody's.
fn runs_alike(a: &CheckScript, b: &CheckScript) -> bool {
    let run = |script: &CheckScript| CheckScript {
        weight: 0,
        line: 0,
        ..script.clone()
    };
    run(a) == run(b)
}

/// The current value of a watch channel, then every change, mapped.
fn follow<T, F>(rx: watch::Receiver<T>, to_observation: F) -> BoxStream<'static, Observation>
where
    T: Clone + Send + Sync + 'static,
    F: Fn(T) -> Observation + Send + 'static,
{
    futures::stream::unfold((rx, true), |(mut rx, first)| async move {
        if !first {
            rx.changed().await.ok()?;
        }
        let value = rx.borrow_and_update().clone();
        Some((value, (rx, false)))
    })
    .map(to_observation)
    .boxed()
}
