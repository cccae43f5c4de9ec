//! False takeovers: a backup that is starved of CPU (stress-ng on every core) or whose
//! interface is flooded (trafgen from the client), for a minute at 10 ms adverts. A takeover is
//! the backup entering Master (xvrrpd's status counters, keepalived's log) while the master
//! never stopped; the VIP seen on the backup is sampled too.
use std::{
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
    time::{Duration, Instant},
};

use super::{
    Settings, pause,
    peers::{self, Group, Implementation, VIP},
    report::{Report, number},
    trafgen,
};
use crate::lab::Lab;

#[derive(Clone, Copy, PartialEq)]
enum Load {
    Cpu,
    Flood,
}

impl Load {
    fn case(self) -> &'static str {
        match self {
            Load::Cpu => "CPU starved",
            Load::Flood => "packet flood",
        }
    }
}

/// Flood packets at most, whatever the rate reached.
const FLOOD_LIMIT_PER_SECOND: u64 = 2_000_000;

pub fn starvation(settings: Settings, report: &mut Report) {
    let duration = settings.duration(Duration::from_secs(60), Duration::from_secs(10));
    for load in [Load::Cpu, Load::Flood] {
        for implementation in Implementation::BOTH {
            let (takeovers, vip_seen, detail) = measure(implementation, load, duration);
            let name = implementation.name();
            let setting = match (implementation, xdp_setting()) {
                (Implementation::Xvrrpd, xdp) if xdp != "auto" => format!("; xdp = {xdp}"),
                _ => String::new(),
            };
            report.add(
                "starvation",
                load.case(),
                name,
                "false takeovers",
                "count",
                takeovers.into_iter().collect(),
                format!(
                    "{}s at 10 ms adverts; VIP seen on the backup in {vip_seen} polls; \
                     {detail}{setting}",
                    duration.as_secs()
                ),
            );
        }
        if let Some(ours) = report.median("starvation", load.case(), "xvrrpd", "false takeovers") {
            report.verdict(
                "starvation",
                &format!("{}: zero false takeovers", load.case()),
                ours == 0.0,
                format!(
                    "xvrrpd {}, keepalived {}",
                    number(ours),
                    report
                        .median("starvation", load.case(), "keepalived", "false takeovers")
                        .map_or("-".into(), number)
                ),
            );
        }
    }
}

/// xvrrpd's `xdp` setting for the pair: `XVRRPD_BENCH_XDP` (`off` runs the raw-socket data
/// plane), else auto.
fn xdp_setting() -> &'static str {
    match std::env::var("XVRRPD_BENCH_XDP").as_deref() {
        Err(_) | Ok("auto") => "auto",
        Ok("native") => "native",
        Ok("skb") => "skb",
        Ok("off") => "off",
        Ok(other) => panic!("XVRRPD_BENCH_XDP: auto, native, skb or off, not {other:?}"),
    }
}

/// Takeovers by the backup (`None` if its daemon stopped answering), polls that saw the VIP on
/// it, and what the load was.
fn measure(
    implementation: Implementation,
    load: Load,
    duration: Duration,
) -> (Option<f64>, u64, String) {
    let tag = format!(
        "st{}{}",
        &implementation.name()[..1],
        if load == Load::Cpu { "c" } else { "f" }
    );
    let mut lab = Lab::new(&tag, 2);
    let group = Group {
        xdp: xdp_setting(),
        ..Group::single(3, Duration::from_millis(10))
    };
    peers::master_and_backup(&mut lab, implementation, &group);
    let before = peers::became_master(&lab, 1, implementation);
    let done = AtomicBool::new(false);
    let vip_seen = AtomicU64::new(0);
    let detail = std::thread::scope(|scope| {
        // Sampling the backup's addresses, independently of its own account.
        scope.spawn(|| {
            while !done.load(Ordering::SeqCst) {
                if lab.holds(1, VIP) {
                    vip_seen.fetch_add(1, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let detail = match load {
            Load::Cpu => starve(&lab, duration),
            Load::Flood => flood(&lab, duration),
        };
        done.store(true, Ordering::SeqCst);
        detail
    });
    let after = peers::became_master(&lab, 1, implementation);
    let takeovers = match (before, after) {
        (Some(before), Some(after)) => Some((after - before) as f64),
        _ => None,
    };
    (takeovers, vip_seen.into_inner(), detail)
}

fn starve(lab: &Lab, duration: Duration) -> String {
    // Inside the backup's namespace, so the lab's removal ends it too; --timeout bounds it.
    let mut stress = lab.routers[1]
        .netns
        .command("stress-ng")
        .args([
            "--cpu",
            "0",
            "--timeout",
            &format!("{}s", duration.as_secs()),
            "--quiet",
        ])
        .spawn()
        .expect("stress-ng (cargo xtask setup installs it)");
    let started = Instant::now();
    while stress.try_wait().expect("stress-ng").is_none() {
        if started.elapsed() > duration + Duration::from_secs(10) {
            let _ = stress.kill();
        }
        pause(Duration::from_millis(100));
    }
    format!(
        "stress-ng --cpu 0 ({} workers)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    )
}

fn flood(lab: &Lab, duration: Duration) -> String {
    let backup = &lab.routers[1];
    // The bridge learns the backup's MAC, so the flood reaches its port only.
    let ping = lab
        .client
        .command("ping")
        .args(["-c", "2", "-i", "0.2", "-W", "1", &backup.address])
        .output()
        .expect("ping");
    assert!(ping.status.success(), "the client cannot reach the backup");
    let packet = trafgen::udp_datagrams(
        lab.client.mac("eth0"),
        backup.netns.mac("eth0"),
        crate::lab::CLIENT_ADDRESS,
        &backup.address,
    );
    let sent_before = tx_packets(lab);
    // A veth drops what its peer cannot take: the backup's lost packets show on its bridge
    // port's transmit side.
    let dropped_before = link_counter_named(&lab.bridge, "p1", "tx", "dropped");
    let flood = trafgen::start(
        &lab.client,
        "eth0",
        &packet,
        FLOOD_LIMIT_PER_SECOND * duration.as_secs(),
        None,
        duration,
    );
    let elapsed = flood.finish().elapsed;
    let sent = tx_packets(lab) - sent_before;
    let dropped = link_counter_named(&lab.bridge, "p1", "tx", "dropped") - dropped_before;
    format!(
        "UDP flood at the backup: {sent} packets, {} kpps, {dropped} dropped on the way in",
        number(sent as f64 / elapsed.as_secs_f64() / 1000.0)
    )
}

/// Packets the client's interface sent.
pub fn tx_packets(lab: &Lab) -> u64 {
    link_counter(&lab.client, "tx")
}

/// Packets the client's interface received.
pub fn rx_packets(lab: &Lab) -> u64 {
    link_counter(&lab.client, "rx")
}

fn link_counter(netns: &crate::netns::Netns, direction: &str) -> u64 {
    link_counter_named(netns, "eth0", direction, "packets")
}

/// A counter of `interface`'s statistics (`ip -s`): `direction` "rx" or "tx", `counter`
/// "packets", "dropped", …
pub fn link_counter_named(
    netns: &crate::netns::Netns,
    interface: &str,
    direction: &str,
    counter: &str,
) -> u64 {
    let out = netns.ip(&["-j", "-s", "link", "show", interface]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ip -j");
    json[0]["stats64"][direction][counter]
        .as_u64()
        .unwrap_or_else(|| panic!("no {direction} {counter} counter on {interface}"))
}
