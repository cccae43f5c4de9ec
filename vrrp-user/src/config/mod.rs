//! The daemon's configuration: read from a file, validated once, then handed out as typed values.
//!
//! [`Config::load`] reads the native TOML format (`conf/xvrrpd.toml` documents every key); any
//! other file name is read as keepalived.conf ([`keepalived`]), and [`to_toml`] writes a
//! configuration back as native TOML (`xvrrpd convert`). Everything a user
//! can get wrong is reported as `FILE:LINE: what is wrong`, all problems of a file at once, and
//! nothing in here panics on any input. What can only be checked on the running host (does the
//! interface exist, does it have an address of the instance's family) is left to the daemon.
//!
//! The validated types carry units in their types: the advertisement interval is an
//! [`AdvertInterval`] whose variant is the protocol version (v2 seconds, v3 centiseconds), every
//! other time a [`Duration`].
mod argv;
mod convert;
mod crossref;
mod duration;
mod fields;
mod health;
mod keepalived;
mod native;
mod validate;

#[cfg(test)]
mod tests;

use std::{
    fmt,
    net::{IpAddr, SocketAddr},
    path::{Path, PathBuf},
    time::Duration,
};

use crate::{
    dataplane,
    fsm::{self, AdvertInterval, Version},
    wire::vrrp::ChecksumMode,
};

pub use argv::split_command;
pub use convert::to_toml;
pub use duration::{DurationError, parse_duration};
pub use fields::scope_name;
pub use health::{
    CheckScript, Command, DEFAULT_CHECK_INTERVAL, DEFAULT_RISE_FALL, DEFAULT_TRACK_FILE_WEIGHT,
    MAX_TRACK_FILE_WEIGHT, MAX_WEIGHT, Notify, NotifyScript, ScriptSecurity, ScriptUser, SyncGroup,
    TrackFile, TrackInterface, TrackScript,
};
pub use keepalived::set_config_id;

/// `global.control_socket` when not configured.
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/xvrrpd.sock";
/// `priority` when not configured.
pub const DEFAULT_PRIORITY: u8 = 100;
/// `advert_interval` when not configured (valid for both versions).
pub const DEFAULT_ADVERT_INTERVAL: Duration = Duration::from_secs(1);
/// `garp_repeat` when not configured.
pub const DEFAULT_GARP_REPEAT: u8 = 5;
/// `garp_interval` when not configured: the burst goes out back to back.
pub const DEFAULT_GARP_INTERVAL: Duration = Duration::ZERO;
/// `garp_delay` when not configured.
pub const DEFAULT_GARP_DELAY: Duration = Duration::from_secs(5);
/// The largest `garp_repeat`.
pub const MAX_GARP_REPEAT: u8 = 100;
/// Messages per address in a refresh's burst, as keepalived.
pub const DEFAULT_GARP_REFRESH_REPEAT: u8 = 1;
/// The longest `garp_interval`.
pub const MAX_GARP_INTERVAL: Duration = Duration::from_secs(10);
/// The longest `garp_delay`.
pub const MAX_GARP_DELAY: Duration = Duration::from_secs(3600);
/// The longest `garp_refresh` (a day, as keepalived's longest periodic gratuitous ARP).
pub const MAX_GARP_REFRESH: Duration = Duration::from_secs(86_400);
/// The shortest `garp_refresh` but none.
pub const MIN_GARP_REFRESH: Duration = Duration::from_secs(1);
/// The longest `preempt_delay` (keepalived's limit, enforced by the state machine too).
pub const MAX_PREEMPT_DELAY: Duration = fsm::MAX_PREEMPT_DELAY;
/// The most virtual IPs one instance can have: the advert's Count field is 8 bits.
pub const MAX_VIPS_PER_INSTANCE: usize = 255;
/// The most instances: the size of the data plane's instance map.
pub const MAX_INSTANCES: usize = vrrp_common::maps::MAX_INSTANCES as usize;

/// A validated configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub global: Global,
    /// At least one, in file order; names are unique, and so is (interface, vrid, family).
    pub instances: Vec<InstanceConfig>,
    /// Health checks instances may track (keepalived's `vrrp_script`); names are unique.
    pub scripts: Vec<CheckScript>,
    /// Instances that change state together; an instance is in at most one.
    pub sync_groups: Vec<SyncGroup>,
}

/// The `[global]` table.
#[derive(Clone, Debug, PartialEq)]
pub struct Global {
    /// Names this host in `xvrrpd status`. Default: the host name.
    pub router_id: String,
    /// Where the control socket listens. Default [`DEFAULT_CONTROL_SOCKET`].
    pub control_socket: PathBuf,
    /// `xdp = "auto" | "native" | "skb" | "off"`. Default `auto`.
    pub xdp: dataplane::Request,
    /// Where the Prometheus `/metrics` endpoint listens; none when unset.
    pub metrics_listen: Option<SocketAddr>,
    /// Who scripts run as and whether unsafe ones are refused.
    pub script_security: ScriptSecurity,
    /// A FIFO that receives one line per transition (`INSTANCE "VI_1" MASTER 100`).
    pub notify_fifo: Option<PathBuf>,
}

impl Global {
    /// Every default: the host name as `router_id`, the default control socket, `xdp = auto`.
    pub fn default_for_host() -> Global {
        Global {
            router_id: hostname(),
            control_socket: PathBuf::from(DEFAULT_CONTROL_SOCKET),
            xdp: Default::default(),
            metrics_listen: None,
            script_security: Default::default(),
            notify_fifo: None,
        }
    }
}

/// One `[[instance]]`: a virtual router on one interface, for one address family.
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceConfig {
    /// Unique among the instances.
    pub name: String,
    /// The interface name (its existence is checked when the daemon starts).
    pub interface: String,
    /// 1..=255.
    pub vrid: u8,
    /// 1..=255; 255 = address owner. Default [`DEFAULT_PRIORITY`].
    pub priority: u8,
    /// The advertisement interval; its variant is the protocol version.
    pub interval: AdvertInterval,
    /// Preempt a lower-priority Master. Default true.
    pub preempt: bool,
    /// At most [`MAX_PREEMPT_DELAY`]. Default zero.
    pub preempt_delay: Duration,
    /// 1..=[`MAX_VIPS_PER_INSTANCE`] addresses, all of one family, no duplicates.
    pub virtual_ips: Vec<Vip>,
    /// Empty: multicast. Otherwise adverts go to these only, and only theirs are accepted.
    /// Same family as the VIPs, no duplicates.
    pub unicast_peers: Vec<IpAddr>,
    /// The source address of adverts; default: the interface's primary address.
    pub unicast_source: Option<IpAddr>,
    /// VRRPv2 simple-text authentication data (the password's first 8 bytes, zero-padded).
    pub auth: Option<[u8; 8]>,
    /// Only VRRPv3 over IPv4 may set it; default [`ChecksumMode::PseudoHeader`].
    pub checksum: ChecksumMode,
    /// Debugging: XDP passes valid adverts on to the stack. Default false.
    pub pass_adverts: bool,
    /// Gratuitous ARP / unsolicited NA on becoming Master.
    pub garp: Garp,
    /// Added to the interface while Master but not advertised (keepalived's
    /// `virtual_ipaddress_excluded`); any family, no duplicates with `virtual_ips`.
    pub excluded_ips: Vec<Vip>,
    /// Answer ARP / NS for the VIPs, and send adverts and gratuitous ARP, from the VRRP virtual
    /// MAC (00:00:5e:00:01:VRID, IPv6 00:00:5e:00:02:VRID) instead of the interface's.
    pub use_vmac: bool,
    /// Health checks this instance follows.
    pub track_scripts: Vec<TrackScript>,
    /// Interfaces whose link state this instance follows (besides its own).
    pub track_interfaces: Vec<TrackInterface>,
    /// Files whose value adjusts this instance's priority.
    pub track_files: Vec<TrackFile>,
    /// Scripts told about this instance's transitions.
    pub notify: Notify,
    /// The line of the instance in its file, for messages about it later on.
    pub line: usize,
}

/// A virtual IP address with the prefix length it is added with.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Vip {
    pub address: IpAddr,
    /// Default 32 (IPv4) or 128 (IPv6).
    pub prefix_len: u8,
    /// Added to this interface instead of the instance's (keepalived's `dev IF`).
    pub device: Option<String>,
    /// The address label (IPv4 only, keepalived's `label L`, e.g. `eth0:1`).
    pub label: Option<String>,
    /// The address scope as the kernel numbers it (`scope S`: global 0, site 200, link 253,
    /// host 254). Default global.
    pub scope: Option<u8>,
    /// The broadcast address (IPv4 only, `brd IP`).
    pub broadcast: Option<std::net::Ipv4Addr>,
}

impl Vip {
    /// A VIP with nothing but its address and prefix length.
    pub const fn plain(address: IpAddr, prefix_len: u8) -> Vip {
        Vip {
            address,
            prefix_len,
            device: None,
            label: None,
            scope: None,
            broadcast: None,
        }
    }
}

impl fmt::Display for Vip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

/// An instance's address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub const fn of(address: IpAddr) -> Family {
        match address {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// The data plane's code for it ([`vrrp_common::FAMILY_V4`] or [`vrrp_common::FAMILY_V6`]).
    pub const fn code(self) -> u8 {
        match self {
            Family::V4 => vrrp_common::FAMILY_V4,
            Family::V6 => vrrp_common::FAMILY_V6,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        })
    }
}

/// The gratuitous ARP / unsolicited NA bursts sent on becoming Master.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Garp {
    /// Messages per address in a burst, 0..=[`MAX_GARP_REPEAT`]; 0 sends none.
    pub repeat: u8,
    /// Between two messages of a burst, at most [`MAX_GARP_INTERVAL`].
    pub interval: Duration,
    /// When the second burst follows the first, at most [`MAX_GARP_DELAY`]; zero
    /// (`garp_delay = "0s"`): no second burst.
    pub delay: Duration,
    /// While Master, a burst this often (keepalived's `garp_master_refresh`); zero: never.
    pub refresh: Duration,
    /// Messages per address in a refresh's burst, 1..=[`MAX_GARP_REPEAT`] (keepalived's
    /// `garp_master_refresh_repeat`).
    pub refresh_repeat: u8,
}

impl Default for Garp {
    fn default() -> Self {
        Garp {
            repeat: DEFAULT_GARP_REPEAT,
            interval: DEFAULT_GARP_INTERVAL,
            delay: DEFAULT_GARP_DELAY,
            refresh: Duration::ZERO,
            refresh_repeat: DEFAULT_GARP_REFRESH_REPEAT,
        }
    }
}

impl InstanceConfig {
    /// Every address the instance adds as Master: the advertised VIPs, then the excluded ones.
    pub fn addresses(&self) -> Vec<Vip> {
        self.virtual_ips
            .iter()
            .chain(&self.excluded_ips)
            .cloned()
            .collect()
    }

    /// The address family of the VIPs (and of the peers, and of the adverts).
    pub fn family(&self) -> Family {
        // Validation guarantees at least one VIP.
        self.virtual_ips
            .first()
            .map_or(Family::V4, |vip| Family::of(vip.address))
    }

    /// The protocol version, given by the interval's unit.
    pub const fn version(&self) -> Version {
        self.interval.version()
    }

    /// Whether adverts go to [`InstanceConfig::unicast_peers`] instead of the multicast group.
    pub fn is_unicast(&self) -> bool {
        !self.unicast_peers.is_empty()
    }

    /// The state machine's configuration. `primary_address` is the instance's own address on
    /// its interface (of the instance's family), compared with a Master's on equal priority:
    /// [`InstanceConfig::unicast_source`] when set, else the interface's primary address.
    pub fn fsm_config(&self, primary_address: IpAddr) -> fsm::Config {
        fsm::Config {
            vrid: self.vrid,
            priority: self.priority,
            advert_interval: self.interval,
            preempt: self.preempt,
            preempt_delay: self.preempt_delay,
            primary_address,
        }
    }
}

/// One problem in a configuration file: `FILE:LINE: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file as the user named it.
    pub file: String,
    /// 1-based.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// Something accepted but probably not what was meant (e.g. a password longer than 8 bytes).
pub type Warning = Diagnostic;

/// A configuration that loaded, with what the user should be told about it.
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded {
    pub config: Config,
    /// In file order; log each of them.
    pub warnings: Vec<Warning>,
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read: `PATH: error`.
    #[error("{}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// Every problem found, in line order, one `FILE:LINE: message` per line. Never empty.
    #[error("{}", DisplayLines(.0))]
    Invalid(Vec<Diagnostic>),
}

impl ConfigError {
    /// The problems with their lines (empty unless [`ConfigError::Invalid`]).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ConfigError::Invalid(diagnostics) => diagnostics,
            _ => &[],
        }
    }
}

struct DisplayLines<'a>(&'a [Diagnostic]);

impl fmt::Display for DisplayLines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, diagnostic) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}

/// What checking a configuration file found: every warning, and the configuration or why it
/// was refused.
#[derive(Debug)]
pub struct Checked {
    /// In file order (across included files, in reading order); log or print each of them.
    pub warnings: Vec<Warning>,
    pub result: Result<Config, ConfigError>,
}

impl Config {
    /// Reads and validates a configuration file. A name ending in `.toml` is the native format;
    /// anything else is read as keepalived.conf (with the files it includes). Messages name the
    /// file as `path` is written.
    pub fn load(path: impl AsRef<Path>) -> Result<Loaded, ConfigError> {
        let checked = Config::check(path);
        checked.result.map(|config| Loaded {
            config,
            warnings: checked.warnings,
        })
    }

    /// Like [`Config::load`], with the warnings also when the file is refused (`xvrrpd check`
    /// prints them all).
    pub fn check(path: impl AsRef<Path>) -> Checked {
        let path = path.as_ref();
        if path.extension().is_none_or(|ext| ext != "toml") {
            let outcome = keepalived::read(path);
            return Checked {
                warnings: outcome.warnings,
                result: outcome.result,
            };
        }
        let result = Config::load_toml(path);
        match result {
            Ok(loaded) => Checked {
                warnings: loaded.warnings,
                result: Ok(loaded.config),
            },
            Err(err) => Checked {
                warnings: Vec::new(),
                result: Err(err),
            },
        }
    }

    fn load_toml(path: &Path) -> Result<Loaded, ConfigError> {
        let bytes = std::fs::read(path).map_err(|error| ConfigError::Read {
            path: path.to_owned(),
            error,
        })?;
        let file = path.display().to_string();
        match String::from_utf8(bytes) {
            Ok(text) => Config::from_toml_str(&text, &file),
            Err(err) => {
                let valid = &err.as_bytes()[..err.utf8_error().valid_up_to()];
                Err(ConfigError::Invalid(vec![Diagnostic {
                    line: valid.iter().filter(|&&b| b == b'\n').count() + 1,
                    file,
                    message: "the file is not valid UTF-8".to_owned(),
                }]))
            }
        }
    }

    /// Validates the text of a native TOML configuration; `file` names it in messages.
    pub fn from_toml_str(text: &str, file: &str) -> Result<Loaded, ConfigError> {
        native::parse(text, file).map_err(ConfigError::Invalid)
    }

    /// Reads the text of a keepalived.conf; `file` names it in messages. It opens no file: an
    /// `include` is refused with an error (use [`Config::check`] for a file on disk).
    pub fn from_keepalived_str(text: &str, file: &str) -> Checked {
        let outcome = keepalived::read_text(text, file);
        Checked {
            warnings: outcome.warnings,
            result: outcome.result,
        }
    }
}

/// The default `router_id`: the kernel's host name, or `"localhost"` if it has none.
pub fn hostname() -> String {
    if let Ok(name) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        let name = name.trim();
        if !name.is_empty() {
            return name.to_owned();
        }
    }
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for `buf.len()` bytes; gethostname writes at most that many.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc == 0 {
        let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        let name = String::from_utf8_lossy(&buf[..len]).trim().to_owned();
        if !name.is_empty() {
            return name;
        }
    }
    "localhost".to_owned()
}
