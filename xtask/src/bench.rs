//! `cargo xtask bench [xdp]`: benchmarks that report figures (never pass/fail timing tests),
//! each compared with a baseline measured in the same run.
use crate::shell::{command, run};

/// The benchmarks `cargo xtask bench` knows.
pub const BENCHES: &[&str] = &["xdp"];

pub fn run_bench(which: Option<&str>) -> anyhow::Result<()> {
    let selected: Vec<&str> = match which {
        None => BENCHES.to_vec(),
        Some(name) if BENCHES.contains(&name) => vec![name],
        Some(name) => anyhow::bail!("no benchmark named {name:?}; known: {}", BENCHES.join(", ")),
    };
    for bench in selected {
        match bench {
            // Needs root (BPF_PROG_TEST_RUN); built in release so the harness adds little.
            "xdp" => run(command("cargo").args([
                "run",
                "--release",
                "--quiet",
                "--package",
                "tests",
                "--bin",
                "xdp_bench",
            ]))?,
            _ => unreachable!("listed in BENCHES"),
        }
    }
    Ok(())
}
