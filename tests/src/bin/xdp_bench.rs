//! `cargo xtask bench xdp`: nanoseconds per packet of the XDP program's paths, measured with
//! BPF_PROG_TEST_RUN next to an empty XDP_PASS program in the same run.
//!
//! Paths that leave the frame as it was (pass-through, advert absorb) run `REPEAT` times per
//! call and the kernel reports the mean. Rewriting paths (ARP, NA) must run once per call —
//! the kernel does not restore the input between repeats — so each call's single-run time is
//! taken; the baseline is measured both ways so each path is compared with its own method.
//! Every figure is the median over `ROUNDS`; the spread is min..max of the rounds.
use std::{fmt::Write as _, time::Duration};

use aya::programs::{TestRun, TestRunOptions, Xdp};
use tests::{frames, xdp::*};
use vrrp_common::FAMILY_V4;
use vrrp_user::wire::ChecksumMode;

const ROUNDS: usize = 7;
const REPEAT: u32 = 200_000;
const SINGLE_CALLS: usize = 20_000;

struct Figure {
    name: &'static str,
    method: &'static str,
    rounds: Vec<f64>,
}

impl Figure {
    fn median(&self) -> f64 {
        let mut sorted = self.rounds.clone();
        sorted.sort_by(f64::total_cmp);
        sorted[sorted.len() / 2]
    }

    fn spread(&self) -> (f64, f64) {
        let min = self.rounds.iter().copied().fold(f64::INFINITY, f64::min);
        let max = self.rounds.iter().copied().fold(0.0, f64::max);
        (min, max)
    }
}

/// Mean ns per run of `frame` over `REPEAT` runs in one call.
fn repeated(program: &mut Xdp, frame: &[u8], expect: u32) -> f64 {
    let mut out = vec![0u8; frame.len() + 256];
    let result = program
        .test_run(TestRunOptions {
            data_in: Some(frame),
            data_out: Some(&mut out),
            repeat: REPEAT,
            ..Default::default()
        })
        .expect("BPF_PROG_TEST_RUN");
    assert_eq!(result.return_value, expect, "unexpected action");
    result.duration.as_nanos() as f64
}

/// Median single-run ns of `frame` over `SINGLE_CALLS` calls.
fn single(program: &mut Xdp, frame: &[u8], expect: u32) -> f64 {
    let mut out = vec![0u8; frame.len() + 256];
    let mut times: Vec<Duration> = (0..SINGLE_CALLS)
        .map(|_| {
            let result = program
                .test_run(TestRunOptions {
                    data_in: Some(frame),
                    data_out: Some(&mut out),
                    repeat: 1,
                    ..Default::default()
                })
                .expect("BPF_PROG_TEST_RUN");
            assert_eq!(result.return_value, expect, "unexpected action");
            result.duration
        })
        .collect();
    times.sort();
    times[times.len() / 2].as_nanos() as f64
}

fn main() {
    let mut lab = XdpLab::new();
    lab.instance(instance_key(0, 51, FAMILY_V4), backup_config(3));
    lab.own(0, VIP_V4.into());
    lab.own(0, VIP_V6.into());
    let mut baseline = load_pass_program();

    let tcp = frames::tcp_v4();
    let advert = frames::frame_v4(&frames::v3_v4(150), ChecksumMode::PseudoHeader);
    let arp = frames::arp_request(VIP_V4, None);
    let ns = frames::solicitation(VIP_V6, CLIENT_V6);

    let mut figures: Vec<Figure> = [
        ("empty XDP_PASS program", "repeat"),
        ("pass-through TCP", "repeat"),
        ("advert absorbed", "repeat"),
        ("empty XDP_PASS program", "single"),
        ("ARP request -> reply", "single"),
        ("NS -> NA", "single"),
    ]
    .into_iter()
    .map(|(name, method)| Figure {
        name,
        method,
        rounds: Vec::new(),
    })
    .collect();
    for _ in 0..ROUNDS {
        // Ownership must stay fresh through the single-run rounds.
        lab.heartbeat_fresh();
        let base = pass_program(&mut baseline);
        figures[0].rounds.push(repeated(base, &tcp, XDP_PASS));
        figures[3].rounds.push(single(base, &arp, XDP_PASS));
        let xdp = lab.dataplane.program_mut().expect("program");
        figures[1].rounds.push(repeated(xdp, &tcp, XDP_PASS));
        figures[2].rounds.push(repeated(xdp, &advert, XDP_DROP));
        figures[4].rounds.push(single(xdp, &arp, XDP_TX));
        figures[5].rounds.push(single(xdp, &ns, XDP_TX));
    }

    let mut table = String::new();
    let _ = writeln!(
        table,
        "{:<24} {:<7} {:>9} {:>17} {:>12}",
        "path", "method", "ns/pkt", "spread", "minus empty"
    );
    let mut json = Vec::new();
    for figure in &figures {
        let base = if figure.method == "repeat" {
            figures[0].median()
        } else {
            figures[3].median()
        };
        let (min, max) = figure.spread();
        let _ = writeln!(
            table,
            "{:<24} {:<7} {:>9.1} {:>8.1}..{:<8.1} {:>+12.1}",
            figure.name,
            figure.method,
            figure.median(),
            min,
            max,
            figure.median() - base
        );
        json.push(format!(
            "{{\"path\":\"{}\",\"method\":\"{}\",\"median_ns\":{:.1},\"min_ns\":{min:.1},\"max_ns\":{max:.1},\"minus_empty_ns\":{:.1}}}",
            figure.name,
            figure.method,
            figure.median(),
            figure.median() - base
        ));
    }
    println!(
        "XDP ns/packet, BPF_PROG_TEST_RUN, medians of {ROUNDS} rounds (repeat = {REPEAT} runs per \
         call; single = median of {SINGLE_CALLS} one-run calls)\n{table}"
    );
    let pass_delta = figures[1].median() - figures[0].median();
    println!(
        "targets: pass-through within 10 ns of empty: {} ({pass_delta:+.1} ns); advert {:.1} ns, \
         ARP {:.1} ns, NA {:.1} ns under 100 ns (single-run figures include the kernel's timing \
         overhead, shown by the empty program's {:.1} ns)",
        if pass_delta <= 10.0 { "met" } else { "missed" },
        figures[2].median(),
        figures[4].median() - figures[3].median(),
        figures[5].median() - figures[3].median(),
        figures[3].median(),
    );
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&dir).expect("create target/bench");
    let path = dir.join("xdp.json");
    std::fs::write(&path, format!("[{}]\n", json.join(",\n"))).expect("write JSON");
    println!("written: {}", path.display());
}
