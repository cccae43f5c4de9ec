//! FRR's vrrpd (Debian's frr 8.4) as a second VRRP implementation in a lab namespace: zebra and
//! vrrpd with their own FRR "pathspace" (`-N <namespace>`), one VRRPv3 virtual router, and the
//! macvlan FRR needs (bridge mode, the virtual MAC, the VIP). FRR keeps the VIP configured on
//! the macvlan and marks the macvlan `protodown` while it is Backup, so "holds the VIP" means
//! the address is there *and* the macvlan is operationally up; the parent interface is set to
//! answer ARP only for its own addresses, so only a master answers for the VIP. The daemons
//! are stopped by the pids in their pid files and the directories removed when the guard
//! drops, also on panic.
use std::{
    fs,
    net::IpAddr,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use crate::netns::Netns;

const FRR_BINARIES: &str = "/usr/lib/frr";
/// Daemons in start order; stopped in the reverse order (vrrpd first, so it can send its
/// priority-0 advert while zebra still runs).
const DAEMONS: [&str; 2] = ["zebra", "vrrpd"];

/// One FRR VRRPv3 virtual router on `interface`.
#[derive(Clone, Debug)]
pub struct FrrVrrp {
    pub interface: String,
    pub vrid: u8,
    pub priority: u8,
    pub advert_interval_ms: u32,
    /// The virtual address, without prefix length: its family chooses `ip` or `ipv6`.
    pub vip: IpAddr,
    pub prefix_len: u8,
}

impl FrrVrrp {
    /// `frr.conf` for zebra and vrrpd: they share one integrated file. FRR 8.4 has no checksum
    /// setting: VRRPv3 over IPv4 always includes the pseudo-header (RFC 5798 §5.2.8);
    /// `[no] vrrp N checksum-with-ipv4-pseudoheader` only appeared in later releases.
    pub fn frr_conf(&self, log: &Path) -> String {
        let vrid = self.vrid;
        let address_keyword = if self.vip.is_ipv4() { "ip" } else { "ipv6" };
        format!(
            "log file {log} informational\n!\ninterface {interface}\n vrrp {vrid} version 3\n\
             \x20vrrp {vrid} priority {priority}\n\
             \x20vrrp {vrid} advertisement-interval {interval}\n\
             \x20vrrp {vrid} {address_keyword} {vip}\n!\n",
            log = log.display(),
            interface = self.interface,
            priority = self.priority,
            interval = self.advert_interval_ms,
            vip = self.vip,
        )
    }

    /// FRR's key for the address family in `show vrrp json`.
    fn family_key(&self) -> &'static str {
        if self.vip.is_ipv4() { "v4" } else { "v6" }
    }

    /// The macvlan FRR looks for: named after the family and VRID, carrying the virtual MAC
    /// (RFC 5798 §7.3: 00:00:5e:00:01:VRID for IPv4, 00:00:5e:00:02:VRID for IPv6).
    fn macvlan(&self) -> (String, String) {
        let (digit, family_byte) = if self.vip.is_ipv4() {
            ("4", 1)
        } else {
            ("6", 2)
        };
        (
            format!("vrrp{digit}-{}", self.vrid),
            format!("00:00:5e:00:{family_byte:02x}:{:02x}", self.vrid),
        )
    }
}

/// zebra and vrrpd running in one namespace; stopped and cleaned up on drop.
pub struct Frr {
    netns: String,
    vrrp: FrrVrrp,
    macvlan: String,
    etc_dir: PathBuf,
    run_dir: PathBuf,
    log: PathBuf,
}

impl Frr {
    /// Creates the macvlan, writes `/etc/frr/<ns>/frr.conf`, starts zebra and vrrpd and waits
    /// until vrrpd answers on its vty socket.
    pub fn start(netns: &Netns, vrrp: FrrVrrp) -> Frr {
        crate::require_root();
        let name = netns.name().to_string();
        let (macvlan, virtual_mac) = vrrp.macvlan();
        netns.ip(&[
            "link",
            "add",
            "link",
            &vrrp.interface,
            "name",
            &macvlan,
            "type",
            "macvlan",
            "mode",
            "bridge",
        ]);
        // FRR sends IPv6 adverts from the macvlan's link-local: it must not be derived from
        // the virtual MAC, or every FRR router would use the same source (FRR's docs).
        netns.ip(&["link", "set", &macvlan, "addrgenmode", "random"]);
        netns.ip(&["link", "set", &macvlan, "address", &virtual_mac]);
        netns.ip(&["link", "set", &macvlan, "up"]);
        let vip = format!("{}/{}", vrrp.vip, vrrp.prefix_len);
        if vrrp.vip.is_ipv4() {
            netns.ip(&["addr", "add", &vip, "dev", &macvlan]);
            // The VIP stays a local address while the macvlan is protodown, and by default
            // Linux answers ARP for any local address on any interface: the parent would
            // answer for the VIP with its own MAC even while FRR is Backup or stopped.
            // Only addresses of the receiving interface, then: the macvlan, while up.
            let out = netns
                .command("sysctl")
                .args([
                    "-qw",
                    &format!("net.ipv4.conf.{}.arp_ignore=1", vrrp.interface),
                ])
                .output()
                .expect("sysctl");
            assert!(
                out.status.success(),
                "arp_ignore: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        } else {
            // No duplicate address detection: the VIP is meant to exist twice on the link
            // (here while Backup, protodown; on the master), and a failed DAD would leave
            // the address unusable when FRR becomes master.
            netns.ip(&["addr", "add", &vip, "dev", &macvlan, "nodad"]);
        }

        let etc_dir = Path::new("/etc/frr").join(&name);
        let run_dir = Path::new("/var/run/frr").join(&name);
        let log = run_dir.join("frr.log");
        let guard = Frr {
            netns: name.clone(),
            vrrp,
            macvlan,
            etc_dir,
            run_dir,
            log,
        };
        for dir in [&guard.etc_dir, &guard.run_dir] {
            fs::create_dir_all(dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display()));
        }
        let conf = guard.etc_dir.join("frr.conf");
        fs::write(&conf, guard.vrrp.frr_conf(&guard.log)).expect("write frr.conf");
        // vtysh reads it and warns on every call when it is missing.
        fs::write(guard.etc_dir.join("vtysh.conf"), "").expect("write vtysh.conf");
        // The daemons drop to the frr user: it owns its files (and only ours are touched).
        for dir in [&guard.etc_dir, &guard.run_dir] {
            let out = Command::new("chown")
                .args(["-R", "frr:frr"])
                .arg(dir)
                .output()
                .expect("chown (is frr installed? cargo xtask setup installs it)");
            assert!(
                out.status.success(),
                "chown {}: {}",
                dir.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        for daemon in DAEMONS {
            let out = netns
                .command(&format!("{FRR_BINARIES}/{daemon}"))
                .args(["-N", &name, "-d", "-f"])
                .arg(&conf)
                .arg("-i")
                .arg(guard.pid_file(daemon))
                .output()
                .unwrap_or_else(|err| {
                    panic!(
                        "start {daemon} (is frr installed? cargo xtask setup installs it): {err}"
                    )
                });
            assert!(
                out.status.success(),
                "{daemon} failed to start: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // vrrpd answers once it runs; an unknown line in frr.conf is only logged, so check
        // that it runs what was asked.
        let deadline = Instant::now() + Duration::from_secs(10);
        let shown = loop {
            if let Some(shown) = guard.try_show() {
                break shown;
            }
            assert!(
                Instant::now() < deadline,
                "vrrpd does not answer `show vrrp json`\n{}",
                guard.log_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let family = &shown[guard.vrrp.family_key()];
        assert!(
            shown["version"] == 3
                && shown["advertisementInterval"] == guard.vrrp.advert_interval_ms
                && family["effectivePriority"] == guard.vrrp.priority
                && family["addresses"] == serde_json::json!([guard.vrrp.vip.to_string()]),
            "vrrpd runs another configuration than frr.conf's: {shown}\n{}",
            guard.log_tail()
        );
        guard
    }

    /// The virtual MAC the macvlan carries: what the client learns for the VIP while FRR is
    /// master.
    pub fn virtual_mac(&self) -> String {
        self.vrrp.macvlan().1
    }

    fn pid_file(&self, daemon: &str) -> PathBuf {
        self.run_dir.join(format!("{daemon}.pid"))
    }

    /// `vtysh -c 'show vrrp json'`: the virtual router's entry, if vrrpd answers.
    pub fn try_show(&self) -> Option<serde_json::Value> {
        let out = Command::new("vtysh")
            .args(["-N", &self.netns, "-c", "show vrrp json"])
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let routers: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        routers
            .as_array()?
            .iter()
            .find(|router| router["vrid"] == u64::from(self.vrrp.vrid))
            .cloned()
    }

    /// The virtual router's entry in `show vrrp json`.
    pub fn show(&self) -> serde_json::Value {
        self.try_show()
            .unwrap_or_else(|| panic!("vrrpd does not answer\n{}", self.log_tail()))
    }

    /// This family's part of `show vrrp json` (status, primaryAddress, stats, …); null when
    /// vrrpd does not answer (e.g. stopped).
    pub fn family(&self) -> serde_json::Value {
        self.try_show().map_or(serde_json::Value::Null, |shown| {
            shown[self.vrrp.family_key()].clone()
        })
    }

    /// FRR's state for the VIP's family: "Initialize", "Backup" or "Master"; empty when
    /// vrrpd does not answer.
    pub fn status(&self) -> String {
        self.family()["status"].as_str().unwrap_or("").to_string()
    }

    /// Whether the VIP is usable here: on the macvlan, and the macvlan up (not protodown).
    pub fn holds_vip(&self) -> bool {
        let out = Command::new("ip")
            .args([
                "-n",
                &self.netns,
                "-j",
                "addr",
                "show",
                "dev",
                &self.macvlan,
            ])
            .output();
        let Ok(out) = out else { return false };
        let Ok(links) = serde_json::from_slice::<serde_json::Value>(&out.stdout) else {
            return false;
        };
        let vip = self.vrrp.vip.to_string();
        links.as_array().into_iter().flatten().any(|link| {
            link["operstate"] == "UP"
                && link["addr_info"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|address| address["local"] == vip.as_str())
        })
    }

    /// Stops vrrpd, then zebra, by their pid files (SIGTERM, SIGKILL after 5 s). vrrpd sends a
    /// priority-0 advert when it stops as Master. Safe to call twice.
    pub fn stop(&self) {
        for daemon in DAEMONS.iter().rev() {
            let Some(pid) = self.pid(daemon) else {
                continue;
            };
            signal(pid, "TERM");
            let deadline = Instant::now() + Duration::from_secs(5);
            while alive(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if alive(pid) {
                signal(pid, "KILL");
            }
            let _ = fs::remove_file(self.pid_file(daemon));
        }
    }

    fn pid(&self, daemon: &str) -> Option<u32> {
        fs::read_to_string(self.pid_file(daemon))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// The last lines of FRR's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(30);
        format!(
            "--- FRR log (last 30 lines) ---\n{}\n",
            lines[start..].join("\n")
        )
    }
}

impl Drop for Frr {
    fn drop(&mut self) {
        self.stop();
        let _ = Command::new("ip")
            .args(["-n", &self.netns, "link", "del", &self.macvlan])
            .output();
        let _ = fs::remove_dir_all(&self.etc_dir);
        let _ = fs::remove_dir_all(&self.run_dir);
    }
}

fn signal(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .output();
}

/// Whether `pid` runs (a zombie waiting for its reaper counts as gone).
fn alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vrrp(vip: &str) -> FrrVrrp {
        FrrVrrp {
            interface: "eth0".into(),
            vrid: 51,
            priority: 200,
            advert_interval_ms: 100,
            vip: vip.parse().unwrap(),
            prefix_len: 24,
        }
    }

    #[test]
    fn conf_names_the_family() {
        let log = Path::new("/x/frr.log");
        let v4 = vrrp("192.0.2.100").frr_conf(log);
        assert!(v4.contains("interface eth0\n vrrp 51 version 3\n"), "{v4}");
        assert!(v4.contains(" vrrp 51 priority 200\n"), "{v4}");
        assert!(v4.contains(" vrrp 51 advertisement-interval 100\n"), "{v4}");
        assert!(v4.contains(" vrrp 51 ip 192.0.2.100\n"), "{v4}");
        let v6 = vrrp("2001:db8::100").frr_conf(log);
        assert!(v6.contains(" vrrp 51 ipv6 2001:db8::100\n"), "{v6}");
    }

    #[test]
    fn macvlan_carries_the_family_virtual_mac() {
        assert_eq!(
            vrrp("192.0.2.100").macvlan(),
            ("vrrp4-51".into(), "00:00:5e:00:01:33".into())
        );
        assert_eq!(
            vrrp("2001:db8::100").macvlan(),
            ("vrrp6-51".into(), "00:00:5e:00:02:33".into())
        );
    }
}
