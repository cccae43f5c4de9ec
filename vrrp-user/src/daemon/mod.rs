//! The daemon: the only place that owns tasks. It opens the data plane, places each instance
//! on its interface, runs one task per instance, dispatches data-plane events and link changes
//! to them, serves the control socket, and on SIGTERM / SIGINT has every instance resign
//! (a master sends priority 0 and removes its VIPs) before exiting.
mod clock;
mod instance;

use std::{
    collections::{BTreeMap, HashMap},
    future::Future,
    net::IpAddr,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use anyhow::{Context as _, bail};
use tokio::{
    signal::unix::{SignalKind, signal},
    sync::{mpsc, oneshot},
};
use vrrp_common::{
    Counter, FAMILY_V4, FAMILY_V6,
    maps::{InstanceKey, PeerKey},
};

pub use clock::KernelClock;
use instance::{Input, Instance, Placement, vip_mac};

use crate::{
    config::{Config, Family},
    control::{self, DataplaneStatus, InstanceStatus, Status, StatusSource},
    dataplane::{self, Dataplane, address16},
    netlink::{IpFamily, LinkEvent, Netlink},
    tx::{AdvertSender, Garp, SenderConfig},
    wire::MacAddr,
};

/// What the instance tasks share.
pub struct Shared {
    dataplane: Mutex<Box<dyn Dataplane>>,
    netlink: Netlink,
    clock: KernelClock,
}

impl Shared {
    /// The data plane, for one short, non-async operation.
    fn lock_dataplane(&self) -> MutexGuard<'_, Box<dyn Dataplane>> {
        // A panic while holding the lock cannot leave the maps half-written (each call is one
        // syscall), so a poisoned lock is still usable.
        self.dataplane
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Ownership of a VIP lapses in XDP after this many advert intervals without a heartbeat.
const HEARTBEAT_INTERVALS: u32 = 3;
/// ... but never sooner than this: a busy host may run a timer late.
const MIN_HEARTBEAT_BOUND: Duration = Duration::from_millis(100);

/// The heartbeat bound for an interface, from the shortest advert interval run on it.
pub fn heartbeat_bound(shortest_interval: Duration) -> Duration {
    (shortest_interval * HEARTBEAT_INTERVALS).max(MIN_HEARTBEAT_BOUND)
}

struct Running {
    router_id: String,
    statuses: Vec<Arc<Mutex<InstanceStatus>>>,
    shared: Arc<Shared>,
}

impl StatusSource for Running {
    fn status(&self) -> Status {
        let instances = self
            .statuses
            .iter()
            .filter_map(|status| status.lock().ok().map(|status| status.clone()))
            .collect();
        let dataplane = self.shared.lock_dataplane();
        let counters = dataplane
            .counters()
            .map(|totals| {
                Counter::ALL
                    .iter()
                    .map(|&counter| (counter.name().to_string(), totals.get(counter)))
                    .collect()
            })
            .unwrap_or_else(|_| BTreeMap::new());
        Status {
            router_id: self.router_id.clone(),
            instances,
            dataplane: DataplaneStatus {
                mode: dataplane.mode().to_string(),
                counters,
            },
        }
    }
}

/// Runs the daemon with a validated configuration until SIGTERM / SIGINT.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let netlink = Netlink::new().context("opening rtnetlink")?;
    let (mut plane, mut events) = dataplane::open(config.global.xdp)?;

    // Interfaces first: a missing one is a configuration error worth stopping for.
    let mut interfaces = HashMap::new();
    for instance in &config.instances {
        if interfaces.contains_key(&instance.interface) {
            continue;
        }
        let found = netlink
            .interface(&instance.interface)
            .await
            .with_context(|| format!("instance {}", instance.name))?;
        let mode = plane
            .add_interface(&instance.interface, found.ifindex)
            .with_context(|| format!("receiving adverts on {}", instance.interface))?;
        tracing::info!("{}: data plane {mode}", instance.interface);
        interfaces.insert(instance.interface.clone(), found);
    }
    let mode = plane.mode();
    refuse_vmac_without_xdp(&config, mode)?;

    let mut placements = Vec::new();
    for instance in &config.instances {
        let interface = &interfaces[&instance.interface];
        let (family, ip_family) = match instance.family() {
            Family::V4 => (FAMILY_V4, IpFamily::V4),
            Family::V6 => (FAMILY_V6, IpFamily::V6),
        };
        let primary = match instance.unicast_source {
            Some(source) => source,
            None => {
                let vips: Vec<IpAddr> = instance.virtual_ips.iter().map(|v| v.address).collect();
                primary_address(&netlink, interface.ifindex, ip_family, &vips)
                    .await?
                    .with_context(|| {
                        format!(
                            "instance {}: {} has no {} address to send adverts from; add one \
                             or set unicast_source",
                            instance.name,
                            instance.interface,
                            if family == FAMILY_V4 {
                                "IPv4"
                            } else {
                                "IPv6 link-local"
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
        let shortest = config
            .instances
            .iter()
            .filter(|other| other.interface == instance.interface)
            .map(|other| other.interval.as_duration())
            .min()
            .unwrap_or(instance.interval.as_duration());
        let key = InstanceKey {
            ifindex: interface.ifindex,
            vlan: 0,
            vrid: instance.vrid,
            family,
        };
        for peer in &instance.unicast_peers {
            plane.allow_peer(PeerKey {
                instance: key,
                address: address16(*peer),
            })?;
        }
        placements.push(Placement {
            key,
            ifindex: interface.ifindex,
            mac: mac.0,
            primary,
            heartbeat_bound: heartbeat_bound(shortest),
        });
    }

    // The heartbeat is refreshed a few times per bound by the daemon's one event loop: when the
    // daemon hangs, so does the heartbeat, and XDP stops claiming the VIPs.
    let heartbeat_every = placements
        .iter()
        .map(|placement| placement.heartbeat_bound)
        .min()
        .unwrap_or(MIN_HEARTBEAT_BOUND)
        / 3;

    let shared = Arc::new(Shared {
        dataplane: Mutex::new(plane),
        netlink: netlink.clone(),
        clock: KernelClock::new(),
    });

    let mut inboxes: HashMap<InstanceKey, mpsc::Sender<Input>> = HashMap::new();
    let mut by_ifindex: HashMap<u32, Vec<mpsc::Sender<Input>>> = HashMap::new();
    let mut statuses = Vec::new();
    let mut tasks = Vec::new();
    for (instance, placement) in config.instances.iter().zip(placements) {
        let sender = open_sender(instance, &placement)
            .with_context(|| format!("instance {}: opening its advert socket", instance.name))?;
        let garp = Garp::open(
            &instance.interface,
            placement.ifindex,
            MacAddr(vip_mac(instance, &placement)),
            None,
        )
        .with_context(|| format!("instance {}: opening its ARP / NA socket", instance.name))?;
        let link_up = interfaces[&instance.interface].oper_up;
        let (runtime, status) = Instance::new(
            instance.clone(),
            placement.clone(),
            sender,
            garp,
            Arc::clone(&shared),
        )?;
        let (inbox_tx, inbox_rx) = mpsc::channel(256);
        inboxes.insert(placement.key, inbox_tx.clone());
        by_ifindex
            .entry(placement.ifindex)
            .or_default()
            .push(inbox_tx);
        statuses.push(status);
        tasks.push(tokio::spawn(runtime.run(inbox_rx, link_up)));
    }

    let running = Arc::new(Running {
        router_id: config.global.router_id.clone(),
        statuses,
        shared: Arc::clone(&shared),
    });
    let control_path = config.global.control_socket.clone();
    let control = tokio::spawn({
        let running: Arc<dyn StatusSource> = running.clone();
        let path = control_path.clone();
        async move {
            if let Err(err) = control::serve(path, running).await {
                tracing::error!("control socket: {err:#}");
            }
        }
    });

    let mut links = netlink.watch_links().await.context("watching links")?;
    let mut terminate = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    tracing::info!(
        "xvrrpd running {} instance(s), data plane {mode}, control socket {}",
        inboxes.len(),
        control_path.display()
    );

    let mut heartbeat = tokio::time::interval(heartbeat_every);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failure = None;
    loop {
        tokio::select! {
            _ = heartbeat.tick() => {
                if let Err(err) = shared.lock_dataplane().heartbeat() {
                    tracing::warn!("heartbeat: {err:#}");
                }
            }
            event = events.recv() => {
                let Some(event) = event else {
                    // Resign rather than run blind: a master we can no longer hear must not
                    // keep its VIPs.
                    tracing::error!("the data plane stopped reporting adverts: resigning");
                    failure = Some("the data plane stopped reporting adverts");
                    break;
                };
                match inboxes.get(&event.instance) {
                    Some(inbox) => {
                        if inbox.try_send(Input::Advert(event)).is_err() {
                            tracing::warn!("instance {:?} is behind; an advert event was dropped", event.instance);
                        }
                    }
                    None => tracing::debug!("event for an instance we do not run: {:?}", event.instance),
                }
            }
            link = links.recv() => {
                let Some(link) = link else {
                    tracing::error!("the link watch stopped: resigning");
                    failure = Some("the link watch stopped");
                    break;
                };
                dispatch_link(&by_ifindex, link).await;
            }
            _ = terminate.recv() => { tracing::info!("SIGTERM: resigning"); break; }
            _ = interrupt.recv() => { tracing::info!("SIGINT: resigning"); break; }
        }
    }

    // Every instance resigns: a master sends priority 0 and removes its VIPs.
    let mut acks = Vec::new();
    for inbox in inboxes.values() {
        let (done, ack) = oneshot::channel();
        if inbox.send(Input::Shutdown(done)).await.is_ok() {
            acks.push(ack);
        }
    }
    for ack in acks {
        let _ = tokio::time::timeout(Duration::from_secs(5), ack).await;
    }
    control.abort();
    let _ = std::fs::remove_file(&control_path);
    for task in tasks {
        task.abort();
    }
    match failure {
        Some(reason) => bail!("{reason}"),
        None => {
            tracing::info!("stopped");
            Ok(())
        }
    }
}

/// Adverts from the interface's MAC through the kernel, or with `use_vmac` whole frames from
/// the virtual MAC.
fn open_sender(
    instance: &crate::config::InstanceConfig,
    placement: &Placement,
) -> Result<AdvertSender, crate::tx::TxError> {
    let config = SenderConfig {
        interface: instance.interface.clone(),
        ifindex: placement.ifindex,
        source: placement.primary,
        peers: instance.unicast_peers.clone(),
    };
    if instance.use_vmac {
        AdvertSender::open_from_mac(&config, MacAddr(vip_mac(instance, placement)))
    } else {
        AdvertSender::open(&config)
    }
}

/// `use_vmac` needs XDP to hand the virtual MAC's frames to the stack: better a clear refusal
/// at start-up than a master whose clients' traffic is dropped.
fn refuse_vmac_without_xdp(config: &Config, mode: dataplane::Mode) -> anyhow::Result<()> {
    match config.instances.iter().find(|instance| instance.use_vmac) {
        Some(instance) if mode == dataplane::Mode::Socket => bail!(
            "instance {}: use_vmac needs the XDP data plane, and this daemon runs in socket \
             mode (the kernel would drop the frames sent to the virtual MAC)",
            instance.name
        ),
        _ => Ok(()),
    }
}

async fn dispatch_link(by_ifindex: &HashMap<u32, Vec<mpsc::Sender<Input>>>, link: LinkEvent) {
    let (ifindex, up) = match &link {
        LinkEvent::Changed { ifindex, up, .. } => (*ifindex, *up),
        LinkEvent::Removed { ifindex, name } => {
            tracing::error!("{name} was removed: its instances go to Fault");
            (*ifindex, false)
        }
    };
    for inbox in by_ifindex.get(&ifindex).into_iter().flatten() {
        let _ = inbox.send(Input::Link { up }).await;
    }
}

/// How long start-up waits for an interface's address: an IPv6 link-local address stays
/// tentative (duplicate address detection) for a second or two after the link comes up.
const ADDRESS_WAIT: Duration = Duration::from_secs(5);

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

/// Retries a netlink change a few times: a busy kernel can refuse transiently.
async fn retry<F, Fut, E>(what: &str, address: IpAddr, mut call: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Into<anyhow::Error>,
{
    let mut delay = Duration::from_millis(10);
    let mut last = None;
    for _ in 0..4 {
        match call().await {
            Ok(()) => return Ok(()),
            Err(err) => {
                last = Some(err.into());
                tokio::time::sleep(delay).await;
                delay *= 4;
            }
        }
    }
    Err(last.expect("at least one attempt")).with_context(|| format!("{what} {address}"))
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
