//! The rules between the parts of a configuration, shared by both readers: names are unique,
//! so is each virtual router, tracked scripts exist, a track file's name stands for one path,
//! and a sync group's members exist and belong to no other group.
use std::collections::HashMap;

use super::{CheckScript, Diagnostic, Family, InstanceConfig, SyncGroup};

/// Where something is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Site {
    pub file: String,
    pub line: usize,
}

impl Site {
    pub fn diagnostic(&self, message: String) -> Diagnostic {
        Diagnostic {
            file: self.file.clone(),
            line: self.line,
            message,
        }
    }

    /// `line N`, or `FILE:N` when seen from another file.
    pub fn seen_from(&self, other: &Site) -> String {
        if self.file == other.file {
            format!("line {}", self.line)
        } else {
            format!("{}:{}", self.file, self.line)
        }
    }
}

/// Where an instance's parts are written.
pub(super) struct InstanceSites {
    /// The instance as a whole (`[[instance]]`, `vrrp_instance`): what other messages refer to.
    pub header: Site,
    pub name: Site,
    pub vrid: Site,
    /// One per [`InstanceConfig::track_scripts`] entry.
    pub track_scripts: Vec<Site>,
}

/// Where a sync group's parts are written.
pub(super) struct GroupSites {
    pub name: Site,
    /// One per [`SyncGroup::members`] entry.
    pub members: Vec<Site>,
}

/// Every part, with where it is written.
pub(super) struct Parts<'a> {
    pub instances: &'a [(InstanceConfig, InstanceSites)],
    pub scripts: &'a [(CheckScript, Site)],
    pub groups: &'a [(SyncGroup, GroupSites)],
    /// Instances and scripts found invalid (already reported): references to them are not
    /// reported again as undefined.
    pub failed: &'a [String],
}

/// The problems between the parts, in no particular order.
pub(super) fn check(parts: &Parts<'_>) -> Vec<Diagnostic> {
    let mut errors = Vec::new();
    instances(parts.instances, &mut errors);
    let mut scripts: HashMap<&str, &Site> = HashMap::new();
    for (script, site) in parts.scripts {
        if let Some(first) = scripts.get(script.name.as_str()) {
            errors.push(site.diagnostic(format!(
                "script name {:?} is already used at {}",
                script.name,
                first.seen_from(site)
            )));
        } else {
            scripts.insert(&script.name, site);
        }
    }
    for (instance, sites) in parts.instances {
        for (track, site) in instance.track_scripts.iter().zip(&sites.track_scripts) {
            if !scripts.contains_key(track.script.as_str()) && !parts.failed.contains(&track.script)
            {
                errors.push(site.diagnostic(format!(
                    "instance {:?} tracks script {:?}, which is not defined",
                    instance.name, track.script
                )));
            }
        }
    }
    track_files(parts.instances, &mut errors);
    groups(parts, &mut errors);
    errors
}

/// A track file's name stands for one path: the daemon polls each name once for all the
/// instances that track it.
fn track_files(instances: &[(InstanceConfig, InstanceSites)], errors: &mut Vec<Diagnostic>) {
    let mut paths: HashMap<&str, (&std::path::Path, &str, &Site)> = HashMap::new();
    for (instance, sites) in instances {
        for file in &instance.track_files {
            match paths.get(file.name.as_str()) {
                Some((path, first, site)) if *path != file.path => {
                    errors.push(sites.header.diagnostic(format!(
                        "instance {:?} tracks file {:?} at {}, but instance {first:?} ({}) \
                         tracks {:?} at {}: one name, one path",
                        instance.name,
                        file.name,
                        file.path.display(),
                        site.seen_from(&sites.header),
                        file.name,
                        path.display()
                    )));
                }
                Some(_) => {}
                None => {
                    paths.insert(&file.name, (&file.path, &instance.name, &sites.header));
                }
            }
        }
    }
}

/// Names are unique, and so is (interface, vrid, family).
fn instances(instances: &[(InstanceConfig, InstanceSites)], errors: &mut Vec<Diagnostic>) {
    let mut names: HashMap<&str, &Site> = HashMap::new();
    let mut routers: HashMap<(&str, u8, Family), (&InstanceConfig, &Site)> = HashMap::new();
    for (instance, sites) in instances {
        if let Some(first) = names.get(instance.name.as_str()) {
            errors.push(sites.name.diagnostic(format!(
                "instance name {:?} is already used at {}",
                instance.name,
                first.seen_from(&sites.name)
            )));
        } else {
            names.insert(&instance.name, &sites.header);
        }
        let key = (
            instance.interface.as_str(),
            instance.vrid,
            instance.family(),
        );
        if let Some((first, first_site)) = routers.get(&key) {
            errors.push(sites.vrid.diagnostic(format!(
                "vrid {} on {} for {} is already used by instance {:?} at {}",
                instance.vrid,
                instance.interface,
                instance.family(),
                first.name,
                first_site.seen_from(&sites.vrid)
            )));
        } else {
            routers.insert(key, (instance, &sites.header));
        }
    }
}

/// Group names are unique; members exist, are listed once and are in one group only.
fn groups(parts: &Parts<'_>, errors: &mut Vec<Diagnostic>) {
    let instances: HashMap<&str, &InstanceConfig> = parts
        .instances
        .iter()
        .map(|(instance, _)| (instance.name.as_str(), instance))
        .collect();
    let mut names: HashMap<&str, &Site> = HashMap::new();
    let mut membership: HashMap<&str, (&str, &Site)> = HashMap::new();
    for (group, sites) in parts.groups {
        if let Some(first) = names.get(group.name.as_str()) {
            errors.push(sites.name.diagnostic(format!(
                "sync group name {:?} is already used at {}",
                group.name,
                first.seen_from(&sites.name)
            )));
        } else {
            names.insert(&group.name, &sites.name);
        }
        for (member, site) in group.members.iter().zip(&sites.members) {
            if !instances.contains_key(member.as_str()) {
                if parts.failed.contains(member) {
                    continue;
                }
                errors.push(site.diagnostic(format!(
                    "sync group {:?}: instance {member:?} is not defined",
                    group.name
                )));
                continue;
            }
            match membership.get(member.as_str()) {
                Some((other, _)) if *other == group.name => {
                    errors.push(site.diagnostic(format!(
                        "sync group {:?}: instance {member:?} is listed twice",
                        group.name
                    )));
                    continue;
                }
                Some((other, first)) => {
                    errors.push(site.diagnostic(format!(
                        "sync group {:?}: instance {member:?} is already in sync group {other:?} \
                         at {}; an instance can be in one sync group only",
                        group.name,
                        first.seen_from(site)
                    )));
                    continue;
                }
                None => {
                    membership.insert(member, (&group.name, site));
                }
            }
        }
    }
}

/// The trackers of `instance` with a non-zero weight, each described, with its weight.
pub(super) fn weighted_trackers(
    instance: &InstanceConfig,
    scripts: &HashMap<&str, &CheckScript>,
) -> Vec<(String, i32)> {
    let scripts = instance.track_scripts.iter().map(|track| {
        let weight = track
            .weight
            .or_else(|| scripts.get(track.script.as_str()).map(|s| s.weight))
            .unwrap_or(0);
        (format!("script {:?}", track.script), weight)
    });
    let interfaces = (instance.track_interfaces.iter())
        .map(|track| (format!("interface {:?}", track.interface), track.weight));
    let files =
        (instance.track_files.iter()).map(|track| (format!("file {:?}", track.name), track.weight));
    scripts
        .chain(interfaces)
        .chain(files)
        .filter(|(_, weight)| *weight != 0)
        .collect()
}
