//! The top of a keepalived.conf: `global_defs`, `vrrp_script`, `vrrp_track_file`,
//! `vrrp_sync_group`, the `vrrp_instance`s ([`super::instance`]), and the sections xvrrpd skips.
use std::{collections::HashMap, path::PathBuf, time::Duration};

use super::{
    Report,
    instance::{self, Built, Defaults, TrackFileDef, TrackFiles},
    lexer::Loc,
    tree::Stmt,
    values::{self, Reported},
};
use crate::{
    config::{
        CheckScript, Config, DEFAULT_CHECK_INTERVAL, DEFAULT_RISE_FALL, DEFAULT_TRACK_FILE_WEIGHT,
        Global, MAX_GARP_DELAY, MAX_GARP_INTERVAL, MAX_GARP_REFRESH, MAX_GARP_REPEAT,
        MAX_TRACK_FILE_WEIGHT, MAX_WEIGHT, Notify, SyncGroup,
        crossref::{self, GroupSites, Site},
    },
    fsm::Version,
};

/// keepalived's load-balancing sections: skipped with one warning each.
const LVS_SECTIONS: [&str; 2] = ["virtual_server", "virtual_server_group"];

/// The mail settings of `global_defs`: accepted and ignored with a note.
const MAIL_KEYS: [&str; 9] = [
    "notification_email",
    "notification_email_from",
    "smtp_server",
    "smtp_helo_name",
    "smtp_connect_timeout",
    "smtp_alert",
    "smtp_alert_vrrp",
    "smtp_alert_checker",
    "no_email_faults",
];

/// The whole file; `None` when it has no usable instance (an error says why).
pub fn config(stmts: &[Stmt], report: &mut Report) -> Option<Config> {
    let mut global = Global::default_for_host();
    let mut defaults = Defaults::default();
    let mut scripts: Vec<(CheckScript, Site)> = Vec::new();
    // Names of scripts and instances found invalid: references to them are not undefined.
    let mut failed: Vec<String> = Vec::new();
    let mut files = TrackFiles::new();
    let mut group_stmts = Vec::new();
    let mut instance_stmts = Vec::new();
    for stmt in stmts {
        match stmt.keyword() {
            "global_defs" => {
                let block = report.block(stmt);
                global_defs(block, &mut global, &mut defaults, report);
            }
            "vrrp_script" => {
                if let Some(script) = script(stmt, report) {
                    let site = report.site(stmt.at());
                    scripts.push((script, site));
                } else {
                    failed.extend(stmt.args().first().map(|name| name.text.clone()));
                }
            }
            "vrrp_track_file" | "track_file" => {
                let def = track_file(stmt, report);
                if let Some(name) = stmt.args().first() {
                    files.insert(name.text.clone(), def);
                }
            }
            "vrrp_sync_group" => group_stmts.push(stmt),
            "vrrp_instance" => instance_stmts.push(stmt),
            keyword if LVS_SECTIONS.contains(&keyword) => report.warn(
                stmt.at(),
                format!(
                    "{keyword} skipped: xvrrpd does the VRRP part of keepalived only, not LVS \
                     (keep keepalived or ipvsadm for load balancing)"
                ),
            ),
            _ => report.unknown(stmt, "the top level"),
        }
    }
    let script_weights: HashMap<String, i32> = scripts
        .iter()
        .map(|(s, _)| (s.name.clone(), s.weight))
        .collect();
    warn_scripts_tracked_before_defined(stmts, report);
    let mut instances: Vec<Built> = Vec::new();
    for stmt in &instance_stmts {
        match instance::instance(stmt, &defaults, &files, report) {
            Some(built) => instances.push(built),
            None => failed.extend(stmt.args().first().map(|name| name.text.clone())),
        }
    }
    let mut members = Members {
        defined: instance_stmts
            .iter()
            .filter_map(|stmt| Some(stmt.args().first()?.text.clone()))
            .collect(),
        grouped: HashMap::new(),
    };
    let groups: Vec<(SyncGroup, GroupSites)> = group_stmts
        .iter()
        .filter_map(|stmt| {
            let context = (&script_weights, &files);
            sync_group(stmt, &mut instances, &mut members, context, report)
        })
        .collect();
    if instance_stmts.is_empty() {
        let at = stmts.first().map_or(
            Loc {
                seq: 0,
                file: 0,
                line: 1,
            },
            Stmt::at,
        );
        report.error(
            at,
            "no vrrp_instance is defined; at least one is needed".to_owned(),
        );
        return None;
    }
    let parts: Vec<_> = instances.into_iter().map(|b| (b.config, b.sites)).collect();
    let errors = crossref::check(&crossref::Parts {
        instances: &parts,
        scripts: &scripts,
        groups: &groups,
        failed: &failed,
    });
    report.late_errors.extend(errors);
    if report.failed() {
        return None;
    }
    Some(Config {
        global,
        instances: parts.into_iter().map(|(i, _)| i).collect(),
        scripts: scripts.into_iter().map(|(s, _)| s).collect(),
        sync_groups: groups.into_iter().map(|(g, _)| g).collect(),
    })
}

/// What strict mode means here (`vrrp_strict`, `strict_mode`).
pub const STRICT_NOTE: &str = "strict mode: read as keepalived reads it (no authentication, \
    state MASTER only for priority 255, no preempt_delay); traffic to the VIPs is accepted, as \
    with keepalived's `accept` (xvrrpd does not drop it)";

fn global_defs(block: &[Stmt], global: &mut Global, defaults: &mut Defaults, report: &mut Report) {
    for stmt in block {
        let key = stmt.keyword();
        // A value that failed is reported; the default stays.
        let _: Result<(), Reported> = (|| {
            match key {
                "router_id" | "lvs_id" => {
                    if key == "lvs_id" {
                        report.warn(
                            stmt.at(),
                            "lvs_id is the old name of router_id; read as router_id".to_owned(),
                        );
                    }
                    let token = report.one(stmt)?;
                    global.router_id = report.at(token, values::text(token, "router_id"))?;
                }
                "vrrp_strict" => {
                    report.flag(stmt);
                    report.warn(stmt.at(), STRICT_NOTE.to_owned());
                    defaults.strict = true;
                }
                "vrrp_version" => {
                    let token = report.one(stmt)?;
                    defaults.version = Some(report.at(token, version(token, key))?);
                }
                "vrrp_garp_master_delay" => {
                    let token = report.one(stmt)?;
                    defaults.garp_delay = Some(report.at(
                        token,
                        values::whole_seconds(token, key, MAX_GARP_DELAY.as_secs()),
                    )?);
                }
                "vrrp_garp_master_repeat" => {
                    let token = report.one(stmt)?;
                    defaults.garp_repeat = Some(report.at(
                        token,
                        values::integer(token, key, 0, MAX_GARP_REPEAT.into()).map(|n| n as u8),
                    )?);
                }
                "vrrp_garp_master_refresh_repeat" => {
                    let token = report.one(stmt)?;
                    defaults.garp_refresh_repeat = Some(report.at(
                        token,
                        values::integer(token, key, 1, MAX_GARP_REPEAT.into()).map(|n| n as u8),
                    )?);
                }
                "vrrp_garp_master_refresh" => {
                    let token = report.one(stmt)?;
                    defaults.garp_refresh = Some(report.at(
                        token,
                        values::whole_seconds(token, key, MAX_GARP_REFRESH.as_secs()),
                    )?);
                }
                "vrrp_garp_interval" | "vrrp_gna_interval" => {
                    let token = report.one(stmt)?;
                    let interval = report.at(token, interval(token, key))?;
                    if key == "vrrp_garp_interval" {
                        defaults.garp_interval_v4 = Some(interval);
                    } else {
                        defaults.garp_interval_v6 = Some(interval);
                    }
                }
                "script_user" => {
                    let args = stmt.args();
                    let Some(run_as) = report.run_as(args, "script_user", "script_user group")?
                    else {
                        report.error(stmt.at(), "script_user needs a user name".to_owned());
                        return Err(Reported);
                    };
                    if let Some(extra) = args.get(2) {
                        report.warn(
                            extra.at,
                            format!(
                                "script_user takes a user and a group; {:?} is ignored",
                                extra.text
                            ),
                        );
                    }
                    global.script_security.default_user = Some(run_as.user);
                    global.script_security.default_group = run_as.group;
                }
                "enable_script_security" => {
                    report.flag(stmt);
                    global.script_security.enforce = true;
                }
                "notify_fifo" | "vrrp_notify_fifo" => {
                    let args = stmt.args();
                    let Some(path) = args.first() else {
                        report.error(stmt.at(), format!("{key} needs a FIFO path"));
                        return Err(Reported);
                    };
                    if let Some(user) = args.get(1) {
                        report.warn(
                            user.at,
                            format!("{key}: the owner {:?} is ignored", user.text),
                        );
                    }
                    let path = PathBuf::from(report.at(path, values::text(path, "notify_fifo"))?);
                    if let Some(previous) = &global.notify_fifo
                        && *previous != path
                    {
                        report.warn(
                            stmt.at(),
                            format!(
                                "{key}: xvrrpd writes to one notify FIFO; {} replaces {}",
                                path.display(),
                                previous.display()
                            ),
                        );
                    }
                    global.notify_fifo = Some(path);
                }
                key if MAIL_KEYS.contains(&key) => report.warn(
                    stmt.at(),
                    format!("{key}: xvrrpd sends no mail; ignored (notify scripts can)"),
                ),
                _ => report.unknown(stmt, "global_defs"),
            }
            Ok(())
        })();
    }
}

/// `vrrp_version` / `version`: 2 or 3.
pub fn version(token: &super::lexer::Token, key: &str) -> Result<Version, String> {
    match token.text.as_str() {
        "2" => Ok(Version::V2),
        "3" => Ok(Version::V3),
        other => Err(format!("{key} must be 2 or 3, got {other:?}")),
    }
}

/// A gratuitous ARP interval: decimal seconds, at most [`MAX_GARP_INTERVAL`].
pub fn interval(token: &super::lexer::Token, key: &str) -> Result<Duration, String> {
    let d = values::seconds(token, key)?;
    if d > MAX_GARP_INTERVAL {
        return Err(format!(
            "{key} must be at most 10 seconds, got {}",
            token.text
        ));
    }
    Ok(d)
}

/// keepalived looks a tracked script up as it reads the `track_script` line: one whose
/// `vrrp_script` comes later in the file is not found, and keepalived tracks nothing. xvrrpd
/// tracks it; the warning says that the two differ.
fn warn_scripts_tracked_before_defined(stmts: &[Stmt], report: &mut Report) {
    let defined: HashMap<&str, Loc> = stmts
        .iter()
        .filter(|stmt| stmt.keyword() == "vrrp_script")
        .filter_map(|stmt| Some((stmt.args().first()?.text.as_str(), stmt.at())))
        .collect();
    let tracking = stmts
        .iter()
        .filter(|stmt| matches!(stmt.keyword(), "vrrp_instance" | "vrrp_sync_group"))
        .flat_map(|stmt| stmt.block.iter().flatten())
        .filter(|s| s.keyword() == "track_script")
        .flat_map(|s| s.block.iter().flatten());
    for line in tracking {
        if let Some(at) = defined.get(line.keyword())
            && at.seq > line.at().seq
        {
            report.warn(
                line.at(),
                format!(
                    "track_script {0}: vrrp_script {0} comes later in the file, so keepalived \
                     does not find it and tracks nothing; xvrrpd tracks it (define scripts \
                     first to keep both the same)",
                    line.keyword()
                ),
            );
        }
    }
}

/// The name of a `vrrp_script`, `vrrp_track_file`, `vrrp_instance` or `vrrp_sync_group` block,
/// held to the same rule as in the native format (names end up in logs, scripts and the FIFO).
pub fn block_name<'s>(
    stmt: &'s Stmt,
    section: &str,
    report: &mut Report,
) -> Option<&'s super::lexer::Token> {
    let Some(name) = stmt.args().first() else {
        report.error(stmt.at(), format!("{section} needs a name"));
        return None;
    };
    if let Err(message) = crate::config::fields::printable_name(&name.text) {
        report.error(name.at, format!("{section} {message}"));
        return None;
    }
    Some(name)
}

/// `vrrp_script NAME { script ...; interval; timeout; weight; rise; fall; user }`.
fn script(stmt: &Stmt, report: &mut Report) -> Option<CheckScript> {
    let name = block_name(stmt, "vrrp_script", report)?;
    let mut command = None;
    let mut interval = None;
    let mut timeout = None;
    let mut weight = 0;
    let mut rise = DEFAULT_RISE_FALL;
    let mut fall = DEFAULT_RISE_FALL;
    let mut user = None;
    let mut group = None;
    let mut failed = false;
    for s in report.named_block(stmt) {
        let key = s.keyword();
        let result: Result<(), Reported> = (|| {
            match key {
                "script" => {
                    command = Some(report.at(&s.words[0], values::command(s.args(), key))?);
                }
                "interval" | "timeout" => {
                    let token = report.one(s)?;
                    let d = report.at(token, values::seconds(token, key))?;
                    if d.is_zero() {
                        report.error(token.at, format!("{key} must be more than 0"));
                        return Err(Reported);
                    }
                    if key == "interval" {
                        interval = Some(d);
                    } else {
                        timeout = Some(d);
                    }
                }
                "weight" => weight = weight_with_reverse(s, MAX_WEIGHT, report)?,
                "rise" | "fall" => {
                    let token = report.one(s)?;
                    let n = report.at(token, values::integer(token, key, 1, u32::MAX.into()))?;
                    if key == "rise" {
                        rise = n as u32;
                    } else {
                        fall = n as u32;
                    }
                }
                "user" => {
                    // `user USER [GROUP]`: without a group, the user's own.
                    let Some(run_as) = report.run_as(s.args(), "user", "user group")? else {
                        report.error(s.at(), "user needs a user name".to_owned());
                        return Err(Reported);
                    };
                    user = Some(run_as.user);
                    group = run_as.group;
                }
                _ => report.unknown(s, "vrrp_script"),
            }
            Ok(())
        })();
        failed |= result.is_err();
    }
    let Some(command) = command else {
        if !failed {
            report.error(
                stmt.at(),
                format!("vrrp_script {} has no script to run", name.text),
            );
        }
        return None;
    };
    if failed {
        return None;
    }
    let interval = interval.unwrap_or(DEFAULT_CHECK_INTERVAL);
    Some(CheckScript {
        name: name.text.clone(),
        command,
        interval,
        timeout: timeout.unwrap_or(interval),
        weight,
        rise,
        fall,
        user,
        group,
        line: stmt.at().line,
    })
}

/// `weight N [reverse|noreverse]` with `|N| <= max`; `reverse` is refused.
pub fn weight_with_reverse(stmt: &Stmt, max: i32, report: &mut Report) -> Result<i32, Reported> {
    let args = stmt.args();
    let Some(token) = args.first() else {
        report.error(stmt.at(), "weight needs a value".to_owned());
        return Err(Reported);
    };
    let weight = report.at(
        token,
        values::integer(token, "weight", (-max).into(), max.into()).map(|n| n as i32),
    )?;
    reverse(args.get(1..).unwrap_or(&[]), report)?;
    Ok(weight)
}

/// What may follow a weight: `noreverse` (the default) is fine, `reverse` is not supported,
/// anything else is ignored with a warning.
pub fn reverse(rest: &[super::lexer::Token], report: &mut Report) -> Result<(), Reported> {
    for word in rest {
        match word.text.as_str() {
            "noreverse" => {}
            "reverse" => {
                report.error(
                    word.at,
                    "reverse is not supported by xvrrpd: use a weight of the opposite sense \
                     (a positive weight counts while up, a negative one while down)"
                        .to_owned(),
                );
                return Err(Reported);
            }
            other => report.warn(word.at, format!("{other:?} after the weight is ignored")),
        }
    }
    Ok(())
}

/// `vrrp_track_file NAME { file PATH; weight N; init_file ... }`.
fn track_file(stmt: &Stmt, report: &mut Report) -> Option<TrackFileDef> {
    let name = block_name(stmt, stmt.keyword(), report)?;
    let mut path = None;
    let mut weight = DEFAULT_TRACK_FILE_WEIGHT;
    let mut failed = false;
    for s in report.named_block(stmt) {
        let result: Result<(), Reported> = (|| {
            match s.keyword() {
                "file" => {
                    let token = report.one(s)?;
                    path = Some(PathBuf::from(
                        report.at(token, values::text(token, "file"))?,
                    ));
                }
                "weight" => weight = weight_with_reverse(s, MAX_TRACK_FILE_WEIGHT, report)?,
                _ => report.unknown(s, stmt.keyword()),
            }
            Ok(())
        })();
        failed |= result.is_err();
    }
    if failed {
        return None;
    }
    let Some(path) = path else {
        report.error(
            stmt.at(),
            format!("{} {} has no file", stmt.keyword(), name.text),
        );
        return None;
    };
    Some(TrackFileDef { path, weight })
}

/// The instances sync groups may name, and the group each one joined first.
struct Members {
    defined: std::collections::HashSet<String>,
    grouped: HashMap<String, String>,
}

/// `vrrp_sync_group NAME { group { ... } notify* track_* }`: the group; its trackers are added
/// to each member, and weighted trackers of the members themselves are dropped (keepalived
/// ignores them) unless the group has `sync_group_tracking_weight`.
fn sync_group(
    stmt: &Stmt,
    instances: &mut [Built],
    known: &mut Members,
    (script_weights, files): (&HashMap<String, i32>, &TrackFiles),
    report: &mut Report,
) -> Option<(SyncGroup, GroupSites)> {
    let name = block_name(stmt, "vrrp_sync_group", report)?;
    let mut members: Vec<(String, Site)> = Vec::new();
    let mut notify = Notify::default();
    let mut trackers = instance::Trackers::default();
    let mut has_group = false;
    let mut left_out = false;
    let mut tracking_weight = false;
    for s in report.named_block(stmt) {
        match s.keyword() {
            "group" => {
                has_group = true;
                // Every word of the block names a member, one per line or several on one, as
                // keepalived reads it.
                for line in report.block(s) {
                    report.no_block(line);
                    for word in &line.words {
                        // keepalived leaves out, with a log line, a member it does not know
                        // or that an earlier group has.
                        let member = &word.text;
                        let skip = match known.grouped.get(member) {
                            _ if !known.defined.contains(member) => {
                                Some(format!("instance {member} is not defined"))
                            }
                            Some(first) if *first == name.text => {
                                Some(format!("instance {member} is listed twice"))
                            }
                            Some(first) => {
                                Some(format!("instance {member} is in sync group {first}"))
                            }
                            None => None,
                        };
                        if let Some(why) = skip {
                            left_out = true;
                            report.warn(
                                word.at,
                                format!(
                                    "vrrp_sync_group {}: {why}; left out, as keepalived does",
                                    name.text
                                ),
                            );
                            continue;
                        }
                        known.grouped.insert(member.clone(), name.text.clone());
                        members.push((member.clone(), report.site(word.at)));
                    }
                }
            }
            "sync_group_tracking_weight" => {
                report.flag(s);
                tracking_weight = true;
            }
            key if instance::notify_slot(&mut notify, key).is_some() => {
                let _ = instance::notify(s, &mut notify, report);
            }
            "track_script" | "track_interface" | "track_file" => {
                trackers.read(s, files, report);
            }
            _ => report.unknown(s, "vrrp_sync_group"),
        }
    }
    if left_out && members.is_empty() {
        report.warn(
            stmt.at(),
            format!("vrrp_sync_group {} has no member left; ignored", name.text),
        );
        return None;
    }
    if !has_group || members.is_empty() {
        report.error(
            stmt.at(),
            format!(
                "vrrp_sync_group {} has no group {{ ... }} of instances",
                name.text
            ),
        );
        return None;
    }
    for (member, _) in &members {
        if let Some(built) = instances.iter_mut().find(|b| b.config.name == *member) {
            built.join_group(
                &name.text,
                &trackers,
                script_weights,
                tracking_weight,
                report,
            );
        }
    }
    let (members, sites): (Vec<String>, Vec<Site>) = members.into_iter().unzip();
    Some((
        SyncGroup {
            name: name.text.clone(),
            members,
            notify,
            tracking_weight,
            line: stmt.at().line,
        },
        GroupSites {
            name: report.site(stmt.at()),
            members: sites,
        },
    ))
}
