//! `cargo xtask bench [NAME] [--quick]`: benchmarks that report figures (never pass/fail timing
//! tests), xvrrpd next to keepalived or another baseline measured in the same run. Everything
//! is built in release; the `bench` binary prints one table and writes target/bench/.
use crate::shell::{command, run};

/// The benchmarks `cargo xtask bench` knows (the `bench` binary's names).
pub const BENCHES: &[&str] = &[
    "xdp",
    "memory",
    "cpu",
    "arp-flood",
    "starvation",
    "graceful",
    "failover",
];

pub fn run_bench(which: Option<&str>, quick: bool) -> anyhow::Result<()> {
    if let Some(name) = which
        && !BENCHES.contains(&name)
    {
        anyhow::bail!("no benchmark named {name:?}; known: {}", BENCHES.join(", "));
    }
    // The daemon under test, built in release like the harness.
    run(command("cargo").args(["build", "--release", "--quiet", "--bin", "xvrrpd"]))?;
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| format!("{}/target", crate::shell::workspace_root()));
    let mut bench = command("cargo");
    bench
        .args([
            "run",
            "--release",
            "--quiet",
            "--package",
            "tests",
            "--bin",
            "bench",
            "--",
        ])
        .args(which)
        .env("XVRRPD_BIN", format!("{target}/release/xvrrpd"));
    if quick {
        bench.arg("--quick");
    }
    run(&mut bench)
}
