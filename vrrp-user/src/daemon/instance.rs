//! One task per VRRP instance: feeds its state machine with data-plane events, link changes and
//! its own timers, and carries out the actions it returns, in order.
use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tokio::sync::{mpsc, oneshot};
use vrrp_common::{
    FAMILY_V4,
    maps::{
        self, AdvertEvent, InstanceKey, InstanceState, VipKey, VipOwner, VmacKey, VmacOwner,
        instance_flags,
    },
};

use super::{Shared, retry};
use crate::{
    config,
    control::{InstanceCounters, InstanceStatus},
    dataplane::address16,
    fsm::{self, Action, AdvertInterval, Event, State, Timer, VirtualRouter},
    tx::{AdvertSender, Garp},
    units::{Centiseconds, Seconds},
    wire::{VipList, VrrpRepr, vrrp},
};

/// What reaches an instance's task from the rest of the daemon.
#[derive(Debug)]
pub enum Input {
    Advert(AdvertEvent),
    Link { up: bool },
    Shutdown(oneshot::Sender<()>),
}

/// Where an instance runs: its interface, as found at start-up.
#[derive(Clone, Debug)]
pub struct Placement {
    pub key: InstanceKey,
    pub ifindex: u32,
    pub mac: [u8; 6],
    pub primary: IpAddr,
    /// How long XDP may answer for our VIPs without a heartbeat.
    pub heartbeat_bound: Duration,
}

pub struct Instance {
    config: config::InstanceConfig,
    placement: Placement,
    router: VirtualRouter,
    deadlines: [Option<Instant>; Timer::ALL.len()],
    sender: AdvertSender,
    garp: Arc<Garp>,
    shared: Arc<Shared>,
    status: Arc<Mutex<InstanceStatus>>,
    counters: InstanceCounters,
    since: Instant,
    /// Bursts of gratuitous ARP / NA still running, stopped when we leave Master.
    announcements: Vec<tokio::task::JoinHandle<()>>,
}

impl Instance {
    pub fn new(
        config: config::InstanceConfig,
        placement: Placement,
        sender: AdvertSender,
        garp: Garp,
        shared: Arc<Shared>,
    ) -> anyhow::Result<(Instance, Arc<Mutex<InstanceStatus>>)> {
        let router = VirtualRouter::new(config.fsm_config(placement.primary))
            .map_err(|err| anyhow::anyhow!("instance {}: {err}", config.name))?;
        let status = Arc::new(Mutex::new(InstanceStatus {
            name: config.name.clone(),
            interface: config.interface.clone(),
            vrid: config.vrid,
            family: if placement.key.family == FAMILY_V4 {
                "ipv4"
            } else {
                "ipv6"
            }
            .into(),
            version: config.interval.version().number(),
            state: "init".into(),
            priority: config.priority,
            effective_priority: router.priority(),
            master_address: None,
            virtual_ips: config
                .virtual_ips
                .iter()
                .map(|vip| format!("{}/{}", vip.address, vip.prefix_len))
                .collect(),
            since_secs: 0.0,
            counters: InstanceCounters::default(),
        }));
        let instance = Instance {
            config,
            placement,
            router,
            deadlines: [None; Timer::ALL.len()],
            sender,
            garp: Arc::new(garp),
            shared,
            status: Arc::clone(&status),
            counters: InstanceCounters::default(),
            since: Instant::now(),
            announcements: Vec::new(),
        };
        Ok((instance, status))
    }

    /// Runs the instance until it is told to shut down (or the daemon goes away).
    pub async fn run(mut self, mut inbox: mpsc::Receiver<Input>, link_up: bool) {
        self.publish_to_dataplane();
        self.apply(Event::Startup).await;
        if !link_up {
            self.apply(Event::FaultDetected).await;
        }
        loop {
            let next = self.deadlines.iter().flatten().min().copied();
            tokio::select! {
                input = inbox.recv() => match input {
                    Some(Input::Advert(event)) => self.on_advert(&event).await,
                    Some(Input::Link { up: true }) => self.apply(Event::FaultCleared).await,
                    Some(Input::Link { up: false }) => self.apply(Event::FaultDetected).await,
                    Some(Input::Shutdown(done)) => {
                        self.apply(Event::Shutdown).await;
                        self.shared.lock_dataplane().remove_instance(self.placement.key).ok();
                        let _ = done.send(());
                        return;
                    }
                    None => return,
                },
                () = sleep_until(next) => self.fire_due_timers().await,
            }
        }
    }

    async fn on_advert(&mut self, event: &AdvertEvent) {
        let source = match self.placement.key.family {
            FAMILY_V4 => IpAddr::V4(Ipv4Addr::new(
                event.source[0],
                event.source[1],
                event.source[2],
                event.source[3],
            )),
            _ => IpAddr::V6(Ipv6Addr::from(event.source)),
        };
        let interval = match self.config.interval {
            // The data plane reports v2 seconds × 100: give the state machine its own unit back.
            AdvertInterval::V2(_) => AdvertInterval::V2(Seconds((event.interval_cs / 100) as u8)),
            AdvertInterval::V3(_) => AdvertInterval::V3(Centiseconds(event.interval_cs)),
        };
        if event.priority == 0 {
            self.counters.priority_zero_received += 1;
        }
        tracing::debug!(
            instance = %self.config.name,
            "advert from {source} priority {} interval {interval} (reasons {:#x})",
            event.priority,
            event.reasons
        );
        let advert = fsm::Advert {
            source,
            priority: event.priority,
            interval,
        };
        self.apply(Event::AdvertReceived(advert)).await;
    }

    async fn fire_due_timers(&mut self) {
        let now = Instant::now();
        for timer in Timer::ALL {
            let index = timer as usize;
            if self.deadlines[index].is_some_and(|at| at <= now) {
                self.deadlines[index] = None;
                let seen = self.last_advert_seen();
                self.apply(Event::timer_fired(timer, seen)).await;
            }
        }
    }

    /// When the data plane last saw a valid advert for this instance.
    fn last_advert_seen(&self) -> Option<Instant> {
        let observation = self
            .shared
            .lock_dataplane()
            .observation(self.placement.key)
            .ok()
            .flatten()?;
        Some(self.shared.clock.instant(observation.last_advert_ns))
    }

    async fn apply(&mut self, event: Event) {
        let actions = self.router.handle(event, Instant::now());
        for action in actions {
            self.execute(action).await;
        }
        self.refresh_status();
    }

    async fn execute(&mut self, action: Action) {
        match action {
            Action::StateChanged { from, to, reason } => {
                tracing::info!(
                    instance = %self.config.name,
                    interface = %self.config.interface,
                    vrid = self.config.vrid,
                    "{from} -> {to}: {reason}"
                );
                self.since = Instant::now();
                match to {
                    State::Master => self.counters.became_master += 1,
                    _ if from == State::Master => self.counters.released_master += 1,
                    _ => {}
                }
                self.publish_to_dataplane();
                if to == State::Backup {
                    // The state machine needs to hear of the current master once more.
                    if let Err(err) = self
                        .shared
                        .lock_dataplane()
                        .forget_observation(self.placement.key)
                    {
                        tracing::warn!(instance = %self.config.name, "{err:#}");
                    }
                }
            }
            Action::SendAdvert { priority } => self.send_advert(priority),
            Action::AddVips => self.add_vips().await,
            Action::RemoveVips => self.remove_vips().await,
            Action::SendGratuitous => self.announce(),
            Action::ArmTimer { timer, at } => self.deadlines[timer as usize] = Some(at),
            Action::CancelTimer(timer) => self.deadlines[timer as usize] = None,
            Action::Dropped(reason) => {
                self.counters.adverts_dropped += 1;
                tracing::debug!(instance = %self.config.name, "advert dropped: {reason}");
            }
        }
    }

    fn send_advert(&mut self, priority: u8) {
        let advert = self.advert(priority);
        match self.sender.send(&advert, self.config.checksum) {
            Ok(()) => {
                self.counters.adverts_sent += 1;
                if priority == 0 {
                    self.counters.priority_zero_sent += 1;
                }
            }
            Err(err) => tracing::warn!(instance = %self.config.name, "sending an advert: {err:#}"),
        }
    }

    fn advert(&self, priority: u8) -> VrrpRepr {
        let vrid = self.config.vrid;
        match self.config.interval {
            AdvertInterval::V2(adver_int) => VrrpRepr::V2(vrrp::V2Advert {
                vrid,
                priority,
                adver_int,
                auth_type: if self.config.auth.is_some() {
                    vrrp::AuthType::SimpleText
                } else {
                    vrrp::AuthType::None
                },
                auth_data: self.config.auth.unwrap_or([0; 8]),
                addresses: self.vips_v4(),
            }),
            AdvertInterval::V3(max_adver_int) => VrrpRepr::V3(vrrp::V3Advert {
                vrid,
                priority,
                max_adver_int,
                addresses: if self.placement.key.family == FAMILY_V4 {
                    VipList::V4(self.vips_v4())
                } else {
                    VipList::V6(self.vips_v6())
                },
            }),
        }
    }

    /// The VIPs of an IPv4 instance (the config allows one family per instance).
    fn vips_v4(&self) -> Vec<Ipv4Addr> {
        let vips = self.config.virtual_ips.iter();
        vips.filter_map(|vip| match vip.address {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(_) => None,
        })
        .collect()
    }

    fn vips_v6(&self) -> Vec<Ipv6Addr> {
        let vips = self.config.virtual_ips.iter();
        vips.filter_map(|vip| match vip.address {
            IpAddr::V6(v6) => Some(v6),
            IpAddr::V4(_) => None,
        })
        .collect()
    }

    async fn add_vips(&mut self) {
        for vip in self.config.virtual_ips.clone() {
            let (ifindex, netlink) = (self.placement.ifindex, self.shared.netlink.clone());
            let added = retry("adding", vip.address, || {
                netlink.add_address(ifindex, vip.address, vip.prefix_len)
            })
            .await;
            if let Err(err) = added {
                tracing::error!(instance = %self.config.name, "{err:#}");
            }
            let owned = self
                .shared
                .lock_dataplane()
                .own_vip(self.vip_key(vip.address), self.vip_owner());
            if let Err(err) = owned {
                tracing::warn!(instance = %self.config.name, "{err:#}");
            }
        }
        self.own_vmac();
        if let Err(err) = self.shared.lock_dataplane().heartbeat() {
            tracing::warn!("heartbeat: {err:#}");
        }
    }

    async fn remove_vips(&mut self) {
        for task in self.announcements.drain(..) {
            task.abort();
        }
        self.disown_vmac();
        for vip in self.config.virtual_ips.clone() {
            if let Err(err) = self
                .shared
                .lock_dataplane()
                .disown_vip(self.vip_key(vip.address))
            {
                tracing::warn!(instance = %self.config.name, "{err:#}");
            }
            let (ifindex, netlink) = (self.placement.ifindex, self.shared.netlink.clone());
            let removed = retry("removing", vip.address, || {
                netlink.remove_address(ifindex, vip.address, vip.prefix_len)
            })
            .await;
            if let Err(err) = removed {
                tracing::error!(instance = %self.config.name, "{err:#}");
            }
        }
    }

    /// Gratuitous ARP / unsolicited NA: a burst now and, if configured, another after
    /// `garp_delay`, so that switches and neighbours that missed the first learn the move.
    fn announce(&mut self) {
        self.announcements.retain(|task| !task.is_finished());
        let vips: Vec<IpAddr> = self.config.virtual_ips.iter().map(|v| v.address).collect();
        let settings = self.config.garp.clone();
        let garp = Arc::clone(&self.garp);
        let name = self.config.name.clone();
        self.counters.gratuitous_sent += (vips.len() * usize::from(settings.repeat)) as u64;
        self.announcements.push(tokio::spawn(async move {
            let bursts = if settings.delay.is_zero() { 1 } else { 2 };
            for burst in 0..bursts {
                if burst == 1 {
                    tokio::time::sleep(settings.delay).await;
                }
                let report = garp
                    .send_burst(&vips, u32::from(settings.repeat), settings.interval)
                    .await;
                if let Err(err) = report.into_result() {
                    tracing::warn!(instance = %name, "gratuitous ARP / NA: {err:#}");
                }
            }
        }));
    }

    fn vip_key(&self, address: IpAddr) -> VipKey {
        VipKey {
            ifindex: self.placement.key.ifindex,
            vlan: self.placement.key.vlan,
            family: self.placement.key.family,
            _pad: 0,
            address: address16(address),
        }
    }

    fn vip_owner(&self) -> VipOwner {
        VipOwner {
            mac: vip_mac(&self.config, &self.placement),
            vrid: self.config.vrid,
            _pad: 0,
            heartbeat_max_age_ns: self.placement.heartbeat_bound.as_nanos() as u64,
        }
    }

    /// With `use_vmac`, has the data plane take the frames sent to the virtual MAC.
    fn own_vmac(&self) {
        if !self.config.use_vmac {
            return;
        }
        let owner = VmacOwner {
            interface_mac: self.placement.mac,
            _pad: [0; 2],
            heartbeat_max_age_ns: self.placement.heartbeat_bound.as_nanos() as u64,
        };
        let owned = self
            .shared
            .lock_dataplane()
            .own_vmac(self.vmac_key(), owner);
        if let Err(err) = owned {
            tracing::warn!(instance = %self.config.name, "{err:#}");
        }
    }

    fn disown_vmac(&self) {
        if !self.config.use_vmac {
            return;
        }
        let disowned = self.shared.lock_dataplane().disown_vmac(self.vmac_key());
        if let Err(err) = disowned {
            tracing::warn!(instance = %self.config.name, "{err:#}");
        }
    }

    fn vmac_key(&self) -> VmacKey {
        VmacKey {
            ifindex: self.placement.ifindex,
            mac: vip_mac(&self.config, &self.placement),
            _pad: [0; 2],
        }
    }

    /// Our state, priority and checks as the data plane needs them.
    fn publish_to_dataplane(&self) {
        let state = match self.router.state() {
            State::Initialize => InstanceState::Init,
            State::Backup => InstanceState::Backup,
            State::Master => InstanceState::Master,
            State::Fault => InstanceState::Fault,
        };
        let mut flags = 0;
        if !self.config.unicast_peers.is_empty() {
            flags |= instance_flags::REQUIRE_PEER;
        }
        if self.config.pass_adverts {
            flags |= instance_flags::PASS_ADVERTS;
        }
        if self.config.checksum == crate::wire::ChecksumMode::VrrpOnly {
            flags |= instance_flags::V3_CHECKSUM_NO_PSEUDO_HEADER;
        }
        if self.config.auth.is_some() {
            flags |= instance_flags::AUTH_PASS;
        }
        let config = maps::InstanceConfig {
            state: state as u8,
            priority: self.router.priority(),
            version: self.config.interval.version().number(),
            flags,
            auth_data: self.config.auth.unwrap_or([0; 8]),
            // A master silent for longer than this is news even if nothing else changed.
            silence_ns: self.router.master_down_interval().as_nanos() as u64,
            ..maps::InstanceConfig::default()
        };
        if let Err(err) = self
            .shared
            .lock_dataplane()
            .set_instance(self.placement.key, config)
        {
            tracing::error!(instance = %self.config.name, "{err:#}");
        }
    }

    fn refresh_status(&self) {
        let Ok(mut status) = self.status.lock() else {
            return;
        };
        status.state = match self.router.state() {
            State::Initialize => "init",
            State::Backup => "backup",
            State::Master => "master",
            State::Fault => "fault",
        }
        .into();
        status.effective_priority = self.router.priority();
        status.master_address = match self.router.state() {
            State::Master => Some(self.placement.primary.to_string()),
            _ => self
                .router
                .current_master()
                .map(|(address, _)| address.to_string()),
        };
        status.since_secs = self.since.elapsed().as_secs_f64();
        status.counters = self.counters.clone();
    }
}

/// The MAC the instance's VIPs are answered and announced from: with `use_vmac` the VRRP
/// virtual MAC (RFC 5798 §7.3), else the interface's.
pub fn vip_mac(config: &config::InstanceConfig, placement: &Placement) -> [u8; 6] {
    if config.use_vmac {
        maps::virtual_mac(placement.key.family, config.vrid)
    } else {
        placement.mac
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}
