//! `xvrrpd`: the command line.
use std::{io::IsTerminal, path::PathBuf, process::ExitCode};

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use vrrp_user::{
    config::{self, Config, ConfigError},
    control::{self, Request, Status},
    daemon,
    dataplane::{self, XdpDataplane},
};

/// The control socket when neither the config nor `--socket` names one.
const DEFAULT_SOCKET: &str = "/run/xvrrpd.sock";

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
    /// Run the daemon in the foreground (systemd style) with the configuration FILE: a name
    /// ending in .toml is the native format, anything else is read as keepalived.conf.
    Run {
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        /// Log lines as text or as JSON objects. Filter with RUST_LOG (default: info).
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
        /// The control socket, instead of the configuration's `control_socket` (keepalived.conf
        /// has no such setting; default /run/xvrrpd.sock).
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
        /// keepalived.conf's config id, which `@ID` lines are kept for (keepalived's -i);
        /// default: the host name up to its first dot.
        #[arg(long, value_name = "ID")]
        config_id: Option<String>,
    },
    /// Validate FILE (native .toml, or keepalived.conf with what it includes): print every
    /// warning as `FILE:LINE: warning: ...`, then OK and exit 0, or every error as
    /// `FILE:LINE: error: ...` and exit 1. A valid file's scripts are then looked at on this
    /// host: a missing or non-executable program, an unknown user or group, or an unsafe
    /// script is a `FILE: warning: ...`.
    Check {
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        /// keepalived.conf's config id, which `@ID` lines are kept for (keepalived's -i);
        /// default: the host name up to its first dot.
        #[arg(long, value_name = "ID")]
        config_id: Option<String>,
        /// Check the file alone, not its scripts on this host (validating on another machine).
        #[arg(long)]
        file_only: bool,
    },
    /// Print FILE (typically a keepalived.conf) as the equivalent native TOML configuration on
    /// stdout; warnings and errors go to stderr as with `check`.
    Convert {
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        /// keepalived.conf's config id, which `@ID` lines are kept for (keepalived's -i);
        /// default: the host name up to its first dot.
        #[arg(long, value_name = "ID")]
        config_id: Option<String>,
    },
    /// Ask the running daemon for its state.
    Status {
        /// The daemon's control socket.
        #[arg(long, value_name = "PATH", default_value = DEFAULT_SOCKET)]
        socket: PathBuf,
        /// Print the full structure as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Have the running daemon re-read its configuration file. Instances that did not change
    /// are not disturbed; an invalid file changes nothing, and its errors are printed.
    Reload {
        /// The daemon's control socket.
        #[arg(long, value_name = "PATH", default_value = DEFAULT_SOCKET)]
        socket: PathBuf,
    },
    /// Load the embedded XDP program into the kernel without attaching it, and report whether
    /// this host can run the XDP data plane (needs root or CAP_BPF).
    CheckXdp,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Run { config_id, .. }
    | Command::Check { config_id, .. }
    | Command::Convert { config_id, .. } = &cli.command
        && let Some(id) = config_id
    {
        vrrp_user::config::set_config_id(id.clone());
    }
    let result = match cli.command {
        Command::Run {
            config,
            log_format,
            socket,
            ..
        } => run(config, log_format, socket),
        Command::Check {
            config, file_only, ..
        } => check(config, file_only),
        Command::Convert { config, .. } => convert(config),
        Command::Status { socket, json } => status(socket, json),
        Command::Reload { socket } => reload(socket),
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

fn init_logging(format: LogFormat) {
    // The netlink parser warns about every attribute newer than itself: not the user's concern.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
        .add_directive(
            "netlink_packet_route=error"
                .parse()
                .expect("a valid directive"),
        );
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn run(path: PathBuf, log_format: LogFormat, socket: Option<PathBuf>) -> anyhow::Result<()> {
    init_logging(log_format);
    let loaded = Config::load(&path)?;
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    // One thread: the work per event is small, and a backup mostly sleeps.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(daemon::run(loaded.config, path, socket))
}

/// Reads FILE for `check` and `convert`: prints every warning, then every error.
fn checked(path: &PathBuf) -> anyhow::Result<Config> {
    let checked = Config::check(path);
    for warning in &checked.warnings {
        eprintln!(
            "{}:{}: warning: {}",
            warning.file, warning.line, warning.message
        );
    }
    match checked.result {
        Ok(config) => Ok(config),
        Err(ConfigError::Invalid(errors)) => {
            for error in &errors {
                eprintln!("{}:{}: error: {}", error.file, error.line, error.message);
            }
            anyhow::bail!(
                "{}: {} error{}",
                path.display(),
                errors.len(),
                if errors.len() == 1 { "" } else { "s" }
            )
        }
        Err(err) => Err(err.into()),
    }
}

fn check(path: PathBuf, file_only: bool) -> anyhow::Result<()> {
    let config = checked(&path)?;
    let host_problems = match file_only {
        true => Vec::new(),
        false => vrrp_user::track::preflight::script_problems(&config),
    };
    for problem in host_problems {
        eprintln!("{}: warning: {problem}", path.display());
    }
    println!(
        "{}: OK ({} instance{})",
        path.display(),
        config.instances.len(),
        if config.instances.len() == 1 { "" } else { "s" }
    );
    Ok(())
}

fn convert(path: PathBuf) -> anyhow::Result<()> {
    let config = checked(&path)?;
    println!(
        "# xvrrpd configuration converted from {} by `xvrrpd convert`.\n\
         # Every key is documented in xvrrpd.toml (the example shipped with xvrrpd).\n",
        path.display()
    );
    print!("{}", config::to_toml(&config));
    Ok(())
}

fn status(socket: PathBuf, json: bool) -> anyhow::Result<()> {
    let value = control::request(&socket, &Request::Status)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    let status: Status = serde_json::from_value(value)?;
    print!("{}", control::render_table(&status));
    Ok(())
}

fn reload(socket: PathBuf) -> anyhow::Result<()> {
    let value = control::request(&socket, &Request::Reload).context("reload failed")?;
    println!(
        "reloaded: {}",
        value["reloaded"].as_str().unwrap_or("(no summary)")
    );
    Ok(())
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
