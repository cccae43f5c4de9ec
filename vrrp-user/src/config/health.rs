//! The configuration of what an instance watches besides adverts (check scripts, interfaces,
//! files), of the scripts and FIFO told about its transitions, and of sync groups: the
//! keepalived features (`vrrp_script`, `track_*`, `notify*`, `vrrp_sync_group`) in typed form.
//! The daemon's `track` and `notify` modules run them.
use std::{path::PathBuf, time::Duration};

/// `interval` of a check script when not configured.
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// `rise` and `fall` when not configured.
pub const DEFAULT_RISE_FALL: u32 = 1;
/// The largest weight magnitude keepalived accepts for scripts and interfaces.
pub const MAX_WEIGHT: i32 = 253;
/// The largest weight magnitude keepalived accepts where an instance tracks a file.
pub const MAX_TRACK_FILE_WEIGHT: i32 = 254;
/// A tracked file's weight when not configured (keepalived's default).
pub const DEFAULT_TRACK_FILE_WEIGHT: i32 = 1;

/// A health check run periodically (keepalived's `vrrp_script`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckScript {
    /// Unique among the scripts; instances refer to it by this name.
    pub name: String,
    /// The program and its arguments, run without a shell (as keepalived does); at least one.
    pub command: Vec<String>,
    /// Between two runs. Default [`DEFAULT_CHECK_INTERVAL`].
    pub interval: Duration,
    /// A run that takes longer is killed and counts as a failure. Default: `interval`.
    pub timeout: Duration,
    /// -[`MAX_WEIGHT`]..=[`MAX_WEIGHT`]. 0: the instance goes to Fault while the check fails;
    /// positive: added to the priority while it succeeds; negative: added while it fails.
    pub weight: i32,
    /// Successes in a row that make a failing check good. Default [`DEFAULT_RISE_FALL`].
    pub rise: u32,
    /// Failures in a row that make a good check fail. Default [`DEFAULT_RISE_FALL`].
    pub fall: u32,
    /// Run as this user (and its group). Default: `global.script_user`, else root.
    pub user: Option<String>,
    /// With `user`: run with this group instead of the user's own.
    pub group: Option<String>,
    /// The line of its definition, for later messages.
    pub line: usize,
}

#[cfg(test)]
impl CheckScript {
    /// `command` as the check `name`, every second, with keepalived's defaults otherwise.
    pub fn for_test(name: &str, command: Vec<String>) -> CheckScript {
        CheckScript {
            name: name.into(),
            command,
            interval: DEFAULT_CHECK_INTERVAL,
            timeout: DEFAULT_CHECK_INTERVAL,
            weight: 0,
            rise: 1,
            fall: 1,
            user: None,
            group: None,
            line: 1,
        }
    }
}

/// An instance's use of a [`CheckScript`] (keepalived's `track_script`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackScript {
    /// The [`CheckScript::name`]; validation guarantees it exists.
    pub script: String,
    /// Overrides the script's own weight for this instance.
    pub weight: Option<i32>,
}

/// An interface whose link state an instance follows (keepalived's `track_interface`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackInterface {
    pub interface: String,
    /// 0: Fault while the link is down; otherwise added to the priority while it is down if
    /// negative, while it is up if positive (keepalived's rule).
    pub weight: i32,
}

/// A file holding an integer that adjusts the priority (keepalived's `vrrp_track_file` and
/// `track_file`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackFile {
    /// The `vrrp_track_file` name (for messages and status).
    pub name: String,
    pub path: PathBuf,
    /// The file's value times this is added to the priority; 0: Fault while the value is
    /// not 0. What a missing or unreadable file means follows keepalived (the `track` module).
    pub weight: i32,
}

/// A command run on a transition: the program and its configured arguments.
pub type Command = Vec<String>;

/// Who a script runs as, when configured for that script (keepalived's `USER [GROUP]` after a
/// notify command).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptUser {
    pub user: String,
    /// Default: the user's own (primary) group.
    pub group: Option<String>,
}

/// A notify script: its command and, if configured, the user it runs as (else the default
/// script user).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifyScript {
    pub command: Command,
    pub user: Option<ScriptUser>,
}

impl NotifyScript {
    /// A script run as the default script user.
    pub fn new(command: Command) -> NotifyScript {
        NotifyScript {
            command,
            user: None,
        }
    }
}

/// Scripts and FIFO told about an instance's (or a sync group's) transitions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Notify {
    /// `notify_master`: run on entering Master.
    pub master: Option<NotifyScript>,
    /// `notify_backup`: run on entering Backup.
    pub backup: Option<NotifyScript>,
    /// `notify_fault`: run on entering Fault.
    pub fault: Option<NotifyScript>,
    /// `notify_stop`: run when the instance stops (daemon shutdown or instance removed).
    pub stop: Option<NotifyScript>,
    /// `notify`: run on every transition with `INSTANCE|GROUP NAME STATE PRIORITY` appended.
    pub any: Option<NotifyScript>,
}

impl Notify {
    /// Whether nothing is configured.
    pub fn is_empty(&self) -> bool {
        *self == Notify::default()
    }
}

/// Instances that change state together (keepalived's `vrrp_sync_group`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncGroup {
    pub name: String,
    /// Instance names, at least one; every name exists and is in no other group.
    pub members: Vec<String>,
    pub notify: Notify,
    /// Members may have weighted trackers of their own (keepalived's
    /// `sync_group_tracking_weight`); otherwise a weighted tracker is on every member.
    pub tracking_weight: bool,
    pub line: usize,
}

/// How scripts are run (keepalived's `script_user` and `enable_script_security`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScriptSecurity {
    /// The default user for scripts (`script_user`); root when unset.
    pub default_user: Option<String>,
    /// The group of scripts run as `default_user` (`script_user USER GROUP`); that user's own
    /// group when unset.
    pub default_group: Option<String>,
    /// Refuse a script (or a directory on its path) writable by a non-root user when the script
    /// would run as root (`enable_script_security`).
    pub enforce: bool,
}
