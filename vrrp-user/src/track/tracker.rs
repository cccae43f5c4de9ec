//! The health of one instance, from what it tracks: the pure part of tracking.
//!
//! A [`Tracker`] is built from the instance's configuration and fed observations (a check
//! script's status, an interface's link state, a track file's value); it answers with the
//! instance's new [`Health`] whenever that changes. The rules are keepalived 2.2's
//! (`vrrp_track.c`):
//!
//! - **Check scripts.** Weight 0: Fault while the script fails, and also while it has not
//!   reported yet (keepalived holds such an instance in Fault until the first result). A positive
//!   weight is added while the script passes, a negative one while it fails; nothing is added
//!   before the first result. The instance's `track_script … weight` overrides the script's.
//! - **Interfaces.** Weight 0: Fault while the link is down. A positive weight is added while it
//!   is up, a negative one while it is down. An interface not reported yet counts as down, as
//!   keepalived treats an interface that does not exist.
//! - **Files.** The file's value (an integer, clamped to -254..=254 by the reader) times the
//!   weight, clamped to -254..=253, is added; -254 (the product reached -254 or below) means Fault.
//!   Weight 0: Fault while the value is not 0. A file not reported yet counts as 0, as a missing
//!   or unreadable file does.
//!
//! [`Health::priority_delta`] is the raw sum: the state machine clamps the effective priority to
//! 1..=254 and leaves an address owner (255) alone; [`Health::priority`] does the same for
//! callers that need the number.
use std::fmt;

use super::CheckStatus;
use crate::config::{CheckScript, InstanceConfig};

/// The file value keepalived reads as "fault" once multiplied by the weight.
const FILE_FAULT: i64 = -254;
/// The largest contribution of one track file.
const FILE_MAX: i64 = 253;

/// What tracking says about an instance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Health {
    /// Why the instance must be in Fault (the first cause in configuration order), if it must.
    pub fault: Option<Fault>,
    /// The sum of the weights that apply now, to add to the configured priority.
    pub priority_delta: i32,
}

impl Health {
    /// The effective priority for a configured priority: clamped to 1..=254; 255 (address
    /// owner) is never adjusted.
    pub fn priority(&self, configured: u8) -> u8 {
        if configured == u8::MAX {
            return configured;
        }
        (i32::from(configured) + self.priority_delta).clamp(1, 254) as u8
    }
}

/// Why tracking puts an instance in Fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// A weight-0 check script has not reported its first result yet.
    CheckPending { script: String },
    /// A weight-0 check script fails.
    CheckFailed { script: String },
    /// A weight-0 tracked interface is down.
    InterfaceDown { interface: String },
    /// A track file's value means Fault (not 0 with weight 0, or value × weight ≤ -254).
    FileValue { file: String, value: i64 },
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::CheckPending { script } => write!(f, "check script {script} has not run yet"),
            Fault::CheckFailed { script } => write!(f, "check script {script} fails"),
            Fault::InterfaceDown { interface } => {
                write!(f, "tracked interface {interface} is down")
            }
            Fault::FileValue { file, value } => write!(f, "track file {file} holds {value}"),
        }
    }
}

/// One observation for a [`Tracker`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observation {
    Script { name: String, status: CheckStatus },
    Interface { name: String, up: bool },
    File { name: String, value: i64 },
}

#[derive(Clone, Debug)]
struct TrackedScript {
    name: String,
    weight: i32,
    status: CheckStatus,
}

#[derive(Clone, Debug)]
struct TrackedInterface {
    name: String,
    weight: i32,
    up: bool,
}

#[derive(Clone, Debug)]
struct TrackedFile {
    name: String,
    weight: i32,
    value: i64,
}

/// The tracking state of one instance (sans IO).
#[derive(Clone, Debug)]
pub struct Tracker {
    scripts: Vec<TrackedScript>,
    interfaces: Vec<TrackedInterface>,
    files: Vec<TrackedFile>,
    health: Health,
}

impl Tracker {
    /// `scripts` are all check script definitions; a tracked name without a definition (the
    /// configuration rules it out) is ignored.
    pub fn new(instance: &InstanceConfig, scripts: &[CheckScript]) -> Tracker {
        let scripts = instance
            .track_scripts
            .iter()
            .filter_map(|track| {
                let script = scripts.iter().find(|s| s.name == track.script)?;
                Some(TrackedScript {
                    name: script.name.clone(),
                    weight: track.weight.unwrap_or(script.weight),
                    status: CheckStatus::Pending,
                })
            })
            .collect();
        let interfaces = instance
            .track_interfaces
            .iter()
            .map(|track| TrackedInterface {
                name: track.interface.clone(),
                weight: track.weight,
                up: false,
            })
            .collect();
        let files = instance
            .track_files
            .iter()
            .map(|track| TrackedFile {
                name: track.name.clone(),
                weight: track.weight,
                value: 0,
            })
            .collect();
        let mut tracker = Tracker {
            scripts,
            interfaces,
            files,
            health: Health::default(),
        };
        tracker.health = tracker.compute();
        tracker
    }

    /// The health now (before any observation: scripts pending, interfaces down, files 0).
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Whether the instance tracks anything at all.
    pub fn is_empty(&self) -> bool {
        self.scripts.is_empty() && self.interfaces.is_empty() && self.files.is_empty()
    }

    /// A check script's status changed; returns the new health if it changed.
    pub fn script_status(&mut self, name: &str, status: CheckStatus) -> Option<Health> {
        for script in self.scripts.iter_mut().filter(|s| s.name == name) {
            script.status = status;
        }
        self.update()
    }

    /// An interface's link state; returns the new health if it changed.
    pub fn interface(&mut self, name: &str, up: bool) -> Option<Health> {
        for interface in self.interfaces.iter_mut().filter(|i| i.name == name) {
            interface.up = up;
        }
        self.update()
    }

    /// A track file's value; returns the new health if it changed.
    pub fn file(&mut self, name: &str, value: i64) -> Option<Health> {
        for file in self.files.iter_mut().filter(|f| f.name == name) {
            file.value = value;
        }
        self.update()
    }

    pub fn observe(&mut self, observation: &Observation) -> Option<Health> {
        match observation {
            Observation::Script { name, status } => self.script_status(name, *status),
            Observation::Interface { name, up } => self.interface(name, *up),
            Observation::File { name, value } => self.file(name, *value),
        }
    }

    fn update(&mut self) -> Option<Health> {
        let health = self.compute();
        if health == self.health {
            return None;
        }
        self.health = health.clone();
        Some(health)
    }

    fn compute(&self) -> Health {
        let mut fault = None;
        let mut delta: i64 = 0;
        let mut fault_if = |cause: Fault| {
            fault.get_or_insert(cause);
        };
        for script in &self.scripts {
            match (script.weight, script.status) {
                (0, CheckStatus::Pending) => fault_if(Fault::CheckPending {
                    script: script.name.clone(),
                }),
                (0, CheckStatus::Failing) => fault_if(Fault::CheckFailed {
                    script: script.name.clone(),
                }),
                (weight, CheckStatus::Passing) if weight > 0 => delta += i64::from(weight),
                (weight, CheckStatus::Failing) if weight < 0 => delta += i64::from(weight),
                _ => {}
            }
        }
        for interface in &self.interfaces {
            match (interface.weight, interface.up) {
                (0, false) => fault_if(Fault::InterfaceDown {
                    interface: interface.name.clone(),
                }),
                (weight, true) if weight > 0 => delta += i64::from(weight),
                (weight, false) if weight < 0 => delta += i64::from(weight),
                _ => {}
            }
        }
        for file in &self.files {
            let value = file.value.clamp(-254, 254);
            let status = if file.weight == 0 {
                if value == 0 { 0 } else { FILE_FAULT }
            } else {
                (value * i64::from(file.weight)).clamp(FILE_FAULT, FILE_MAX)
            };
            if status == FILE_FAULT {
                fault_if(Fault::FileValue {
                    file: file.name.clone(),
                    value: file.value,
                });
            } else {
                delta += status;
            }
        }
        Health {
            fault,
            priority_delta: delta.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32,
        }
    }
}
