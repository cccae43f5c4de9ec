//! `cargo xtask bench [NAME] [--quick]`: xvrrpd and keepalived side by side in network
//! namespaces; one table on stdout, JSON and SVG under target/bench/. Root only.
//!
//! `--quick` (or XVRRPD_BENCH_QUICK=1) takes a few repeats per figure, for development; the
//! report says so. A benchmark that fails is reported as such and the others still run.
use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    path::Path,
    sync::atomic::Ordering,
    time::Instant,
};

use tests::bench::{STOP, Settings, arp_flood, cpu, failover, report::Report, starvation, xdp};

type Bench = fn(Settings, &mut Report);

/// Every benchmark, in the order `cargo xtask bench` runs them.
const BENCHES: &[(&str, Bench)] = &[
    ("xdp", xdp::xdp),
    ("memory", cpu::memory),
    ("cpu", cpu::cpu),
    ("arp-flood", arp_flood::arp_flood),
    ("starvation", starvation::starvation),
    ("graceful", failover::graceful),
    ("failover", failover::failover),
];

fn main() {
    tests::require_root();
    let mut quick = std::env::var_os("XVRRPD_BENCH_QUICK").is_some_and(|v| v != "0");
    let mut names = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--quick" => quick = true,
            "all" => {}
            name if BENCHES.iter().any(|(known, _)| *known == name) => names.push(arg),
            other => {
                eprintln!(
                    "bench: unknown benchmark {other:?}; known: {}",
                    BENCHES
                        .iter()
                        .map(|(name, _)| *name)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                std::process::exit(2);
            }
        }
    }
    // Ctrl-C reaches the daemons too (same process group); the loops see STOP and unwind,
    // and every lab removes its namespaces.
    ctrlc::set_handler(|| STOP.store(true, Ordering::SeqCst)).expect("Ctrl-C handler");
    println!("xvrrpd binary: {}", tests::lab::xvrrpd_binary().display());

    let settings = Settings { quick };
    let mut report = Report::new(quick);
    let started = Instant::now();
    for (name, bench) in BENCHES {
        if !names.is_empty() && !names.iter().any(|wanted| wanted == name) {
            continue;
        }
        let begun = Instant::now();
        eprintln!("bench: {name}…");
        let outcome = catch_unwind(AssertUnwindSafe(|| bench(settings, &mut report)));
        let took = begun.elapsed().as_secs();
        match outcome {
            Ok(()) => eprintln!("bench: {name} done in {took}s"),
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panicked".into());
                eprintln!("bench: {name} FAILED after {took}s: {message}");
                report.note(format!(
                    "{name}: FAILED: {}",
                    message.lines().next().unwrap_or("")
                ));
            }
        }
        if STOP.load(Ordering::SeqCst) {
            break;
        }
    }
    report.note(format!("whole run: {} s", started.elapsed().as_secs()));
    println!("\n{}", report.table());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .join("target/bench");
    let stem = if names.is_empty() {
        "report".to_string()
    } else {
        format!("report-{}", names.join("+"))
    };
    for path in report.write(&dir, &stem) {
        println!("written: {}", path.display());
    }
    let failed = report.notes.iter().any(|note| note.contains(": FAILED: "));
    if failed || STOP.load(Ordering::SeqCst) {
        std::process::exit(1);
    }
}
