//! Running commands with their command line echoed, and failing with it when they fail.
use std::process::Command;

use anyhow::{Context as _, bail};

/// A command started from the workspace root with the rustup proxies, not the toolchain that
/// happens to run xtask: `cargo +nightly` must mean nightly.
pub fn command(program: &str) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(workspace_root());
    for var in ["RUSTUP_TOOLCHAIN", "RUSTC", "CARGO"] {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs `cmd` with inherited output; an error names the command and its exit status.
pub fn run(cmd: &mut Command) -> anyhow::Result<()> {
    eprintln!("xtask: {}", display(cmd));
    let status = cmd
        .status()
        .with_context(|| format!("starting {}", display(cmd)))?;
    if !status.success() {
        bail!("{} failed: {status}", display(cmd));
    }
    Ok(())
}

/// Runs `cmd` and returns its standard output, or `None` if it could not run or failed.
pub fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn workspace_root() -> String {
    // xtask lives one level below the workspace root. `cargo run` names the checkout it runs
    // in; the path compiled in can be another checkout's, when two share a target directory
    // and cargo found this binary fresh (the benchmarks then ran the other checkout's code).
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    format!("{manifest_dir}/..")
}

fn display(cmd: &Command) -> String {
    let mut line = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}
