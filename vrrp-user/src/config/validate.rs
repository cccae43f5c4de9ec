//! From the raw, spanned file to a [`Config`]: every rule, every message.
//!
//! Each problem is recorded with the line of the value at fault and checking goes on, so that
//! one run reports all of them. A value found invalid is not used by the checks that combine it
//! with others (a bad `version` does not also make `auth_pass` wrong).
mod health;

use std::{net::IpAddr, ops::Range, path::PathBuf};

use toml::Spanned;

use super::{
    Config, DEFAULT_CONTROL_SOCKET, DEFAULT_PRIORITY, Diagnostic, Family, Garp, Global,
    InstanceConfig, Loaded, MAX_GARP_DELAY, MAX_GARP_INTERVAL, MAX_GARP_REFRESH, MAX_GARP_REPEAT,
    MAX_INSTANCES, MAX_PREEMPT_DELAY, MAX_VIPS_PER_INSTANCE, MIN_GARP_REFRESH, ScriptSecurity, Vip,
    crossref::{self, InstanceSites, Site},
    fields::{self, same_family},
    hostname,
    native::{Raw, RawFile, RawGlobal, RawInstance},
};
use crate::{
    fsm::Version,
    wire::vrrp::{AUTH_DATA_LEN, simple_auth_data},
};

/// The name a table gives itself, if it is a string (for messages about references to it).
fn raw_name(name: &Option<Spanned<Raw>>) -> Option<String> {
    match name.as_ref().map(Spanned::get_ref) {
        Some(Raw::String(name)) => Some(name.clone()),
        _ => None,
    }
}

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
        self.site(span).diagnostic(message)
    }

    fn site(&self, span: &Range<usize>) -> Site {
        Site {
            file: self.file.to_owned(),
            line: self.line(span),
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
        let mut failed = Vec::new();
        let mut instances: Vec<(InstanceConfig, InstanceSites)> = Vec::new();
        for raw in raw_instances {
            match self.instance(raw) {
                Some(instance) => instances.push(instance),
                None => failed.extend(raw_name(&raw.get_ref().name)),
            }
        }
        let raw_scripts = raw.script.as_ref().map_or(&[][..], |s| &s.get_ref().0);
        let mut scripts = Vec::new();
        for raw in raw_scripts {
            match self.script(raw) {
                Some(script) => scripts.push(script),
                None => failed.extend(raw_name(&raw.get_ref().name)),
            }
        }
        let raw_groups = raw.sync_group.as_ref().map_or(&[][..], |g| &g.get_ref().0);
        let groups: Vec<_> = raw_groups
            .iter()
            .filter_map(|g| self.sync_group(g))
            .collect();
        let parts = crossref::Parts {
            instances: &instances,
            scripts: &scripts,
            groups: &groups,
            failed: &failed,
        };
        let mut errors = crossref::check(&parts);
        errors.extend(health::group_trackers(&parts));
        self.errors.extend(errors);
        match global {
            Ok(global) if self.errors.is_empty() => {
                self.warnings.sort_by_key(|d| d.line);
                Ok(Loaded {
                    config: Config {
                        global,
                        instances: instances.into_iter().map(|(i, _)| i).collect(),
                        scripts: scripts.into_iter().map(|(s, _)| s).collect(),
                        sync_groups: groups.into_iter().map(|(g, _)| g).collect(),
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
        self.required_in(field, key, "[[instance]]", table, convert)
    }

    /// A value the table `table_name` (spanning `table`) must have.
    fn required_in<'f, T>(
        &mut self,
        field: &'f Option<Spanned<Raw>>,
        key: &str,
        table_name: &str,
        table: &Range<usize>,
        convert: impl FnOnce(&'f Raw) -> Result<T, String>,
    ) -> Result<T, Reported> {
        match self.value(field, convert)? {
            Some(value) => Ok(value),
            None => {
                self.error(table, format!("missing key {key:?} in {table_name}"));
                Err(Reported)
            }
        }
    }

    fn global(&mut self, raw: Option<&RawGlobal>) -> Result<Global, Reported> {
        let Some(raw) = raw else {
            return Ok(Global::default_for_host());
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
        let metrics_listen = self.value(&raw.metrics_listen, |v| {
            fields::socket_address(v, "metrics_listen")
        });
        let script_user = self.value(&raw.script_user, |v| fields::string(v, "script_user"));
        let script_group = self.value(&raw.script_group, |v| fields::string(v, "script_group"));
        if let (Ok(None), Some(group)) = (&script_user, &raw.script_group) {
            self.error(&group.span(), "script_group needs script_user".to_owned());
        }
        let enforce = self.value(&raw.enable_script_security, |v| {
            fields::boolean(v, "enable_script_security")
        });
        let notify_fifo = self.value(&raw.notify_fifo, |v| fields::string(v, "notify_fifo"));
        Ok(Global {
            router_id: router_id?.unwrap_or_else(hostname),
            control_socket: PathBuf::from(
                control_socket?.unwrap_or_else(|| DEFAULT_CONTROL_SOCKET.to_owned()),
            ),
            xdp: xdp?.unwrap_or_default(),
            metrics_listen: metrics_listen?,
            script_security: ScriptSecurity {
                default_user: script_user?,
                default_group: script_group?,
                enforce: enforce?.unwrap_or(false),
            },
            notify_fifo: notify_fifo?.map(PathBuf::from),
        })
    }

    fn instance(&mut self, raw: &Spanned<RawInstance>) -> Option<(InstanceConfig, InstanceSites)> {
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
        let vips = self.vips(
            &r.virtual_ips,
            &header,
            version,
            interface.as_ref().ok().map(String::as_str),
        );
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
        if let (Ok(Some(false)), Ok(Some(delay)), Some(field)) =
            (&preempt, &preempt_delay, &r.preempt_delay)
            && !delay.is_zero()
        {
            self.warn(
                &field.span(),
                "preempt_delay does not apply with preempt = false; ignored".to_owned(),
            );
        }
        let pass_adverts = self.value(&r.pass_adverts, |v| fields::boolean(v, "pass_adverts"));
        let use_vmac = self.value(&r.use_vmac, |v| fields::boolean(v, "use_vmac"));
        let garp = self.garp(r);
        let excluded = self.excluded(
            &r.excluded_ips,
            vips.as_ref().ok().map(|(v, _)| &v[..]),
            interface.as_ref().ok().map(String::as_str),
        );
        let track_scripts = self.track_scripts(&r.track_scripts);
        let track_interfaces = self.track_interfaces(&r.track_interfaces);
        let track_files = self.track_files(&r.track_files);
        let notify = self.notify(&r.notifies());

        let name_span = r.name.as_ref().map_or(header.clone(), Spanned::span);
        let vrid_span = r.vrid.as_ref().map_or(header.clone(), Spanned::span);
        let line = self.line(&header);
        let (virtual_ips, _) = vips.ok()?;
        let (track_scripts, track_script_sites) = track_scripts.ok()?;
        Some((
            InstanceConfig {
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
                excluded_ips: excluded.ok()?,
                use_vmac: use_vmac.ok()?.unwrap_or(false),
                track_scripts,
                track_interfaces: track_interfaces.ok()?,
                track_files: track_files.ok()?,
                notify: notify.ok()?,
                line,
            },
            InstanceSites {
                header: self.site(&header),
                name: self.site(&name_span),
                vrid: self.site(&vrid_span),
                track_scripts: track_script_sites,
            },
        ))
    }

    /// `virtual_ips`: their family is the instance's.
    fn vips(
        &mut self,
        field: &Option<Spanned<Raw>>,
        header: &Range<usize>,
        version: Option<Version>,
        interface: Option<&str>,
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
            let result = fields::vip_entry(entry.get_ref(), "virtual_ips").and_then(|vip| {
                fields::vip_joins(&vips, &vip, version)?;
                if let Some(interface) = interface {
                    fields::vip_label_fits(&vip, interface)?;
                }
                Ok(vip)
            });
            match result {
                Ok(vip) => {
                    if let Some(note) =
                        interface.and_then(|i| fields::vip_other_device_note(&vip, i))
                    {
                        self.warn(&entry.span(), note);
                    }
                    vips.push(vip);
                }
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
                fields::peer_joins(&peers, peer, family)?;
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
        let refresh = self.value(&r.garp_refresh, |v| {
            let refresh = fields::duration_at_most(v, "garp_refresh", MAX_GARP_REFRESH, "86400s")?;
            // A refresh keeps caches warm; sub-second ones would be a flood (keepalived counts
            // it in whole seconds).
            if !refresh.is_zero() && refresh < MIN_GARP_REFRESH {
                return Err(format!(
                    "garp_refresh must be \"0s\" (none) or at least 1s, got {}",
                    v.describe()
                ));
            }
            Ok(refresh)
        });
        let refresh_repeat = self.value(&r.garp_refresh_repeat, |v| {
            fields::integer(v, "garp_refresh_repeat", 1, MAX_GARP_REPEAT.into())
        });
        Ok(Garp {
            repeat: repeat?
                .map_or(Ok(defaults.repeat), u8::try_from)
                .map_err(|_| Reported)?,
            interval: interval?.unwrap_or(defaults.interval),
            delay: delay?.unwrap_or(defaults.delay),
            refresh: refresh?.unwrap_or(defaults.refresh),
            refresh_repeat: refresh_repeat?
                .map_or(Ok(defaults.refresh_repeat), u8::try_from)
                .map_err(|_| Reported)?,
        })
    }
}
