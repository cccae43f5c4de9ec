//! The daemon: the only place that owns tasks. It opens the data plane, places each instance
//! on its interface, runs one task per instance, dispatches data-plane events and link changes
//! to them, serves the control socket and the metrics, re-reads its configuration on SIGHUP or
//! `xvrrpd reload` without disturbing what did not change, and on SIGTERM / SIGINT has every
//! instance resign (a master sends priority 0 and removes its VIPs) before exiting.
mod clock;
mod heartbeat;
mod instance;
mod links;
mod master_watch;
mod placement;
mod registry;
mod reload;
mod reloading;
mod sync_group;
mod systemd;

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    future::Future,
    net::IpAddr,
    path::PathBuf,
    sync::{
        Arc, Mutex, MutexGuard, OnceLock, TryLockError,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use tokio::{
    signal::unix::{SignalKind, signal},
    sync::{mpsc, oneshot},
    task::JoinHandle,
};
use vrrp_common::maps::{AdvertEvent, InstanceKey, event_reasons};

pub use clock::KernelClock;
pub use placement::heartbeat_bound;
pub use reload::{Change, InstanceId, Plan, plan};

use heartbeat::Liveness;
use instance::{Input, Instance, Placement, Tracking};
use master_watch::{MasterWatch, spawn_watch_thread};
use placement::{Attached, MIN_HEARTBEAT_BOUND, interface_heartbeat_bound};
use registry::{Published, Registry, Tallies};
use sync_group::task::{Ended, GroupHandle};
use systemd::Systemd;

use crate::{
    config::{Config, InstanceConfig, SyncGroup},
    control::{self, RELOAD_TIMEOUT, ReloadReply, StatusSource},
    dataplane::{self, Dataplane},
    fsm::AdvertGrid,
    metrics,
    netlink::Netlink,
    notify::{Notifier, NotifyFifo, Subject},
    track::{Monitors, Tracker},
    tx::AdvertPacer,
};

/// What the instance tasks share.
pub struct Shared {
    dataplane: Mutex<Box<dyn Dataplane>>,
    netlink: Netlink,
    clock: KernelClock,
    /// Sends the Masters' periodic adverts.
    pacer: Arc<AdvertPacer>,
    /// Instances in Master: XDP answers only for theirs, so only they need the heartbeat.
    masters: AtomicUsize,
    liveness: Liveness,
    /// The Backups' Master_Down_Timers.
    master_watch: MasterWatch,
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

    /// An instance became Master (`true`) or left Master. The first Master refreshes the
    /// heartbeat before XDP may answer for its VIPs; the pacer keeps it fresh from then on.
    fn master_count_changed(&self, became: bool) {
        if became {
            if self.masters.fetch_add(1, Ordering::Relaxed) == 0 {
                // Called from the event loop: it runs now, and proves it from now on.
                self.liveness.loop_runs(Instant::now());
                self.liveness.first_master.notify_one();
                self.beat();
            }
        } else {
            // Never below 0, whatever the order of the calls.
            let _ = (self.masters)
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        }
    }

    fn any_master(&self) -> bool {
        self.masters.load(Ordering::Relaxed) > 0
    }

    /// When the data plane last saw a valid advert for the instance.
    fn last_advert_seen(&self, key: InstanceKey) -> Option<Instant> {
        let observation = self.lock_dataplane().observation(key).ok().flatten()?;
        Some(self.clock.instant(observation.last_advert_ns))
    }

    fn beat(&self) {
        if let Err(err) = self.lock_dataplane().heartbeat() {
            tracing::warn!("heartbeat: {err:#}");
        }
    }

    /// [`Shared::beat`] unless the data plane is busy: the pacer's thread must not wait on it.
    /// Whether the heartbeat was stamped (a failed stamp counts: it is logged, and retrying at
    /// once would not help).
    fn try_beat(&self) -> bool {
        let mut plane = match self.dataplane.try_lock() {
            Ok(plane) => plane,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return false,
        };
        if let Err(err) = plane.heartbeat() {
            tracing::warn!("heartbeat: {err:#}");
        }
        true
    }
}

/// How long a resigning instance may take (its last advert and VIP removal).
const RESIGN_TIMEOUT: Duration = Duration::from_secs(5);
/// How long start-up waits for every instance's first transition before telling systemd.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// One running instance, as the daemon sees it.
struct Running {
    config: InstanceConfig,
    placement: Placement,
    inbox: mpsc::Sender<Input>,
    status: Arc<Mutex<control::InstanceStatus>>,
    tallies: Tallies,
    task: JoinHandle<()>,
}

struct Daemon {
    config_path: PathBuf,
    /// The command line's control socket, which the file's does not override.
    control_socket: Option<PathBuf>,
    config: Config,
    shared: Arc<Shared>,
    registry: Arc<Registry>,
    attached: Attached,
    instances: BTreeMap<InstanceId, Running>,
    by_key: HashMap<InstanceKey, InstanceId>,
    metrics: Option<JoinHandle<()>>,
    /// The check scripts and track files of the running configuration.
    monitors: Monitors,
    fifo: Option<NotifyFifo>,
    /// The running sync groups, by name.
    groups: BTreeMap<String, GroupHandle>,
    /// Instances whose interface was created anew and that could not be placed on it yet:
    /// tried again when it next comes up, or started by a reload.
    unplaced: BTreeMap<InstanceId, InstanceConfig>,
}

/// Runs the daemon with the validated `config` read from `config_path` until SIGTERM / SIGINT.
/// `control_socket`, when given, replaces the configuration's (now and on every reload).
pub async fn run(
    mut config: Config,
    config_path: PathBuf,
    control_socket: Option<PathBuf>,
) -> anyhow::Result<()> {
    if let Some(path) = &control_socket {
        config.global.control_socket = path.clone();
    }
    // Before anything is claimed: a signal during start-up then waits for the event loop
    // instead of killing the daemon with addresses configured.
    let mut terminate = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let mut hangup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
    // Unhandled, they would end the daemon without resigning (keepalived users send them
    // for its dumps).
    let mut dump_states = signal(SignalKind::user_defined1()).context("SIGUSR1 handler")?;
    let mut dump_counters = signal(SignalKind::user_defined2()).context("SIGUSR2 handler")?;
    crate::track::reaper::start();
    // A second daemon on the same socket would fight the first over its interfaces and VIPs:
    // it stops here, having claimed nothing.
    let control_socket_bound = control::bind(&config.global.control_socket)?;
    let systemd = Systemd::new();
    let netlink = Netlink::new().context("opening rtnetlink")?;
    let mut links = netlink.watch_links().await.context("watching links")?;
    let (plane, events) = dataplane::open(config.global.xdp)?;
    let mode = plane.mode();
    let shared = Arc::new(Shared {
        dataplane: Mutex::new(plane),
        netlink: netlink.clone(),
        clock: KernelClock::new(),
        pacer: AdvertPacer::open(Some(advert_grid()))?,
        masters: AtomicUsize::new(0),
        liveness: Liveness::new(beat_every(&config)),
        master_watch: MasterWatch::default(),
    });
    let mut events = route_events(events, Arc::clone(&shared));
    let _watch = spawn_watch_thread(Arc::clone(&shared))?;
    tokio::spawn(heartbeat::mark_loop_alive(Arc::clone(&shared)));
    let _pacer = (shared.pacer)
        .spawn(heartbeat::Hooks::new(Arc::clone(&shared)))
        .context("starting the advert pacer's thread")?;
    let registry = Arc::new(Registry::new(
        Arc::clone(&shared),
        config.global.router_id.clone(),
    ));
    let mut daemon = Daemon {
        config_path,
        control_socket,
        config: config.clone(),
        shared: Arc::clone(&shared),
        registry: Arc::clone(&registry),
        attached: Attached::new(),
        instances: BTreeMap::new(),
        by_key: HashMap::new(),
        metrics: None,
        monitors: Monitors::start(&config),
        fifo: open_fifo(&config),
        groups: BTreeMap::new(),
        unplaced: BTreeMap::new(),
    };
    for group in &config.sync_groups {
        let handle = daemon.spawn_group(group, &Ended::default(), &BTreeSet::new());
        daemon.groups.insert(group.name.clone(), handle);
    }
    // At start-up, an instance that cannot be placed (missing interface, no address) is a
    // configuration error worth stopping for; those already started resign first.
    let mut started = Vec::new();
    for instance in &config.instances {
        match daemon.start_instance(instance).await {
            Ok(ready) => started.push(ready),
            Err(err) => {
                systemd.stopping();
                daemon.shut_down().await;
                return Err(err);
            }
        }
    }
    daemon.publish();
    daemon.restart_metrics();

    let (reload_tx, mut reload_rx) = mpsc::channel::<ReloadReply>(4);
    let control_path = config.global.control_socket.clone();
    let control = tokio::spawn(control::serve(
        control_socket_bound,
        Arc::clone(&registry) as Arc<dyn StatusSource>,
        reload_tx,
    ));

    for ready in started {
        let _ = tokio::time::timeout(STARTUP_TIMEOUT, ready).await;
    }
    let summary = format!(
        "{} instance(s), data plane {mode}, control socket {}",
        daemon.instances.len(),
        control_path.display()
    );
    tracing::info!("xvrrpd running {summary}");
    systemd.ready(&summary);

    let mut watchdog = systemd.ping_every().map(|every| {
        let mut interval = tokio::time::interval(every);
        // After the event loop was held, one ping, not a burst of the missed ones: each is a
        // datagram to systemd, whose queue (net.unix.max_dgram_qlen) a burst can fill, and
        // then the send blocks the event loop.
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        interval
    });
    let mut failure = None;
    loop {
        tokio::select! {
            _ = tick(&mut watchdog) => systemd.watchdog(),
            event = events.recv() => {
                let Some(event) = event else {
                    // Resign rather than run blind: a master we can no longer hear must not
                    // keep its VIPs.
                    tracing::error!("the data plane stopped reporting adverts: resigning");
                    failure = Some("the data plane stopped reporting adverts");
                    break;
                };
                daemon.dispatch_advert(event);
            }
            link = links.recv() => {
                let Some(link) = link else {
                    tracing::error!("the link watch stopped: resigning");
                    failure = Some("the link watch stopped");
                    break;
                };
                let dispatch = daemon.dispatch_link(link);
                pinging_while(dispatch, "handling a link event", &systemd, &mut watchdog).await;
            }
            _ = hangup.recv() => {
                tracing::info!("SIGHUP: reloading {}", daemon.config_path.display());
                let _ = reload(&mut daemon, &systemd, &mut watchdog).await;
            }
            Some(reply) = reload_rx.recv() => {
                tracing::info!("reload requested: reloading {}", daemon.config_path.display());
                let _ = reply.send(reload(&mut daemon, &systemd, &mut watchdog).await);
            }
            _ = dump_states.recv() => registry.log_states(),
            _ = dump_counters.recv() => registry.log_counters(),
            _ = terminate.recv() => { tracing::info!("SIGTERM: resigning"); break; }
            _ = interrupt.recv() => { tracing::info!("SIGINT: resigning"); break; }
        }
    }

    systemd.stopping();
    daemon.shut_down().await;
    // The serving task removes the socket it bound as it ends.
    control.abort();
    let _ = control.await;
    match failure {
        Some(reason) => bail!("{reason}"),
        None => {
            tracing::info!("stopped");
            Ok(())
        }
    }
}

/// Reloads, telling systemd around it (`RELOADING=1`, then `READY=1` with how it went). The
/// watchdog is pinged meanwhile, for at most [`RELOAD_TIMEOUT`].
async fn reload(
    daemon: &mut Daemon,
    systemd: &Systemd,
    watchdog: &mut Option<tokio::time::Interval>,
) -> Result<String, String> {
    systemd.reloading();
    let outcome = pinging_while(daemon.reload(), "the reload", systemd, watchdog).await;
    daemon
        .shared
        .liveness
        .set_beat_every(beat_every(&daemon.config));
    systemd.ready(match &outcome {
        Ok(_) => "reloaded",
        Err(_) => "reload failed: see the log",
    });
    outcome
}

/// Runs `work`, which holds the event loop (a reload; instances started again on an interface
/// created anew, each waiting for its address), pinging systemd's watchdog meanwhile for at
/// most [`RELOAD_TIMEOUT`]: past that, the work is taken for hung and the pings stop.
async fn pinging_while<T>(
    work: impl Future<Output = T>,
    what: &str,
    systemd: &Systemd,
    watchdog: &mut Option<tokio::time::Interval>,
) -> T {
    let limit = tokio::time::sleep(RELOAD_TIMEOUT);
    tokio::pin!(limit);
    tokio::pin!(work);
    let mut pinging = true;
    loop {
        tokio::select! {
            outcome = &mut work => break outcome,
            _ = tick(watchdog), if pinging => systemd.watchdog(),
            () = &mut limit, if pinging => {
                tracing::error!(
                    "{what} has run for {RELOAD_TIMEOUT:?}: no more watchdog pings until it ends"
                );
                pinging = false;
            }
        }
    }
}

/// The Masters' advert grid, with one origin for every instance and the heartbeat, so that
/// they share wake-ups.
fn advert_grid() -> AdvertGrid {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    AdvertGrid::new(*ORIGIN.get_or_init(Instant::now))
}

/// Hands the kernel's Master_Down events to the watch at once, in a task of their own (a
/// takeover must not wait while the event loop is busy with a reload), and the adverts on to
/// the event loop, which owns the instances.
fn route_events(
    mut events: mpsc::Receiver<AdvertEvent>,
    shared: Arc<Shared>,
) -> mpsc::Receiver<AdvertEvent> {
    let (adverts, receiver) = mpsc::channel(dataplane::EVENT_QUEUE);
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if event.reasons & event_reasons::MASTER_DOWN_DUE != 0 {
                shared.master_watch.kernel_due(event.instance);
                continue;
            }
            match adverts.try_send(event) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!("the event loop is behind: an advert event was dropped");
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return,
            }
        }
    });
    receiver
}

/// How often the heartbeat is refreshed: three times per shortest heartbeat bound.
fn beat_every(config: &Config) -> Duration {
    let bound = config
        .instances
        .iter()
        .map(|instance| interface_heartbeat_bound(config, &instance.interface))
        .min()
        .unwrap_or(MIN_HEARTBEAT_BOUND);
    bound / 3
}

async fn tick(ticker: &mut Option<tokio::time::Interval>) {
    match ticker {
        Some(ticker) => {
            ticker.tick().await;
        }
        None => std::future::pending().await,
    }
}

impl Daemon {
    /// Places and starts `instance`; the receiver fires once it has taken its first state.
    async fn start_instance(
        &mut self,
        instance: &InstanceConfig,
    ) -> anyhow::Result<oneshot::Receiver<()>> {
        let bound = interface_heartbeat_bound(&self.config, &instance.interface);
        let placed = placement::place(&self.shared, &mut self.attached, instance, bound).await?;
        let tracking = self.tracking(instance).await;
        let own_fault = !placed.link_up || tracking.tracker.health().fault.is_some();
        let group = self
            .groups
            .values()
            .find(|group| group.config().members.contains(&instance.name));
        let id = InstanceId::of(instance);
        let created = Instance::new(
            instance.clone(),
            placed.placement.clone(),
            placed.sender,
            placed.garp,
            Arc::clone(&self.shared),
            tracking.tracker,
            self.notifier(instance),
        );
        let (mut runtime, status, tallies) = match created {
            Ok(created) => created,
            Err(err) => {
                let key = placed.placement.key;
                placement::forbid_peers(&self.shared, key, &instance.unicast_peers);
                return Err(err);
            }
        };
        // What a running Master holds is its own, not a crashed daemon's leftover.
        let masters = (self.instances.values()).filter(|other| {
            other
                .status
                .lock()
                .is_ok_and(|status| status.state == "master")
        });
        runtime.share_vips(
            masters
                .flat_map(|other| other.config.addresses())
                .map(|vip| vip.address)
                .collect(),
        );
        let (inbox, inbox_rx) = mpsc::channel(256);
        if let Some(group) = group {
            let link = group.link(&instance.name);
            link.attach(inbox.clone(), own_fault);
            runtime.join_group(link);
        }
        let (ready_tx, ready) = oneshot::channel();
        let task = tokio::spawn(runtime.run(inbox_rx, placed.link_up, ready_tx, tracking.updates));
        self.by_key.insert(placed.placement.key, id.clone());
        self.instances.insert(
            id,
            Running {
                config: instance.clone(),
                placement: placed.placement,
                inbox,
                status,
                tallies,
                task,
            },
        );
        Ok(ready)
    }

    /// A tracker for `instance` that starts from the current state of the links, checks and
    /// files it tracks, fed by the running monitors.
    async fn tracking(&self, instance: &InstanceConfig) -> Tracking {
        let mut tracker = Tracker::new(instance, &self.config.scripts);
        for observation in self.monitors.latest(instance) {
            tracker.observe(&observation);
        }
        for tracked in &instance.track_interfaces {
            let up = match self.shared.netlink.interface(&tracked.interface).await {
                Ok(link) => link.oper_up,
                Err(err) => {
                    tracing::warn!(instance = %instance.name, "tracked interface: {err:#}");
                    false
                }
            };
            tracker.interface(&tracked.interface, up);
        }
        Tracking {
            tracker,
            updates: self.monitors.observations(instance),
        }
    }

    fn notifier(&self, instance: &InstanceConfig) -> Notifier {
        Notifier::new(
            Subject::Instance,
            &instance.name,
            &instance.notify,
            &self.config.global.script_security,
            self.fifo.clone(),
        )
    }

    /// Starts the coordinator of `group`, with what the groups it replaces `left` and the
    /// running members `joining` it (see [`GroupHandle::spawn`]).
    fn spawn_group(
        &self,
        group: &SyncGroup,
        left: &Ended,
        joining: &BTreeSet<String>,
    ) -> GroupHandle {
        if group.members.len() < 2 {
            tracing::warn!(
                "sync group {} has only one instance; this is probably not what you want",
                group.name
            );
        }
        GroupHandle::spawn(group, self.group_notifier(group), left, joining)
    }

    fn group_notifier(&self, group: &SyncGroup) -> Notifier {
        Notifier::new(
            Subject::Group,
            &group.name,
            &group.notify,
            &self.config.global.script_security,
            self.fifo.clone(),
        )
    }

    /// Every instance resigns at once (a master sends priority 0 and removes its VIPs), then
    /// the groups run their stop scripts (keepalived runs them at shutdown too).
    async fn shut_down(&mut self) {
        self.shared.lock_dataplane().detach_before_resigning();
        let ids: Vec<InstanceId> = self.instances.keys().cloned().collect();
        futures::future::join_all(ids.iter().map(|id| self.stop_instance(id))).await;
        let groups = std::mem::take(&mut self.groups);
        futures::future::join_all(groups.into_values().map(|group| group.stop(true))).await;
        if let Some(metrics) = self.metrics.take() {
            metrics.abort();
        }
    }

    /// Has the instance resign; [`Daemon::remove_instance`] also forgets it.
    async fn stop_instance(&self, id: &InstanceId) {
        let Some(running) = self.instances.get(id) else {
            return;
        };
        let (done, ack) = oneshot::channel();
        if running.inbox.send(Input::Shutdown(done)).await.is_ok() {
            let _ = tokio::time::timeout(RESIGN_TIMEOUT, ack).await;
        }
        running.task.abort();
        placement::forbid_peers(
            &self.shared,
            running.placement.key,
            &running.config.unicast_peers,
        );
    }

    async fn remove_instance(&mut self, id: &InstanceId) {
        self.stop_instance(id).await;
        if let Some(running) = self.instances.remove(id) {
            self.by_key.remove(&running.placement.key);
        }
    }

    /// Hands the statuses, in configuration order, to the control socket and the metrics.
    fn publish(&self) {
        let statuses = self
            .config
            .instances
            .iter()
            .filter_map(|instance| self.instances.get(&InstanceId::of(instance)))
            .map(|running| Published {
                key: running.placement.key,
                status: Arc::clone(&running.status),
                tallies: running.tallies.clone(),
            })
            .collect();
        self.registry.set(
            self.config.global.router_id.clone(),
            statuses,
            self.monitors.check_statuses(),
        );
    }

    fn restart_metrics(&mut self) {
        if let Some(old) = self.metrics.take() {
            old.abort();
        }
        let Some(address) = self.config.global.metrics_listen else {
            return;
        };
        let source: Arc<dyn StatusSource> = self.registry.clone();
        self.metrics = Some(tokio::spawn(async move {
            if let Err(err) = metrics::serve(address, source).await {
                tracing::error!("{err:#}");
            }
        }));
    }

    fn dispatch_advert(&self, event: AdvertEvent) {
        let Some(running) = self
            .by_key
            .get(&event.instance)
            .and_then(|id| self.instances.get(id))
        else {
            tracing::debug!("event for an instance we do not run: {:?}", event.instance);
            return;
        };
        if running.inbox.try_send(Input::Advert(event)).is_err() {
            tracing::warn!(
                instance = %running.config.name,
                "the instance is behind; an advert event was dropped"
            );
        }
    }
}

fn open_fifo(config: &Config) -> Option<NotifyFifo> {
    let path = config.global.notify_fifo.as_deref()?;
    NotifyFifo::open(path)
        .map_err(|err| tracing::error!("notify_fifo {}: {err}", path.display()))
        .ok()
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
