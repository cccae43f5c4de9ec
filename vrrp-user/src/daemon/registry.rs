//! What the control socket and the metrics endpoint read: the running instances' statuses in
//! configuration order, with the data plane's counters read at the time of the request.
use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use vrrp_common::{Counter, maps::InstanceKey};

use super::Shared;
use crate::control::{DataplaneStatus, InstanceStatus, ScriptStatus, Status, StatusSource};

pub struct Registry {
    shared: Arc<Shared>,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    router_id: String,
    instances: Vec<(InstanceKey, Arc<Mutex<InstanceStatus>>)>,
    scripts: Vec<ScriptStatus>,
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

    /// Replaces the list after start-up or a reload.
    pub fn set(
        &self,
        router_id: String,
        instances: Vec<(InstanceKey, Arc<Mutex<InstanceStatus>>)>,
    ) {
        let mut inner = self.lock();
        inner.router_id = router_id;
        inner.instances = instances;
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
            .filter_map(|(key, status)| {
                let mut status = status.lock().ok()?.clone();
                if let Some(since) = status.state_since {
                    status.since_secs = since.elapsed().as_secs_f64();
                }
                // A Backup is not woken per advert: the data plane counts them. The instance
                // keeps the count of the observations it has reset.
                if let Ok(Some(observation)) = dataplane.observation(*key) {
                    status.counters.adverts_received += observation.adverts;
                }
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
            scripts: inner.scripts.clone(),
            dataplane: DataplaneStatus {
                mode: dataplane.mode().to_string(),
                counters,
            },
        }
    }
}
