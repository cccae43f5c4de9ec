//! Developer tasks. Every task runs `setup` first, so a fresh machine needs no manual step.
mod bench;
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
    /// Benchmarks (root): figures next to a baseline measured in the same run.
    Bench {
        /// One benchmark (`xdp`); all when omitted.
        which: Option<String>,
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
        Task::Bench { which } => bench::run_bench(which.as_deref()),
    }
}
