//! Link events: an instance's own interface going down or up (Fault and back), the
//! interfaces instances track, and an interface created anew under a known name.
use super::{Daemon, Input, InstanceId};
use crate::{config::InstanceConfig, netlink::LinkEvent};

impl Daemon {
    /// Tells the instances on `link`, and those tracking it, of its new state.
    pub(super) async fn dispatch_link(&mut self, link: LinkEvent) {
        if let LinkEvent::Changed {
            ifindex,
            name,
            up: true,
        } = &link
        {
            self.replug(name, *ifindex).await;
        }
        let (ifindex, up) = match &link {
            LinkEvent::Changed { ifindex, up, .. } => (*ifindex, *up),
            LinkEvent::Removed { ifindex, name } => {
                tracing::error!("{name} was removed: its instances go to Fault");
                (*ifindex, false)
            }
        };
        let name = match &link {
            LinkEvent::Changed { name, .. } | LinkEvent::Removed { name, .. } => name,
        };
        for running in self.instances.values() {
            if running.placement.ifindex == ifindex {
                let _ = running.inbox.send(Input::Link { up }).await;
            }
            let tracked = running.config.track_interfaces.iter();
            if tracked.clone().any(|t| t.interface == *name) {
                let input = Input::TrackedLink {
                    name: name.clone(),
                    up,
                };
                let _ = running.inbox.send(input).await;
            }
        }
    }

    /// `name` is up as `ifindex`. Instances placed on an earlier interface of that name
    /// (deleted, in Fault since, and now created again) start again on this one.
    async fn replug(&mut self, name: &str, ifindex: u32) {
        let placed_elsewhere = self
            .instances
            .values()
            .filter(|running| running.config.interface == name)
            .filter(|running| running.placement.ifindex != ifindex)
            .map(|running| running.config.clone());
        let waiting = self.unplaced.values().filter(|c| c.interface == name);
        let moved: Vec<InstanceConfig> = placed_elsewhere.chain(waiting.cloned()).collect();
        for instance in &moved {
            tracing::warn!(
                instance = %instance.name,
                "{name} is back (ifindex {ifindex}): starting the instance again on it"
            );
            let id = InstanceId::of(instance);
            self.remove_instance(&id).await;
            self.unplaced.remove(&id);
            if let Err(err) = self.start_or_wait(instance).await {
                tracing::error!(instance = %instance.name, "{err}");
            }
        }
        if !moved.is_empty() {
            self.publish();
        }
    }

    /// Starts `instance`; one that cannot be started now (its interface missing, down or
    /// without an address) waits for its interface's next up, or the next reload. The error
    /// says so.
    pub(super) async fn start_or_wait(&mut self, instance: &InstanceConfig) -> Result<(), String> {
        match self.start_instance(instance).await {
            Ok(_) => Ok(()),
            Err(err) => {
                let id = InstanceId::of(instance);
                self.unplaced.insert(id, instance.clone());
                // As at start-up, a member that is not running holds its group in nothing.
                let group = (self.groups.values())
                    .find(|group| group.config().members.contains(&instance.name));
                if let Some(group) = group {
                    group.link(&instance.name).leave();
                }
                Err(format!(
                    "instance {}: {err:#}; tried again when {} next comes up, or on a reload",
                    instance.name, instance.interface
                ))
            }
        }
    }
}
