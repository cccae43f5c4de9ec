//! `vrrp_instance NAME { ... }`: one [`InstanceConfig`], with keepalived's defaults and
//! corrections (keepalived.conf(5), and what keepalived 2.2 logs when it corrects a value).
use std::{collections::HashMap, net::IpAddr, path::PathBuf, time::Duration};

use super::{
    Report,
    global::{self, reverse},
    lexer::{Loc, Token},
    tree::Stmt,
    values::{self, Reported},
};
use crate::{
    config::{
        DEFAULT_TRACK_FILE_WEIGHT, InstanceConfig, MAX_GARP_DELAY, MAX_GARP_REFRESH,
        MAX_GARP_REPEAT, MAX_PREEMPT_DELAY, MAX_TRACK_FILE_WEIGHT, MAX_WEIGHT, Notify,
        NotifyScript, TrackFile, TrackInterface, TrackScript, Vip, crossref::InstanceSites, fields,
        native::Raw,
    },
    fsm::Version,
};

/// What `global_defs` sets for every instance.
#[derive(Default)]
pub struct Defaults {
    pub version: Option<Version>,
    /// `vrrp_strict`: every instance in strict mode unless its `strict_mode` says otherwise.
    pub strict: bool,
    pub garp_delay: Option<Duration>,
    pub garp_repeat: Option<u8>,
    pub garp_refresh: Option<Duration>,
    pub garp_refresh_repeat: Option<u8>,
    /// `vrrp_garp_interval`, for IPv4 instances.
    pub garp_interval_v4: Option<Duration>,
    /// `vrrp_gna_interval`, for IPv6 instances.
    pub garp_interval_v6: Option<Duration>,
}

/// A `vrrp_track_file` block.
pub struct TrackFileDef {
    pub path: PathBuf,
    pub weight: i32,
}

/// The `vrrp_track_file` blocks by name; `None` for a block whose error is already reported
/// (tracking it is not also "no vrrp_track_file of that name").
pub type TrackFiles = HashMap<String, Option<TrackFileDef>>;

/// The trackers of an instance or a sync group, each with where it is written.
#[derive(Default)]
pub struct Trackers {
    pub scripts: Vec<(TrackScript, Loc)>,
    pub interfaces: Vec<(TrackInterface, Loc)>,
    pub files: Vec<(TrackFile, Loc)>,
}

impl Trackers {
    /// `track_script {}`, `track_interface {}` or `track_file {}`.
    pub fn read(&mut self, stmt: &Stmt, files: &TrackFiles, report: &mut Report) {
        let key = stmt.keyword();
        for entry in report.block(stmt) {
            let name = &entry.words[0];
            let at = name.at;
            let _: Result<(), Reported> = (|| {
                match key {
                    "track_script" => {
                        let weight = tracker_weight(entry.args(), MAX_WEIGHT, report)?;
                        if self.scripts.iter().any(|(t, _)| t.script == name.text) {
                            report.warn(
                                at,
                                format!(
                                    "track_script {}: listed twice; the first is used",
                                    name.text
                                ),
                            );
                            return Ok(());
                        }
                        self.scripts.push((
                            TrackScript {
                                script: name.text.clone(),
                                weight,
                            },
                            at,
                        ));
                    }
                    "track_interface" => {
                        report.at(
                            name,
                            fields::interface_name(&name.text)
                                .map_err(|e| format!("track_interface {e}")),
                        )?;
                        let weight = tracker_weight(entry.args(), MAX_WEIGHT, report)?.unwrap_or(0);
                        if self
                            .interfaces
                            .iter()
                            .any(|(t, _)| t.interface == name.text)
                        {
                            report.warn(
                                at,
                                format!(
                                    "track_interface {}: listed twice; the first is used",
                                    name.text
                                ),
                            );
                            return Ok(());
                        }
                        self.interfaces.push((
                            TrackInterface {
                                interface: name.text.clone(),
                                weight,
                            },
                            at,
                        ));
                    }
                    _ => {
                        let weight = tracker_weight(entry.args(), MAX_TRACK_FILE_WEIGHT, report)?;
                        let def = match files.get(&name.text) {
                            Some(Some(def)) => def,
                            Some(None) => return Err(Reported),
                            None => {
                                report.error(
                                    at,
                                    format!(
                                        "track_file {}: no vrrp_track_file of that name",
                                        name.text
                                    ),
                                );
                                return Err(Reported);
                            }
                        };
                        if self.files.iter().any(|(t, _)| t.name == name.text) {
                            report.warn(
                                at,
                                format!(
                                    "track_file {}: listed twice; the first is used",
                                    name.text
                                ),
                            );
                            return Ok(());
                        }
                        let file = TrackFile {
                            name: name.text.clone(),
                            path: def.path.clone(),
                            weight: weight.unwrap_or(def.weight),
                        };
                        self.files.push((file, at));
                    }
                }
                Ok(())
            })();
        }
    }
}

/// `[weight N [reverse|noreverse]]` after a tracker's name.
fn tracker_weight(args: &[Token], max: i32, report: &mut Report) -> Result<Option<i32>, Reported> {
    match args.first() {
        None => Ok(None),
        Some(word) if word.text == "weight" => {
            let Some(token) = args.get(1) else {
                report.error(word.at, "weight needs a value".to_owned());
                return Err(Reported);
            };
            let weight = report.at(
                token,
                values::integer(token, "weight", (-max).into(), max.into()).map(|n| n as i32),
            )?;
            reverse(&args[2..], report)?;
            Ok(Some(weight))
        }
        Some(_) => reverse(args, report).map(|()| None),
    }
}

/// The field of `notify` that `key` (`notify_master`, ..., `notify`) sets.
pub fn notify_slot<'n>(notify: &'n mut Notify, key: &str) -> Option<&'n mut Option<NotifyScript>> {
    match key {
        "notify_master" => Some(&mut notify.master),
        "notify_backup" => Some(&mut notify.backup),
        "notify_fault" => Some(&mut notify.fault),
        "notify_stop" => Some(&mut notify.stop),
        "notify" => Some(&mut notify.any),
        _ => None,
    }
}

/// `notify_* COMMAND [USER [GROUP]]`: the command is one word (quote it to give arguments).
pub fn notify(stmt: &Stmt, notify: &mut Notify, report: &mut Report) -> Result<(), Reported> {
    let key = stmt.keyword();
    let Some(script) = stmt.args().first() else {
        report.error(stmt.at(), format!("{key} needs a script"));
        return Err(Reported);
    };
    let command = report.at(script, values::command(std::slice::from_ref(script), key))?;
    // As keepalived: the words after the command are the user and group to run it as (an
    // unquoted argument would be taken for a user name: quote the whole command).
    let user = report.run_as(
        &stmt.args()[1..],
        &format!("{key} user"),
        &format!("{key} group"),
    )?;
    if let Some(extra) = stmt.args().get(3) {
        report.warn(
            extra.at,
            format!(
                "{key}: {:?} and what follows is ignored (COMMAND [USER [GROUP]]); to pass \
                 arguments, quote the whole command",
                extra.text
            ),
        );
    }
    report.no_block(stmt);
    let script = NotifyScript { command, user };
    if let Some(slot) = notify_slot(notify, key) {
        if slot.is_some() {
            report.warn(
                stmt.at(),
                format!("{key} is set twice; the last one is used"),
            );
        }
        *slot = Some(script);
    }
    Ok(())
}

/// An instance read from its block, ready for the checks between parts.
pub struct Built {
    pub config: InstanceConfig,
    pub sites: InstanceSites,
    pub trackers: Trackers,
}

impl Built {
    /// The instance is a member of sync group `group` with these `trackers`. Unless the group
    /// has `tracking_weight`, its own weighted trackers go as keepalived's
    /// `vrrp_complete_instance` has them go: a weighted script is dropped; a weighted interface
    /// is kept with weight 0 (its link going down still faults the group); a file keeps weight
    /// 0 if its weight was the default 1, else it is dropped. The group's trackers are added.
    pub fn join_group(
        &mut self,
        group: &str,
        trackers: &Trackers,
        script_weights: &HashMap<String, i32>,
        tracking_weight: bool,
        report: &mut Report,
    ) {
        if !tracking_weight {
            self.unweight_trackers(group, script_weights, report);
        }
        self.add_group_trackers(trackers, report);
    }

    /// A member's own weighted trackers, as keepalived treats them without
    /// `sync_group_tracking_weight`.
    fn unweight_trackers(
        &mut self,
        group: &str,
        script_weights: &HashMap<String, i32>,
        report: &mut Report,
    ) {
        let name = self.config.name.clone();
        let mut weighted = |what: String, weight: i32, outcome: &str, at: Loc| {
            report.warn(
                at,
                format!(
                    "{what} has weight {weight}, but {name} is in vrrp_sync_group {group}: as \
                     keepalived, xvrrpd {outcome}"
                ),
            );
        };
        self.trackers.scripts.retain(|(t, at)| {
            let weight = t
                .weight
                .or_else(|| script_weights.get(&t.script).copied())
                .unwrap_or(0);
            let keep = weight == 0;
            if !keep {
                weighted(
                    format!("track_script {}", t.script),
                    weight,
                    "ignores it",
                    *at,
                );
            }
            keep
        });
        for (t, at) in &mut self.trackers.interfaces {
            if t.weight != 0 {
                let outcome = "tracks it with weight 0 (its link going down faults the group)";
                weighted(
                    format!("track_interface {}", t.interface),
                    t.weight,
                    outcome,
                    *at,
                );
                t.weight = 0;
            }
        }
        self.trackers.files.retain_mut(|(t, at)| {
            let what = format!("track_file {}", t.name);
            match t.weight {
                0 => true,
                DEFAULT_TRACK_FILE_WEIGHT => {
                    let outcome = "tracks it with weight 0 (write weight 0 to say so)";
                    weighted(what, t.weight, outcome, *at);
                    t.weight = 0;
                    true
                }
                weight => {
                    weighted(what, weight, "ignores it", *at);
                    false
                }
            }
        });
    }

    /// The group's trackers, on every member that does not track the same already.
    fn add_group_trackers(&mut self, trackers: &Trackers, report: &mut Report) {
        for entry in &trackers.scripts {
            if !self
                .trackers
                .scripts
                .iter()
                .any(|(t, _)| t.script == entry.0.script)
            {
                self.trackers.scripts.push(entry.clone());
            }
        }
        for entry in &trackers.interfaces {
            if !self
                .trackers
                .interfaces
                .iter()
                .any(|(t, _)| t.interface == entry.0.interface)
            {
                self.trackers.interfaces.push(entry.clone());
            }
        }
        for entry in &trackers.files {
            if !self
                .trackers
                .files
                .iter()
                .any(|(t, _)| t.name == entry.0.name)
            {
                self.trackers.files.push(entry.clone());
            }
        }
        self.apply_trackers(report);
    }

    /// Copies the trackers into the configuration, and their sites.
    pub fn apply_trackers(&mut self, report: &Report) {
        self.config.track_scripts = self
            .trackers
            .scripts
            .iter()
            .map(|(t, _)| t.clone())
            .collect();
        self.sites.track_scripts = self
            .trackers
            .scripts
            .iter()
            .map(|(_, at)| report.site(*at))
            .collect();
        self.config.track_interfaces = self
            .trackers
            .interfaces
            .iter()
            .map(|(t, _)| t.clone())
            .collect();
        self.config.track_files = self.trackers.files.iter().map(|(t, _)| t.clone()).collect();
    }
}

/// keepalived's `state`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum State {
    Master,
    Backup,
}

/// The instance's statements, as read.
#[derive(Default)]
pub struct Draft {
    pub state: Option<(State, Loc)>,
    pub interface: Option<String>,
    pub vrid: Option<(u8, Loc)>,
    /// Keywords written, valid or not (a missing one is reported, an invalid one already was).
    pub written: Vec<&'static str>,
    pub priority: Option<u8>,
    pub advert: Option<(Duration, Token)>,
    /// `nopreempt` (false) or `preempt` (true), the last one written.
    pub preempt: Option<(bool, Loc)>,
    pub preempt_delay: Option<(Duration, Loc)>,
    /// `strict_mode [on|off]`.
    pub strict: Option<(bool, Loc)>,
    pub source: Option<(IpAddr, Loc)>,
    pub peers: Vec<(IpAddr, Loc)>,
    pub auth_type: Option<Loc>,
    pub auth_pass: Option<(String, Loc)>,
    pub vips: Vec<(Vip, Loc)>,
    pub excluded: Vec<(Vip, Loc)>,
    pub trackers: Trackers,
    pub notify: Notify,
    pub garp_delay: Option<Duration>,
    pub garp_repeat: Option<u8>,
    pub garp_refresh: Option<Duration>,
    pub garp_refresh_repeat: Option<u8>,
    pub version: Option<(Version, Loc)>,
    pub use_vmac: bool,
}

/// Reads `vrrp_instance NAME { ... }`; `None` if an error was reported.
pub fn instance(
    stmt: &Stmt,
    defaults: &Defaults,
    files: &TrackFiles,
    report: &mut Report,
) -> Option<Built> {
    let name = super::global::block_name(stmt, "vrrp_instance", report)?;
    let errors_before = report.errors.len();
    let mut draft = Draft::default();
    for s in report.named_block(stmt) {
        let _ = draft.read(s, files, report);
    }
    let built = draft.finish(&name.text, name.at, defaults, report)?;
    (report.errors.len() == errors_before).then_some(built)
}

impl Draft {
    fn read(&mut self, s: &Stmt, files: &TrackFiles, report: &mut Report) -> Result<(), Reported> {
        let key = s.keyword();
        match key {
            "state" => {
                let token = report.one(s)?;
                let state = match token.text.as_str() {
                    "MASTER" => State::Master,
                    "BACKUP" => State::Backup,
                    other => {
                        report.warn(
                            token.at,
                            format!(
                                "state {other} is not MASTER or BACKUP; read as state BACKUP, as \
                                 keepalived does (write state BACKUP)"
                            ),
                        );
                        State::Backup
                    }
                };
                self.state = Some((state, token.at));
            }
            "interface" => {
                self.written.push("interface");
                let token = report.one(s)?;
                self.interface =
                    Some(report.at(token, fields::interface(&Raw::String(token.text.clone())))?);
            }
            "virtual_router_id" => {
                self.written.push("virtual_router_id");
                let token = report.one(s)?;
                let vrid = report.at(token, values::integer(token, key, 1, 255))?;
                self.vrid = Some((vrid as u8, token.at));
            }
            "priority" => {
                let token = report.one(s)?;
                self.priority = Some(report.at(token, values::integer(token, key, 1, 255))? as u8);
            }
            "advert_int" => {
                let token = report.one(s)?;
                let d = report.at(token, values::seconds(token, key))?;
                if d.is_zero() {
                    report.error(token.at, "advert_int must be more than 0".to_owned());
                    return Err(Reported);
                }
                self.advert = Some((d, token.clone()));
            }
            "nopreempt" | "preempt" => {
                report.flag(s);
                self.preempt = Some((key == "preempt", s.at()));
            }
            "strict_mode" => {
                report.no_block(s);
                let on = match s.args() {
                    [] => Ok(true),
                    [token, ..] => values::on_off(token, key),
                };
                match on {
                    Ok(on) => self.strict = Some((on, s.at())),
                    // keepalived logs an invalid one and goes on without it.
                    Err(message) => report.warn(s.at(), format!("{message}; ignored")),
                }
            }
            "preempt_delay" => {
                let token = report.one(s)?;
                let d = report.at(token, values::seconds(token, key))?;
                if d > MAX_PREEMPT_DELAY {
                    report.error(
                        token.at,
                        format!(
                            "preempt_delay must be at most 1000 seconds, got {}",
                            token.text
                        ),
                    );
                    return Err(Reported);
                }
                self.preempt_delay = Some((d, token.at));
            }
            "mcast_src_ip" | "unicast_src_ip" | "unicast_srcip" => {
                if key == "unicast_srcip" {
                    report.warn(
                        s.at(),
                        "unicast_srcip is not a keepalived keyword (keepalived ignores it): \
                         write unicast_src_ip; read as unicast_src_ip"
                            .to_owned(),
                    );
                }
                let token = report.one(s)?;
                self.source = Some((report.at(token, values::address(token, key))?, token.at));
            }
            "unicast_peer" => {
                for peer in report.block(s) {
                    let token = &peer.words[0];
                    if let Some(option) = peer.args().first() {
                        report.warn(
                            option.at,
                            format!(
                                "unicast_peer {}: {:?} and what follows is not supported; ignored",
                                token.text, option.text
                            ),
                        );
                    }
                    if let Ok(address) = report.at(token, values::address(token, "unicast peer")) {
                        self.peers.push((address, token.at));
                    }
                }
            }
            "authentication" => self.authentication(s, report),
            "virtual_ipaddress" | "virtual_ipaddress_excluded" => {
                for line in report.block(s) {
                    // An empty block is as good as none: the instance then says it has no VIP.
                    if key == "virtual_ipaddress" && !self.written.contains(&key) {
                        self.written.push("virtual_ipaddress");
                    }
                    let mut ignored = Vec::new();
                    let Ok(vip) =
                        report.at(&line.words[0], values::vip_line(&line.words, &mut ignored))
                    else {
                        continue;
                    };
                    if !ignored.is_empty() {
                        report.warn(
                            line.at(),
                            format!(
                                "{key} {}: {} not supported; ignored",
                                line.words[0].text,
                                ignored.join(", ")
                            ),
                        );
                    }
                    let list = if key == "virtual_ipaddress" {
                        &mut self.vips
                    } else {
                        &mut self.excluded
                    };
                    list.push((vip, line.at()));
                }
            }
            "track_interface" | "track_script" | "track_file" => {
                self.trackers.read(s, files, report)
            }
            key if notify_slot(&mut self.notify, key).is_some() => {
                notify(s, &mut self.notify, report)?
            }
            "garp_master_delay" => {
                let token = report.one(s)?;
                self.garp_delay = Some(report.at(
                    token,
                    values::whole_seconds(token, key, MAX_GARP_DELAY.as_secs()),
                )?);
            }
            "garp_master_repeat" => {
                let token = report.one(s)?;
                self.garp_repeat = Some(report.at(
                    token,
                    values::integer(token, key, 0, MAX_GARP_REPEAT.into()),
                )? as u8);
            }
            "garp_master_refresh_repeat" => {
                let token = report.one(s)?;
                self.garp_refresh_repeat = Some(report.at(
                    token,
                    values::integer(token, key, 1, MAX_GARP_REPEAT.into()),
                )? as u8);
            }
            "garp_master_refresh" => {
                let token = report.one(s)?;
                self.garp_refresh = Some(report.at(
                    token,
                    values::whole_seconds(token, key, MAX_GARP_REFRESH.as_secs()),
                )?);
            }
            "version" => {
                let token = report.one(s)?;
                self.version = Some((report.at(token, global::version(token, key))?, token.at));
            }
            "use_vmac" => {
                if let Some(extra) = s.args().first() {
                    report.warn(
                        extra.at,
                        format!(
                            "use_vmac {:?}: xvrrpd creates no macvlan interface, so its name and MAC \
                             are ignored; the virtual MAC is used on the instance's interface",
                            extra.text
                        ),
                    );
                }
                self.use_vmac = true;
            }
            _ => report.unknown(s, "vrrp_instance"),
        }
        Ok(())
    }

    fn authentication(&mut self, s: &Stmt, report: &mut Report) {
        for entry in report.block(s) {
            let _: Result<(), Reported> = (|| {
                match entry.keyword() {
                    "auth_type" => {
                        let token = report.one(entry)?;
                        match token.text.as_str() {
                            "PASS" => self.auth_type = Some(token.at),
                            "AH" => {
                                // Reported here; no further word on the block.
                                self.auth_type = Some(token.at);
                                report.error(
                                token.at,
                                "auth_type AH (IPsec authentication header) is not supported by \
                                 xvrrpd: use auth_type PASS, or no authentication"
                                        .to_owned(),
                                );
                            }
                            other => report.error(
                                token.at,
                                format!("auth_type must be PASS or AH, got {other:?}"),
                            ),
                        }
                    }
                    "auth_pass" => {
                        let token = report.one(entry)?;
                        // What a keepalived peer reading this line sends: a quoting slip here
                        // is a password mismatch on the wire, and both routers Master.
                        let password = values::keepalived_word(&token.raw);
                        if password != token.text {
                            report.warn(
                                token.at,
                                format!(
                                    "auth_pass {}: keepalived reads the password as \
                                     {password:?}, and so does xvrrpd (its values have no \
                                     single quotes or escapes, a comment starts at any # or ! \
                                     outside double quotes)",
                                    token.raw
                                ),
                            );
                        }
                        self.auth_pass = Some((password, token.at));
                    }
                    _ => report.unknown(entry, "authentication"),
                }
                Ok(())
            })();
        }
    }
}
