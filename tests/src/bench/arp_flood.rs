//! An ARP request flood at the master's VIP from random senders (198.51.100.0/24): the master's
//! CPU per answered request with XDP answering and with `xdp = "off"` (the kernel answers), in
//! two labs of the same run; the neighbour entries the flood left on the master; whether the
//! backup ever took over (a missed advert).
//!
//! The lab stands in for a host with a NIC, as closely as veths allow:
//! - the flood reaches the master's veth as XDP frames, redirected from the client's bridge
//!   port ([`attach_redirect_program`]): as from a NIC's ring, the XDP program (`xdp =
//!   "native"`) sees each request before any socket buffer exists, and the kernel path builds
//!   one. Sent through the bridge, every request arrived as a socket buffer the bridge had
//!   cloned, and generic or native XDP alike first copied it: that copy, not the answer, was
//!   most of the master's cost on both paths (0.95x).
//! - the master's interface receives in a NAPI thread of its own, on a CPU of its own, with
//!   its receive interrupts moderated as a NIC's are ([`Lab::thread_router_receive`],
//!   [`MODERATION`]); the bridge forwards in threads of its own on the other CPUs, where the
//!   sender runs too. The thread's run time is what the master's kernel spent on the flood:
//!   receiving the requests, XDP or the kernel's ARP code, handing the answers to the wire.
//!   Without moderation the thread woke for nearly every frame and the wake-ups were most of
//!   its time (1.03 vs 1.78 µs per answer, 0.58x); sharing a CPU with the sender, it fell at
//!   random into runs of 2 µs per answer with XDP.
//!
//! Each flood at the VIP follows an identical flood at an address nobody owns: what the client
//! received besides answers (adverts) is taken from it, and its cost per request is shown.
//! Answers are the ARP replies the sender's interface received. The whole flood's CPU (sender,
//! softirq and NAPI threads) and the machine's kernel time are shown besides.
use std::time::Duration;

use super::{
    Settings, check_stop,
    peers::{self, Group, Implementation, VIP},
    procfs::{kernel_cpu_seconds, softirq_threads_runtime, threads_cpu_seconds},
    report::{Report, number},
    starvation::rx_packets,
    trafgen,
};
use crate::{
    lab::{Lab, cpu_affinity, set_cpu_affinity},
    xdp::attach_redirect_program,
};

/// An address in the lab's subnet that no router owns.
const NOBODY: &str = "192.0.2.201";
/// A flood goes as fast as its sender can; this bounds a stalled one.
const FLOOD_LIMIT: Duration = Duration::from_secs(30);
/// How often the master's interface is polled while frames keep coming: the default receive
/// interrupt moderation of common server NICs (Intel i40e/ice: 50 µs). Both paths get the same.
const MODERATION: Duration = Duration::from_micros(50);

struct Mode {
    name: &'static str,
    lab: Lab,
    /// The client's frames go from its bridge port straight to the master's.
    _redirect: aya::Ebpf,
    /// The master's receive thread.
    master_threads: Vec<i32>,
    /// Every NAPI thread of the lab, the master's included.
    lab_threads: Vec<i32>,
    master_per_answer_us: Vec<f64>,
    master_per_unanswered_us: Vec<f64>,
    flood_per_answer_us: Vec<f64>,
    machine_per_answer_us: Vec<f64>,
    answered: Vec<f64>,
    neighbours: Vec<f64>,
    takeovers: u64,
    xdp_replies: u64,
}

pub fn arp_flood(settings: Settings, report: &mut Report) {
    let repeats = settings.repeats(5, 2);
    let requests = settings.repeats(250_000, 50_000) as u64;
    let cpus = cpu_affinity(0);
    let Some((&master_cpu, other_cpus)) = cpus.split_last().filter(|(_, rest)| !rest.is_empty())
    else {
        report.verdict(
            "arp-flood",
            "the master's receive thread on a CPU of its own",
            false,
            format!("this process may run on CPUs {cpus:?}: no figures"),
        );
        return;
    };
    // The sender (a child of this thread) and the bridge stay off the master's CPU.
    let _affinity = Affinity::set(other_cpus);
    let mut modes: Vec<Mode> = [("xvrrpd", "native"), ("xvrrpd xdp=off", "off")]
        .into_iter()
        .map(|(name, xdp)| {
            let xdp_off = xdp == "off";
            let mut lab = Lab::new(if xdp_off { "afo" } else { "afx" }, 2);
            let group = Group {
                xdp,
                ..Group::single(3, Duration::from_millis(10))
            };
            peers::master_and_backup(&mut lab, Implementation::Xvrrpd, &group);
            let mode = lab.status(0)["dataplane"]["mode"]
                .as_str()
                .unwrap_or("?")
                .to_string();
            assert_eq!(
                mode,
                if xdp_off { "socket" } else { xdp },
                "{name}: unexpected data plane {mode}\n{}",
                lab.logs()
            );
            let master_threads = lab.thread_router_receive(0, MODERATION);
            let mut lab_threads = lab.thread_the_bridge();
            for &pid in &master_threads {
                set_cpu_affinity(pid, &[master_cpu]);
            }
            for &pid in &lab_threads {
                set_cpu_affinity(pid, other_cpus);
            }
            lab_threads.extend(&master_threads);
            let redirect = lab.bridge.enter(|| {
                attach_redirect_program(lab.bridge.ifindex("pc"), lab.bridge.ifindex("p0"))
            });
            Mode {
                name,
                lab,
                _redirect: redirect,
                master_threads,
                lab_threads,
                master_per_answer_us: Vec::new(),
                master_per_unanswered_us: Vec::new(),
                flood_per_answer_us: Vec::new(),
                machine_per_answer_us: Vec::new(),
                answered: Vec::new(),
                neighbours: Vec::new(),
                takeovers: 0,
                xdp_replies: 0,
            }
        })
        .collect();
    // Alternating the modes spreads the machine's other load over both.
    for _ in 0..repeats {
        for mode in &mut modes {
            check_stop();
            measure(mode, requests);
        }
    }
    for mode in &modes {
        let note = format!(
            "{requests} requests per flood, flat out; backup took over {} times; XDP arp_reply {}",
            mode.takeovers, mode.xdp_replies
        );
        let name = mode.name;
        let add =
            |report: &mut Report, metric: &str, unit: &str, samples: &Vec<f64>, note: &str| {
                report.add(
                    "arp-flood",
                    "ARP flood",
                    name,
                    metric,
                    unit,
                    samples.clone(),
                    note,
                );
            };
        add(
            report,
            "master CPU per answer",
            "µs",
            &mode.master_per_answer_us,
            &note,
        );
        add(
            report,
            "master CPU per request nobody answers",
            "µs",
            &mode.master_per_unanswered_us,
            "the same flood at an address nobody owns",
        );
        add(
            report,
            "whole flood CPU per answer",
            "µs",
            &mode.flood_per_answer_us,
            "sender, softirq and NAPI threads: the lab's work both ways",
        );
        add(
            report,
            "machine kernel time per answer",
            "µs",
            &mode.machine_per_answer_us,
            "system+irq+softirq of all cores: includes other work",
        );
        add(report, "requests answered", "%", &mode.answered, "");
        add(
            report,
            "neighbour entries created",
            "count",
            &mode.neighbours,
            "on the master, after each flood",
        );
    }
    let median = |name: &str, metric: &str| report.median("arp-flood", "ARP flood", name, metric);
    let cpu = (
        median("xvrrpd", "master CPU per answer"),
        median("xvrrpd xdp=off", "master CPU per answer"),
    );
    let entries = (
        median("xvrrpd", "neighbour entries created"),
        median("xvrrpd xdp=off", "neighbour entries created"),
    );
    if let (Some(xdp), Some(kernel)) = cpu {
        // Judged on all the master spent, receiving included: answering a request means
        // receiving it first.
        report.verdict(
            "arp-flood",
            "XDP at most 0.3x the kernel path's CPU per answer",
            xdp <= 0.3 * kernel,
            format!(
                "master {} µs vs {} µs (ratio {})",
                number(xdp),
                number(kernel),
                number(xdp / kernel)
            ),
        );
    }
    if let (Some(entries), kernel_entries) = entries {
        let max = modes[0].neighbours.iter().copied().fold(0.0, f64::max);
        report.verdict(
            "arp-flood",
            "XDP: no neighbour entries created",
            max == 0.0,
            format!(
                "median {} max {} (kernel path: {})",
                number(entries),
                number(max),
                kernel_entries.map_or("-".into(), number)
            ),
        );
    }
    report.verdict(
        "arp-flood",
        "no advert missed (the backup never took over)",
        modes.iter().all(|mode| mode.takeovers == 0),
        modes
            .iter()
            .map(|mode| format!("{}: {}", mode.name, mode.takeovers))
            .collect::<Vec<_>>()
            .join(", "),
    );
}

/// One flood at nobody, one at the VIP.
fn measure(mode: &mut Mode, requests: u64) {
    let lab = &mode.lab;
    let master = &lab.routers[0].netns;
    let sender = lab.client.mac("eth0");
    let before = peers::became_master(lab, 1, Implementation::Xvrrpd).unwrap_or(0);
    let xdp_before = xdp_arp_replies(lab);

    let flood = |target: &str| {
        let attempt = || {
            let received = rx_packets(lab);
            let machine = kernel_cpu_seconds();
            let deferred = softirq_threads_runtime();
            let master_cpu = threads_cpu_seconds(&mode.master_threads);
            let lab_cpu = threads_cpu_seconds(&mode.lab_threads);
            let packet = trafgen::arp_requests(sender, target);
            let flood = trafgen::start(&lab.client, "eth0", &packet, requests, None, FLOOD_LIMIT);
            let finished = flood.try_finish()?;
            // Let the last replies arrive.
            std::thread::sleep(Duration::from_millis(100));
            Ok::<_, String>(Flood {
                master: threads_cpu_seconds(&mode.master_threads) - master_cpu,
                cpu: (finished.cpu + softirq_threads_runtime().saturating_sub(deferred))
                    .as_secs_f64()
                    + threads_cpu_seconds(&mode.lab_threads)
                    - lab_cpu,
                machine: kernel_cpu_seconds() - machine,
                received: rx_packets(lab) - received,
                elapsed: finished.elapsed.as_secs_f64(),
            })
        };
        // trafgen gives up when its ring cannot be flushed at once (EAGAIN: the veth's ring
        // is full), now and then: that flood is not measured, and sent again.
        let mut tries = 0;
        loop {
            match attempt() {
                Ok(flood) => break flood,
                Err(failure) if tries < 2 && failure.contains("temporarily unavailable") => {
                    tries += 1;
                    // What the master still had queued from it is not the next flood's.
                    std::thread::sleep(Duration::from_millis(500));
                    eprintln!(
                        "bench: arp-flood ({}): the flood goes again after: {failure}",
                        mode.name
                    );
                }
                Err(failure) => panic!("{failure}"),
            }
        }
    };
    let unanswered = flood(NOBODY);
    master.ip(&["neigh", "flush", "dev", "eth0"]);
    let answered = flood(VIP);
    let neighbours = neighbour_count(lab);

    // What the client received besides answers (adverts, …), scaled to this flood's length.
    let scale = answered.elapsed / unanswered.elapsed;
    let answers = (answered.received as f64 - unanswered.received as f64 * scale).max(1.0);
    let per_answer = |seconds: f64| seconds / answers * 1e6;
    mode.master_per_answer_us.push(per_answer(answered.master));
    mode.master_per_unanswered_us
        .push(unanswered.master / requests as f64 * 1e6);
    mode.flood_per_answer_us.push(per_answer(answered.cpu));
    mode.machine_per_answer_us
        .push(per_answer(answered.machine));
    mode.answered.push(100.0 * answers / requests as f64);
    mode.neighbours.push(neighbours as f64);
    let after = peers::became_master(lab, 1, Implementation::Xvrrpd).unwrap_or(u64::MAX);
    mode.takeovers += after.saturating_sub(before);
    mode.xdp_replies += xdp_arp_replies(lab).saturating_sub(xdp_before);
}

struct Flood {
    /// The master's receive thread, seconds.
    master: f64,
    /// Sender, softirq and NAPI threads, seconds.
    cpu: f64,
    /// Machine-wide kernel time, seconds.
    machine: f64,
    received: u64,
    elapsed: f64,
}

/// Neighbour entries on the master's interface (any state).
fn neighbour_count(lab: &Lab) -> usize {
    let out = lab.routers[0].netns.ip(&["neigh", "show", "dev", "eth0"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|line| line.starts_with("198.51.100."))
        .count()
}

fn xdp_arp_replies(lab: &Lab) -> u64 {
    lab.try_status(0)
        .and_then(|status| status["dataplane"]["counters"]["arp_reply"].as_u64())
        .unwrap_or(0)
}

/// The calling thread's CPUs for as long as it lives; the former ones back when dropped.
struct Affinity(Vec<usize>);

impl Affinity {
    fn set(cpus: &[usize]) -> Affinity {
        let former = cpu_affinity(0);
        set_cpu_affinity(0, cpus);
        Affinity(former)
    }
}

impl Drop for Affinity {
    fn drop(&mut self) {
        set_cpu_affinity(0, &self.0);
    }
}
