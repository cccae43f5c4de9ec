//! From the raw, spanned file to a [`Config`]: every rule, every message.
//!
//! Each problem is recorded with the line of the value at fault and checking goes on, so that
//! one run reports all of them. A value found invalid is not used by the checks that combine it
//! with others (a bad `version` does not also make `auth_pass` wrong).
use std::{collections::HashMap, net::IpAddr, ops::Range, path::PathBuf};

use toml::Spanned;

use super::{
    Config, DEFAULT_CONTROL_SOCKET, DEFAULT_PRIORITY, Diagnostic, Family, Garp, Global,
    InstanceConfig, Loaded, MAX_GARP_DELAY, MAX_GARP_INTERVAL, MAX_GARP_REPEAT, MAX_INSTANCES,
    MAX_PREEMPT_DELAY, MAX_VIPS_PER_INSTANCE, Vip, fields, hostname,
    native::{Raw, RawFile, RawGlobal, RawInstance},
};
use crate::{
    fsm::Version,
    wire::vrrp::{AUTH_DATA_LEN, simple_auth_data},
};

/// A problem was found and recorded; the value is not to be used.
pub(super) struct Reported;

/// The longest unix socket path (`sun_path` holds 108 bytes with the terminating NUL).
const MAX_SOCKET_PATH: usize = 107;

const CHECKSUM_NOT_V2: &str =
    "checksum only applies to version = 3 (VRRPv2 checksums the VRRP message alone)";
const CHECKSUM_NOT_V6: &str =
    "checksum only applies to IPv4 (VRRPv3 over IPv6 always includes the pseudo-header)";

/// Collects the problems of one file.
pub(super) struct Checker<'a> {
    file: &'a str,
    text: &'a str,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

/// What the cross-instance checks need besides the instance itself.
struct Checked {
    instance: InstanceConfig,
    name_span: Range<usize>,
    vrid_span: Range<usize>,
}

impl<'a> Checker<'a> {
    pub fn new(file: &'a str, text: &'a str) -> Self {
        Checker {
            file,
            text,
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// The 1-based line of a span's start.
    fn line(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn diagnostic(&self, span: &Range<usize>, message: String) -> Diagnostic {
        Diagnostic {
            file: self.file.to_owned(),
            line: self.line(span),
            message,
        }
    }

    pub fn error(&mut self, span: &Range<usize>, message: String) {
        let diagnostic = self.diagnostic(span, message);
        self.errors.push(diagnostic);
    }

    fn warn(&mut self, span: &Range<usize>, message: String) {
        let diagnostic = self.diagnostic(span, message);
        self.warnings.push(diagnostic);
    }

    /// The errors, in line order.
    pub fn into_errors(mut self) -> Vec<Diagnostic> {
        self.errors.sort_by_key(|d| d.line);
        self.errors
    }

    /// Validates the whole file.
    pub fn file(mut self, raw: &RawFile) -> Result<Loaded, Vec<Diagnostic>> {
        let global = self.global(raw.global.as_ref().map(|g| &g.get_ref().0));
        let raw_instances = raw.instance.as_ref().map_or(&[][..], |i| &i.get_ref().0);
        if raw_instances.is_empty() {
            let span = raw.instance.as_ref().map_or(0..0, Spanned::span);
            self.error(
                &span,
                "no [[instance]] is defined; at least one is needed".to_owned(),
            );
        }
        if let Some(extra) = raw_instances.get(MAX_INSTANCES) {
            self.error(
                &extra.span(),
                format!("too many instances: at most {MAX_INSTANCES} are supported"),
            );
        }
        let checked: Vec<Option<Checked>> =
            raw_instances.iter().map(|raw| self.instance(raw)).collect();
        self.unique(&checked);
        match global {
            Ok(global) if self.errors.is_empty() => {
                self.warnings.sort_by_key(|d| d.line);
                Ok(Loaded {
                    config: Config {
                        global,
                        instances: checked.into_iter().flatten().map(|c| c.instance).collect(),
                        scripts: Vec::new(),
                        sync_groups: Vec::new(),
                    },
                    warnings: self.warnings,
                })
            }
            _ => Err(self.into_errors()),
        }
    }

    /// A present value, converted; `Ok(None)` when absent.
    fn value<'f, T>(
        &mut self,
        field: &'f Option<Spanned<Raw>>,
        convert: impl FnOnce(&'f Raw) -> Result<T, String>,
    ) -> Result<Option<T>, Reported> {
        let Some(field) = field else {
            return Ok(None);
        };
        convert(field.get_ref()).map(Some).map_err(|message| {
            self.error(&field.span(), message);
            Reported
        })
    }

    /// A value an `[[instance]]` (spanning `table`) must have.
    fn required<'f, T>(
        &mut self,
        field: &'f Option<Spanned<Raw>>,
        key: &str,
        table: &Range<usize>,
        convert: impl FnOnce(&'f Raw) -> Result<T, String>,
    ) -> Result<T, Reported> {
        match self.value(field, convert)? {
            Some(value) => Ok(value),
            None => {
                self.error(table, format!("missing key {key:?} in [[instance]]"));
                Err(Reported)
            }
        }
    }

    fn global(&mut self, raw: Option<&RawGlobal>) -> Result<Global, Reported> {
        let Some(raw) = raw else {
            return Ok(Global {
                router_id: hostname(),
                control_socket: PathBuf::from(DEFAULT_CONTROL_SOCKET),
                xdp: Default::default(),
                metrics_listen: None,
                script_security: Default::default(),
                notify_fifo: None,
            });
        };
        let router_id = self.value(&raw.router_id, |v| fields::string(v, "router_id"));
        let control_socket = self.value(&raw.control_socket, |v| {
            let path = fields::string(v, "control_socket")?;
            if path.len() > MAX_SOCKET_PATH || path.contains('\0') {
                return Err(format!(
                    "control_socket {path:?} is not a valid unix socket path (at most \
                     {MAX_SOCKET_PATH} bytes)"
                ));
            }
            Ok(path)
        });
        let xdp = self.value(&raw.xdp, fields::xdp);
        Ok(Global {
            router_id: router_id?.unwrap_or_else(hostname),
            control_socket: PathBuf::from(
                control_socket?.unwrap_or_else(|| DEFAULT_CONTROL_SOCKET.to_owned()),
            ),
            xdp: xdp?.unwrap_or_default(),
            metrics_listen: None,
            script_security: Default::default(),
            notify_fifo: None,
        })
    }

    fn instance(&mut self, raw: &Spanned<RawInstance>) -> Option<Checked> {
        let header = raw.span();
        let r = raw.get_ref();
        let name = self.required(&r.name, "name", &header, fields::name);
        let interface = self.required(&r.interface, "interface", &header, fields::interface);
        let vrid = self.required(&r.vrid, "vrid", &header, |v| {
            fields::integer(v, "vrid", 1, 255)
        });
        let priority = self
            .value(&r.priority, |v| fields::integer(v, "priority", 1, 255))
            .map(|p| p.unwrap_or(DEFAULT_PRIORITY.into()));
        let version = self
            .value(&r.version, fields::version)
            .map(|v| v.unwrap_or(Version::V3));
        let interval = match version {
            Ok(version) => self
                .value(&r.advert_interval, |v| fields::interval(v, version))
                .map(|i| i.unwrap_or_else(|| fields::default_interval(version))),
            Err(Reported) => {
                // Still check what can be checked without the version.
                let _ = self.value(&r.advert_interval, |v| {
                    fields::duration(v, "advert_interval")
                });
                Err(Reported)
            }
        };
        let version = version.ok();
        let vips = self.vips(&r.virtual_ips, &header, version);
        let family = vips.as_ref().ok().map(|(_, family)| *family);
        let peers = self.peers(&r.unicast_peers, family);
        let source = self.value(&r.unicast_source, |v| {
            let address = fields::address(v, "unicast_source")?;
            same_family("unicast_source", address, family)?;
            Ok(address)
        });
        let auth = self.auth(&r.auth_pass, version);
        let checksum = self.value(&r.checksum, |v| {
            let mode = fields::checksum(v)?;
            match (version, family) {
                (Some(Version::V2), _) => Err(CHECKSUM_NOT_V2.to_owned()),
                (_, Some(Family::V6)) => Err(CHECKSUM_NOT_V6.to_owned()),
                _ => Ok(mode),
            }
        });
        let preempt = self.value(&r.preempt, |v| fields::boolean(v, "preempt"));
        let preempt_delay = self.value(&r.preempt_delay, |v| {
            fields::duration_at_most(v, "preempt_delay", MAX_PREEMPT_DELAY, "1000s")
        });
        let pass_adverts = self.value(&r.pass_adverts, |v| fields::boolean(v, "pass_adverts"));
        let use_vmac = self.value(&r.use_vmac, |v| fields::boolean(v, "use_vmac"));
        let garp = self.garp(r);

        let name_span = r.name.as_ref().map_or(header.clone(), Spanned::span);
        let vrid_span = r.vrid.as_ref().map_or(header.clone(), Spanned::span);
        let line = self.line(&header);
        let (virtual_ips, _) = vips.ok()?;
        Some(Checked {
            instance: InstanceConfig {
                name: name.ok()?,
                interface: interface.ok()?,
                vrid: u8::try_from(vrid.ok()?).ok()?,
                priority: u8::try_from(priority.ok()?).ok()?,
                interval: interval.ok()?,
                preempt: preempt.ok()?.unwrap_or(true),
                preempt_delay: preempt_delay.ok()?.unwrap_or_default(),
                virtual_ips,
                unicast_peers: peers.ok()?,
                unicast_source: source.ok()?,
                auth: auth.ok()?,
                checksum: checksum.ok()?.unwrap_or_default(),
                pass_adverts: pass_adverts.ok()?.unwrap_or(false),
                garp: garp.ok()?,
                excluded_ips: Vec::new(),
                use_vmac: use_vmac.ok()?.unwrap_or(false),
                track_scripts: Vec::new(),
                track_interfaces: Vec::new(),
                track_files: Vec::new(),
                notify: Default::default(),
                line,
            },
            name_span,
            vrid_span,
        })
    }

    /// `virtual_ips`: their family is the instance's.
    fn vips(
        &mut self,
        field: &Option<Spanned<Raw>>,
        header: &Range<usize>,
        version: Option<Version>,
    ) -> Result<(Vec<Vip>, Family), Reported> {
        let entries = self.required(field, "virtual_ips", header, |v| match v {
            Raw::List(entries) if entries.is_empty() => {
                Err("virtual_ips must not be empty".to_owned())
            }
            Raw::List(entries) if entries.len() > MAX_VIPS_PER_INSTANCE => Err(format!(
                "virtual_ips has {} addresses; VRRP carries at most {MAX_VIPS_PER_INSTANCE}",
                entries.len()
            )),
            Raw::List(entries) => Ok(entries),
            other => Err(format!(
                "virtual_ips must be a list of addresses such as [\"192.0.2.100/24\"], got {}",
                other.describe()
            )),
        })?;
        let mut vips: Vec<Vip> = Vec::with_capacity(entries.len());
        let mut failed = false;
        for entry in entries {
            let result = fields::vip(entry.get_ref()).and_then(|vip| {
                match vips.first() {
                    Some(first) if Family::of(first.address) != Family::of(vip.address) => {
                        return Err(format!(
                            "virtual IP {} is {}, but the first one is {}; use one instance per \
                             address family",
                            vip.address,
                            Family::of(vip.address),
                            Family::of(first.address)
                        ));
                    }
                    None if vip.address.is_ipv6() && version == Some(Version::V2) => {
                        return Err(format!(
                            "virtual IP {} is IPv6, which needs version = 3 (VRRPv2 is IPv4 only)",
                            vip.address
                        ));
                    }
                    _ => {}
                }
                if vips.iter().any(|v| v.address == vip.address) {
                    return Err(format!("virtual IP {} is listed twice", vip.address));
                }
                Ok(vip)
            });
            match result {
                Ok(vip) => vips.push(vip),
                Err(message) => {
                    self.error(&entry.span(), message);
                    failed = true;
                }
            }
        }
        match vips.first() {
            Some(first) if !failed => {
                let family = Family::of(first.address);
                Ok((vips, family))
            }
            _ => Err(Reported),
        }
    }

    /// `unicast_peers`, of the VIPs' family when that is known.
    fn peers(
        &mut self,
        field: &Option<Spanned<Raw>>,
        family: Option<Family>,
    ) -> Result<Vec<IpAddr>, Reported> {
        let Some(entries) = self.value(field, |v| match v {
            Raw::List(entries) => Ok(entries),
            other => Err(format!(
                "unicast_peers must be a list of addresses such as [\"192.0.2.12\"], got {}",
                other.describe()
            )),
        })?
        else {
            return Ok(Vec::new());
        };
        let mut peers: Vec<IpAddr> = Vec::with_capacity(entries.len());
        let mut failed = false;
        for entry in entries {
            let result = fields::address(entry.get_ref(), "unicast peer").and_then(|peer| {
                same_family("unicast peer", peer, family)?;
                if peers.contains(&peer) {
                    return Err(format!("unicast peer {peer} is listed twice"));
                }
                Ok(peer)
            });
            match result {
                Ok(peer) => peers.push(peer),
                Err(message) => {
                    self.error(&entry.span(), message);
                    failed = true;
                }
            }
        }
        if failed { Err(Reported) } else { Ok(peers) }
    }

    /// `auth_pass`: VRRPv2 only; its first 8 bytes are used, with a warning if there are more.
    fn auth(
        &mut self,
        field: &Option<Spanned<Raw>>,
        version: Option<Version>,
    ) -> Result<Option<[u8; AUTH_DATA_LEN]>, Reported> {
        let Some(password) = self.value(field, |v| {
            let password = fields::string(v, "auth_pass")?;
            if version == Some(Version::V3) {
                return Err("auth_pass needs version = 2 (VRRPv3 has no authentication)".to_owned());
            }
            Ok(password)
        })?
        else {
            return Ok(None);
        };
        if password.len() > AUTH_DATA_LEN
            && let Some(field) = field
        {
            self.warn(
                &field.span(),
                format!(
                    "auth_pass is {} bytes long; only the first {AUTH_DATA_LEN} are used, as \
                     keepalived does",
                    password.len()
                ),
            );
        }
        Ok(Some(simple_auth_data(password.as_bytes())))
    }

    fn garp(&mut self, r: &RawInstance) -> Result<Garp, Reported> {
        let defaults = Garp::default();
        let repeat = self.value(&r.garp_repeat, |v| {
            fields::integer(v, "garp_repeat", 0, MAX_GARP_REPEAT.into())
        });
        let interval = self.value(&r.garp_interval, |v| {
            fields::duration_at_most(v, "garp_interval", MAX_GARP_INTERVAL, "10s")
        });
        let delay = self.value(&r.garp_delay, |v| {
            fields::duration_at_most(v, "garp_delay", MAX_GARP_DELAY, "3600s")
        });
        Ok(Garp {
            repeat: repeat?
                .map_or(Ok(defaults.repeat), u8::try_from)
                .map_err(|_| Reported)?,
            interval: interval?.unwrap_or(defaults.interval),
            delay: delay?.unwrap_or(defaults.delay),
            refresh: defaults.refresh,
        })
    }

    /// Names are unique, and so is (interface, vrid, family).
    fn unique(&mut self, checked: &[Option<Checked>]) {
        let mut names: HashMap<&str, usize> = HashMap::new();
        let mut routers: HashMap<(&str, u8, Family), &InstanceConfig> = HashMap::new();
        for c in checked.iter().flatten() {
            let instance = &c.instance;
            if let Some(line) = names.get(instance.name.as_str()) {
                self.error(
                    &c.name_span,
                    format!(
                        "instance name {:?} is already used at line {line}",
                        instance.name
                    ),
                );
            } else {
                names.insert(&instance.name, instance.line);
            }
            let key = (
                instance.interface.as_str(),
                instance.vrid,
                instance.family(),
            );
            if let Some(first) = routers.get(&key) {
                self.error(
                    &c.vrid_span,
                    format!(
                        "vrid {} on {} for {} is already used by instance {:?} at line {}",
                        instance.vrid,
                        instance.interface,
                        instance.family(),
                        first.name,
                        first.line
                    ),
                );
            } else {
                routers.insert(key, instance);
            }
        }
    }
}

/// `address` (named `what`) is of the VIPs' `family`, when that is known.
fn same_family(what: &str, address: IpAddr, family: Option<Family>) -> Result<(), String> {
    match family {
        Some(family) if Family::of(address) != family => Err(format!(
            "{what} {address} is {}, but the virtual IPs are {family}",
            Family::of(address)
        )),
        _ => Ok(()),
    }
}
