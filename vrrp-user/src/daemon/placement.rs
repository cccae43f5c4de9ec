//! Where an instance runs: its interface found and handed to the data plane, the address its
//! adverts come from, the peers it hears, its sockets. Used at start-up and for the instances a
//! reload adds or restarts.
use std::{collections::HashMap, net::IpAddr, time::Duration};

use anyhow::Context as _;
use vrrp_common::maps::{InstanceKey, PeerKey};

use super::{
    Shared,
    instance::{Placement, vip_mac},
};
use crate::{
    config::{Config, Family, InstanceConfig},
    dataplane::{self, address16},
    netlink::{IpFamily, Netlink},
    tx::{AdvertSender, Garp, SenderConfig},
    wire::MacAddr,
};

/// Ownership of a VIP lapses in XDP after this many advert intervals without a heartbeat.
const HEARTBEAT_INTERVALS: u32 = 3;
/// ... but never sooner than this: a busy host may run a timer late.
pub const MIN_HEARTBEAT_BOUND: Duration = Duration::from_millis(100);

/// How long start-up waits for an interface's address: an IPv6 link-local address stays
/// tentative (duplicate address detection) for a second or two after the link comes up.
const ADDRESS_WAIT: Duration = Duration::from_secs(5);

/// The heartbeat bound for an interface, from the shortest advert interval run on it.
pub fn heartbeat_bound(shortest_interval: Duration) -> Duration {
    (shortest_interval * HEARTBEAT_INTERVALS).max(MIN_HEARTBEAT_BOUND)
}

/// The heartbeat bound of `interface` under `config`.
pub fn interface_heartbeat_bound(config: &Config, interface: &str) -> Duration {
    let shortest = config
        .instances
        .iter()
        .filter(|other| other.interface == interface)
        .map(|other| other.interval.as_duration())
        .min()
        .unwrap_or(Duration::from_secs(1));
    heartbeat_bound(shortest)
}

/// An instance ready to run.
pub struct Placed {
    pub placement: Placement,
    pub sender: AdvertSender,
    pub garp: Garp,
    pub link_up: bool,
}

/// The interfaces the data plane has been attached to, by name.
pub type Attached = HashMap<String, u32>;

pub async fn place(
    shared: &Shared,
    attached: &mut Attached,
    instance: &InstanceConfig,
    heartbeat_bound: Duration,
) -> anyhow::Result<Placed> {
    refuse_vmac_without_xdp(instance, shared.lock_dataplane().mode())?;
    let netlink = &shared.netlink;
    let interface = netlink
        .interface(&instance.interface)
        .await
        .with_context(|| format!("instance {}", instance.name))?;
    if attached.get(&instance.interface) != Some(&interface.ifindex) {
        let mode = shared
            .lock_dataplane()
            .add_interface(
                &instance.interface,
                interface.ifindex,
                interface.kind.as_deref(),
            )
            .with_context(|| format!("receiving adverts on {}", instance.interface))?;
        tracing::info!("{}: data plane {mode}", instance.interface);
        attached.insert(instance.interface.clone(), interface.ifindex);
    }
    let (family, ip_family) = match instance.family() {
        Family::V4 => (vrrp_common::FAMILY_V4, IpFamily::V4),
        Family::V6 => (vrrp_common::FAMILY_V6, IpFamily::V6),
    };
    let primary = match instance.unicast_source {
        Some(source) => source,
        None => {
            let vips: Vec<IpAddr> = instance.virtual_ips.iter().map(|v| v.address).collect();
            primary_address(netlink, interface.ifindex, ip_family, &vips)
                .await?
                .with_context(|| {
                    format!(
                        "instance {}: {} has no {} address to send adverts from; add one or \
                         set unicast_source",
                        instance.name,
                        instance.interface,
                        match ip_family {
                            IpFamily::V4 => "IPv4",
                            IpFamily::V6 => "IPv6 link-local",
                        }
                    )
                })?
        }
    };
    let mac = interface.mac.with_context(|| {
        format!(
            "{} has no Ethernet address: VRRP needs one",
            instance.interface
        )
    })?;
    let key = InstanceKey {
        ifindex: interface.ifindex,
        vlan: 0,
        vrid: instance.vrid,
        family,
    };
    let placement = Placement {
        key,
        ifindex: interface.ifindex,
        mac: mac.0,
        primary,
        heartbeat_bound,
    };
    let sender = open_sender(instance, &placement)?;
    let garp = Garp::open(
        &instance.interface,
        placement.ifindex,
        MacAddr(vip_mac(instance, &placement)),
        None,
    )
    .with_context(|| format!("instance {}: opening its ARP / NA socket", instance.name))?;
    // Last: a placement that fails leaves no peer allowed for an instance that is not running.
    if let Err(err) = allow_peers(shared, key, &instance.unicast_peers) {
        forbid_peers(shared, key, &instance.unicast_peers);
        return Err(err);
    }
    Ok(Placed {
        placement,
        sender,
        garp,
        link_up: interface.oper_up,
    })
}

/// The instance's advert socket: multicast adverts leave as whole frames through AF_PACKET,
/// from the virtual MAC with `use_vmac`, else from the interface's; unicast adverts (and an
/// interface without a MAC) go through a raw IP socket. Frames skip the kernel's IP output path
/// (route lookup, netfilter OUTPUT / POSTROUTING, fragmentation checks): at 100 instances
/// sending every 10 ms that was 12–17 % of the master's CPU.
pub fn open_sender(
    instance: &InstanceConfig,
    placement: &Placement,
) -> anyhow::Result<AdvertSender> {
    let config = SenderConfig {
        interface: instance.interface.clone(),
        ifindex: placement.ifindex,
        source: placement.primary,
        peers: instance.unicast_peers.clone(),
    };
    let sender = if instance.use_vmac || placement.mac != [0; 6] {
        AdvertSender::open_from_mac(&config, MacAddr(vip_mac(instance, placement)))
    } else {
        AdvertSender::open(&config)
    };
    sender.with_context(|| format!("instance {}: opening its advert socket", instance.name))
}

/// `use_vmac` needs XDP to hand the virtual MAC's frames to the stack: better a clear refusal
/// than a master whose clients' traffic is dropped.
pub fn refuse_vmac_without_xdp(
    instance: &InstanceConfig,
    mode: dataplane::Mode,
) -> anyhow::Result<()> {
    if instance.use_vmac && mode == dataplane::Mode::Socket {
        anyhow::bail!(
            "instance {}: use_vmac needs the XDP data plane, and this daemon runs in socket \
             mode (the kernel would drop the frames sent to the virtual MAC)",
            instance.name
        );
    }
    Ok(())
}

pub fn allow_peers(shared: &Shared, key: InstanceKey, peers: &[IpAddr]) -> anyhow::Result<()> {
    let mut plane = shared.lock_dataplane();
    for peer in peers {
        plane.allow_peer(PeerKey {
            instance: key,
            address: address16(*peer),
        })?;
    }
    Ok(())
}

pub fn forbid_peers(shared: &Shared, key: InstanceKey, peers: &[IpAddr]) {
    let mut plane = shared.lock_dataplane();
    for peer in peers {
        let peer = PeerKey {
            instance: key,
            address: address16(*peer),
        };
        if let Err(err) = plane.forbid_peer(peer) {
            tracing::warn!("{err:#}");
        }
    }
}

async fn primary_address(
    netlink: &Netlink,
    ifindex: u32,
    family: IpFamily,
    exclude: &[IpAddr],
) -> anyhow::Result<Option<IpAddr>> {
    let deadline = tokio::time::Instant::now() + ADDRESS_WAIT;
    loop {
        if let Some(address) = netlink.primary_address(ifindex, family, exclude).await? {
            return Ok(Some(address));
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeat_bound_follows_the_shortest_interval_with_a_floor() {
        assert_eq!(
            heartbeat_bound(Duration::from_secs(1)),
            Duration::from_secs(3)
        );
        assert_eq!(
            heartbeat_bound(Duration::from_millis(100)),
            Duration::from_millis(300)
        );
        assert_eq!(
            heartbeat_bound(Duration::from_millis(10)),
            MIN_HEARTBEAT_BOUND
        );
    }
}
