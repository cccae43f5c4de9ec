//! Developer tasks. Every task runs `setup` first, so a fresh machine needs no manual step.
mod bench;
mod fuzz;
mod setup;
mod shell;
mod test;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "xvrrpd developer tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Install what building and testing need (idempotent: seconds when all is there).
    Setup,
    /// fmt check, clippy with warnings denied, unit tests and root-only tests.
    Test,
    /// Two routers and a client in network namespaces: election, a link cut, the outage the
    /// client saw, failback; everything removed afterwards (root).
    Demo,
    /// Run xvrrpd with ARGS, e.g. `cargo xtask run -- check -c FILE` (root for `run`).
    Run {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Benchmarks (root): figures next to a baseline measured in the same run.
    Bench {
        /// One benchmark (xdp, memory, cpu, arp-flood, starvation, graceful, failover); all
        /// when omitted.
        which: Option<String>,
        /// A few repeats per figure instead of the full counts (for development).
        #[arg(long)]
        quick: bool,
    },
    /// Fuzz the decoders (cargo-fuzz, nightly): each target for SECONDS from its seeds in
    /// fuzz/corpus; fails if any input crashes. Installs cargo-fuzz first if missing.
    Fuzz {
        /// One target (`cargo +nightly fuzz list` names them); all when omitted.
        target: Option<String>,
        /// How long each target runs.
        #[arg(long, default_value_t = fuzz::DEFAULT_SECONDS)]
        seconds: u64,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    setup::run_setup()?;
    match cli.task {
        Task::Setup => Ok(()),
        Task::Test => test::run_all(),
        Task::Bench { which, quick } => bench::run_bench(which.as_deref(), quick),
        Task::Fuzz { target, seconds } => fuzz::run_fuzz(target.as_deref(), seconds),
        Task::Demo => {
            shell::run(shell::command("cargo").args(["build", "--quiet", "--bin", "xvrrpd"]))?;
            shell::run(shell::command("cargo").args([
                "run",
                "--quiet",
                "--package",
                "tests",
                "--bin",
                "demo",
            ]))
        }
        Task::Run { args } => run_xvrrpd(&args),
    }
}

/// Builds xvrrpd and runs it with `args`, through sudo when not root (the daemon needs
/// CAP_BPF, CAP_NET_ADMIN and CAP_NET_RAW).
fn run_xvrrpd(args: &[String]) -> anyhow::Result<()> {
    shell::run(shell::command("cargo").args(["build", "--quiet", "--bin", "xvrrpd"]))?;
    let binary = format!("{}/target/debug/xvrrpd", shell::workspace_root());
    let mut command = if setup::is_root() {
        shell::command(&binary)
    } else {
        let mut sudo = shell::command("sudo");
        sudo.arg(&binary);
        sudo
    };
    shell::run(command.args(args))
}
