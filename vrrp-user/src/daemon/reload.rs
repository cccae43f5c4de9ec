//! What a reload changes: the running instances matched with the new file's by interface, VRID
//! and family. Pure: the daemon carries the plan out.
use std::{collections::BTreeMap, fmt};

use crate::config::{Config, Family, Global, InstanceConfig};

/// An instance's identity across reloads: the other routers know it by these.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceId {
    pub interface: String,
    pub vrid: u8,
    pub family: Family,
}

impl InstanceId {
    pub fn of(instance: &InstanceConfig) -> Self {
        InstanceId {
            interface: instance.interface.clone(),
            vrid: instance.vrid,
            family: instance.family(),
        }
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} VRID {} {}", self.interface, self.vrid, self.family)
    }
}

/// What happens to an instance that is in both the running and the new configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Nothing the daemon uses changed (the file may have moved it to another line).
    None,
    /// Taken in place: state, timers and adverts go on without a gap.
    InPlace,
    /// The other routers would see another virtual router: it resigns and starts again.
    Restart(&'static str),
}

#[derive(Debug, Default)]
pub struct Plan<'a> {
    /// Running instances also in the new file, with what changes.
    pub kept: Vec<(&'a InstanceConfig, Change)>,
    /// New instances.
    pub added: Vec<&'a InstanceConfig>,
    /// Running instances the new file no longer has.
    pub removed: Vec<InstanceId>,
}

impl Plan<'_> {
    /// One line for logs and for `xvrrpd reload`.
    pub fn summary(&self) -> String {
        let count = |wanted: fn(&Change) -> bool| {
            self.kept
                .iter()
                .filter(|(_, change)| wanted(change))
                .count()
        };
        format!(
            "{} unchanged, {} changed in place, {} restarted, {} added, {} removed",
            count(|c| *c == Change::None),
            count(|c| *c == Change::InPlace),
            count(|c| matches!(c, Change::Restart(_))),
            self.added.len(),
            self.removed.len()
        )
    }
}

pub fn plan<'a>(running: &BTreeMap<InstanceId, InstanceConfig>, new: &'a Config) -> Plan<'a> {
    let mut plan = Plan::default();
    for instance in &new.instances {
        match running.get(&InstanceId::of(instance)) {
            Some(old) => plan.kept.push((instance, change(old, instance))),
            None => plan.added.push(instance),
        }
    }
    plan.removed = running
        .keys()
        .filter(|id| !new.instances.iter().any(|i| InstanceId::of(i) == **id))
        .cloned()
        .collect();
    plan
}

fn change(old: &InstanceConfig, new: &InstanceConfig) -> Change {
    if let Some(reason) = restart_reason(old, new) {
        return Change::Restart(reason);
    }
    let moved = InstanceConfig {
        line: old.line,
        ..new.clone()
    };
    if moved == *old {
        Change::None
    } else {
        Change::InPlace
    }
}

/// Changes that make it another virtual router for its peers, or that its sockets and the
/// state machine cannot take while running.
fn restart_reason(old: &InstanceConfig, new: &InstanceConfig) -> Option<&'static str> {
    let owner = |i: &InstanceConfig| i.priority == crate::fsm::OWNER_PRIORITY;
    if old.version() != new.version() {
        Some("the protocol version changed")
    } else if old.unicast_source != new.unicast_source {
        Some("the advert source address changed")
    } else if owner(old) != owner(new) {
        Some("address ownership (priority 255) changed")
    } else if old.use_vmac != new.use_vmac {
        Some("use_vmac changed")
    } else {
        None
    }
}

/// Global settings that only a restart applies, each as a warning.
pub fn global_warnings(old: &Global, new: &Global) -> Vec<String> {
    let mut warnings = Vec::new();
    if old.control_socket != new.control_socket {
        warnings.push(format!(
            "control_socket stays {} until xvrrpd restarts",
            old.control_socket.display()
        ));
    }
    if old.xdp != new.xdp {
        warnings.push("a new xdp mode applies when xvrrpd restarts".to_owned());
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Config {
        Config::from_toml_str(text, "test.toml")
            .expect("valid test config")
            .config
    }

    fn instance(name: &str, vrid: u8, extra: &str) -> String {
        format!(
            "[[instance]]\nname = \"{name}\"\ninterface = \"eth0\"\nvrid = {vrid}\n\
             advert_interval = \"100ms\"\nvirtual_ips = [\"192.0.2.{vrid}/24\"]\n{extra}\n"
        )
    }

    fn running(config: &Config) -> BTreeMap<InstanceId, InstanceConfig> {
        config
            .instances
            .iter()
            .map(|i| (InstanceId::of(i), i.clone()))
            .collect()
    }

    #[test]
    fn instances_are_matched_by_interface_vrid_and_family() {
        let old = load(&(instance("a", 1, "") + &instance("b", 2, "") + &instance("c", 3, "")));
        let new = load(
            &(String::from("# a comment moves every line\n")
                + &instance("renamed", 1, "")
                + &instance("b", 2, "priority = 120")
                + &instance("d", 4, "")),
        );
        let plan = plan(&running(&old), &new);
        let kept: Vec<(&str, Change)> = plan
            .kept
            .iter()
            .map(|(i, change)| (i.name.as_str(), *change))
            .collect();
        assert_eq!(kept, [("renamed", Change::InPlace), ("b", Change::InPlace)]);
        assert_eq!(plan.added.iter().map(|i| i.vrid).collect::<Vec<_>>(), [4]);
        assert_eq!(
            plan.removed,
            [InstanceId {
                interface: "eth0".into(),
                vrid: 3,
                family: Family::V4
            }]
        );
        assert_eq!(
            plan.summary(),
            "0 unchanged, 2 changed in place, 0 restarted, 1 added, 1 removed"
        );
    }

    #[test]
    fn a_config_that_only_moved_is_unchanged() {
        let old = load(&instance("a", 1, ""));
        let new = load(&format!("\n\n{}", instance("a", 1, "")));
        let plan = plan(&running(&old), &new);
        assert_eq!(plan.kept[0].1, Change::None);
    }

    #[test]
    fn identity_changes_restart_the_instance() {
        let base = |interval: &str, extra: &str| {
            format!(
                "[[instance]]\nname = \"a\"\ninterface = \"eth0\"\nvrid = 1\n\
                 advert_interval = \"{interval}\"\nvirtual_ips = [\"192.0.2.1/24\"]\n{extra}\n"
            )
        };
        let old = load(&base("100ms", ""));
        for (new, reason) in [
            (base("1s", "version = 2"), "the protocol version changed"),
            (
                base("100ms", "unicast_source = \"192.0.2.200\""),
                "the advert source address changed",
            ),
            (
                base("100ms", "priority = 255"),
                "address ownership (priority 255) changed",
            ),
        ] {
            let new = load(&new);
            let plan = plan(&running(&old), &new);
            assert_eq!(plan.kept[0].1, Change::Restart(reason));
        }
    }

    #[test]
    fn restart_only_globals_are_warned_about() {
        let old = load(&instance("a", 1, ""));
        let new = load(&format!(
            "[global]\ncontrol_socket = \"/run/other.sock\"\nxdp = \"off\"\n{}",
            instance("a", 1, "")
        ));
        assert_eq!(
            global_warnings(&old.global, &new.global),
            [
                "control_socket stays /run/xvrrpd.sock until xvrrpd restarts",
                "a new xdp mode applies when xvrrpd restarts"
            ]
        );
    }
}
