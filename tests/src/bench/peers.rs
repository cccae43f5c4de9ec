//! The two implementations under test, configured alike: the same virtual routers, priorities,
//! versions and intervals, in xvrrpd's native TOML and in keepalived.conf.
use std::{fmt::Write as _, fs, time::Duration};

use serde::Serialize;

use crate::lab::Lab;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Implementation {
    Xvrrpd,
    Keepalived,
}

impl Implementation {
    pub const BOTH: [Implementation; 2] = [Implementation::Xvrrpd, Implementation::Keepalived];

    pub fn name(self) -> &'static str {
        match self {
            Implementation::Xvrrpd => "xvrrpd",
            Implementation::Keepalived => "keepalived",
        }
    }
}

/// The VIP of the single-instance groups (the lab's usual one).
pub const VIP: &str = "192.0.2.100";

/// A set of virtual routers on `eth0`, the same on every router of a lab.
#[derive(Debug, Clone, Copy)]
pub struct Group {
    pub version: u8,
    pub interval: Duration,
    /// 1: VRID 51 with [`VIP`]/24. More: VRIDs 1..=n, each with its own /32 VIP
    /// (see [`instance_vip`]).
    pub instances: u8,
    /// xvrrpd only: the configuration's `xdp` ("auto", "native", "skb" or "off": the raw-socket
    /// data plane, kernel ARP).
    pub xdp: &'static str,
}

impl Group {
    pub fn single(version: u8, interval: Duration) -> Group {
        Group {
            version,
            interval,
            instances: 1,
            xdp: "auto",
        }
    }

    /// (VRID, VIP with prefix) of each instance.
    pub fn routers(&self) -> Vec<(u8, String)> {
        if self.instances == 1 {
            return vec![(51, format!("{VIP}/24"))];
        }
        (1..=self.instances)
            .map(|vrid| (vrid, format!("{}/32", instance_vip(vrid))))
            .collect()
    }

    /// The VIP of the group's last instance: held last when the master starts them in order.
    pub fn last_vip(&self) -> String {
        let (_, vip) = self.routers().pop().expect("one instance");
        vip.split('/').next().unwrap_or_default().to_string()
    }

    pub fn xvrrpd_config(&self, priority: u8) -> String {
        let mut config = format!(
            "[global]\nrouter_id = \"xv\"\ncontrol_socket = \"@SOCKET@\"\nxdp = \"{}\"\n",
            self.xdp
        );
        let interval = if self.version == 2 {
            format!("{}s", self.interval.as_secs())
        } else {
            format!("{}ms", self.interval.as_millis())
        };
        for (vrid, vip) in self.routers() {
            let _ = write!(
                config,
                "\n[[instance]]\nname = \"VI_{vrid}\"\ninterface = \"eth0\"\nvrid = {vrid}\n\
                 priority = {priority}\nversion = {}\nadvert_interval = \"{interval}\"\n\
                 virtual_ips = [\"{vip}\"]\n",
                self.version
            );
        }
        config
    }

    pub fn keepalived_config(&self, priority: u8) -> String {
        let mut config = format!(
            "global_defs {{\n    router_id ka\n    vrrp_version {}\n}}\n",
            self.version
        );
        // keepalived takes seconds, to the centisecond in v3.
        let interval = format!("{}", self.interval.as_secs_f64());
        for (vrid, vip) in self.routers() {
            let _ = write!(
                config,
                "vrrp_instance VI_{vrid} {{\n    state BACKUP\n    interface eth0\n    \
                 virtual_router_id {vrid}\n    priority {priority}\n    advert_int {interval}\n    \
                 virtual_ipaddress {{\n        {vip}\n    }}\n}}\n"
            );
        }
        config
    }
}

/// The /32 VIP of VRID `vrid` in multi-instance groups: 198.51.100.1..=200, then 203.0.113.x.
pub fn instance_vip(vrid: u8) -> String {
    if vrid <= 200 {
        format!("198.51.100.{vrid}")
    } else {
        format!("203.0.113.{}", vrid - 200)
    }
}

/// Starts `implementation` on router `index` with `group` at `priority`.
pub fn start(
    lab: &mut Lab,
    index: usize,
    implementation: Implementation,
    group: &Group,
    priority: u8,
) {
    match implementation {
        Implementation::Xvrrpd => {
            // The daemon's per-advert debug lines would cost it CPU the benchmark would count.
            lab.start_file_env(
                index,
                &format!("r{index}.toml"),
                &group.xvrrpd_config(priority),
                &[("RUST_LOG", "info")],
            );
        }
        Implementation::Keepalived => {
            lab.start_keepalived(index, &group.keepalived_config(priority))
        }
    }
}

/// How many times router `index` has become Master since its daemon started: xvrrpd's status
/// counters, or the "Entering MASTER STATE" lines of keepalived's log. `None` if xvrrpd does
/// not answer.
pub fn became_master(lab: &Lab, index: usize, implementation: Implementation) -> Option<u64> {
    match implementation {
        Implementation::Xvrrpd => {
            let status = lab.try_status(index)?;
            let instances = status["instances"].as_array()?;
            Some(
                instances
                    .iter()
                    .filter_map(|instance| instance["counters"]["became_master"].as_u64())
                    .sum(),
            )
        }
        Implementation::Keepalived => {
            let log = lab.dir().join(format!("r{index}-keepalived.log"));
            let text = fs::read_to_string(log).unwrap_or_default();
            Some(
                text.lines()
                    .filter(|line| line.contains("Entering MASTER STATE"))
                    .count() as u64,
            )
        }
    }
}

/// Starts a master (r0, priority 200) and a backup (r1, priority 100) of `group` and waits
/// until r0 holds every VIP and r1 none; panics with the logs if they do not settle.
pub fn master_and_backup(lab: &mut Lab, implementation: Implementation, group: &Group) {
    settle_master_and_backup(lab, implementation, group).unwrap_or_else(|why| panic!("{why}"));
}

/// [`master_and_backup`], with what went wrong (and the logs) when the pair did not settle.
pub fn settle_master_and_backup(
    lab: &mut Lab,
    implementation: Implementation,
    group: &Group,
) -> Result<(), String> {
    start(lab, 0, implementation, group, 200);
    let last = group.last_vip();
    let settle = super::master_down_interval(group.version, group.interval, 200)
        + Duration::from_secs(10 + u64::from(group.instances) / 10);
    if !super::wait_until(settle, || lab.holds(0, &last)) {
        return Err(format!(
            "{}: r0 never became master of every instance\n{}",
            implementation.name(),
            lab.logs()
        ));
    }
    start(lab, 1, implementation, group, 100);
    // The backup must have heard the master (no VIP on it) and stay quiet.
    super::pause(Duration::from_secs(2) + group.interval * 4);
    if lab.holds(1, &last) || !lab.holds(0, &last) {
        return Err(format!(
            "{}: r1 did not settle as backup\n{}",
            implementation.name(),
            lab.logs()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_configs_name_every_instance() {
        let group = Group {
            version: 3,
            interval: Duration::from_millis(10),
            instances: 255,
            xdp: "auto",
        };
        let native = group.xvrrpd_config(100);
        let keepalived = group.keepalived_config(100);
        assert_eq!(native.matches("[[instance]]").count(), 255);
        assert_eq!(keepalived.matches("vrrp_instance").count(), 255);
        assert!(native.contains("advert_interval = \"10ms\""));
        assert!(keepalived.contains("advert_int 0.01\n"));
        assert!(native.contains("virtual_ips = [\"203.0.113.55/32\"]"));
        assert_eq!(group.last_vip(), "203.0.113.55");
        let v2 = Group::single(2, Duration::from_secs(1));
        assert!(v2.xvrrpd_config(100).contains("advert_interval = \"1s\""));
        assert!(v2.keepalived_config(100).contains("advert_int 1\n"));
        assert!(v2.keepalived_config(100).contains("192.0.2.100/24"));
    }
}
