//! `xvrrpd`: the command line.
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vrrp_user::dataplane::{self, XdpDataplane};

#[derive(Parser)]
#[command(
    name = "xvrrpd",
    version,
    about = "VRRP daemon with its hot path in XDP"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load the embedded XDP program into the kernel without attaching it, and report whether
    /// this host can run the XDP data plane (needs root or CAP_BPF).
    CheckXdp,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::CheckXdp => check_xdp(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xvrrpd: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn check_xdp() -> anyhow::Result<()> {
    let dataplane = XdpDataplane::load()?;
    let counters = dataplane.counters()?;
    println!(
        "XDP program verified by the kernel ({} bytes, {} counters readable)",
        dataplane::XDP_OBJECT.len(),
        counters.0.len()
    );
    Ok(())
}
