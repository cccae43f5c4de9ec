//! Gratuitous ARP / unsolicited NA while Master (RFC 5798 §6.4.2: "broadcast a gratuitous ARP
//! request … for each IP address associated with the virtual router"): a burst on becoming
//! Master and, with `garp_delay`, a second one later, so that switches and neighbours that missed
//! the first learn the move; a burst for the VIPs a reload adds; and one every `garp_refresh`
//! (keepalived's `garp_master_refresh`, `garp_refresh_repeat` messages per address) for as long
//! as we stay Master.
//!
//! Every burst names the VIPs configured when it leaves, not when it was planned: a VIP a reload
//! removed is not announced by a burst already scheduled, and a refresh includes the VIPs a
//! reload added. A reload's new `garp_*` settings apply from the next burst, but a second
//! burst already waiting keeps the `garp_delay` it was planned with.
use std::{
    collections::{HashMap, HashSet},
    net::IpAddr,
    sync::{Arc, atomic::AtomicU64},
};

use anyhow::Context as _;
use tokio::{sync::watch, time::Instant};

use crate::{config, netlink::Netlink, tx::Garp};

/// What the instance has configured now, as every burst reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct Configured {
    /// The advertised VIPs and the excluded ones.
    pub vips: Vec<config::Vip>,
    pub garp: config::Garp,
}

/// How many messages per address a burst sends: `garp_repeat` or `garp_refresh_repeat`.
#[derive(Clone, Copy)]
enum Burst {
    Announce,
    Refresh,
}

/// Sends an instance's announcements, in a task of their own.
pub struct Announcer {
    /// The instance's name, for the log.
    pub name: String,
    /// The instance's interface and its socket (from the virtual MAC with `use_vmac`).
    pub interface: String,
    pub own: Arc<Garp>,
    pub netlink: Netlink,
    pub configured: watch::Receiver<Configured>,
    /// Messages sent, every burst of every task.
    pub sent: Arc<AtomicU64>,
}

/// Sockets for the VIPs that go on other interfaces (`dev`), opened when first needed and
/// again after a send on one failed (the interface may have been created anew).
#[derive(Default)]
struct OtherInterfaces {
    opened: HashMap<String, Arc<Garp>>,
    /// Those that could not be opened, logged once until they can.
    failing: HashSet<String>,
}

impl Announcer {
    /// A burst for `vips` now and, with `garp_delay`, another one that long after the first
    /// began: keepalived counts `garp_master_delay` from the transition, not from the end of a
    /// burst that a long `garp_interval` stretches.
    pub async fn bursts(self, vips: Vec<config::Vip>) {
        let mut others = OtherInterfaces::default();
        let began = Instant::now();
        self.burst(&vips, Burst::Announce, &mut others).await;
        let delay = self.configured.borrow().garp.delay;
        if !delay.is_zero() {
            tokio::time::sleep_until(began + delay).await;
            self.burst(&vips, Burst::Announce, &mut others).await;
        }
    }

    /// A burst for every configured VIP each `garp_refresh` (none while it is zero), counted
    /// from the last one; ends when the instance drops its side of the settings.
    pub async fn refresh(mut self) {
        let mut others = OtherInterfaces::default();
        let mut last = Instant::now();
        loop {
            let every = self.configured.borrow_and_update().garp.refresh;
            if every.is_zero() {
                if self.configured.changed().await.is_err() {
                    return;
                }
                last = Instant::now();
                continue;
            }
            let due = last + every;
            tokio::select! {
                () = tokio::time::sleep_until(due) => {}
                changed = self.configured.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    continue;
                }
            }
            let vips = self.configured.borrow().vips.clone();
            self.burst(&vips, Burst::Refresh, &mut others).await;
            // From when it was due, so that the bursts' own time does not add up; from now if
            // the burst outlasted a whole period (long garp_interval), not back to back.
            let now = Instant::now();
            last = if now.duration_since(due) > every {
                now
            } else {
                due
            };
        }
    }

    /// One burst for those of `vips` still configured, each on its interface.
    async fn burst(&self, vips: &[config::Vip], kind: Burst, others: &mut OtherInterfaces) {
        let Configured {
            vips: configured,
            garp,
        } = self.configured.borrow().clone();
        let repeat = match kind {
            Burst::Announce => garp.repeat,
            Burst::Refresh => garp.refresh_repeat,
        };
        let mut by_interface: Vec<(Option<&str>, Vec<IpAddr>)> = Vec::new();
        for vip in vips.iter().filter(|vip| configured.contains(vip)) {
            let device = vip
                .device
                .as_deref()
                .filter(|device| *device != self.interface);
            match by_interface.iter_mut().find(|(d, _)| *d == device) {
                Some((_, addresses)) => addresses.push(vip.address),
                None => by_interface.push((device, vec![vip.address])),
            }
        }
        for (device, addresses) in by_interface {
            let sender = match device {
                None => Arc::clone(&self.own),
                Some(device) => match self.other(device, others).await {
                    Some(sender) => sender,
                    None => continue,
                },
            };
            let report = sender
                .send_burst(&addresses, u32::from(repeat), garp.interval, &self.sent)
                .await;
            if let Err(err) = report.into_result() {
                tracing::warn!(instance = %self.name, "gratuitous ARP / NA: {err:#}");
                if let Some(device) = device {
                    others.opened.remove(device);
                }
            }
        }
    }

    async fn other(&self, device: &str, others: &mut OtherInterfaces) -> Option<Arc<Garp>> {
        if let Some(opened) = others.opened.get(device) {
            return Some(Arc::clone(opened));
        }
        match open_garp(&self.netlink, device).await {
            Ok(sender) => {
                let sender = Arc::new(sender);
                others.failing.remove(device);
                others.opened.insert(device.to_owned(), Arc::clone(&sender));
                Some(sender)
            }
            Err(err) => {
                if others.failing.insert(device.to_owned()) {
                    tracing::warn!(instance = %self.name, "gratuitous ARP / NA: {err:#}");
                }
                None
            }
        }
    }
}

/// A gratuitous ARP / NA socket on `device`, from its own MAC (the virtual MAC belongs to the
/// instance's interface).
async fn open_garp(netlink: &Netlink, device: &str) -> anyhow::Result<Garp> {
    let interface = netlink.interface(device).await?;
    let mac = interface
        .mac
        .with_context(|| format!("{device} has no Ethernet address"))?;
    Ok(Garp::open(device, interface.ifindex, mac, None)?)
}
