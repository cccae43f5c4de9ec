//! One value at a time: a [`Raw`] value to its typed form, or the message saying why not.
//!
//! Messages name the key and quote the value as written: `vrid must be 1..255, got 0`.
use std::{net::IpAddr, time::Duration};

use super::{Family, Vip, native::Raw, parse_duration};
use crate::{
    dataplane::{AttachMode, AttachRequest, Request},
    fsm::{AdvertInterval, Version},
    units::{Centiseconds, Seconds},
    wire::vrrp::ChecksumMode,
};

/// The longest Linux interface name (`IFNAMSIZ` − 1).
const MAX_IFNAME: usize = 15;

/// An integer in `lo..=hi`.
pub(super) fn integer(v: &Raw, key: &str, lo: i128, hi: i128) -> Result<i128, String> {
    match v {
        Raw::Integer(n) if (lo..=hi).contains(n) => Ok(*n),
        Raw::Integer(n) => Err(format!("{key} must be {lo}..{hi}, got {n}")),
        other => Err(format!(
            "{key} must be an integer {lo}..{hi}, got {}",
            other.describe()
        )),
    }
}

pub(super) fn boolean(v: &Raw, key: &str) -> Result<bool, String> {
    match v {
        Raw::Bool(b) => Ok(*b),
        other => Err(format!(
            "{key} must be true or false, got {}",
            other.describe()
        )),
    }
}

/// A string that is not empty.
pub(super) fn string(v: &Raw, key: &str) -> Result<String, String> {
    match v {
        Raw::String(s) if s.is_empty() => Err(format!("{key} must not be empty")),
        Raw::String(s) => Ok(s.clone()),
        other => Err(format!("{key} must be a string, got {}", other.describe())),
    }
}

/// An instance name: not empty, no control characters (it ends up in logs and scripts).
pub(super) fn name(v: &Raw) -> Result<String, String> {
    let name = string(v, "name")?;
    printable_name(&name)?;
    Ok(name)
}

/// The rule on an instance name's characters, for both file formats.
pub(super) fn printable_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("name must not be empty".to_owned());
    }
    if name.chars().any(char::is_control) {
        return Err(format!("name {name:?} contains control characters"));
    }
    Ok(())
}

/// A name the kernel would accept for an interface (`dev_valid_name`).
pub(super) fn interface(v: &Raw) -> Result<String, String> {
    let name = string(v, "interface")?;
    interface_name(&name).map_err(|e| format!("interface {e}"))?;
    Ok(name)
}

/// `"100ms"`, `"2.5s"`: see [`parse_duration`].
pub(super) fn duration(v: &Raw, key: &str) -> Result<Duration, String> {
    let Raw::String(text) = v else {
        return Err(format!(
            "{key} must be a duration such as \"100ms\" or \"2.5s\", got {}",
            v.describe()
        ));
    };
    parse_duration(text).map_err(|err| {
        format!(
            "{key} {text:?} is not a valid duration: {err} (write a number followed by \"ms\" \
             or \"s\", such as \"100ms\" or \"2.5s\")"
        )
    })
}

/// A duration of at most `max` (written `max_text` in the message).
pub(super) fn duration_at_most(
    v: &Raw,
    key: &str,
    max: Duration,
    max_text: &str,
) -> Result<Duration, String> {
    let d = duration(v, key)?;
    if d > max {
        return Err(format!(
            "{key} must be at most {max_text}, got {}",
            v.describe()
        ));
    }
    Ok(d)
}

pub(super) fn version(v: &Raw) -> Result<Version, String> {
    match v {
        Raw::Integer(2) => Ok(Version::V2),
        Raw::Integer(3) => Ok(Version::V3),
        other => Err(format!("version must be 2 or 3, got {}", other.describe())),
    }
}

/// The interval in the unit of `version`: whole seconds for v2, centiseconds for v3.
pub(super) fn interval(v: &Raw, version: Version) -> Result<AdvertInterval, String> {
    const KEY: &str = "advert_interval";
    let d = duration(v, KEY)?;
    let got = v.describe();
    match version {
        Version::V2 => match u8::try_from(d.as_secs()) {
            Ok(secs) if secs >= 1 && d.subsec_nanos() == 0 => Ok(AdvertInterval::V2(Seconds(secs))),
            _ => Err(format!(
                "{KEY} must be whole seconds 1s..255s with version = 2, got {got}"
            )),
        },
        Version::V3 => {
            let step = Centiseconds(1).as_duration();
            if d < step || d > Centiseconds::MAX_V3.as_duration() {
                return Err(format!(
                    "{KEY} must be 10ms..40.95s with version = 3, got {got}"
                ));
            }
            if d.as_nanos() % step.as_nanos() != 0 {
                return Err(format!(
                    "{KEY} must be a multiple of 10ms with version = 3, got {got}"
                ));
            }
            // At most 4095 after the range check.
            let cs = u16::try_from(d.as_nanos() / step.as_nanos()).unwrap_or(u16::MAX);
            Ok(AdvertInterval::V3(Centiseconds(cs)))
        }
    }
}

/// The interval when `advert_interval` is not set.
pub(super) fn default_interval(version: Version) -> AdvertInterval {
    match version {
        Version::V2 => AdvertInterval::V2(Seconds(1)),
        Version::V3 => AdvertInterval::V3(Centiseconds(100)),
    }
}

pub(super) fn xdp(v: &Raw) -> Result<Request, String> {
    match v {
        Raw::String(s) if s == "auto" => Ok(Request::Auto),
        Raw::String(s) if s == "native" => {
            Ok(Request::Xdp(AttachRequest::Only(AttachMode::Native)))
        }
        Raw::String(s) if s == "skb" => Ok(Request::Xdp(AttachRequest::Only(AttachMode::Skb))),
        Raw::String(s) if s == "off" => Ok(Request::Off),
        other => Err(format!(
            "xdp must be \"auto\", \"native\", \"skb\" or \"off\", got {}",
            other.describe()
        )),
    }
}

pub(super) fn checksum(v: &Raw) -> Result<ChecksumMode, String> {
    match v {
        Raw::String(s) if s == "pseudo-header" => Ok(ChecksumMode::PseudoHeader),
        Raw::String(s) if s == "vrrp-only" => Ok(ChecksumMode::VrrpOnly),
        other => Err(format!(
            "checksum must be \"pseudo-header\" or \"vrrp-only\", got {}",
            other.describe()
        )),
    }
}

/// Whether an address can be a VIP or a peer: not unspecified, multicast or broadcast.
fn is_unicast(address: IpAddr) -> bool {
    let broadcast = matches!(address, IpAddr::V4(a) if a.is_broadcast());
    !address.is_unspecified() && !address.is_multicast() && !broadcast
}

/// `ADDR` or `ADDR/PREFIX`.
pub(super) fn vip(v: &Raw) -> Result<Vip, String> {
    let Raw::String(text) = v else {
        return Err(format!(
            "virtual_ips entries must be addresses in quotes such as \"192.0.2.100/24\", got {}",
            v.describe()
        ));
    };
    let (addr, prefix) = match text.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (text.as_str(), None),
    };
    let address: IpAddr = addr
        .parse()
        .map_err(|_| format!("invalid virtual IP {text:?}: {addr:?} is not an IP address"))?;
    let max = match address {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    };
    let prefix_len = match prefix {
        None => max,
        Some(p) if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) => {
            return Err(format!(
                "invalid virtual IP {text:?}: the prefix length {p:?} is not a number"
            ));
        }
        Some(p) => p.parse::<u8>().ok().filter(|&n| n <= max).ok_or_else(|| {
            format!(
                "invalid virtual IP {text:?}: the prefix length of an {} address is 0..{max}",
                Family::of(address)
            )
        })?,
    };
    if !is_unicast(address) {
        return Err(format!(
            "invalid virtual IP {text:?}: not a unicast address"
        ));
    }
    Ok(Vip::plain(address, prefix_len))
}

/// A plain unicast address (no prefix length); `what` names it in messages.
pub(super) fn address(v: &Raw, what: &str) -> Result<IpAddr, String> {
    let Raw::String(text) = v else {
        return Err(format!(
            "{what} must be an address in quotes such as \"192.0.2.12\", got {}",
            v.describe()
        ));
    };
    let address: IpAddr = text
        .parse()
        .map_err(|_| format!("{what} {text:?} is not an IP address"))?;
    if !is_unicast(address) {
        return Err(format!("{what} {address} is not a unicast address"));
    }
    Ok(address)
}

/// `address` (named `what`) is of the VIPs' `family`, when that is known.
pub(super) fn same_family(
    what: &str,
    address: IpAddr,
    family: Option<Family>,
) -> Result<(), String> {
    match family {
        Some(family) if Family::of(address) != family => Err(format!(
            "{what} {address} is {}, but the virtual IPs are {family}",
            Family::of(address)
        )),
        _ => Ok(()),
    }
}

/// Whether `vip` may join the advertised `vips` listed before it: one family, IPv6 only with
/// VRRPv3 (`version` when known), no duplicates.
pub(super) fn vip_joins(vips: &[Vip], vip: &Vip, version: Option<Version>) -> Result<(), String> {
    match vips.first() {
        Some(first) if Family::of(first.address) != Family::of(vip.address) => {
            return Err(format!(
                "virtual IP {} is {}, but the first one is {}; use one instance per address family",
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
    Ok(())
}

/// Whether `excluded` may join the excluded addresses listed before it (any family), given the
/// advertised ones.
pub(super) fn excluded_joins(vips: &[Vip], excluded: &[Vip], vip: &Vip) -> Result<(), String> {
    if vips.iter().any(|v| v.address == vip.address) {
        return Err(format!(
            "excluded IP {} is also a virtual IP; list it once",
            vip.address
        ));
    }
    if excluded.iter().any(|v| v.address == vip.address) {
        return Err(format!("excluded IP {} is listed twice", vip.address));
    }
    Ok(())
}

/// Whether `peer` may join the peers listed before it, given the VIPs' `family`.
pub(super) fn peer_joins(
    peers: &[IpAddr],
    peer: IpAddr,
    family: Option<Family>,
) -> Result<(), String> {
    same_family("unicast peer", peer, family)?;
    if peers.contains(&peer) {
        return Err(format!("unicast peer {peer} is listed twice"));
    }
    Ok(())
}

/// The address scopes `ip address add ... scope S` knows by name.
pub const SCOPES: [(&str, u8); 5] = [
    ("global", 0),
    ("site", 200),
    ("link", 253),
    ("host", 254),
    ("nowhere", 255),
];

/// A scope name or number (`link`, `253`).
pub(super) fn scope_from_text(text: &str) -> Result<u8, String> {
    if let Some((_, n)) = SCOPES.iter().find(|(name, _)| *name == text) {
        return Ok(*n);
    }
    text.parse::<u8>().map_err(|_| {
        format!(
            "scope {text:?} is not a scope: use global, site, link, host, nowhere or a number \
             0..255"
        )
    })
}

/// The name of a scope number, if it has one.
pub fn scope_name(scope: u8) -> Option<&'static str> {
    SCOPES
        .iter()
        .find(|(_, n)| *n == scope)
        .map(|(name, _)| *name)
}

/// What the kernel accepts of a VIP's extras: a label and a broadcast address only for IPv4,
/// a label no longer than an interface name.
pub(super) fn vip_extras(vip: &Vip) -> Result<(), String> {
    if vip.address.is_ipv6() {
        if vip.label.is_some() {
            return Err(format!(
                "virtual IP {}: a label is for IPv4 addresses only",
                vip.address
            ));
        }
        if vip.broadcast.is_some() {
            return Err(format!(
                "virtual IP {}: a broadcast address is for IPv4 addresses only",
                vip.address
            ));
        }
    }
    if let Some(label) = &vip.label
        && (label.is_empty() || label.len() > MAX_IFNAME)
    {
        return Err(format!(
            "virtual IP {}: label {label:?} must be 1 to {MAX_IFNAME} bytes",
            vip.address
        ));
    }
    if let Some(dev) = &vip.device {
        interface_name(dev).map_err(|e| format!("virtual IP {}: dev {e}", vip.address))?;
    }
    Ok(())
}

/// A VIP's label starts with the name of the interface it is added to (its `dev`, else the
/// instance's `interface`): keepalived requires it, and the kernel refuses other IPv4 labels.
pub(super) fn vip_label_fits(vip: &Vip, interface: &str) -> Result<(), String> {
    let Some(label) = &vip.label else {
        return Ok(());
    };
    let device = vip.device.as_deref().unwrap_or(interface);
    if label.starts_with(device) {
        Ok(())
    } else {
        Err(format!(
            "virtual IP {}: label {label:?} must start with the name of its interface {device:?} \
             (such as \"{device}:1\")",
            vip.address
        ))
    }
}

/// The note for a VIP put on another interface than the instance's (`dev`): the XDP program
/// runs on the instance's interface only, so there the kernel answers ARP / NS for it.
pub(super) fn vip_other_device_note(vip: &Vip, interface: &str) -> Option<String> {
    let device = vip.device.as_deref().filter(|d| *d != interface)?;
    Some(format!(
        "virtual IP {} goes on {device}, not on {interface}: the kernel answers ARP / NS for it \
         there (the XDP data plane runs on {interface} only); gratuitous ARP / NA for it go out \
         of {device}",
        vip.address
    ))
}

/// `interface` without the key: the text checked as an interface name.
pub(super) fn interface_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= MAX_IFNAME
        && name != "."
        && name != ".."
        && !name.contains(|c: char| c == '/' || c == ':' || c.is_whitespace() || c == '\0');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a valid interface name (1 to {MAX_IFNAME} bytes, not \".\" or \
             \"..\", no \"/\", \":\" or spaces)"
        ))
    }
}

/// A virtual IP entry: `"ADDR[/PREFIX]"` or `{ address = "ADDR[/PREFIX]", dev, label, scope,
/// brd }`; `key` names the list in messages.
pub(super) fn vip_entry(v: &Raw, key: &str) -> Result<Vip, String> {
    let Raw::Table(entries) = v else {
        return vip(v);
    };
    let mut address = None;
    let mut vip_fields = Vip::plain(IpAddr::from([0, 0, 0, 0]), 0);
    for (name, value) in entries {
        let value = value.get_ref();
        match name.as_str() {
            "address" => address = Some(vip(value)?),
            "dev" => vip_fields.device = Some(string(value, "dev")?),
            "label" => vip_fields.label = Some(string(value, "label")?),
            "scope" => {
                vip_fields.scope = Some(match value {
                    Raw::String(text) => scope_from_text(text)?,
                    Raw::Integer(n) => {
                        u8::try_from(*n).map_err(|_| format!("scope must be 0..255, got {n}"))?
                    }
                    other => {
                        return Err(format!(
                            "scope must be a name such as \"link\" or a number, got {}",
                            other.describe()
                        ));
                    }
                })
            }
            "brd" => {
                let text = string(value, "brd")?;
                vip_fields.broadcast = Some(
                    text.parse()
                        .map_err(|_| format!("brd {text:?} is not an IPv4 address"))?,
                );
            }
            other => {
                return Err(format!(
                    "unknown key {other:?} in a {key} entry (address, dev, label, scope, brd)"
                ));
            }
        }
    }
    let Some(address) = address else {
        return Err(format!("a {key} entry needs an address"));
    };
    let vip = Vip {
        address: address.address,
        prefix_len: address.prefix_len,
        ..vip_fields
    };
    vip_extras(&vip)?;
    Ok(vip)
}

/// A command: a string split like keepalived's (see [`super::argv`]) or a list of strings
/// (the program and its arguments as they are).
pub(super) fn command(v: &Raw, key: &str) -> Result<Vec<String>, String> {
    match v {
        Raw::String(text) => super::argv::split_command(text)
            .map_err(|why| format!("{key} {text:?} is not a command: {why}")),
        Raw::List(items) => {
            let mut argv = Vec::with_capacity(items.len());
            for item in items {
                match item.get_ref() {
                    Raw::String(arg) => argv.push(arg.clone()),
                    other => {
                        return Err(format!(
                            "{key} arguments must be strings, got {}",
                            other.describe()
                        ));
                    }
                }
            }
            match argv.first() {
                None => Err(format!("{key} must not be empty")),
                Some(program) if program.is_empty() => {
                    Err(format!("{key}: the program name is empty"))
                }
                Some(_) => Ok(argv),
            }
        }
        other => Err(format!(
            "{key} must be a command line (a string) or a list of its words, got {}",
            other.describe()
        )),
    }
}

/// A tracking weight in `-max..=max`.
pub(super) fn weight(v: &Raw, key: &str, max: i32) -> Result<i32, String> {
    let max = i128::from(max);
    integer(v, key, -max, max).map(|n| n as i32)
}

/// `"HOST:PORT"`, as in `"127.0.0.1:9650"` or `"[::1]:9650"`.
pub(super) fn socket_address(v: &Raw, key: &str) -> Result<std::net::SocketAddr, String> {
    let text = string(v, key)?;
    text.parse().map_err(|_| {
        format!(
            "{key} {text:?} is not an address and port such as \"127.0.0.1:9650\" or \
             \"[::1]:9650\""
        )
    })
}
