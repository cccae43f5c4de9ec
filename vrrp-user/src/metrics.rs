//! Prometheus metrics: `GET /metrics` on `global.metrics_listen`, rendered from a status
//! snapshot at each scrape (nothing is counted twice: the daemon's counters and the data plane's
//! are the single source). Per-instance label sets follow the keepalived exporters (`iname`,
//! `intf`, `vrid`) so existing dashboards need few changes.
use std::{convert::Infallible, net::SocketAddr, sync::Arc};

use anyhow::Context as _;
use http_body_util::Full;
use hyper::{
    Method, Request, Response, StatusCode,
    body::{Bytes, Incoming},
    server::conn::http1,
    service::service_fn,
};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};

use crate::control::{InstanceStatus, Status, StatusSource};

/// The OpenMetrics text content type Prometheus negotiates.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InstanceLabels {
    iname: String,
    intf: String,
    vrid: String,
}

impl InstanceLabels {
    fn of(instance: &InstanceStatus) -> Self {
        InstanceLabels {
            iname: instance.name.clone(),
            intf: instance.interface.clone(),
            vrid: instance.vrid.to_string(),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModeLabels {
    mode: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScriptLabels {
    name: String,
}

/// A per-instance counter: its name, help and value.
type CounterSpec = (&'static str, &'static str, fn(&InstanceStatus) -> u64);

/// keepalived's numbering of the states (INIT 0, BACKUP 1, MASTER 2, FAULT 3).
fn state_number(state: &str) -> i64 {
    match state {
        "backup" => 1,
        "master" => 2,
        "fault" => 3,
        _ => 0,
    }
}

/// A per-instance family, registered under `name`.
fn instance_family<M>(registry: &mut Registry, name: &str, help: &str) -> Family<InstanceLabels, M>
where
    M: prometheus_client::metrics::TypedMetric
        + prometheus_client::encoding::EncodeMetric
        + Default
        + Clone
        + Send
        + Sync
        + std::fmt::Debug
        + 'static,
{
    let family = Family::<InstanceLabels, M>::default();
    registry.register(name, help, family.clone());
    family
}

/// The metrics of one status snapshot in the OpenMetrics text format.
pub fn render(status: &Status) -> String {
    let mut registry = Registry::with_prefix("xvrrpd");
    let state = instance_family::<Gauge>(
        &mut registry,
        "vrrp_state",
        "Instance state: 0 init, 1 backup, 2 master, 3 fault",
    );
    let priority = instance_family::<Gauge>(&mut registry, "vrrp_priority", "Configured priority");
    let effective = instance_family::<Gauge>(
        &mut registry,
        "vrrp_effective_priority",
        "Priority advertised: configured, adjusted by tracking",
    );
    let counters: [CounterSpec; 8] = [
        ("advertisements_sent", "Adverts sent", |i| {
            i.counters.adverts_sent
        }),
        (
            "advertisements_received",
            "Valid adverts received for the instance",
            |i| i.counters.adverts_received,
        ),
        ("became_master", "Transitions to Master", |i| {
            i.counters.became_master
        }),
        ("released_master", "Transitions out of Master", |i| {
            i.counters.released_master
        }),
        ("priority_zero_sent", "Priority-0 adverts sent", |i| {
            i.counters.priority_zero_sent
        }),
        (
            "priority_zero_received",
            "Priority-0 adverts received",
            |i| i.counters.priority_zero_received,
        ),
        (
            "gratuitous_sent",
            "Gratuitous ARP / unsolicited NA messages sent",
            |i| i.counters.gratuitous_sent,
        ),
        (
            "advertisements_dropped",
            "Valid adverts the state machine did not process (e.g. v2 interval mismatch)",
            |i| i.counters.adverts_dropped,
        ),
    ];
    let families: Vec<_> = counters
        .iter()
        .map(|(name, help, value)| {
            (
                instance_family::<Counter>(&mut registry, name, help),
                *value,
            )
        })
        .collect();
    for instance in &status.instances {
        let labels = InstanceLabels::of(instance);
        state
            .get_or_create(&labels)
            .set(state_number(&instance.state));
        priority
            .get_or_create(&labels)
            .set(i64::from(instance.priority));
        effective
            .get_or_create(&labels)
            .set(i64::from(instance.effective_priority));
        for (family, value) in &families {
            family.get_or_create(&labels).inc_by(value(instance));
        }
    }

    let scripts = Family::<ScriptLabels, Gauge>::default();
    registry.register(
        "script_status",
        "Tracked script: 1 succeeding, 0 failing",
        scripts.clone(),
    );
    for script in &status.scripts {
        scripts
            .get_or_create(&ScriptLabels {
                name: script.name.clone(),
            })
            .set(i64::from(script.passing));
    }

    render_dataplane(&mut registry, status);
    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = encode(&mut text, &registry);
    text
}

fn render_dataplane(registry: &mut Registry, status: &Status) {
    let mode = Family::<ModeLabels, Gauge>::default();
    registry.register(
        "dataplane_mode",
        "1 for the data plane in use: native or skb (XDP), or socket",
        mode.clone(),
    );
    mode.get_or_create(&ModeLabels {
        mode: status.dataplane.mode.clone(),
    })
    .set(1);
    let invalid = Family::<ReasonLabels, Counter>::default();
    registry.register(
        "invalid_packets",
        "VRRP packets dropped by the data plane, by reason",
        invalid.clone(),
    );
    let named: [(&str, &str, &str); 8] = [
        (
            "advert_accepted",
            "xdp_adverts_absorbed",
            "Valid adverts for an instance we run, handled by the data plane",
        ),
        (
            "advert_event",
            "dataplane_events",
            "Adverts reported to the daemon through the ring buffer",
        ),
        (
            "advert_unknown_vrid",
            "unknown_vrid_packets",
            "Adverts for a VRID we do not run, passed on",
        ),
        (
            "arp_reply",
            "xdp_arp_replies",
            "ARP requests for owned VIPs answered from XDP",
        ),
        (
            "na_reply",
            "xdp_na_replies",
            "Neighbour solicitations for owned VIPs answered from XDP",
        ),
        (
            "event_lost",
            "dataplane_events_lost",
            "Events the ring buffer had no room for",
        ),
        (
            "master_down_rearmed",
            "xdp_master_down_rearmed",
            "Runs of a Backup's Master_Down_Timer in the kernel that found its Master alive",
        ),
        (
            "master_down_due",
            "xdp_master_down_due",
            "Runs of a Backup's Master_Down_Timer in the kernel that found its Master silent",
        ),
    ];
    for (counter, name, help) in named {
        let metric = Counter::<u64>::default();
        metric.inc_by(status.dataplane.counters.get(counter).copied().unwrap_or(0));
        registry.register(name, help, metric);
    }
    for (name, value) in &status.dataplane.counters {
        if let Some(reason) = name.strip_prefix("drop_") {
            invalid
                .get_or_create(&ReasonLabels {
                    reason: reason.to_owned(),
                })
                .inc_by(*value);
        }
    }
    let stale = Counter::<u64>::default();
    stale.inc_by(
        status
            .dataplane
            .counters
            .get("ownership_stale")
            .copied()
            .unwrap_or(0),
    );
    registry.register(
        "xdp_ownership_stale",
        "ARP / NS for a VIP whose ownership lapsed (no daemon heartbeat), passed to the kernel",
        stale,
    );
}

/// Serves `/metrics` on `address` until the task is dropped.
pub async fn serve(address: SocketAddr, source: Arc<dyn StatusSource>) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("metrics: binding {address}"))?;
    tracing::info!("metrics on http://{address}/metrics");
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                tracing::warn!("metrics: accept failed: {err}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let source = Arc::clone(&source);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let source = Arc::clone(&source);
                async move { Ok::<_, Infallible>(respond(&request, source.as_ref())) }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(std::time::Duration::from_secs(5))
                .serve_connection(TokioIo::new(stream), service);
            if let Err(err) = connection.await {
                tracing::debug!("metrics connection: {err}");
            }
        });
    }
}

fn respond(request: &Request<Incoming>, source: &dyn StatusSource) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, content_type: &str, body: String| {
        Response::builder()
            .status(status)
            .header(hyper::header::CONTENT_TYPE, content_type)
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
    };
    match (request.method(), request.uri().path()) {
        (&Method::GET, "/metrics") => reply(StatusCode::OK, CONTENT_TYPE, render(&source.status())),
        (&Method::GET, _) => reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            "only /metrics is served here\n".into(),
        ),
        _ => reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "only GET is served here\n".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::control::{DataplaneStatus, InstanceCounters, ScriptStatus};

    fn status() -> Status {
        Status {
            router_id: "lb1".into(),
            instances: vec![InstanceStatus {
                name: "VI_1".into(),
                interface: "eth0".into(),
                vrid: 51,
                family: "ipv4".into(),
                version: 3,
                state: "master".into(),
                priority: 150,
                effective_priority: 152,
                master_address: Some("192.0.2.11".into()),
                virtual_ips: vec!["192.0.2.100/24".into()],
                since_secs: 1.5,
                state_since: None,
                advert_interval_ms: 100,
                counters: InstanceCounters {
                    adverts_sent: 42,
                    adverts_received: 7,
                    became_master: 1,
                    released_master: 0,
                    priority_zero_sent: 0,
                    priority_zero_received: 2,
                    adverts_dropped: 0,
                    gratuitous_sent: 5,
                },
            }],
            scripts: vec![ScriptStatus {
                name: "chk_haproxy".into(),
                passing: true,
                state: "passing".into(),
            }],
            dataplane: DataplaneStatus {
                mode: "native".into(),
                counters: BTreeMap::from([
                    ("advert_accepted".into(), 1000),
                    ("arp_reply".into(), 3),
                    ("drop_checksum".into(), 9),
                    ("drop_ttl".into(), 4),
                    ("master_down_rearmed".into(), 330),
                ]),
            },
        }
    }

    #[test]
    fn instance_metrics_carry_the_keepalived_exporter_labels() {
        let text = render(&status());
        let labels = r#"{iname="VI_1",intf="eth0",vrid="51"}"#;
        for line in [
            format!("xvrrpd_vrrp_state{labels} 2"),
            format!("xvrrpd_vrrp_priority{labels} 150"),
            format!("xvrrpd_vrrp_effective_priority{labels} 152"),
            format!("xvrrpd_advertisements_sent_total{labels} 42"),
            format!("xvrrpd_advertisements_received_total{labels} 7"),
            format!("xvrrpd_became_master_total{labels} 1"),
            format!("xvrrpd_released_master_total{labels} 0"),
            format!("xvrrpd_priority_zero_received_total{labels} 2"),
            format!("xvrrpd_gratuitous_sent_total{labels} 5"),
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }

    #[test]
    fn data_plane_metrics_split_drops_by_reason() {
        let text = render(&status());
        for line in [
            r#"xvrrpd_dataplane_mode{mode="native"} 1"#,
            "xvrrpd_xdp_adverts_absorbed_total 1000",
            "xvrrpd_xdp_arp_replies_total 3",
            "xvrrpd_xdp_na_replies_total 0",
            "xvrrpd_xdp_master_down_rearmed_total 330",
            "xvrrpd_xdp_master_down_due_total 0",
            r#"xvrrpd_invalid_packets_total{reason="checksum"} 9"#,
            r#"xvrrpd_invalid_packets_total{reason="ttl"} 4"#,
            r#"xvrrpd_script_status{name="chk_haproxy"} 1"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
