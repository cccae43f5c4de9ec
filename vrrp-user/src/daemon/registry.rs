//! What the control socket and the metrics endpoint read: the running instances' statuses in
//! configuration order, with the data plane's counters read at the time of the request.
use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use tokio::sync::watch;
use vrrp_common::{Counter, maps::InstanceKey};

use super::Shared;
use crate::{
    control::{DataplaneStatus, InstanceStatus, ScriptStatus, Status, StatusSource},
    track::CheckStatus,
    tx::AdvertTally,
};

pub struct Registry {
    shared: Arc<Shared>,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    router_id: String,
    instances: Vec<Published>,
    /// Each check script's name and its running check's result, read when asked.
    scripts: Vec<(String, watch::Receiver<CheckStatus>)>,
}

/// A running instance, as status and metrics read it.
pub struct Published {
    pub key: InstanceKey,
    /// What the instance's task last wrote.
    pub status: Arc<Mutex<InstanceStatus>>,
    pub tallies: Tallies,
}

/// What is sent for an instance outside its task, added to its status when read.
#[derive(Clone, Debug)]
pub struct Tallies {
    /// The periodic adverts the pacer sent for it.
    pub adverts: Arc<AdvertTally>,
    /// Its gratuitous ARP / NA messages, every burst.
    pub gratuitous: Arc<AtomicU64>,
}

impl Tallies {
    pub fn new(label: String) -> Tallies {
        Tallies {
            adverts: AdvertTally::new(label),
            gratuitous: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl Registry {
    pub fn new(shared: Arc<Shared>, router_id: String) -> Self {
        Registry {
            shared,
            inner: Mutex::new(Inner {
                router_id,
                ..Inner::default()
            }),
        }
    }

    /// Replaces the lists after start-up, a reload or an instance's re-placement.
    pub fn set(
        &self,
        router_id: String,
        instances: Vec<Published>,
        scripts: Vec<(String, watch::Receiver<CheckStatus>)>,
    ) {
        let mut inner = self.lock();
        inner.router_id = router_id;
        inner.instances = instances;
        inner.scripts = scripts;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl StatusSource for Registry {
    fn status(&self) -> Status {
        let inner = self.lock();
        let dataplane = self.shared.lock_dataplane();
        let instances = inner
            .instances
            .iter()
            .filter_map(|published| {
                let mut status = published.status.lock().ok()?.clone();
                if let Some(since) = status.state_since {
                    status.since_secs = since.elapsed().as_secs_f64();
                }
                // A Backup is not woken per advert: the data plane counts them. The instance
                // keeps the count of the observations it has reset.
                if let Ok(Some(observation)) = dataplane.observation(published.key) {
                    status.counters.adverts_received += observation.adverts;
                }
                // Nor is a Master per advert or announcement it sends.
                let tallies = &published.tallies;
                status.counters.adverts_sent += tallies.adverts.sent();
                status.counters.gratuitous_sent = tallies.gratuitous.load(Ordering::Relaxed);
                Some(status)
            })
            .collect();
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
            router_id: inner.router_id.clone(),
            instances,
            scripts: inner
                .scripts
                .iter()
                .map(|(name, status)| {
                    let status = *status.borrow();
                    ScriptStatus {
                        name: name.clone(),
                        passing: status == CheckStatus::Passing,
                        state: status.as_str().to_owned(),
                    }
                })
                .collect(),
            dataplane: DataplaneStatus {
                mode: dataplane.mode().to_string(),
                counters,
            },
        }
    }
}

impl Registry {
    /// SIGUSR1 (keepalived's data dump): every instance's state, and the check scripts', in
    /// the log.
    pub fn log_states(&self) {
        let status = self.status();
        for instance in &status.instances {
            tracing::info!(
                instance = %instance.name,
                interface = %instance.interface,
                vrid = instance.vrid,
                "{} for {:.1}s, priority {} (effective {}), master {}, VIPs {}",
                instance.state,
                instance.since_secs,
                instance.priority,
                instance.effective_priority,
                instance.master_address.as_deref().unwrap_or("unknown"),
                instance.virtual_ips.join(" "),
            );
        }
        for script in &status.scripts {
            tracing::info!(script = %script.name, "check {}", script.state);
        }
    }

    /// SIGUSR2 (keepalived's statistics): every instance's counters and the data plane's, in
    /// the log.
    pub fn log_counters(&self) {
        let status = self.status();
        for instance in &status.instances {
            let c = &instance.counters;
            tracing::info!(
                instance = %instance.name,
                "adverts sent {} received {} dropped {}, became master {} released {}, \
                 priority 0 sent {} received {}, gratuitous ARP/NA sent {}",
                c.adverts_sent,
                c.adverts_received,
                c.adverts_dropped,
                c.became_master,
                c.released_master,
                c.priority_zero_sent,
                c.priority_zero_received,
                c.gratuitous_sent,
            );
        }
        let counters: Vec<String> = (status.dataplane.counters.iter())
            .filter(|(_, count)| **count != 0)
            .map(|(name, count)| format!("{name} {count}"))
            .collect();
        tracing::info!(
            "data plane {}: {}",
            status.dataplane.mode,
            if counters.is_empty() {
                "all counters 0".to_owned()
            } else {
                counters.join(", ")
            }
        );
    }
}
