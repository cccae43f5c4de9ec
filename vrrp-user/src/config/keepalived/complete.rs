//! From a read `vrrp_instance` to an [`InstanceConfig`]: keepalived's defaults (the version,
//! the priority from `state`, the advert interval) and its corrections, each with a warning,
//! then the same rules as the native format.
use std::time::Duration;

use super::{
    Report,
    instance::{Built, Defaults, Draft, State},
    lexer::Loc,
};
use crate::{
    config::{
        DEFAULT_GARP_DELAY, DEFAULT_GARP_INTERVAL, DEFAULT_GARP_REFRESH_REPEAT,
        DEFAULT_GARP_REPEAT, DEFAULT_PRIORITY, Family, Garp, InstanceConfig, MAX_VIPS_PER_INSTANCE,
        Vip, crossref::InstanceSites, fields,
    },
    fsm::{AdvertInterval, OWNER_PRIORITY, Version},
    units::{Centiseconds, Seconds},
    wire::vrrp::{AUTH_DATA_LEN, simple_auth_data},
};

impl Draft {
    /// The instance named `name` (written at `at`); `None` when something required is missing.
    pub fn finish(
        self,
        name: &str,
        at: Loc,
        defaults: &Defaults,
        report: &mut Report,
    ) -> Option<Built> {
        let interface = self.interface.clone();
        if interface.is_none() && !self.written.contains(&"interface") {
            report.error(at, format!("vrrp_instance {name} has no interface"));
        }
        if self.vrid.is_none() && !self.written.contains(&"virtual_router_id") {
            report.error(at, format!("vrrp_instance {name} has no virtual_router_id"));
        }
        let (virtual_ips, excluded_ips) = self.vips(name, at, report)?;
        let family = Family::of(virtual_ips[0].address);
        let version = self.version(family, defaults, report);
        let strict = self.strict.map_or(defaults.strict, |(on, at)| {
            if on && !defaults.strict {
                report.warn(at, super::global::STRICT_NOTE.to_owned());
            }
            on
        });
        let mut state = self.state.map(|(state, _)| state);
        let priority = self.priority.unwrap_or(if state == Some(State::Master) {
            OWNER_PRIORITY
        } else {
            DEFAULT_PRIORITY
        });
        if strict && let Some((written, state_at)) = self.state {
            let owner = priority == OWNER_PRIORITY;
            if (written == State::Master) != owner {
                let (wrote, reads) = if owner {
                    ("BACKUP", "MASTER")
                } else {
                    ("MASTER", "BACKUP")
                };
                report.warn(
                    state_at,
                    format!(
                        "strict mode: state {wrote} does not match priority {priority} (MASTER \
                         is for the address owner, 255); read as state {reads}, as keepalived \
                         does"
                    ),
                );
                state = Some(if owner { State::Master } else { State::Backup });
            }
        }
        let (preempt, preempt_delay) = self.preemption(state, priority, strict, report);
        let interval = self.interval(version, report);
        let mut unicast_peers = Vec::new();
        if strict && let Some((_, peer_at)) = self.peers.first() {
            // keepalived 2.2 stops on them if the interface can multicast; older ones took
            // them, and so does xvrrpd rather than refuse a configuration that ran.
            report.warn(
                *peer_at,
                "strict mode: keepalived 2.2 refuses unicast peers on an interface that can \
                 multicast; xvrrpd uses them"
                    .to_owned(),
            );
        }
        for (peer, peer_at) in &self.peers {
            match fields::peer_joins(&unicast_peers, *peer, Some(family)) {
                Ok(()) => unicast_peers.push(*peer),
                Err(message) => report.error(*peer_at, message),
            }
        }
        if let Some((source, source_at)) = self.source
            && let Err(message) = fields::same_family("unicast_src_ip", source, Some(family))
        {
            report.error(source_at, message);
        }
        let auth = self.auth(version, strict, report);
        let garp = Garp {
            repeat: self
                .garp_repeat
                .or(defaults.garp_repeat)
                .unwrap_or(DEFAULT_GARP_REPEAT),
            interval: match family {
                Family::V4 => defaults.garp_interval_v4,
                Family::V6 => defaults.garp_interval_v6,
            }
            .unwrap_or(DEFAULT_GARP_INTERVAL),
            delay: self
                .garp_delay
                .or(defaults.garp_delay)
                .unwrap_or(DEFAULT_GARP_DELAY),
            refresh: self
                .garp_refresh
                .or(defaults.garp_refresh)
                .unwrap_or(Duration::ZERO),
            refresh_repeat: self
                .garp_refresh_repeat
                .or(defaults.garp_refresh_repeat)
                .unwrap_or(DEFAULT_GARP_REFRESH_REPEAT),
        };
        let (vrid, vrid_at) = self.vrid?;
        let mut built = Built {
            config: InstanceConfig {
                name: name.to_owned(),
                interface: interface?,
                vrid,
                priority,
                interval,
                preempt,
                preempt_delay,
                virtual_ips,
                unicast_peers,
                unicast_source: self.source.map(|(source, _)| source),
                auth,
                checksum: Default::default(),
                pass_adverts: false,
                garp,
                excluded_ips,
                use_vmac: self.use_vmac,
                track_scripts: Vec::new(),
                track_interfaces: Vec::new(),
                track_files: Vec::new(),
                notify: self.notify,
                line: at.line,
            },
            sites: InstanceSites {
                header: report.site(at),
                name: report.site(at),
                vrid: report.site(vrid_at),
                track_scripts: Vec::new(),
            },
            trackers: self.trackers,
        };
        built.apply_trackers(report);
        Some(built)
    }

    /// The advertised and the excluded addresses, checked as the native ones are. Beyond what
    /// an advert carries, addresses become excluded ones, as keepalived does.
    fn vips(&self, name: &str, at: Loc, report: &mut Report) -> Option<(Vec<Vip>, Vec<Vip>)> {
        let mut vips: Vec<Vip> = Vec::new();
        let mut excluded: Vec<Vip> = Vec::new();
        if let Some(interface) = &self.interface {
            for (vip, vip_at) in self.vips.iter().chain(&self.excluded) {
                if let Err(message) = fields::vip_label_fits(vip, interface) {
                    report.error(*vip_at, message);
                }
                if let Some(note) = fields::vip_other_device_note(vip, interface) {
                    report.warn(*vip_at, note);
                }
            }
        }
        let mut listed = std::collections::HashSet::new();
        for (vip, vip_at) in &self.vips {
            // Its place among the addresses listed, duplicates aside.
            let index = listed.len();
            if !listed.insert(vip.address) {
                // keepalived's own sample configuration lists one twice; the address is on the
                // interface once either way.
                report.warn(
                    *vip_at,
                    format!(
                        "virtual IP {} is listed twice; this entry is ignored",
                        vip.address
                    ),
                );
                continue;
            }
            if index == MAX_VIPS_PER_INSTANCE {
                report.warn(
                    *vip_at,
                    format!(
                        "{} virtual IPs: an advert carries at most {MAX_VIPS_PER_INSTANCE}; the \
                         others are added as excluded IPs, as keepalived does",
                        self.vips.len()
                    ),
                );
            }
            let result = if index < MAX_VIPS_PER_INSTANCE {
                fields::vip_joins(&vips, vip, None)
            } else {
                fields::excluded_joins(&vips, &excluded, vip)
            };
            match result {
                Ok(()) if index < MAX_VIPS_PER_INSTANCE => vips.push(vip.clone()),
                Ok(()) => excluded.push(vip.clone()),
                Err(message) => report.error(*vip_at, message),
            }
        }
        for (vip, vip_at) in &self.excluded {
            match fields::excluded_joins(&vips, &excluded, vip) {
                Ok(()) => excluded.push(vip.clone()),
                Err(message) => report.error(*vip_at, message),
            }
        }
        if vips.is_empty() {
            if !self.written.contains(&"virtual_ipaddress") {
                report.error(
                    at,
                    format!(
                        "vrrp_instance {name} has no virtual_ipaddress; xvrrpd needs at least one \
                         (VRRPv3 requires one)"
                    ),
                );
            }
            return None;
        }
        Some((vips, excluded))
    }

    /// The instance's `version`, else `global_defs`' `vrrp_version`, else 2; IPv6 is always 3.
    fn version(&self, family: Family, defaults: &Defaults, report: &mut Report) -> Version {
        let version = self
            .version
            .map(|(v, _)| v)
            .or(defaults.version)
            .unwrap_or(Version::V2);
        if family == Family::V6 && version == Version::V2 {
            if let Some((_, at)) = self.version {
                report.warn(
                    at,
                    "version 2 cannot carry IPv6 addresses; using version 3, as keepalived does"
                        .to_owned(),
                );
            }
            return Version::V3;
        }
        version
    }

    /// `nopreempt` and `preempt_delay`, corrected as keepalived corrects them.
    fn preemption(
        &self,
        state: Option<State>,
        priority: u8,
        strict: bool,
        report: &mut Report,
    ) -> (bool, Duration) {
        let mut preempt = self.preempt.is_none_or(|(preempt, _)| preempt);
        let mut delay = self.preempt_delay.map(|(d, _)| d).unwrap_or_default();
        if let Some((false, at)) = self.preempt {
            if priority == OWNER_PRIORITY {
                report.warn(
                    at,
                    "nopreempt does not apply to priority 255 (the address owner always takes \
                     over); ignored, as keepalived does"
                        .to_owned(),
                );
                preempt = true;
            } else if state == Some(State::Master) {
                report.warn(
                    at,
                    "nopreempt does not work with state MASTER; ignored, as keepalived does \
                     (write state BACKUP on every router to use nopreempt)"
                        .to_owned(),
                );
                preempt = true;
            }
        }
        if let Some((_, at)) = self.preempt_delay {
            if state == Some(State::Master) {
                report.warn(
                    at,
                    "preempt_delay does not work with state MASTER; ignored, as keepalived does"
                        .to_owned(),
                );
                delay = Duration::ZERO;
            } else if strict {
                report.warn(
                    at,
                    "strict mode: preempt_delay does not apply; ignored, as keepalived does"
                        .to_owned(),
                );
                delay = Duration::ZERO;
            } else if !preempt {
                report.warn(
                    at,
                    "preempt_delay does not apply with nopreempt; ignored, as keepalived does"
                        .to_owned(),
                );
                delay = Duration::ZERO;
            }
        }
        (preempt, delay)
    }

    /// `advert_int` in the version's unit, rounded (with a warning) as keepalived rounds it.
    fn interval(&self, version: Version, report: &mut Report) -> AdvertInterval {
        let Some((d, token)) = &self.advert else {
            return fields::default_interval(version);
        };
        let written = &token.text;
        // keepalived reads 0.01..255 seconds and ignores anything else, keeping its default.
        if *d < Duration::from_millis(10) || *d > Duration::from_secs(255) {
            report.warn(
                token.at,
                format!(
                    "advert_int {written} is not 0.01..255 seconds; ignored, as keepalived does \
                     (the default, 1 second, is used)"
                ),
            );
            return fields::default_interval(version);
        }
        match version {
            Version::V2 => {
                let micros = d.as_micros();
                let secs = ((micros + 500_000) / 1_000_000).max(1);
                if !micros.is_multiple_of(1_000_000) {
                    report.warn(
                        token.at,
                        format!(
                            "advert_int {written} is not a whole number of seconds, which VRRPv2 \
                             needs; rounded to {secs}, as keepalived does"
                        ),
                    );
                }
                AdvertInterval::V2(Seconds(secs as u8))
            }
            Version::V3 => {
                let micros = d.as_micros();
                let cs = ((micros + 5_000) / 10_000).max(1);
                if cs > u128::from(Centiseconds::MAX_V3.0) {
                    report.warn(
                        token.at,
                        format!(
                            "advert_int {written} is more than VRRPv3's 40.95 seconds; using \
                             40.95, as keepalived does"
                        ),
                    );
                    return AdvertInterval::V3(Centiseconds::MAX_V3);
                }
                if !micros.is_multiple_of(10_000) {
                    report.warn(
                        token.at,
                        format!(
                            "advert_int {written} is not a multiple of 10 ms, which VRRPv3 \
                             needs; rounded to {}.{:02}, as keepalived does",
                            cs / 100,
                            cs % 100
                        ),
                    );
                }
                AdvertInterval::V3(Centiseconds(cs as u16))
            }
        }
    }

    /// `authentication { auth_type PASS; auth_pass ... }`: VRRPv2 only, as keepalived.
    fn auth(
        &self,
        version: Version,
        strict: bool,
        report: &mut Report,
    ) -> Option<[u8; AUTH_DATA_LEN]> {
        let at = self
            .auth_type
            .or(self.auth_pass.as_ref().map(|(_, at)| *at))?;
        if strict {
            report.warn(
                at,
                "strict mode has no authentication; the authentication block is ignored, as \
                 keepalived does"
                    .to_owned(),
            );
            return None;
        }
        if version == Version::V3 {
            report.warn(
                at,
                "VRRPv3 has no authentication; the authentication block is ignored, as \
                 keepalived does"
                    .to_owned(),
            );
            return None;
        }
        let Some((password, pass_at)) = &self.auth_pass else {
            report.warn(
                at,
                "authentication without auth_pass; ignored, as keepalived does".to_owned(),
            );
            return None;
        };
        if self.auth_type.is_none() {
            // keepalived keeps the password but sends and expects no authentication.
            report.warn(
                *pass_at,
                "auth_pass without auth_type; ignored, as keepalived does (no authentication)"
                    .to_owned(),
            );
            return None;
        }
        let mut password = password.as_str();
        if let Some(nul) = password.find('\0') {
            // keepalived keeps the password as a C string.
            report.warn(
                *pass_at,
                "auth_pass contains a NUL byte; only what precedes it is used, as keepalived does"
                    .to_owned(),
            );
            password = &password[..nul];
        }
        if password.is_empty() {
            report.error(*pass_at, "auth_pass is empty".to_owned());
            return None;
        }
        if password.len() > AUTH_DATA_LEN {
            report.warn(
                *pass_at,
                format!(
                    "auth_pass is {} bytes long; only the first {AUTH_DATA_LEN} are used, as \
                     keepalived does",
                    password.len()
                ),
            );
        }
        Some(simple_auth_data(password.as_bytes()))
    }
}
