//! One task per VRRP instance: feeds its state machine with data-plane events, link changes and
//! its own timers, and carries out the actions it returns, in order.
use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tokio::sync::{Notify, mpsc, oneshot, watch};
use vrrp_common::{
    FAMILY_V4, FAMILY_V6,
    maps::{
        self, AdvertEvent, InstanceKey, InstanceState, VipKey, VipOwner, VmacKey, VmacOwner,
        instance_flags, vip_flags,
    },
};

use super::{
    Shared,
    registry::Tallies,
    retry,
    sync_group::{Force, Report, task::MemberLink},
};
use crate::{
    config,
    control::{InstanceCounters, InstanceStatus},
    dataplane::address16,
    fsm::{self, Action, AdvertInterval, Event, State, Timer, VirtualRouter},
    netlink::NetlinkError,
    notify::Notifier,
    track::{Health, Observation, Tracker},
    tx::{AdvertSender, Garp, Outlet, Schedule},
    units::{Centiseconds, Seconds},
    wire::{VipList, VrrpRepr, vrrp},
};

mod addresses;
mod announce;
mod precise;
mod timers;

/// What reaches an instance's task from the rest of the daemon.
#[derive(Debug)]
pub enum Input {
    Advert(AdvertEvent),
    Link {
        up: bool,
    },
    /// A link this instance tracks (`track_interfaces`) went up or down.
    TrackedLink {
        name: String,
        up: bool,
    },
    /// A reload changed the instance's configuration (same interface, VRID and family).
    Reconfigure {
        config: Box<config::InstanceConfig>,
        heartbeat_bound: Duration,
        /// New checks, when the reload restarted them.
        tracking: Option<Tracking>,
        /// New notify settings take effect with this notifier.
        notifier: Option<Notifier>,
        /// Fired once the change is applied (addresses included).
        applied: oneshot::Sender<()>,
    },
    /// The instance's sync group moves it along with `cause`, another member.
    Sync {
        force: Force,
        group: Arc<str>,
        cause: String,
    },
    /// A reload replaced the instance's sync group, or left it out of any: it joins the group
    /// of `link` (taking its orders at `inbox`, its own), keeping its state.
    Regroup {
        link: Option<MemberLink>,
        inbox: mpsc::Sender<Input>,
    },
    Shutdown(oneshot::Sender<()>),
}

/// What an instance follows besides adverts: its tracker and the stream of check results and
/// file values feeding it.
#[derive(Debug)]
pub struct Tracking {
    pub tracker: Tracker,
    pub updates: mpsc::Receiver<Observation>,
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
    sender: Arc<AdvertSender>,
    /// The periodic adverts the pacer sent for us while Master, and our announcements.
    tallies: Tallies,
    /// The priority of the advert the pacer repeats for us, while it has one.
    scheduled_priority: Option<u8>,
    garp: Arc<Garp>,
    shared: Arc<Shared>,
    status: Arc<Mutex<InstanceStatus>>,
    counters: InstanceCounters,
    since: Instant,
    /// Bursts of gratuitous ARP / NA still running and the refresh, stopped when we leave
    /// Master.
    announcements: Vec<tokio::task::JoinHandle<()>>,
    /// The addresses and `garp_*` settings the announcements read.
    configured: watch::Sender<announce::Configured>,
    tracker: Tracker,
    notifier: Option<Notifier>,
    /// The instance's own link is up.
    link_up: bool,
    /// Whether the state machine was told of a fault (link down or a tracked fault).
    fault_reported: bool,
    /// The instance's sync group, if it is in one.
    sync: Option<MemberLink>,
    /// The transitions being applied were ordered by the sync group.
    syncing: bool,
    /// The Master_Down_Timer deadline a priority-0 advert set (Skew_Time): waited for to the
    /// microsecond, since the handover waits on it ([`precise`]).
    resign_deadline: Option<Instant>,
    /// Notified by the daemon's watch when the Master_Down_Timer it watches has passed.
    master_down_due: Arc<Notify>,
    /// The Master_Down_Timer was last handed to the daemon's watch.
    watched: bool,
    /// Addresses running Masters of this daemon list too (see
    /// [`Instance::remove_leftover_vips`]).
    shared_vips: Vec<IpAddr>,
}

impl Instance {
    pub fn new(
        config: config::InstanceConfig,
        placement: Placement,
        sender: AdvertSender,
        garp: Garp,
        shared: Arc<Shared>,
        tracker: Tracker,
        notifier: Notifier,
    ) -> anyhow::Result<(Instance, Arc<Mutex<InstanceStatus>>, Tallies)> {
        let mut router = VirtualRouter::new(config.fsm_config(placement.primary))
            .map_err(|err| anyhow::anyhow!("instance {}: {err}", config.name))?;
        router.set_advert_grid(super::advert_grid());
        let tallies = Tallies::new(format!("instance {} on {}", config.name, config.interface));
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
            state_since: None,
            advert_interval_ms: config.interval.as_duration().as_millis() as u64,
            counters: InstanceCounters::default(),
        }));
        let configured = watch::Sender::new(announce::Configured {
            vips: config
                .virtual_ips
                .iter()
                .chain(&config.excluded_ips)
                .cloned()
                .collect(),
            garp: config.garp.clone(),
        });
        let instance = Instance {
            config,
            placement,
            router,
            deadlines: [None; Timer::ALL.len()],
            sender: Arc::new(sender),
            tallies: tallies.clone(),
            scheduled_priority: None,
            garp: Arc::new(garp),
            shared,
            status: Arc::clone(&status),
            counters: InstanceCounters::default(),
            since: Instant::now(),
            announcements: Vec::new(),
            configured,
            tracker,
            notifier: Some(notifier),
            link_up: true,
            fault_reported: false,
            sync: None,
            syncing: false,
            resign_deadline: None,
            master_down_due: Arc::new(Notify::new()),
            watched: false,
            shared_vips: Vec::new(),
        };
        Ok((instance, status, tallies))
    }

    /// Makes the instance a member of a sync group: it reports its transitions and faults there
    /// and takes the group's orders ([`Input::Sync`]).
    pub fn join_group(&mut self, link: MemberLink) {
        self.router.set_sync_member(true);
        self.sync = Some(link);
    }

    /// Addresses running Masters of this daemon list too: they keep them when this one starts.
    pub fn share_vips(&mut self, addresses: Vec<IpAddr>) {
        self.shared_vips = addresses;
    }

    /// Runs the instance until it is told to shut down (or the daemon goes away); `ready`
    /// fires once it has taken its first state.
    pub async fn run(
        mut self,
        mut inbox: mpsc::Receiver<Input>,
        link_up: bool,
        ready: oneshot::Sender<()>,
        mut updates: mpsc::Receiver<Observation>,
    ) {
        self.link_up = link_up;
        self.publish_to_dataplane();
        // Tracking adjusts the priority from the start.
        let priority = self.tracker.health().priority(self.config.priority);
        self.apply(Event::PriorityChanged(priority)).await;
        if self.config.priority != fsm::OWNER_PRIORITY {
            self.remove_leftover_vips().await;
        }
        self.apply(Event::Startup).await;
        self.sync_fault().await;
        let _ = ready.send(());
        loop {
            let wait = self.next_wait();
            tokio::select! {
                input = inbox.recv() => match input {
                    Some(Input::Advert(event)) => self.on_advert(&event).await,
                    Some(Input::Link { up }) => {
                        self.link_up = up;
                        self.sync_fault().await;
                    }
                    Some(Input::TrackedLink { name, up }) => {
                        if let Some(health) = self.tracker.interface(&name, up) {
                            self.on_health(health).await;
                        }
                    }
                    Some(Input::Reconfigure {
                        config,
                        heartbeat_bound,
                        tracking,
                        notifier,
                        applied,
                    }) => {
                        if let Some(old) = notifier.and_then(|n| self.notifier.replace(n)) {
                            tokio::spawn(old.close(NOTIFY_GRACE));
                        }
                        if let Some(tracking) = tracking {
                            self.tracker = tracking.tracker;
                            updates = tracking.updates;
                        }
                        self.reconfigure(*config, heartbeat_bound).await;
                        let health = self.tracker.health().clone();
                        self.on_health(health).await;
                        let _ = applied.send(());
                    }
                    Some(Input::Sync { force, group, cause }) => {
                        tracing::info!(
                            instance = %self.config.name,
                            "sync group {group}: {cause} moves this instance {}",
                            force.describe()
                        );
                        // A take-over the group allows is the member's own election: it moves
                        // the group (the other members follow); the other orders do not.
                        self.syncing = force != Force::TakeOver;
                        self.apply(force.event()).await;
                        self.syncing = false;
                    }
                    Some(Input::Regroup { link, inbox }) => self.regroup(link, inbox).await,
                    Some(Input::Shutdown(done)) => {
                        self.shared.unwatch_master_down(self.placement.key);
                        self.apply(Event::Shutdown).await;
                        self.shared.lock_dataplane().remove_instance(self.placement.key).ok();
                        if let Some(notifier) = self.notifier.take() {
                            notifier.stop(self.router.priority());
                            notifier.close(NOTIFY_GRACE).await;
                        }
                        let _ = done.send(());
                        return;
                    }
                    None => return,
                },
                () = wait.until(&self.master_down_due) => {
                    self.fire_due_timers().await;
                }
                Some(observation) = updates.recv() => {
                    if let Some(health) = self.tracker.observe(&observation) {
                        self.on_health(health).await;
                    }
                }
            }
        }
    }

    /// Tracking changed: a new effective priority, and perhaps a fault or its end.
    async fn on_health(&mut self, health: Health) {
        let priority = health.priority(self.config.priority);
        if priority != self.router.priority() {
            tracing::info!(
                instance = %self.config.name,
                "tracking: effective priority {priority} (configured {}, {:+})",
                self.config.priority,
                health.priority_delta
            );
        }
        self.apply(Event::PriorityChanged(priority)).await;
        self.sync_fault().await;
    }

    /// Tells the state machine of a fault when the link or tracking starts reporting one, and
    /// of its end when neither does.
    async fn sync_fault(&mut self) {
        let tracked = self.tracker.health().fault.clone();
        let faulty = !self.link_up || tracked.is_some();
        if faulty == self.fault_reported {
            return;
        }
        self.fault_reported = faulty;
        if let Some(sync) = &self.sync {
            sync.report(Report::OwnFault(faulty));
        }
        if faulty {
            let why = match tracked {
                Some(fault) if self.link_up => fault.to_string(),
                _ => format!("{} is down", self.config.interface),
            };
            tracing::warn!(instance = %self.config.name, "fault: {why}");
            self.apply(Event::FaultDetected).await;
        } else {
            tracing::info!(instance = %self.config.name, "fault cleared");
            self.apply(Event::FaultCleared).await;
        }
    }

    /// Moves to the group of `link` as the instance is (see [`Coordinator::joined`]), or out
    /// of any group: then a Fault the old group held it in ends. A wish to take over is not
    /// carried over: it is asked again when the Master_Down_Timer next fires, once every
    /// member has joined and can hold it back.
    ///
    /// [`Coordinator::joined`]: super::sync_group::Coordinator::joined
    async fn regroup(&mut self, link: Option<MemberLink>, inbox: mpsc::Sender<Input>) {
        self.sync = None;
        let Some(link) = link else {
            self.router.set_sync_member(false);
            tracing::info!(instance = %self.config.name, "no longer in a sync group");
            self.apply(Event::SyncFaultCleared).await;
            return;
        };
        self.router.set_sync_member(true);
        let state = self.router.state();
        link.join(inbox, state, self.fault_reported);
        tracing::info!(instance = %self.config.name, "joined a new sync group as {state}");
        self.sync = Some(link);
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
            previous_seen: (event.previous_ns != 0)
                .then(|| self.shared.clock.instant(event.previous_ns)),
        };
        self.apply(Event::AdvertReceived(advert)).await;
        // The Master resigned: the Master_Down_Timer now runs Skew_Time to the handover.
        self.resign_deadline = match event.priority {
            0 => self.deadlines[Timer::MasterDown as usize],
            _ => None,
        };
    }

    /// When the data plane last saw a valid advert for this instance.
    fn last_advert_seen(&self) -> Option<Instant> {
        self.shared.last_advert_seen(self.placement.key)
    }

    async fn apply(&mut self, event: Event) {
        let actions = self.router.handle(event, Instant::now());
        for action in actions {
            self.execute(action).await;
        }
        if self
            .scheduled_priority
            .is_some_and(|p| p != self.router.priority())
        {
            self.refresh_scheduled_advert();
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
                if let Some(notifier) = &self.notifier {
                    notifier.transition(to, self.router.priority());
                }
                if let Some(sync) = &self.sync {
                    let forced = self.syncing;
                    sync.report(Report::Transition { from, to, forced });
                }
                match to {
                    State::Master => {
                        self.counters.became_master += 1;
                        self.shared.master_count_changed(true);
                    }
                    _ if from == State::Master => {
                        self.counters.released_master += 1;
                        self.shared.master_count_changed(false);
                    }
                    _ => {}
                }
                self.publish_to_dataplane();
                if to == State::Backup {
                    self.forget_master();
                }
            }
            Action::SendAdvert { priority } => self.send_advert(priority),
            Action::AddVips => self.add_vips().await,
            Action::RemoveVips => self.remove_vips().await,
            Action::SendGratuitous => self.announce(),
            // The pacer serves a Master's Adver_Timer (see `schedule_adverts`).
            Action::ArmTimer {
                timer: Timer::Advert,
                at,
            } => self.schedule_adverts(at),
            Action::CancelTimer(Timer::Advert) => self.cancel_adverts(),
            Action::ArmTimer { timer, at } => self.deadlines[timer as usize] = Some(at),
            Action::CancelTimer(timer) => self.deadlines[timer as usize] = None,
            Action::Dropped(reason) => {
                self.counters.adverts_dropped += 1;
                tracing::debug!(instance = %self.config.name, "advert dropped: {reason}");
            }
            Action::WantsMaster(wants) => {
                tracing::debug!(
                    instance = %self.config.name,
                    "{} Master: asking the sync group",
                    if wants { "wants" } else { "no longer wants" }
                );
                if let Some(sync) = &self.sync {
                    sync.report(Report::WantsMaster(wants));
                }
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

    /// Hands the Adver_Timer the state machine armed for `at` to the pacer, with the advert
    /// it repeats: the state machine would do nothing else when it fires (RFC 5798 §6.4.3).
    fn schedule_adverts(&mut self, at: Instant) {
        let Some(datagrams) = self.advert_datagrams() else {
            return self.cancel_adverts();
        };
        let schedule = Schedule {
            outlet: Arc::clone(&self.sender) as Arc<dyn Outlet>,
            datagrams,
            next: at,
            interval: self.config.interval.as_duration(),
            tally: Arc::clone(&self.tallies.adverts),
        };
        self.shared.pacer.schedule(self.placement.key, schedule);
        self.scheduled_priority = Some(self.router.priority());
    }

    fn cancel_adverts(&mut self) {
        (self.shared.pacer).cancel(self.placement.key, &self.tallies.adverts);
        self.scheduled_priority = None;
    }

    /// Gives the pacer the advert as it is now, keeping its timer: after a reload changed the
    /// VIPs or the sender, or a new priority that did not re-arm the timer (the state machine
    /// arms nothing when the new deadline is the one already armed).
    pub(super) fn refresh_scheduled_advert(&mut self) {
        if self.scheduled_priority.is_none() {
            return;
        }
        let Some(datagrams) = self.advert_datagrams() else {
            return self.cancel_adverts();
        };
        let outlet = Arc::clone(&self.sender) as Arc<dyn Outlet>;
        if (self.shared.pacer).replace_advert(self.placement.key, outlet, datagrams) {
            self.scheduled_priority = Some(self.router.priority());
        }
    }

    /// The advert a Master repeats; a Master whose advert cannot be built stops advertising
    /// (its Backups take over) rather than repeat a stale one.
    fn advert_datagrams(&self) -> Option<Vec<crate::tx::Datagram>> {
        let advert = self.advert(self.router.priority());
        (self.sender.datagrams(&advert, self.config.checksum))
            .inspect_err(
                |err| tracing::error!(instance = %self.config.name, "{err:#}: no periodic adverts"),
            )
            .ok()
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

    /// The state machine needs to hear of the current master once more. The data plane's
    /// count of adverts starts again with it: keep the old count for status.
    fn forget_master(&mut self) {
        let mut plane = self.shared.lock_dataplane();
        if let Ok(Some(observation)) = plane.observation(self.placement.key) {
            self.counters.adverts_received += observation.adverts;
        }
        if let Err(err) = plane.forget_observation(self.placement.key) {
            tracing::warn!(instance = %self.config.name, "{err:#}");
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

    /// Runs after every event (each advert of a Master, each Master_Down check of a Backup):
    /// the strings are only rebuilt when they change, as allocating them showed in profiles.
    fn refresh_status(&self) {
        let Ok(mut status) = self.status.lock() else {
            return;
        };
        let state = match self.router.state() {
            State::Initialize => "init",
            State::Backup => "backup",
            State::Master => "master",
            State::Fault => "fault",
        };
        if status.state != state {
            status.state = state.into();
        }
        status.effective_priority = self.router.priority();
        let master = match self.router.state() {
            State::Master => Some(self.placement.primary),
            _ => self.router.current_master().map(|(address, _)| address),
        };
        let shown = status.master_address.as_deref().map(str::parse::<IpAddr>);
        if shown.and_then(Result::ok) != master {
            status.master_address = master.map(|address| address.to_string());
        }
        status.state_since = Some(self.since);
        status.counters = self.counters.clone();
    }
}

impl Drop for Instance {
    /// However the task ends, no advert or announcement of ours leaves after it.
    fn drop(&mut self) {
        (self.shared.pacer).cancel(self.placement.key, &self.tallies.adverts);
        for task in &self.announcements {
            task.abort();
        }
    }
}

/// How long notify scripts still queued may run when the instance stops or is reconfigured.
const NOTIFY_GRACE: Duration = Duration::from_secs(2);

/// The MAC the instance's VIPs are answered and announced from: with `use_vmac` the VRRP
/// virtual MAC (RFC 5798 §7.3), else the interface's.
pub fn vip_mac(config: &config::InstanceConfig, placement: &Placement) -> [u8; 6] {
    if config.use_vmac {
        maps::virtual_mac(placement.key.family, config.vrid)
    } else {
        placement.mac
    }
}
