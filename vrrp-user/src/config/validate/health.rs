//! The native checks of what keepalived calls tracking and notification: `[[script]]`,
//! `[[sync_group]]`, an instance's `track_*`, `notify*` and `excluded_ips`.
use std::{collections::HashMap, ops::Range, path::PathBuf, time::Duration};

use toml::Spanned;

use super::{Checker, Reported};
use crate::config::{
    CheckScript, DEFAULT_CHECK_INTERVAL, DEFAULT_RISE_FALL, DEFAULT_TRACK_FILE_WEIGHT, Diagnostic,
    MAX_TRACK_FILE_WEIGHT, MAX_WEIGHT, Notify, NotifyScript, ScriptUser, SyncGroup, TrackFile,
    TrackInterface, TrackScript, Vip,
    crossref::{self, GroupSites, Site},
    fields,
    native::{Raw, RawNotify, RawScript, RawSyncGroup},
};

/// A `notify*` value: a command (string or array), or `{ command = ..., user = "...",
/// group = "..." }` to run it as another user than the default script user.
fn notify_script(v: &Raw, key: &str) -> Result<NotifyScript, String> {
    if !matches!(v, Raw::Table(_)) {
        return fields::command(v, key).map(NotifyScript::new);
    }
    let what = format!("a {key} table");
    let keys = table_keys(v, &["command", "user", "group"], &what)?;
    let command = fields::command(
        keys.get("command")
            .ok_or_else(|| format!("{what} needs a command"))?,
        key,
    )?;
    let user = keys
        .get("user")
        .map(|u| fields::string(u, &format!("{key} user")))
        .transpose()?;
    let group = keys
        .get("group")
        .map(|g| fields::string(g, &format!("{key} group")))
        .transpose()?;
    let user = match (user, group) {
        (Some(user), group) => Some(ScriptUser { user, group }),
        (None, Some(_)) => return Err(format!("{what}: a group needs a user")),
        (None, None) => None,
    };
    Ok(NotifyScript { command, user })
}

/// The longest `interval` or `timeout` of a check script.
const MAX_CHECK_PERIOD: Duration = Duration::from_secs(86_400);

/// An inline table's keys, checked against the `allowed` ones; `what` names the table.
fn table_keys<'a>(
    v: &'a Raw,
    allowed: &[&str],
    what: &str,
) -> Result<HashMap<&'a str, &'a Raw>, String> {
    let Raw::Table(entries) = v else {
        return Err(format!("{what} must be a table, got {}", v.describe()));
    };
    let mut keys = HashMap::new();
    for (key, value) in entries {
        if !allowed.contains(&key.as_str()) {
            return Err(format!(
                "unknown key {key:?} in {what} ({})",
                allowed.join(", ")
            ));
        }
        keys.insert(key.as_str(), value.get_ref());
    }
    Ok(keys)
}

/// A list's entries, or the message for a value that is not a list.
fn list<'a>(v: &'a Raw, key: &str, example: &str) -> Result<&'a [Spanned<Raw>], String> {
    match v {
        Raw::List(entries) => Ok(entries),
        other => Err(format!(
            "{key} must be a list such as {example}, got {}",
            other.describe()
        )),
    }
}

impl Checker<'_> {
    /// Checks each entry of a list value with `entry`, reporting on the entry's line.
    fn entries<T>(
        &mut self,
        field: &Option<Spanned<Raw>>,
        key: &str,
        example: &str,
        mut entry: impl FnMut(&mut Self, &Spanned<Raw>, &[T]) -> Result<T, String>,
    ) -> Result<Vec<T>, Reported> {
        let Some(entries) = self.value(field, |v| list(v, key, example))? else {
            return Ok(Vec::new());
        };
        let mut values = Vec::with_capacity(entries.len());
        let mut failed = false;
        for raw in entries {
            match entry(self, raw, &values) {
                Ok(value) => values.push(value),
                Err(message) => {
                    self.error(&raw.span(), message);
                    failed = true;
                }
            }
        }
        if failed { Err(Reported) } else { Ok(values) }
    }

    /// `excluded_ips`: like `virtual_ips` but of any family, and none of them advertised.
    pub(super) fn excluded(
        &mut self,
        field: &Option<Spanned<Raw>>,
        vips: Option<&[Vip]>,
        interface: Option<&str>,
    ) -> Result<Vec<Vip>, Reported> {
        self.entries(
            field,
            "excluded_ips",
            "[\"198.51.100.7/24\"]",
            |_, raw, before| {
                let vip = fields::vip_entry(raw.get_ref(), "excluded_ips")?;
                fields::excluded_joins(vips.unwrap_or(&[]), before, &vip)?;
                if let Some(interface) = interface {
                    fields::vip_label_fits(&vip, interface)?;
                }
                Ok(vip)
            },
        )
    }

    /// `track_scripts`: names, or `{ script = "name", weight = N }`; each with its site.
    pub(super) fn track_scripts(
        &mut self,
        field: &Option<Spanned<Raw>>,
    ) -> Result<(Vec<TrackScript>, Vec<Site>), Reported> {
        let tracks = self.entries(
            field,
            "track_scripts",
            "[\"chk_haproxy\"]",
            |checker, raw, before: &[(TrackScript, Site)]| {
                let track = match raw.get_ref() {
                    Raw::String(name) => TrackScript {
                        script: fields::string(raw.get_ref(), "a track_scripts name")
                            .map(|_| name.clone())?,
                        weight: None,
                    },
                    other => {
                        let keys = table_keys(
                            other,
                            &["script", "weight"],
                            "a track_scripts entry",
                        )
                        .map_err(|e| {
                            format!(
                                "{e}; write a script name or {{ script = \"name\", weight = 2 }}"
                            )
                        })?;
                        let script = keys
                            .get("script")
                            .ok_or("a track_scripts entry needs a script name")?;
                        TrackScript {
                            script: fields::string(script, "script")?,
                            weight: keys
                                .get("weight")
                                .map(|w| fields::weight(w, "weight", MAX_WEIGHT))
                                .transpose()?,
                        }
                    }
                };
                if before.iter().any(|(t, _)| t.script == track.script) {
                    return Err(format!("script {:?} is tracked twice", track.script));
                }
                Ok((track, checker.site(&raw.span())))
            },
        )?;
        Ok(tracks.into_iter().unzip())
    }

    /// `track_interfaces`: names, or `{ interface = "eth1", weight = N }`.
    pub(super) fn track_interfaces(
        &mut self,
        field: &Option<Spanned<Raw>>,
    ) -> Result<Vec<TrackInterface>, Reported> {
        self.entries(
            field,
            "track_interfaces",
            "[{ interface = \"eth1\", weight = -10 }]",
            |_, raw, before: &[TrackInterface]| {
                let track = match raw.get_ref() {
                    value @ Raw::String(_) => TrackInterface {
                        interface: fields::interface(value)?,
                        weight: 0,
                    },
                    other => {
                        let keys = table_keys(
                            other,
                            &["interface", "weight"],
                            "a track_interfaces entry",
                        )?;
                        let interface = keys
                            .get("interface")
                            .ok_or("a track_interfaces entry needs an interface")?;
                        TrackInterface {
                            interface: fields::interface(interface)?,
                            weight: keys
                                .get("weight")
                                .map(|w| fields::weight(w, "weight", MAX_WEIGHT))
                                .transpose()?
                                .unwrap_or(0),
                        }
                    }
                };
                if before.iter().any(|t| t.interface == track.interface) {
                    return Err(format!("interface {:?} is tracked twice", track.interface));
                }
                Ok(track)
            },
        )
    }

    /// `track_files`: `{ name = "...", path = "...", weight = N }`.
    pub(super) fn track_files(
        &mut self,
        field: &Option<Spanned<Raw>>,
    ) -> Result<Vec<TrackFile>, Reported> {
        self.entries(
            field,
            "track_files",
            "[{ path = \"/run/lb/prio\", weight = 1 }]",
            |_, raw, before: &[TrackFile]| {
                let keys = table_keys(
                    raw.get_ref(),
                    &["name", "path", "weight"],
                    "a track_files entry",
                )?;
                let path = fields::string(
                    keys.get("path").ok_or("a track_files entry needs a path")?,
                    "path",
                )?;
                let name = match keys.get("name") {
                    Some(name) => fields::string(name, "name")?,
                    None => path.clone(),
                };
                let weight = keys
                    .get("weight")
                    .map(|w| fields::weight(w, "weight", MAX_TRACK_FILE_WEIGHT))
                    .transpose()?
                    .unwrap_or(DEFAULT_TRACK_FILE_WEIGHT);
                if before.iter().any(|t| t.name == name) {
                    return Err(format!("track file {name:?} is listed twice"));
                }
                Ok(TrackFile {
                    name,
                    path: PathBuf::from(path),
                    weight,
                })
            },
        )
    }

    /// The `notify*` keys.
    pub(super) fn notify(&mut self, raw: &RawNotify<'_>) -> Result<Notify, Reported> {
        let master = self.value(raw.master, |v| notify_script(v, "notify_master"));
        let backup = self.value(raw.backup, |v| notify_script(v, "notify_backup"));
        let fault = self.value(raw.fault, |v| notify_script(v, "notify_fault"));
        let stop = self.value(raw.stop, |v| notify_script(v, "notify_stop"));
        let any = self.value(raw.any, |v| notify_script(v, "notify"));
        Ok(Notify {
            master: master?,
            backup: backup?,
            fault: fault?,
            stop: stop?,
            any: any?,
        })
    }

    /// One `[[script]]`.
    pub(super) fn script(&mut self, raw: &Spanned<RawScript>) -> Option<(CheckScript, Site)> {
        let header = raw.span();
        let r = raw.get_ref();
        const TABLE: &str = "[[script]]";
        let name = self.required_in(&r.name, "name", TABLE, &header, |v| {
            fields::name(v).map_err(|e| format!("script {e}"))
        });
        let command = self.required_in(&r.command, "command", TABLE, &header, |v| {
            fields::command(v, "command")
        });
        let interval = self
            .value(&r.interval, |v| period(v, "interval"))
            .map(|i| i.unwrap_or(DEFAULT_CHECK_INTERVAL));
        let timeout = self.value(&r.timeout, |v| period(v, "timeout"));
        let weight = self.value(&r.weight, |v| fields::weight(v, "weight", MAX_WEIGHT));
        let rise = self.value(&r.rise, |v| count(v, "rise"));
        let fall = self.value(&r.fall, |v| count(v, "fall"));
        let user = self.value(&r.user, |v| fields::string(v, "user"));
        let group = self.value(&r.group, |v| fields::string(v, "group"));
        if r.user.is_none() && r.group.is_some() {
            let span = r.group.as_ref().map_or(header.clone(), Spanned::span);
            self.error(&span, "a script's group needs a user".to_owned());
            return None;
        }
        let name_span = r.name.as_ref().map_or(header.clone(), Spanned::span);
        let interval = interval.ok()?;
        Some((
            CheckScript {
                name: name.ok()?,
                command: command.ok()?,
                interval,
                timeout: timeout.ok()?.unwrap_or(interval),
                weight: weight.ok()?.unwrap_or(0),
                rise: rise.ok()?.unwrap_or(DEFAULT_RISE_FALL),
                fall: fall.ok()?.unwrap_or(DEFAULT_RISE_FALL),
                user: user.ok()?,
                group: group.ok()?,
                line: self.line(&header),
            },
            self.site(&name_span),
        ))
    }

    /// One `[[sync_group]]`.
    pub(super) fn sync_group(
        &mut self,
        raw: &Spanned<RawSyncGroup>,
    ) -> Option<(SyncGroup, GroupSites)> {
        let header = raw.span();
        let r = raw.get_ref();
        const TABLE: &str = "[[sync_group]]";
        let name = self.required_in(&r.name, "name", TABLE, &header, |v| {
            fields::name(v).map_err(|e| format!("sync group {e}"))
        });
        let members = self.required_in(&r.members, "members", TABLE, &header, |v| match v {
            Raw::List(entries) if entries.is_empty() => {
                Err("members must name at least one instance".to_owned())
            }
            other => list(other, "members", "[\"VI_1\", \"VI_2\"]"),
        });
        let mut names = Vec::new();
        let mut sites = Vec::new();
        let mut failed = false;
        for entry in members.as_ref().map_or(&[][..], |m| m) {
            match fields::string(entry.get_ref(), "a member") {
                Ok(member) => {
                    names.push(member);
                    sites.push(self.site(&entry.span()));
                }
                Err(message) => {
                    self.error(&entry.span(), message);
                    failed = true;
                }
            }
        }
        let notify = self.notify(&r.notifies());
        let tracking_weight = self.value(&r.tracking_weight, |v| {
            fields::boolean(v, "tracking_weight")
        });
        let name_span: Range<usize> = r.name.as_ref().map_or(header.clone(), Spanned::span);
        members.ok()?;
        if failed {
            return None;
        }
        Some((
            SyncGroup {
                name: name.ok()?,
                members: names,
                notify: notify.ok()?,
                tracking_weight: tracking_weight.ok()?.unwrap_or(false),
                line: self.line(&header),
            },
            GroupSites {
                name: self.site(&name_span),
                members: sites,
            },
        ))
    }
}

/// A sync group member: its name, where the group lists it, and its weighted trackers.
type Member<'a> = (&'a str, &'a crossref::Site, Vec<(String, i32)>);

/// A weighted tracker of a sync group member is on every member with the same weight, as
/// keepalived's sync group trackers are, so that the members' priorities move together;
/// otherwise it must have weight 0 (its failure puts the whole group in Fault). keepalived
/// ignores a weighted tracker that only some members have; the native format refuses it.
/// A group with `tracking_weight` (keepalived's `sync_group_tracking_weight`) allows it.
pub(super) fn group_trackers(parts: &crossref::Parts<'_>) -> Vec<Diagnostic> {
    let scripts: HashMap<&str, &CheckScript> = parts
        .scripts
        .iter()
        .map(|(script, _)| (script.name.as_str(), script))
        .collect();
    let mut errors = Vec::new();
    for (group, sites) in parts.groups.iter().filter(|(g, _)| !g.tracking_weight) {
        let members: Vec<Member<'_>> = (group.members.iter())
            .zip(&sites.members)
            .filter_map(|(member, site)| {
                let (instance, _) = parts.instances.iter().find(|(i, _)| i.name == *member)?;
                Some((
                    member.as_str(),
                    site,
                    crossref::weighted_trackers(instance, &scripts),
                ))
            })
            .collect();
        for (member, site, weighted) in &members {
            let unshared = weighted.iter().find_map(|tracker| {
                let (other, _, _) = members
                    .iter()
                    .find(|(_, _, theirs)| !theirs.contains(tracker))?;
                Some((tracker, other))
            });
            if let Some(((what, weight), other)) = unshared {
                errors.push(site.diagnostic(format!(
                    "sync group {:?}: member {member:?} tracks {what} with weight {weight}, and \
                     member {other:?} does not; a weighted tracker of sync group members must be \
                     on every member with the same weight, else have weight 0 (a failure puts \
                     the whole group in Fault), or the group needs tracking_weight = true",
                    group.name
                )));
            }
        }
    }
    errors
}

/// A check script's `interval` or `timeout`: more than zero, at most a day.
fn period(v: &Raw, key: &str) -> Result<Duration, String> {
    let d = fields::duration_at_most(v, key, MAX_CHECK_PERIOD, "86400s")?;
    if d.is_zero() {
        return Err(format!("{key} must be more than 0s"));
    }
    Ok(d)
}

/// `rise` or `fall`: a positive count.
fn count(v: &Raw, key: &str) -> Result<u32, String> {
    fields::integer(v, key, 1, u32::MAX.into()).map(|n| n as u32)
}
