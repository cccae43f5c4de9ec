//! An instance's addresses: the VIPs (and excluded ones) it adds and removes as Master, claims in
//! the data plane and announces, and how a reload changes them in place.
use anyhow::Context as _;

use super::{
    announce::{Announcer, Configured},
    *,
};
use crate::dataplane::heartbeat_ticks;
use crate::netlink::{AddressOptions, Interface};
use std::collections::{HashMap, hash_map::Entry};

/// What the kernel is told besides the prefix when `vip` is added.
fn address_options(vip: &config::Vip) -> AddressOptions {
    AddressOptions {
        label: vip.label.clone(),
        scope: vip.scope,
        broadcast: vip.broadcast,
    }
}

impl Instance {
    pub(super) async fn add_vips(&mut self) {
        self.add_addresses(&self.config.addresses()).await;
    }

    pub(super) async fn remove_vips(&mut self) {
        for task in self.announcements.drain(..) {
            task.abort();
        }
        self.disown_vmac();
        self.remove_addresses(&self.config.addresses()).await;
    }

    /// Before a non-owner starts: VIPs already on their interface were left by a daemon that
    /// ended without resigning (a crash, SIGKILL). Kept, the kernel would answer for them
    /// while another router is Master; the election decides who holds them. Those a running
    /// Master of this daemon lists too are left alone: they are its own.
    pub(super) async fn remove_leftover_vips(&self) {
        let mut leftover = Vec::new();
        let mut present: HashMap<u32, Vec<(IpAddr, u8)>> = HashMap::new();
        let vips = self.config.addresses().into_iter();
        for vip in vips.filter(|vip| !self.shared_vips.contains(&vip.address)) {
            let ifindex = match self.other_device(&vip).await {
                Ok(other) => other.map_or(self.placement.ifindex, |i| i.ifindex),
                Err(_) => continue,
            };
            let addresses = match present.entry(ifindex) {
                Entry::Occupied(known) => known.into_mut(),
                Entry::Vacant(slot) => {
                    let listed = self.shared.netlink.addresses(ifindex, None).await;
                    slot.insert(match listed {
                        Ok(addresses) => addresses.iter().map(|a| (a.addr, a.prefix_len)).collect(),
                        Err(err) => {
                            tracing::warn!(instance = %self.config.name, "{err:#}");
                            Vec::new()
                        }
                    })
                }
            };
            // As it is there, whatever prefix the configuration now gives it (IPv4 allows the
            // same address twice with two prefixes).
            for &(_, prefix_len) in addresses.iter().filter(|(a, _)| *a == vip.address) {
                leftover.push(config::Vip {
                    prefix_len,
                    ..vip.clone()
                });
            }
        }
        if leftover.is_empty() {
            return;
        }
        let listed: Vec<String> = leftover.iter().map(|vip| vip.address.to_string()).collect();
        tracing::warn!(
            instance = %self.config.name,
            "{} already configured before start (a daemon that ended without resigning?): \
             removed, until this instance is elected Master",
            listed.join(", ")
        );
        self.remove_addresses(&leftover).await;
    }

    /// The interface a VIP goes on: its `dev` when that names another interface than the
    /// instance's, looked up now (it may have been renamed or re-created since the start).
    /// `None` for the instance's own interface.
    async fn other_device(&self, vip: &config::Vip) -> anyhow::Result<Option<Interface>> {
        match vip.device.as_deref() {
            Some(device) if device != self.config.interface => {
                let interface = self
                    .shared
                    .netlink
                    .interface(device)
                    .await
                    .with_context(|| format!("virtual IP {}: its dev {device}", vip.address))?;
                Ok(Some(interface))
            }
            _ => Ok(None),
        }
    }

    pub(super) async fn add_addresses(&self, vips: &[config::Vip]) {
        for vip in vips {
            let other = match self.other_device(vip).await {
                Ok(other) => other,
                Err(err) => {
                    tracing::error!(instance = %self.config.name, "{err:#}");
                    continue;
                }
            };
            let ifindex = other.as_ref().map_or(self.placement.ifindex, |i| i.ifindex);
            let netlink = self.shared.netlink.clone();
            let options = address_options(vip);
            let added = retry("adding", vip.address, || {
                netlink.add_address_with(ifindex, vip.address, vip.prefix_len, &options)
            })
            .await;
            if let Err(err) = added {
                tracing::error!(instance = %self.config.name, "{err:#}");
            }
            if other.is_some() {
                // The XDP program runs on the instance's interface only: on another one the
                // kernel answers ARP / NS for the address (the configuration warns about it).
                continue;
            }
            let owned = self
                .shared
                .lock_dataplane()
                .own_vip(self.vip_key(vip.address), self.vip_owner(vip.address));
            if let Err(err) = owned {
                tracing::warn!(instance = %self.config.name, "{err:#}");
            }
        }
        self.own_vmac();
        if let Err(err) = self.shared.lock_dataplane().heartbeat() {
            tracing::warn!("heartbeat: {err:#}");
        }
    }

    pub(super) async fn remove_addresses(&self, vips: &[config::Vip]) {
        for vip in vips {
            let other = match self.other_device(vip).await {
                Ok(other) => other,
                // The interface is gone, and the address with it.
                Err(_) => continue,
            };
            if other.is_none()
                && let Err(err) = self
                    .shared
                    .lock_dataplane()
                    .disown_vip(self.vip_key(vip.address))
            {
                tracing::warn!(instance = %self.config.name, "{err:#}");
            }
            let ifindex = other.as_ref().map_or(self.placement.ifindex, |i| i.ifindex);
            let netlink = self.shared.netlink.clone();
            let removed = retry("removing", vip.address, || async {
                match netlink
                    .remove_address(ifindex, vip.address, vip.prefix_len)
                    .await
                {
                    // The interface was deleted and its addresses with it: nothing to retry.
                    Err(NetlinkError::NoSuchIndex(_)) => Ok(()),
                    other => other,
                }
            })
            .await;
            if let Err(err) = removed {
                tracing::error!(instance = %self.config.name, "{err:#}");
            }
        }
    }

    /// A reload changed our configuration: the state machine keeps its state and timers; a
    /// Master adds and removes the VIPs that changed in place, announces the new ones and
    /// advertises at once if what it advertises changed.
    pub(super) async fn reconfigure(
        &mut self,
        new: config::InstanceConfig,
        heartbeat_bound: Duration,
    ) {
        let name = new.name.clone();
        let actions = match self
            .router
            .reconfigure(new.fsm_config(self.placement.primary), Instant::now())
        {
            Ok(actions) => actions,
            Err(err) => {
                // The daemon restarts instances whose identity changed; this is a bug guard.
                tracing::error!(instance = %name, "reload refused: {err}");
                return;
            }
        };
        let old = std::mem::replace(&mut self.config, new);
        self.publish_configured();
        let bound_changed = self.placement.heartbeat_bound != heartbeat_bound;
        self.placement.heartbeat_bound = heartbeat_bound;
        if old.unicast_peers != self.config.unicast_peers {
            match super::super::placement::open_sender(&self.config, &self.placement) {
                Ok(sender) => self.sender = Arc::new(sender),
                Err(err) => tracing::error!(instance = %name, "{err:#}"),
            }
        }
        for action in actions {
            self.execute(action).await;
        }
        let before = old.addresses();
        let after = self.config.addresses();
        let removed: Vec<config::Vip> = before
            .iter()
            .filter(|v| !after.contains(v))
            .cloned()
            .collect();
        let added: Vec<config::Vip> = after
            .iter()
            .filter(|v| !before.contains(v))
            .cloned()
            .collect();
        if self.router.state() == State::Master {
            self.remove_addresses(&removed).await;
            // A new heartbeat bound is written with every owned VIP.
            let to_add = if bound_changed { &after } else { &added };
            self.add_addresses(to_add).await;
            if !added.is_empty() {
                self.announce_addresses(added.clone());
            }
        }
        self.publish_to_dataplane();
        let priority_before = self.router.priority();
        // The configured priority adjusted by tracking, never the bare one: advertising it for
        // a moment could let a Backup preempt.
        let priority = self.tracker.health().priority(self.config.priority);
        self.apply(Event::PriorityChanged(priority)).await;
        let advertised_again = self.router.priority() != priority_before;
        if self.router.state() == State::Master
            && !advertised_again
            && old.virtual_ips != self.config.virtual_ips
        {
            // The advert lists the VIPs: tell the Backups now rather than at the next interval.
            self.send_advert(self.router.priority());
        }
        // The VIPs, the sender or the checksum mode may have changed what a Master repeats.
        self.refresh_scheduled_advert();
        if let Ok(mut status) = self.status.lock() {
            status.name = self.config.name.clone();
            status.priority = self.config.priority;
            status.virtual_ips = self
                .config
                .virtual_ips
                .iter()
                .map(ToString::to_string)
                .collect();
            status.advert_interval_ms = self.config.interval.as_duration().as_millis() as u64;
        }
        self.refresh_status();
        tracing::info!(
            instance = %name,
            "reconfigured: {} VIP(s) added, {} removed, priority {}",
            added.len(),
            removed.len(),
            self.config.priority
        );
    }

    /// On becoming Master: gratuitous ARP / unsolicited NA for every address now (and after
    /// `garp_delay`), and every `garp_refresh` while we stay Master.
    pub(super) fn announce(&mut self) {
        let vips = self.config.addresses();
        self.announce_addresses(vips);
        let refresh = self.announcer().refresh();
        self.announcements.push(tokio::spawn(refresh));
    }

    /// Announces `vips` now (and after `garp_delay`) on the interfaces they are on.
    pub(super) fn announce_addresses(&mut self, vips: Vec<config::Vip>) {
        self.announcements.retain(|task| !task.is_finished());
        let bursts = self.announcer().bursts(vips);
        self.announcements.push(tokio::spawn(bursts));
    }

    fn announcer(&self) -> Announcer {
        Announcer {
            name: self.config.name.clone(),
            interface: self.config.interface.clone(),
            own: Arc::clone(&self.garp),
            netlink: self.shared.netlink.clone(),
            configured: self.configured.subscribe(),
            sent: Arc::clone(&self.tallies.gratuitous),
        }
    }

    /// Tells the announcements what is configured now (after a reload).
    pub(super) fn publish_configured(&self) {
        self.configured.send_replace(Configured {
            vips: self.config.addresses(),
            garp: self.config.garp.clone(),
        });
    }

    /// The data plane's key for `address`, of its own family: an excluded address may be of
    /// the other family than the instance's.
    pub(super) fn vip_key(&self, address: IpAddr) -> VipKey {
        VipKey {
            ifindex: self.placement.key.ifindex,
            vlan: self.placement.key.vlan,
            family: if address.is_ipv4() {
                FAMILY_V4
            } else {
                FAMILY_V6
            },
            _pad: 0,
            address: address16(address),
        }
    }

    /// How the data plane answers for `address`: an IPv6 one as a router where the interface
    /// forwards IPv6, read as the address is claimed (on each Master transition).
    pub(super) fn vip_owner(&self, address: IpAddr) -> VipOwner {
        VipOwner {
            mac: vip_mac(&self.config, &self.placement),
            vrid: self.config.vrid,
            flags: if address.is_ipv6() && crate::netlink::ipv6_forwarding(&self.config.interface) {
                vip_flags::ROUTER
            } else {
                0
            },
            heartbeat_max_age_ticks: heartbeat_ticks(self.placement.heartbeat_bound),
        }
    }

    /// With `use_vmac`, has the data plane take the frames sent to the virtual MAC.
    pub(super) fn own_vmac(&self) {
        if !self.config.use_vmac {
            return;
        }
        let owner = VmacOwner {
            interface_mac: self.placement.mac,
            _pad: [0; 2],
            heartbeat_max_age_ticks: heartbeat_ticks(self.placement.heartbeat_bound),
        };
        let owned = self
            .shared
            .lock_dataplane()
            .own_vmac(self.vmac_key(), owner);
        if let Err(err) = owned {
            tracing::warn!(instance = %self.config.name, "{err:#}");
        }
    }

    pub(super) fn disown_vmac(&self) {
        if !self.config.use_vmac {
            return;
        }
        let disowned = self.shared.lock_dataplane().disown_vmac(self.vmac_key());
        if let Err(err) = disowned {
            tracing::warn!(instance = %self.config.name, "{err:#}");
        }
    }

    pub(super) fn vmac_key(&self) -> VmacKey {
        VmacKey {
            ifindex: self.placement.ifindex,
            mac: vip_mac(&self.config, &self.placement),
            _pad: [0; 2],
        }
    }
}
