//! `cargo xtask test`: the README's test command and what CI runs.
use crate::shell::{command, run};

pub fn run_all() -> anyhow::Result<()> {
    run(command("cargo").args(["fmt", "--all", "--", "--check"]))?;
    // fuzz/ is a workspace of its own (built by `cargo xtask fuzz`), out of reach of `--all`.
    run(command("cargo").args(["fmt", "--manifest-path", "fuzz/Cargo.toml", "--", "--check"]))?;
    run(command("cargo").args([
        "clippy",
        "--workspace",
        "--exclude",
        "vrrp-ebpf",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    // The XDP program only builds for the BPF target, with nightly's build-std.
    run(command("cargo").args([
        "+nightly",
        "clippy",
        "--package",
        "vrrp-ebpf",
        "--target",
        "bpfel-unknown-none",
        "-Z",
        "build-std=core",
        "--release",
        "--",
        "-D",
        "warnings",
    ]))?;
    // Unit tests, then the root-only tests of the `tests` crate (they fail loudly without root).
    run(command("cargo").args(["test", "--workspace", "--exclude", "vrrp-ebpf"]))
}
