//! A [`Config`] written as native TOML (`xvrrpd convert`): every key the native reader knows,
//! so that reading the text back gives the same configuration (but for the `line` fields,
//! which say where things are written).
use std::{fmt::Write as _, time::Duration};

use super::{
    CheckScript, Config, Global, InstanceConfig, Notify, NotifyScript, SyncGroup, Vip, fields,
};
use crate::{
    dataplane::{AttachMode, AttachRequest, Request},
    fsm::AdvertInterval,
    wire::vrrp::ChecksumMode,
};

/// The configuration as the text of a native `.toml` file.
pub fn to_toml(config: &Config) -> String {
    let mut out = String::new();
    global(&mut out, &config.global);
    for script in &config.scripts {
        check_script(&mut out, script);
    }
    for instance in &config.instances {
        self::instance(&mut out, instance);
    }
    for group in &config.sync_groups {
        sync_group(&mut out, group);
    }
    out
}

/// A TOML string literal.
fn quote(text: &str) -> String {
    toml::Value::from(text).to_string()
}

/// A TOML array of strings.
fn strings<S: AsRef<str>>(items: &[S]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| quote(s.as_ref())).collect();
    format!("[{}]", quoted.join(", "))
}

/// A duration as the native reader reads it: `"2s"`, `"100ms"`, `"1.5s"`.
fn duration(d: Duration) -> String {
    let text = if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d.as_nanos().is_multiple_of(1_000_000) {
        format!("{}ms", d.as_millis())
    } else {
        let fraction = format!("{:09}", d.subsec_nanos());
        format!("{}.{}s", d.as_secs(), fraction.trim_end_matches('0'))
    };
    quote(&text)
}

fn global(out: &mut String, global: &Global) {
    let xdp = match global.xdp {
        Request::Auto | Request::Xdp(AttachRequest::Auto) => "auto",
        Request::Xdp(AttachRequest::Only(AttachMode::Native)) => "native",
        Request::Xdp(AttachRequest::Only(AttachMode::Skb)) => "skb",
        Request::Off => "off",
    };
    let _ = writeln!(out, "[global]");
    let _ = writeln!(out, "router_id = {}", quote(&global.router_id));
    let _ = writeln!(
        out,
        "control_socket = {}",
        quote(&global.control_socket.to_string_lossy())
    );
    let _ = writeln!(out, "xdp = {}", quote(xdp));
    if let Some(listen) = global.metrics_listen {
        let _ = writeln!(out, "metrics_listen = {}", quote(&listen.to_string()));
    }
    if let Some(user) = &global.script_security.default_user {
        let _ = writeln!(out, "script_user = {}", quote(user));
    }
    if let Some(group) = &global.script_security.default_group {
        let _ = writeln!(out, "script_group = {}", quote(group));
    }
    if global.script_security.enforce {
        let _ = writeln!(out, "enable_script_security = true");
    }
    if let Some(fifo) = &global.notify_fifo {
        let _ = writeln!(out, "notify_fifo = {}", quote(&fifo.to_string_lossy()));
    }
}

fn check_script(out: &mut String, script: &CheckScript) {
    let _ = writeln!(out, "\n[[script]]");
    let _ = writeln!(out, "name = {}", quote(&script.name));
    let _ = writeln!(out, "command = {}", strings(&script.command));
    let _ = writeln!(out, "interval = {}", duration(script.interval));
    let _ = writeln!(out, "timeout = {}", duration(script.timeout));
    let _ = writeln!(out, "weight = {}", script.weight);
    let _ = writeln!(out, "rise = {}", script.rise);
    let _ = writeln!(out, "fall = {}", script.fall);
    if let Some(user) = &script.user {
        let _ = writeln!(out, "user = {}", quote(user));
    }
    if let Some(group) = &script.group {
        let _ = writeln!(out, "group = {}", quote(group));
    }
}

/// A VIP as a string, or as an inline table when it has options.
fn vip(vip: &Vip) -> String {
    let address = quote(&vip.to_string());
    let mut options = Vec::new();
    if let Some(dev) = &vip.device {
        options.push(format!("dev = {}", quote(dev)));
    }
    if let Some(label) = &vip.label {
        options.push(format!("label = {}", quote(label)));
    }
    if let Some(scope) = vip.scope {
        options.push(match fields::scope_name(scope) {
            Some(name) => format!("scope = {}", quote(name)),
            None => format!("scope = {scope}"),
        });
    }
    if let Some(brd) = vip.broadcast {
        options.push(format!("brd = {}", quote(&brd.to_string())));
    }
    if options.is_empty() {
        address
    } else {
        format!("{{ address = {address}, {} }}", options.join(", "))
    }
}

/// A list, one entry per line when there are several.
fn list(items: Vec<String>) -> String {
    match items.len() {
        0 => "[]".to_owned(),
        1 => format!("[{}]", items[0]),
        _ => format!("[\n  {},\n]", items.join(",\n  ")),
    }
}

fn instance(out: &mut String, i: &InstanceConfig) {
    let _ = writeln!(out, "\n[[instance]]");
    let _ = writeln!(out, "name = {}", quote(&i.name));
    let _ = writeln!(out, "interface = {}", quote(&i.interface));
    let _ = writeln!(out, "vrid = {}", i.vrid);
    let _ = writeln!(out, "priority = {}", i.priority);
    let (version, interval) = match i.interval {
        AdvertInterval::V2(seconds) => (2, seconds.as_duration()),
        AdvertInterval::V3(centiseconds) => (3, centiseconds.as_duration()),
    };
    let _ = writeln!(out, "version = {version}");
    let _ = writeln!(out, "advert_interval = {}", duration(interval));
    let _ = writeln!(out, "preempt = {}", i.preempt);
    let _ = writeln!(out, "preempt_delay = {}", duration(i.preempt_delay));
    let _ = writeln!(
        out,
        "virtual_ips = {}",
        list(i.virtual_ips.iter().map(vip).collect())
    );
    if !i.excluded_ips.is_empty() {
        let _ = writeln!(
            out,
            "excluded_ips = {}",
            list(i.excluded_ips.iter().map(vip).collect())
        );
    }
    let peers: Vec<String> = i
        .unicast_peers
        .iter()
        .map(|p| quote(&p.to_string()))
        .collect();
    let _ = writeln!(out, "unicast_peers = {}", list(peers));
    if let Some(source) = i.unicast_source {
        let _ = writeln!(out, "unicast_source = {}", quote(&source.to_string()));
    }
    if let Some(auth) = i.auth {
        let end = auth.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
        match std::str::from_utf8(&auth[..end]) {
            Ok(password) if !password.is_empty() && !password.contains('\0') => {
                let _ = writeln!(out, "auth_pass = {}", quote(password));
            }
            _ => {
                let _ = writeln!(
                    out,
                    "# auth_pass: the password's first 8 bytes are not text; set it by hand"
                );
            }
        }
    }
    if i.checksum == ChecksumMode::VrrpOnly {
        let _ = writeln!(out, "checksum = \"vrrp-only\"");
    }
    if i.pass_adverts {
        let _ = writeln!(out, "pass_adverts = true");
    }
    let _ = writeln!(out, "garp_repeat = {}", i.garp.repeat);
    let _ = writeln!(out, "garp_interval = {}", duration(i.garp.interval));
    let _ = writeln!(out, "garp_delay = {}", duration(i.garp.delay));
    let _ = writeln!(out, "garp_refresh = {}", duration(i.garp.refresh));
    let _ = writeln!(out, "garp_refresh_repeat = {}", i.garp.refresh_repeat);
    if i.use_vmac {
        let _ = writeln!(out, "use_vmac = true");
    }
    if !i.track_scripts.is_empty() {
        let tracks = i
            .track_scripts
            .iter()
            .map(|t| match t.weight {
                None => quote(&t.script),
                Some(weight) => format!("{{ script = {}, weight = {weight} }}", quote(&t.script)),
            })
            .collect();
        let _ = writeln!(out, "track_scripts = {}", list(tracks));
    }
    if !i.track_interfaces.is_empty() {
        let tracks = i
            .track_interfaces
            .iter()
            .map(|t| {
                format!(
                    "{{ interface = {}, weight = {} }}",
                    quote(&t.interface),
                    t.weight
                )
            })
            .collect();
        let _ = writeln!(out, "track_interfaces = {}", list(tracks));
    }
    if !i.track_files.is_empty() {
        let tracks = i
            .track_files
            .iter()
            .map(|t| {
                format!(
                    "{{ name = {}, path = {}, weight = {} }}",
                    quote(&t.name),
                    quote(&t.path.to_string_lossy()),
                    t.weight
                )
            })
            .collect();
        let _ = writeln!(out, "track_files = {}", list(tracks));
    }
    notify(out, &i.notify);
}

fn notify(out: &mut String, notify: &Notify) {
    let keys: [(&str, &Option<NotifyScript>); 5] = [
        ("notify_master", &notify.master),
        ("notify_backup", &notify.backup),
        ("notify_fault", &notify.fault),
        ("notify_stop", &notify.stop),
        ("notify", &notify.any),
    ];
    for (key, script) in keys {
        let Some(script) = script else { continue };
        let command = strings(&script.command);
        let _ = match &script.user {
            None => writeln!(out, "{key} = {command}"),
            Some(user) => {
                let group = match &user.group {
                    Some(group) => format!(", group = {}", quote(group)),
                    None => String::new(),
                };
                writeln!(
                    out,
                    "{key} = {{ command = {command}, user = {}{group} }}",
                    quote(&user.user)
                )
            }
        };
    }
}

fn sync_group(out: &mut String, group: &SyncGroup) {
    let _ = writeln!(out, "\n[[sync_group]]");
    let _ = writeln!(out, "name = {}", quote(&group.name));
    let _ = writeln!(out, "members = {}", strings(&group.members));
    if group.tracking_weight {
        let _ = writeln!(out, "tracking_weight = true");
    }
    notify(out, &group.notify);
}
