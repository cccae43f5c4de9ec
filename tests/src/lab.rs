//! A lab of network namespaces for daemon tests: routers and a client on one bridge, real
//! `xvrrpd` processes, and ways to see what the network shows. Everything is removed when the
//! lab drops, also when a test fails.
use std::{
    fs,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use nix::{
    sched::{CpuSet, sched_getaffinity, sched_setaffinity},
    unistd::Pid,
};

use crate::{
    netns::{Netns, veth},
    xdp::attach_pass_program,
};

/// The subnet every lab uses (documentation range).
pub const SUBNET: &str = "192.0.2";
pub const CLIENT_ADDRESS: &str = "192.0.2.50";
pub const CLIENT_ADDRESS_V6: &str = "2001:db8::50/64";

/// A native config for one instance on `eth0` with VIP 192.0.2.100; `extra` adds keys to the
/// instance. `@SOCKET@` is replaced by the lab's control socket path when started.
pub fn config(router_id: &str, priority: u8, interval: &str, extra: &str) -> String {
    config_with_vip(router_id, priority, interval, "192.0.2.100/24", extra)
}

/// As [`config`], with another VIP (e.g. an IPv6 one).
pub fn config_with_vip(
    router_id: &str,
    priority: u8,
    interval: &str,
    vip: &str,
    extra: &str,
) -> String {
    format!(
        "[global]\nrouter_id = \"{router_id}\"\ncontrol_socket = \"@SOCKET@\"\n\n\
         [[instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvrid = 51\n\
         priority = {priority}\nadvert_interval = \"{interval}\"\n\
         virtual_ips = [\"{vip}\"]\n{extra}\n"
    )
}

pub struct Router {
    pub netns: Netns,
    /// The router's interface towards the bridge.
    pub interface: String,
    pub address: String,
    pub daemon: Option<Daemon>,
}

pub struct Lab {
    pub bridge: Netns,
    pub client: Netns,
    pub routers: Vec<Router>,
    dir: PathBuf,
    /// XDP_PASS programs on the bridge's ports: a veth delivers XDP_TX frames from its peer
    /// only when it runs XDP itself.
    port_programs: Vec<aya::Ebpf>,
}

impl Lab {
    /// `routers` routers (192.0.2.11, .12, …) and a client (192.0.2.50) on one bridge.
    pub fn new(tag: &str, routers: usize) -> Lab {
        let bridge = Netns::new(&format!("{tag}-br"));
        // The bridge stands for a switch: no host firewall on what it forwards (br_netfilter
        // would also drop broken IPv4 headers the tests send at a router, and charge every
        // frame's sender for its hooks).
        // Without the module loaded the keys do not exist, and there is nothing to turn off.
        if std::path::Path::new("/proc/sys/net/bridge").exists() {
            for table in ["iptables", "ip6tables", "arptables"] {
                let key = format!("net.bridge.bridge-nf-call-{table}=0");
                let out = bridge.command("sysctl").args(["-qw", &key]).output();
                assert!(out.is_ok_and(|out| out.status.success()), "sysctl {key}");
            }
        }
        bridge.ip(&["link", "add", "br0", "type", "bridge"]);
        bridge.ip(&["link", "set", "br0", "up"]);
        let mut ports = Vec::new();
        let mut list = Vec::new();
        for index in 0..routers {
            let netns = Netns::new(&format!("{tag}-r{index}"));
            let port = format!("p{index}");
            veth(&netns, "eth0", &bridge, &port);
            bridge.ip(&["link", "set", &port, "master", "br0"]);
            let address = format!("{SUBNET}.{}", 11 + index);
            netns.ip(&["addr", "add", &format!("{address}/24"), "dev", "eth0"]);
            ports.push(bridge.ifindex(&port));
            list.push(Router {
                netns,
                interface: "eth0".into(),
                address,
                daemon: None,
            });
        }
        let client = Netns::new(&format!("{tag}-cl"));
        veth(&client, "eth0", &bridge, "pc");
        bridge.ip(&["link", "set", "pc", "master", "br0"]);
        client.ip(&[
            "addr",
            "add",
            &format!("{CLIENT_ADDRESS}/24"),
            "dev",
            "eth0",
        ]);
        client.ip(&["addr", "add", CLIENT_ADDRESS_V6, "dev", "eth0", "nodad"]);
        let port_programs =
            bridge.enter(|| ports.iter().map(|&i| attach_pass_program(i)).collect());
        let dir = std::env::temp_dir().join(format!("{}-{}", bridge.name(), std::process::id()));
        fs::create_dir_all(&dir).expect("lab directory");
        Lab {
            bridge,
            client,
            routers: list,
            dir,
            port_programs,
        }
    }

    /// Starts xvrrpd on router `index` with `config` (TOML); its log goes to a file in the
    /// lab directory, shown when the test fails.
    pub fn start(&mut self, index: usize, config: &str) {
        self.start_file(index, &format!("r{index}.toml"), config);
    }

    /// Starts xvrrpd on router `index` with `config` written to `file_name` in the lab
    /// directory: the name's extension chooses the format (`.toml` native, anything else
    /// keepalived.conf). `@SOCKET@` and `@DIR@` (the lab directory) are replaced first.
    pub fn start_file(&mut self, index: usize, file_name: &str, config: &str) {
        self.start_file_env(index, file_name, config, &[]);
    }

    /// As [`Lab::start_file`], with extra environment variables for the daemon.
    pub fn start_file_env(
        &mut self,
        index: usize,
        file_name: &str,
        config: &str,
        env: &[(&str, &str)],
    ) {
        self.start_daemon(index, file_name, config, env, false);
    }

    /// As [`Lab::start_file`], with the daemon as PID 1 of a new PID namespace that has its own
    /// `/proc` (`unshare --pid --fork --mount-proc`): its scripts' `killall` / `pidof` then see
    /// only this router's processes, not every namespace's. Run more processes in it with
    /// [`Lab::in_pid_namespace`]. [`Lab::signal`] reaches the daemon itself; when the lab
    /// drops, the daemon is killed and the kernel kills everything else in the namespace.
    pub fn start_file_pid_namespace(&mut self, index: usize, file_name: &str, config: &str) {
        self.start_daemon(index, file_name, config, &[], true);
    }

    /// A command that runs in router `index`'s network, PID and mount namespaces (started with
    /// [`Lab::start_file_pid_namespace`]): `nsenter` forks it as a child of its own, so it
    /// is reaped when it exits.
    pub fn in_pid_namespace(&self, index: usize, program: &str) -> Command {
        let pid = self.daemon_pid(index);
        let mut command = Command::new("nsenter");
        command
            .args([
                "--target",
                &pid.to_string(),
                "--pid",
                "--mount",
                "--net",
                "--",
            ])
            .arg(program);
        command
    }

    /// The host PID of router `index`'s daemon (for a PID-namespace one, the child of
    /// `unshare`, waited for up to 5 s).
    pub fn daemon_pid(&self, index: usize) -> u32 {
        let daemon = self.routers[index].daemon.as_ref().expect("daemon running");
        let outer = daemon.child.id();
        if !daemon.pid_namespace {
            return outer;
        }
        let children = format!("/proc/{outer}/task/{outer}/children");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let text = fs::read_to_string(&children).unwrap_or_default();
            if let Some(pid) = text.split_whitespace().next().and_then(|p| p.parse().ok()) {
                return pid;
            }
            assert!(
                Instant::now() < deadline,
                "unshare {outer} started no daemon"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn start_daemon(
        &mut self,
        index: usize,
        file_name: &str,
        config: &str,
        env: &[(&str, &str)],
        pid_namespace: bool,
    ) {
        let config_path = self.write_config(index, file_name, config);
        let socket = self.dir.join(format!("r{index}.sock"));
        let router = &mut self.routers[index];
        let name = router.netns.name().to_string();
        let log_path = self.dir.join(format!("r{index}.log"));
        let log = fs::File::create(&log_path).expect("log file");
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &name]);
        if pid_namespace {
            // --kill-child: the daemon gets SIGKILL when unshare dies (the lab kills it).
            command.args(["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"]);
        }
        let child = command
            .arg(xvrrpd_binary())
            .args(["run", "-c"])
            .arg(&config_path)
            .arg("--socket")
            .arg(&socket)
            .env("RUST_LOG", "info,vrrp_user=debug")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start xvrrpd");
        router.daemon = Some(Daemon {
            child,
            log: log_path,
            socket,
            pid_namespace,
        });
    }

    /// Writes router `index`'s config file `file_name` (as [`Lab::start_file`] does, with
    /// `@SOCKET@` and `@DIR@` replaced), e.g. to change it before a reload; its path.
    pub fn write_config(&self, index: usize, file_name: &str, config: &str) -> PathBuf {
        let socket = self.dir.join(format!("r{index}.sock"));
        let config = config
            .replace("@SOCKET@", &socket.display().to_string())
            .replace("@DIR@", &self.dir.display().to_string());
        let path = self.dir.join(file_name);
        fs::write(&path, config).expect("write config");
        path
    }

    /// Writes router `index`'s `file_name` (as [`Lab::write_config`]) and reloads it with
    /// `xvrrpd reload`, which must succeed; its stdout (the summary).
    pub fn reload_with(&self, index: usize, file_name: &str, config: &str) -> String {
        self.write_config(index, file_name, config);
        let out = self.reload(index);
        assert!(
            out.status.success(),
            "reload failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.logs()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `xvrrpd reload` against router `index`'s daemon.
    pub fn reload(&self, index: usize) -> std::process::Output {
        let daemon = self.routers[index].daemon.as_ref().expect("daemon running");
        Command::new(xvrrpd_binary())
            .args(["reload", "--socket"])
            .arg(&daemon.socket)
            .output()
            .expect("xvrrpd reload")
    }

    /// Waits up to `limit` for router `index`'s first instance to report `state`.
    pub fn wait_for_state(&self, index: usize, state: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self
                .try_status(index)
                .is_some_and(|status| status["instances"][0]["state"] == state)
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Starts keepalived (VRRP only, foreground) on router `index` with `config`
    /// (keepalived.conf syntax); stopped with SIGTERM through [`Lab::signal`] or on drop.
    pub fn start_keepalived(&mut self, index: usize, config: &str) {
        let router = &mut self.routers[index];
        let name = router.netns.name().to_string();
        let config_path = self.dir.join(format!("r{index}-keepalived.conf"));
        fs::write(&config_path, config).expect("write keepalived.conf");
        let log_path = self.dir.join(format!("r{index}-keepalived.log"));
        let log = fs::File::create(&log_path).expect("log file");
        let pid = |what: &str| self.dir.join(format!("r{index}-{what}.pid"));
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &name,
                "keepalived",
                "-n",
                "-l",
                "-D",
                "-P",
                "-f",
            ])
            .arg(&config_path)
            .arg("-p")
            .arg(pid("keepalived"))
            .arg("-r")
            .arg(pid("vrrp"))
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start keepalived (is it installed? cargo xtask setup installs it)");
        router.daemon = Some(Daemon {
            child,
            log: log_path,
            socket: PathBuf::new(),
            pid_namespace: false,
        });
    }

    /// The index of the router holding `vip` on its interface, if exactly one does.
    pub fn holder(&self, vip: &str) -> Option<usize> {
        let holders: Vec<usize> = (0..self.routers.len())
            .filter(|&index| self.holds(index, vip))
            .collect();
        match holders.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }

    pub fn holds(&self, index: usize, vip: &str) -> bool {
        let router = &self.routers[index];
        let out = router
            .netns
            .ip(&["-o", "addr", "show", "dev", &router.interface]);
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .any(|word| word.split('/').next() == Some(vip))
    }

    /// Waits up to `limit` for router `index` to be the only holder of `vip`.
    pub fn wait_for_holder(&self, index: usize, vip: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.holder(vip) == Some(index) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Waits up to `limit` for router `index` to hold `vip`, whatever the others do (a router
    /// whose link is cut keeps its address: it cannot hear the new master).
    pub fn wait_for_holder_or_both(&self, index: usize, vip: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.holds(index, vip) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// The lab's directory (configs, logs, sockets): removed when the lab drops.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Writes an executable `/bin/sh` script `name` with `body` into the lab's directory.
    pub fn write_script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.dir.join(name);
        fs::write(&path, format!("#!/bin/sh\n{body}")).expect("write script");
        let executable = std::os::unix::fs::PermissionsExt::from_mode(0o755);
        fs::set_permissions(&path, executable).expect("chmod script");
        path
    }

    /// The logs of every daemon, for failure messages.
    pub fn logs(&self) -> String {
        let mut all = String::new();
        for (index, router) in self.routers.iter().enumerate() {
            if let Some(daemon) = &router.daemon {
                let text = fs::read_to_string(&daemon.log).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(40).collect();
                all.push_str(&format!("--- r{index} log (last 40 lines) ---\n"));
                for line in tail.into_iter().rev() {
                    all.push_str(line);
                    all.push('\n');
                }
            }
        }
        all
    }

    /// Has the bridge forward in kernel threads of its own (threaded NAPI on its ports). A veth
    /// otherwise runs the bridge, and every receiver behind it, in the sender's context, and a
    /// benchmark charges a daemon for the whole lab's work on the frames it sends. The threads
    /// run SCHED_FIFO: a veth's ring holds 256 frames, and a burst of adverts overflows it
    /// (3 % of them dropped at 255 instances) when the forwarding waits for a CPU. Returns the
    /// threads' pids.
    pub fn thread_the_bridge(&self) -> Vec<i32> {
        // The routers' ports run NAPI (they carry an XDP program); what the bridge forwards
        // to the client's port is then received in the forwarding thread too.
        (0..self.routers.len())
            .flat_map(|index| thread_napi(&self.bridge, &format!("p{index}")))
            .collect()
    }

    /// Has router `index`'s interface receive in a kernel thread of its own (threaded NAPI at
    /// SCHED_FIFO): the thread's run time is then exactly what the router's kernel spends on
    /// the frames it receives, answers included. Receive interrupts are moderated as a NIC's
    /// are: while frames keep coming, the interface is polled every `moderation` instead of
    /// waking the thread for each frame (`gro_flush_timeout`, with `napi_defer_hard_irqs` empty
    /// polls before it goes back to waking). Returns the threads' pids.
    pub fn thread_router_receive(&self, index: usize, moderation: Duration) -> Vec<i32> {
        let router = &self.routers[index];
        // A veth hands a frame to its peer's NAPI only when the peer asks for GRO and the
        // sender does no TSO (else the frame could not be aggregated, and goes to the
        // backlog of whoever sent it).
        let settings = [
            (&router.netns, router.interface.clone(), "gro"),
            (&self.bridge, format!("p{index}"), "tso"),
        ];
        for (netns, interface, feature) in settings {
            let on_off = if feature == "gro" { "on" } else { "off" };
            let out = netns
                .command("ethtool")
                .args(["-K", &interface, feature, on_off])
                .output();
            assert!(
                out.as_ref().is_ok_and(|out| out.status.success()),
                "ethtool -K {interface} {feature} {on_off}: {out:?}"
            );
        }
        let interface = &router.interface;
        for (key, value) in [
            ("napi_defer_hard_irqs", 2),
            ("gro_flush_timeout", moderation.as_nanos()),
        ] {
            let path = format!("/sys/class/net/{interface}/{key}");
            let out = router
                .netns
                .command("sh")
                .args(["-c", &format!("echo {value} > {path}")])
                .output();
            assert!(
                out.as_ref().is_ok_and(|out| out.status.success()),
                "{path} = {value}: {out:?}"
            );
        }
        thread_napi(&router.netns, interface)
    }

    /// Plugs router `index` in again after its interface was deleted: a new veth pair to the
    /// bridge (up at once, as `ip link add` then `up` leave it), then its address.
    pub fn replug(&mut self, index: usize) {
        let router = &self.routers[index];
        let port = format!("p{index}");
        veth(&router.netns, &router.interface, &self.bridge, &port);
        self.bridge.ip(&["link", "set", &port, "master", "br0"]);
        let address = format!("{}/24", router.address);
        router
            .netns
            .ip(&["addr", "add", &address, "dev", &router.interface]);
        let ifindex = self.bridge.ifindex(&port);
        let program = self.bridge.enter(|| attach_pass_program(ifindex));
        self.port_programs.push(program);
    }

    /// Cuts router `index`'s link: its veth's bridge end goes down.
    pub fn cut(&self, index: usize) {
        self.bridge
            .ip(&["link", "set", &format!("p{index}"), "down"]);
    }

    pub fn restore(&self, index: usize) {
        self.bridge.ip(&["link", "set", &format!("p{index}"), "up"]);
    }

    /// Sends `signal` (e.g. "TERM", "KILL") to router `index`'s daemon.
    pub fn signal(&self, index: usize, signal: &str) {
        if self.routers[index].daemon.is_some() {
            let _ = Command::new("kill")
                .args([&format!("-{signal}"), &self.daemon_pid(index).to_string()])
                .status();
        }
    }

    /// Waits for router `index`'s daemon to exit; its exit code.
    pub fn wait_exit(&mut self, index: usize, limit: Duration) -> Option<i32> {
        let daemon = self.routers[index].daemon.as_mut()?;
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = daemon.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// The JSON status of router `index`'s daemon, if it answers.
    pub fn try_status(&self, index: usize) -> Option<serde_json::Value> {
        let daemon = self.routers[index].daemon.as_ref()?;
        let out = Command::new(xvrrpd_binary())
            .args(["status", "--json", "--socket"])
            .arg(&daemon.socket)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).ok())?
    }

    /// The JSON status of router `index`'s daemon.
    pub fn status(&self, index: usize) -> serde_json::Value {
        let daemon = self.routers[index].daemon.as_ref().expect("daemon running");
        let out = Command::new(xvrrpd_binary())
            .args(["status", "--json", "--socket"])
            .arg(&daemon.socket)
            .output()
            .expect("xvrrpd status");
        assert!(
            out.status.success(),
            "xvrrpd status: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("status JSON")
    }

    /// Pings `target` from the client every `interval` for `duration`; the longest time the
    /// client went without a reply, from its own receive timestamps (`ping -D`), so a ping that
    /// cannot keep its pace on a loaded machine does not shrink the figure.
    pub fn ping_outage(&self, target: &str, interval: Duration, duration: Duration) -> Outage {
        let count = (duration.as_millis() / interval.as_millis().max(1)) as u64;
        let out = self
            .client
            .command("ping")
            .args([
                "-n",
                "-D",
                "-i",
                &format!("{:.3}", interval.as_secs_f64()),
                "-c",
                &count.to_string(),
                "-W",
                "1",
                target,
            ])
            .output()
            .expect("ping");
        Outage::from_ping(&String::from_utf8_lossy(&out.stdout), count, interval)
    }

    /// Isolates router `index`'s bridge port from the other routers' (the client still sees
    /// it): routers that cannot hear each other all become master.
    pub fn isolate(&self, index: usize, isolated: bool) {
        let out = self
            .bridge
            .command("bridge")
            .args([
                "link",
                "set",
                "dev",
                &format!("p{index}"),
                "isolated",
                if isolated { "on" } else { "off" },
            ])
            .output()
            .expect("bridge link set");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Lost replies seen by a pinging client.
#[derive(Debug, Clone, Copy)]
pub struct Outage {
    pub sent: u64,
    pub received: u64,
    /// The longest time between two consecutive replies, less one ping interval: how long
    /// the client had no answer.
    pub longest: Duration,
}

impl Outage {
    fn from_ping(output: &str, sent: u64, interval: Duration) -> Outage {
        let stamps: Vec<f64> = output
            .lines()
            .filter(|line| line.contains("icmp_seq="))
            .filter_map(|line| line.strip_prefix('['))
            .filter_map(|rest| rest.split(']').next())
            .filter_map(|stamp| stamp.parse().ok())
            .collect();
        let longest_gap = stamps
            .windows(2)
            .map(|pair| pair[1] - pair[0])
            .fold(0.0, f64::max);
        Outage {
            sent,
            received: stamps.len() as u64,
            longest: Duration::from_secs_f64(longest_gap).saturating_sub(interval),
        }
    }
}

pub struct Daemon {
    /// `ip netns exec`, which became the daemon, or `unshare` in front of it.
    child: Child,
    log: PathBuf,
    socket: PathBuf,
    /// Started by [`Lab::start_file_pid_namespace`].
    pid_namespace: bool,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for router in &mut self.routers {
            router.daemon = None;
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The xvrrpd binary built with the tests (`cargo test --workspace` builds it, in
/// `CARGO_TARGET_DIR` when set), or the one `XVRRPD_BIN` names.
pub fn xvrrpd_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    let path =
        std::env::var_os("XVRRPD_BIN").map_or_else(|| target.join("debug/xvrrpd"), PathBuf::from);
    assert!(
        path.exists(),
        "{} is missing: run the tests with `cargo xtask test` (or `cargo build --bin xvrrpd` first)",
        path.display()
    );
    path
}

/// Threaded NAPI on `interface` in `netns`, its threads at SCHED_FIFO 50; their pids.
fn thread_napi(netns: &Netns, interface: &str) -> Vec<i32> {
    let before = napi_threads(interface);
    let path = format!("/sys/class/net/{interface}/threaded");
    let out = netns
        .command("sh")
        .args(["-c", &format!("echo 1 > {path}")])
        .output();
    assert!(
        out.as_ref().is_ok_and(|out| out.status.success()),
        "threaded NAPI on {interface}: {out:?}"
    );
    let ours: Vec<i32> = napi_threads(interface)
        .difference(&before)
        .copied()
        .collect();
    assert!(!ours.is_empty(), "no NAPI thread appeared for {interface}");
    for &pid in &ours {
        let param = libc::sched_param { sched_priority: 50 };
        // SAFETY: sets the policy of a kernel thread by pid; `param` outlives the call.
        let rc = unsafe { libc::sched_setscheduler(pid, libc::SCHED_FIFO, &param) };
        assert_eq!(rc, 0, "SCHED_FIFO for {interface}'s NAPI thread {pid}");
    }
    ours
}

/// The kernel threads polling `port`'s NAPI instances (named `napi/<port>-<id>`).
fn napi_threads(port: &str) -> std::collections::BTreeSet<i32> {
    let prefix = format!("napi/{port}-");
    let Ok(entries) = fs::read_dir("/proc") else {
        return Default::default();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim_end().starts_with(&prefix))
        })
        .collect()
}

/// The CPUs thread (or process) `pid` may run on; `pid` 0 is the calling thread.
pub fn cpu_affinity(pid: i32) -> Vec<usize> {
    let set = sched_getaffinity(Pid::from_raw(pid))
        .unwrap_or_else(|err| panic!("sched_getaffinity({pid}): {err}"));
    (0..CpuSet::count())
        .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
        .collect()
}

/// Lets thread (or process) `pid` run on `cpus` only; `pid` 0 is the calling thread, whose
/// children inherit it.
pub fn set_cpu_affinity(pid: i32, cpus: &[usize]) {
    let mut set = CpuSet::new();
    for &cpu in cpus {
        set.set(cpu)
            .unwrap_or_else(|err| panic!("CPU {cpu}: {err}"));
    }
    sched_setaffinity(Pid::from_raw(pid), &set)
        .unwrap_or_else(|err| panic!("sched_setaffinity({pid}, {cpus:?}): {err}"));
}
