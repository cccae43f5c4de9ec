//! Carrying out a reload: re-reading the file, then removing, restarting, reconfiguring and
//! adding instances as [`super::reload::plan`] says, and replacing changed sync groups.
//!
//! Sync groups: a group whose members changed (or that appeared or went away) gets a new
//! coordinator. Its old and new members keep running in the state they are in and join the
//! new group, if any, at once, which settles from their states as from members that entered
//! them ([`super::sync_group::Coordinator::joined`]). A member's own fault carries over: the
//! new group starts in Fault and those held with it stay held; one held only by an old group
//! starts again. A member that leaves every group is let out of a Fault its group held it in.
//! A reload that adds a Master instance to a Master group, or takes one out, moves no VIP. A
//! group whose notify settings alone changed keeps its coordinator and members and takes the
//! new scripts for its next transition.
use std::{
    collections::{BTreeMap, BTreeSet},
    net::IpAddr,
    time::Duration,
};

use anyhow::Context as _;
use tokio::sync::oneshot;

use super::{
    Daemon, Ended, Input, InstanceId, Tracking, open_fifo, placement,
    placement::interface_heartbeat_bound, reload, reload::Change,
};
use crate::{
    config::{CheckScript, Config, InstanceConfig},
    notify::Notifier,
};

/// How long a reload waits for an instance to release the addresses it gives up.
const APPLY_WAIT: Duration = Duration::from_secs(5);

impl Daemon {
    /// Re-reads the configuration file and applies the difference. An invalid file changes
    /// nothing. `Ok` carries the summary; `Err` what went wrong (the parts that could be
    /// applied are).
    pub(super) async fn reload(&mut self) -> Result<String, String> {
        let loaded = match Config::load(&self.config_path) {
            Ok(loaded) => loaded,
            Err(err) => {
                let message =
                    format!("the new configuration is invalid; keeping the running one\n{err}");
                tracing::error!("{message}");
                return Err(message);
            }
        };
        for warning in &loaded.warnings {
            tracing::warn!("{warning}");
        }
        let mut new = loaded.config;
        if let Some(path) = &self.control_socket {
            new.global.control_socket = path.clone();
        }
        for warning in reload::global_warnings(&self.config.global, &new.global) {
            tracing::warn!("{warning}");
        }
        // An instance waiting for its interface is started anew if the file still has it.
        self.unplaced.clear();
        let running: BTreeMap<InstanceId, InstanceConfig> = self
            .instances
            .iter()
            .map(|(id, running)| (id.clone(), running.config.clone()))
            .collect();
        let plan = reload::plan(&running, &new);
        let summary = plan.summary();
        let old_config = std::mem::replace(&mut self.config, new.clone());
        let mut errors = Vec::new();
        // A check or file poller restarts only when what it does changed; a kept one goes on
        // with its status, which the trackers of the instances that follow it start from.
        let restarted = self.monitors.update(&self.config);
        if !restarted.is_empty() {
            tracing::info!(
                "reload: checks started, restarted or stopped: {:?}; track files: {:?}",
                restarted.checks,
                restarted.files
            );
        }
        let fifo_changed = old_config.global.notify_fifo != self.config.global.notify_fifo;
        if fifo_changed {
            self.fifo = open_fifo(&self.config);
        }
        // Every notifier holds the FIFO and who its scripts run as: a change to either is a
        // new notifier for every instance and group.
        let notifiers_stale =
            fifo_changed || old_config.global.script_security != self.config.global.script_security;
        // The instances that keep running through the reload, by their new names: those in a
        // group that changed join the new one as they are.
        let staying: BTreeSet<String> = (plan.kept.iter())
            .filter(|(_, change)| !matches!(change, Change::Restart(_)))
            .map(|(instance, _)| instance.name.clone())
            .collect();
        let regrouped = self.reload_groups(notifiers_stale, &staying).await;
        // At once: the old groups are gone, and a member's fault must reach the new one. A
        // renamed member joins under its new name; a restarted one joins as it starts.
        for (instance, change) in &plan.kept {
            let id = InstanceId::of(instance);
            let old_name = self.instances.get(&id).map(|r| r.config.name.clone());
            let moved = regrouped.contains(&instance.name)
                || old_name.is_some_and(|name| regrouped.contains(&name));
            if moved && !matches!(change, Change::Restart(_)) {
                self.regroup_instance(&id, instance).await;
            }
        }

        // Removals first, then the kept instances that give up addresses, each waited for: a
        // VIP moving to another instance is released before it is added again (the kernel
        // has one copy of an address, and the data plane one owner).
        for id in &plan.removed {
            tracing::info!("reload: {id} is no longer configured: resigning");
            self.remove_instance(id).await;
        }
        let mut kept: Vec<_> = plan
            .kept
            .iter()
            .map(|(instance, change)| {
                let running = self.instances.get(&InstanceId::of(instance));
                let gives_up =
                    running.is_some_and(|running| gives_up_addresses(&running.config, instance));
                (gives_up, *instance, change)
            })
            .collect();
        kept.sort_by_key(|(gives_up, ..)| !gives_up);
        for (gives_up, instance, change) in kept {
            let id = InstanceId::of(instance);
            match change {
                Change::Restart(reason) => {
                    tracing::warn!(instance = %instance.name, "reload: {reason}: restarting the instance");
                    self.remove_instance(&id).await;
                    if let Err(err) = self.start_or_wait(instance).await {
                        errors.push(err);
                    }
                }
                Change::InPlace | Change::None => {
                    let bound = interface_heartbeat_bound(&self.config, &instance.interface);
                    let same_bound =
                        interface_heartbeat_bound(&old_config, &instance.interface) == bound;
                    let retrack = restarted.affects(instance)
                        || self.instances.get(&id).is_some_and(|running| {
                            tracking_inputs(&old_config, &running.config)
                                != tracking_inputs(&self.config, instance)
                        });
                    if *change == Change::None && same_bound && !retrack && !notifiers_stale {
                        continue;
                    }
                    let tracking = match retrack {
                        true => Some(self.tracking(instance).await),
                        false => None,
                    };
                    // Scripts and FIFO lines name the instance: a rename is a new notifier.
                    let notifier = self
                        .instances
                        .get(&id)
                        .is_some_and(|running| {
                            notifiers_stale
                                || running.config.notify != instance.notify
                                || running.config.name != instance.name
                        })
                        .then(|| self.notifier(instance));
                    let changes = Reconfigure {
                        bound,
                        tracking,
                        notifier,
                    };
                    match self.reconfigure_instance(&id, instance, changes).await {
                        Ok(applied) if gives_up => {
                            if tokio::time::timeout(APPLY_WAIT, applied).await.is_err() {
                                tracing::warn!(instance = %instance.name, "reload: the instance took over {APPLY_WAIT:?} to release its addresses");
                            }
                        }
                        Ok(_) => {}
                        Err(err) => errors.push(format!("instance {}: {err:#}", instance.name)),
                    }
                }
            }
        }
        for instance in &plan.added {
            tracing::info!(instance = %instance.name, "reload: new instance");
            if let Err(err) = self.start_or_wait(instance).await {
                errors.push(err);
            }
        }
        self.publish();
        if old_config.global.metrics_listen != self.config.global.metrics_listen {
            self.restart_metrics();
        }
        if errors.is_empty() {
            tracing::info!("reloaded: {summary}");
            Ok(summary)
        } else {
            let message = format!("reloaded with errors: {summary}\n{}", errors.join("\n"));
            tracing::error!("{message}");
            Err(message)
        }
    }

    /// Replaces the coordinators of the sync groups whose members changed (by name, or a name
    /// now another instance's) and starts the new groups; returns the names of the instances
    /// that must move to them (or out of any group). A new group starts held in Fault by the
    /// members that had a fault of their own in the groups it replaces. A kept group gets a
    /// new notifier if its own settings changed or `notifiers_stale`.
    async fn reload_groups(
        &mut self,
        notifiers_stale: bool,
        staying: &BTreeSet<String>,
    ) -> BTreeSet<String> {
        let mut regrouped = BTreeSet::new();
        let mut own_faults = BTreeSet::new();
        let mut kept = BTreeMap::new();
        // The replaced groups' states, by name.
        let mut replaced = BTreeMap::new();
        for (name, mut running) in std::mem::take(&mut self.groups) {
            let new = self.config.sync_groups.iter().find(|g| g.name == name);
            match new {
                Some(group)
                    if running.config().members == group.members
                        && group.members.iter().all(|m| self.same_instance(m)) =>
                {
                    if notifiers_stale || running.config().notify != group.notify {
                        tracing::info!("reload: sync group {name}: new notify settings");
                        let notifier = self.group_notifier(group);
                        running.replace_notifier(group, notifier);
                    }
                    kept.insert(name, running);
                }
                _ => {
                    match new {
                        Some(_) => tracing::info!(
                            "reload: sync group {name}: new members; they join it as they are"
                        ),
                        None => tracing::info!("reload: sync group {name} is no longer configured"),
                    }
                    regrouped.extend(running.config().members.iter().cloned());
                    let ended = running.stop(false).await;
                    own_faults.extend(ended.own_faults);
                    replaced.insert(name, ended.state);
                }
            }
        }
        // A faulted member keeps its fault under its new name.
        let own_faults: BTreeSet<String> = own_faults
            .iter()
            .filter_map(|old| {
                let (id, _) = (self.instances.iter()).find(|(_, r)| r.config.name == *old)?;
                let now = (self.config.instances.iter()).find(|i| InstanceId::of(i) == *id)?;
                Some(now.name.clone())
            })
            .collect();
        for group in &self.config.sync_groups {
            let handle = match kept.remove(&group.name) {
                Some(running) => running,
                None => {
                    if !replaced.contains_key(&group.name) {
                        tracing::info!("reload: new sync group {}", group.name);
                    }
                    regrouped.extend(group.members.iter().cloned());
                    let left = Ended {
                        state: replaced.get(&group.name).copied().flatten(),
                        own_faults: own_faults.clone(),
                    };
                    self.spawn_group(group, &left, staying)
                }
            };
            self.groups.insert(group.name.clone(), handle);
        }
        regrouped
    }

    /// Whether the instance called `name` in the new configuration is the one that runs under
    /// that name (a rename can give a name to another instance).
    fn same_instance(&self, name: &str) -> bool {
        let running = (self.instances.iter()).find(|(_, r)| r.config.name == name);
        let configured = (self.config.instances.iter()).find(|i| i.name == name);
        match (running, configured) {
            (Some((id, _)), Some(instance)) => *id == InstanceId::of(instance),
            // Not running before either (waiting for its interface, or new).
            (None, Some(instance)) => !self.instances.contains_key(&InstanceId::of(instance)),
            (None, None) => true,
            (Some(_), None) => false,
        }
    }

    /// Moves a kept instance into the group that now names it, or out of any, as it is.
    async fn regroup_instance(&self, id: &InstanceId, instance: &InstanceConfig) {
        let Some(running) = self.instances.get(id) else {
            return;
        };
        let link = (self.groups.values())
            .find(|group| group.config().members.contains(&instance.name))
            .map(|group| group.link(&instance.name));
        let inbox = running.inbox.clone();
        let leave = link.clone();
        if running
            .inbox
            .send(Input::Regroup { link, inbox })
            .await
            .is_err()
        {
            tracing::warn!(instance = %instance.name, "reload: the instance has stopped; not regrouped");
            // The group waits for no member that cannot come.
            if let Some(link) = leave {
                link.leave();
            }
        }
    }

    async fn reconfigure_instance(
        &mut self,
        id: &InstanceId,
        instance: &InstanceConfig,
        changes: Reconfigure,
    ) -> anyhow::Result<oneshot::Receiver<()>> {
        let (applied, done) = oneshot::channel();
        let Some(running) = self.instances.get_mut(id) else {
            return Ok(done);
        };
        let key = running.placement.key;
        let old_peers = &running.config.unicast_peers;
        let gone: Vec<IpAddr> = old_peers
            .iter()
            .filter(|peer| !instance.unicast_peers.contains(peer))
            .copied()
            .collect();
        let new: Vec<IpAddr> = instance
            .unicast_peers
            .iter()
            .filter(|peer| !old_peers.contains(peer))
            .copied()
            .collect();
        placement::allow_peers(&self.shared, key, &new)?;
        placement::forbid_peers(&self.shared, key, &gone);
        running.config = instance.clone();
        running.placement.heartbeat_bound = changes.bound;
        running
            .inbox
            .send(Input::Reconfigure {
                config: Box::new(instance.clone()),
                heartbeat_bound: changes.bound,
                tracking: changes.tracking,
                notifier: changes.notifier,
                applied,
            })
            .await
            .context("the instance has stopped")?;
        Ok(done)
    }
}

/// Whether `new` drops an address `running` configures.
fn gives_up_addresses(running: &InstanceConfig, new: &InstanceConfig) -> bool {
    let kept = |vip| new.virtual_ips.contains(vip) || new.excluded_ips.contains(vip);
    !running
        .virtual_ips
        .iter()
        .chain(&running.excluded_ips)
        .all(kept)
}

/// What a reload hands a kept instance besides its configuration.
struct Reconfigure {
    bound: Duration,
    tracking: Option<Tracking>,
    notifier: Option<Notifier>,
}

/// What an instance's tracker is made of: what it tracks, with what weights, and the
/// definitions of its scripts (their default weights). Line numbers do not count.
fn tracking_inputs<'a>(
    config: &'a Config,
    instance: &'a InstanceConfig,
) -> impl PartialEq + use<'a> {
    let scripts: Vec<_> = instance
        .track_scripts
        .iter()
        .map(|track| {
            let script = config.scripts.iter().find(|s| s.name == track.script);
            (
                track,
                script.map(|s| CheckScript {
                    line: 0,
                    ..s.clone()
                }),
            )
        })
        .collect();
    (scripts, &instance.track_files, &instance.track_interfaces)
}
