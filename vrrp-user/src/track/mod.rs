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
//! - [`Monitors`]: starts the tasks a configuration needs and merges, per instance, the
//!   updates of the scripts and files it tracks into one channel of [`Observation`]s.
//!   Interface link states come from the daemon's link watch instead.
mod counter;
pub mod exec;
pub mod file;
mod runner;
pub mod security;
mod tracker;

#[cfg(test)]
mod runner_tests;
#[cfg(test)]
mod tests;

use futures::{StreamExt, stream::BoxStream};
use tokio::sync::{mpsc, watch};

pub use counter::{CheckCounter, CheckStatus};
pub use file::FileWatch;
pub use runner::CheckWatch;
pub use tracker::{Fault, Health, Observation, Tracker};

use crate::config::{Config, InstanceConfig};

/// How many observations may wait for an instance's task before the forwarder waits too (the
/// watch channels behind it keep only the latest value, so nothing piles up).
const OBSERVATION_QUEUE: usize = 64;

/// The check-script and track-file tasks of one configuration.
#[derive(Debug, Default)]
pub struct Monitors {
    checks: Vec<CheckWatch>,
    files: Vec<FileWatch>,
}

impl Monitors {
    /// Starts a task for every check script some instance tracks (keepalived ignores the
    /// others) and a poller for every track file, on the current tokio runtime. Track files
    /// are read once right away.
    pub fn start(config: &Config) -> Monitors {
        Monitors::start_polling(config, file::POLL_INTERVAL)
    }

    /// [`Monitors::start`] with another track-file poll interval.
    pub fn start_polling(config: &Config, poll: std::time::Duration) -> Monitors {
        let tracked = |name: &str| {
            config
                .instances
                .iter()
                .any(|i| i.track_scripts.iter().any(|t| t.script == name))
        };
        let checks = config
            .scripts
            .iter()
            .filter(|script| tracked(&script.name))
            .map(|script| CheckWatch::start(script, &config.global.script_security))
            .collect();
        let mut files: Vec<FileWatch> = Vec::new();
        for track in config.instances.iter().flat_map(|i| &i.track_files) {
            if files.iter().all(|f| f.name() != track.name) {
                files.push(FileWatch::start(
                    track.name.clone(),
                    track.path.clone(),
                    poll,
                ));
            }
        }
        Monitors { checks, files }
    }

    pub fn check(&self, name: &str) -> Option<&CheckWatch> {
        self.checks.iter().find(|c| c.name() == name)
    }

    pub fn file(&self, name: &str) -> Option<&FileWatch> {
        self.files.iter().find(|f| f.name() == name)
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
                while let Some(observation) = all.next().await {
                    if tx.send(observation).await.is_err() {
                        return;
                    }
                }
            });
        }
        rx
    }
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
