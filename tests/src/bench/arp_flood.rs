//! An ARP request flood at the master's VIP from random senders (198.51.100.0/24): CPU per
//! answered request with XDP answering and with `xdp = "off"` (the kernel answers), in two
//! labs of the same run; the neighbour entries the flood left on the master; whether the backup
//! ever took over (a missed advert).
//!
//! The CPU of a flood is the sender's (trafgen's rusage) plus the softirq threads': packets are
//! carried through veths and the bridge, answered and carried back in softirq, run in the
//! context of the task that sent them, or deferred to ksoftirqd. Unlike the machine-wide
//! kernel time (also shown), this hardly sees the other work on the machine. Each flood is
//! paired with an identical flood at an address nobody owns: "less unanswered" is what
//! answering added. Answers are the ARP replies the sender's interface received.
use std::time::Duration;

use super::{
    Settings, check_stop,
    peers::{self, Group, Implementation, VIP},
    procfs::{kernel_cpu_seconds, softirq_threads_runtime},
    report::{Report, number},
    starvation::rx_packets,
    trafgen,
};
use crate::lab::Lab;

/// An address in the lab's subnet that no router owns.
const NOBODY: &str = "192.0.2.201";
/// Requests per second: fast enough to dominate the machine's other kernel work, slow enough
/// that both paths answer nearly everything.
const RATE_PPS: u64 = 50_000;

struct Mode {
    name: &'static str,
    lab: Lab,
    cpu_per_answer_us: Vec<f64>,
    net_cpu_per_answer_us: Vec<f64>,
    machine_per_answer_us: Vec<f64>,
    answered: Vec<f64>,
    neighbours: Vec<f64>,
    takeovers: u64,
    xdp_replies: u64,
}

pub fn arp_flood(settings: Settings, report: &mut Report) {
    let repeats = settings.repeats(5, 2);
    let requests = settings.repeats(250_000, 50_000) as u64;
    let mut modes: Vec<Mode> = [("xvrrpd", false), ("xvrrpd xdp=off", true)]
        .into_iter()
        .map(|(name, xdp_off)| {
            let mut lab = Lab::new(if xdp_off { "afo" } else { "afx" }, 2);
            let group = Group {
                xdp_off,
                ..Group::single(3, Duration::from_millis(10))
            };
            peers::master_and_backup(&mut lab, Implementation::Xvrrpd, &group);
            let mode = lab.status(0)["dataplane"]["mode"]
                .as_str()
                .unwrap_or("?")
                .to_string();
            assert_eq!(
                mode == "socket",
                xdp_off,
                "{name}: unexpected data plane {mode}\n{}",
                lab.logs()
            );
            Mode {
                name,
                lab,
                cpu_per_answer_us: Vec::new(),
                net_cpu_per_answer_us: Vec::new(),
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
            "{requests} requests at {} kpps per flood; backup took over {} times; XDP arp_reply {}",
            RATE_PPS / 1000,
            mode.takeovers,
            mode.xdp_replies
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
            "CPU per answer",
            "µs",
            &mode.cpu_per_answer_us,
            &note,
        );
        add(
            report,
            "CPU per answer, less unanswered",
            "µs",
            &mode.net_cpu_per_answer_us,
            "what answering added to the flood's CPU",
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
        median("xvrrpd", "CPU per answer, less unanswered"),
        median("xvrrpd xdp=off", "CPU per answer, less unanswered"),
        median("xvrrpd", "CPU per answer"),
        median("xvrrpd xdp=off", "CPU per answer"),
    );
    let entries = (
        median("xvrrpd", "neighbour entries created"),
        median("xvrrpd xdp=off", "neighbour entries created"),
    );
    if let (Some(xdp), Some(kernel), Some(gross_xdp), Some(gross_kernel)) = cpu {
        // Judged on what answering costs: the flood's own cost (sending, bridging) is the
        // same whoever answers, and would hide any difference.
        report.verdict(
            "arp-flood",
            "XDP at most 0.3x the kernel path's CPU per answer",
            xdp <= 0.3 * kernel,
            format!(
                "answering {} µs vs {} µs (ratio {}); whole flood {} µs vs {} µs per answer",
                number(xdp),
                number(kernel),
                number(xdp / kernel),
                number(gross_xdp),
                number(gross_kernel)
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
    let limit = Duration::from_secs_f64(requests as f64 / RATE_PPS as f64 * 3.0 + 5.0);
    let sender = lab.client.mac("eth0");
    let before = peers::became_master(lab, 1, Implementation::Xvrrpd).unwrap_or(0);
    let xdp_before = xdp_arp_replies(lab);

    let flood = |target: &str| {
        let received = rx_packets(lab);
        let machine = kernel_cpu_seconds();
        let deferred = softirq_threads_runtime();
        let packet = trafgen::arp_requests(sender, target);
        let finished = trafgen::start(
            &lab.client,
            "eth0",
            &packet,
            requests,
            Some(RATE_PPS),
            limit,
        )
        .finish();
        // Let the last replies arrive.
        std::thread::sleep(Duration::from_millis(100));
        Flood {
            cpu: (finished.cpu + softirq_threads_runtime().saturating_sub(deferred)).as_secs_f64(),
            machine: kernel_cpu_seconds() - machine,
            received: rx_packets(lab) - received,
            elapsed: finished.elapsed.as_secs_f64(),
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
    mode.cpu_per_answer_us.push(per_answer(answered.cpu));
    // The same number of requests: the unanswered flood's CPU is the part not due to answers.
    mode.net_cpu_per_answer_us
        .push(per_answer(answered.cpu - unanswered.cpu));
    mode.machine_per_answer_us
        .push(per_answer(answered.machine));
    mode.answered.push(100.0 * answers / requests as f64);
    mode.neighbours.push(neighbours as f64);
    let after = peers::became_master(lab, 1, Implementation::Xvrrpd).unwrap_or(u64::MAX);
    mode.takeovers += after.saturating_sub(before);
    mode.xdp_replies += xdp_arp_replies(lab).saturating_sub(xdp_before);
}

struct Flood {
    /// Sender + softirq threads, seconds.
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
