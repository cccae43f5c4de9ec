//! Developer tasks. Every task runs `setup` first, so a fresh machine needs no manual step.
mod setup;
mod shell;
mod test;

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
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    setup::run_setup()?;
    match cli.task {
        Task::Setup => Ok(()),
        Task::Test => test::run_all(),
    }
}
