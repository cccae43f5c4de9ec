//! The HAProxy scenario of keepalived's documentation with the real thing: two routers run
//! HAProxy and a keepalived.conf through xvrrpd (three VIPs, `vrrp_script chk_haproxy
//! { script "killall -0 haproxy" interval 1 weight 2 }`, priorities 101 / 100). Each router's
//! xvrrpd and HAProxy share a PID namespace of their own, so `killall` sees that router's
//! HAProxy only. A client fetches a page through the VIPs: HAProxy answers with its router's
//! name. Stopping HAProxy on the master moves the VIPs to the backup; starting it again moves
//! them back. Root only.
use std::{
    fs,
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    process::{Child, Stdio},
    time::{Duration, Instant},
};

use tests::lab::Lab;

const VIPS: [&str; 3] = ["192.0.2.100", "192.0.2.101", "192.0.2.102"];
const SETTLE: Duration = Duration::from_secs(15);

/// keepalived's HAProxy example, as published (advert_int 1, check every second).
fn keepalived_conf(router: usize, priority: u8) -> String {
    format!(
        r#"global_defs {{
   router_id LB{router}
}}

vrrp_script chk_haproxy {{
    script "killall -0 haproxy"
    interval 1
    weight 2
}}

vrrp_instance VI_1 {{
    interface eth0
    state {state}
    virtual_router_id 51
    priority {priority}
    advert_int 1
    authentication {{
        auth_type PASS
        auth_pass h4pr0xy
    }}
    virtual_ipaddress {{
        192.0.2.100/24 dev eth0
        192.0.2.101/24 dev eth0
        192.0.2.102/24 dev eth0 label eth0:vip3
    }}
    track_script {{
        chk_haproxy
    }}
}}
"#,
        state = if router == 0 { "MASTER" } else { "BACKUP" },
    )
}

/// An HAProxy that answers every request on port 80 (any address, so the VIPs too) with the
/// name of its router.
fn haproxy_cfg(router: usize) -> String {
    format!(
        "global\n    maxconn 64\n\ndefaults\n    mode http\n    timeout connect 2s\n    \
         timeout client 5s\n    timeout server 5s\n\nfrontend vips\n    bind :80\n    \
         http-request return status 200 content-type text/plain string r{router}\n"
    )
}

/// HAProxy in the foreground in a router's namespaces; stopped on drop.
struct Haproxy<'lab> {
    lab: &'lab Lab,
    router: usize,
    /// `nsenter`, whose child HAProxy is.
    child: Child,
}

impl<'lab> Haproxy<'lab> {
    fn start(lab: &'lab Lab, router: usize) -> Haproxy<'lab> {
        let cfg = lab.dir().join(format!("haproxy-r{router}.cfg"));
        fs::write(&cfg, haproxy_cfg(router)).unwrap();
        let log = fs::File::create(lab.dir().join(format!("haproxy-r{router}.log"))).unwrap();
        let child = lab
            .in_pid_namespace(router, "haproxy")
            .args(["-db", "-f"])
            .arg(&cfg)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("start haproxy (cargo xtask setup installs it)");
        Haproxy { lab, router, child }
    }

    /// SIGTERM through `killall` inside the router's PID namespace, then waits for it.
    fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        let _ = self
            .lab
            .in_pid_namespace(self.router, "killall")
            .args(["-TERM", "haproxy"])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("haproxy on r{} did not stop on SIGTERM", self.router);
    }
}

impl Drop for Haproxy<'_> {
    /// Nothing here may panic (a failing test is unwinding): killing `nsenter` orphans HAProxy
    /// into the router's PID namespace, which ends with the lab right after (the daemon, its
    /// init, is killed, and the kernel kills the rest of the namespace).
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET /` from the client to `vip`:80; the body, if a whole answer came.
fn fetch(lab: &Lab, vip: &str) -> Option<String> {
    let address: SocketAddr = format!("{vip}:80").parse().unwrap();
    lab.client.enter(|| {
        let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(1)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        stream
            .write_all(format!("GET / HTTP/1.0\r\nHost: {vip}\r\n\r\n").as_bytes())
            .ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).ok()?;
        let (head, body) = answer.split_once("\r\n\r\n")?;
        // HAProxy answers HTTP/1.1 to an HTTP/1.0 request.
        let status = head.lines().next()?;
        (status.starts_with("HTTP/1.") && status.split_whitespace().nth(1) == Some("200"))
            .then(|| body.trim().to_owned())
    })
}

/// Router `index` holds all three VIPs and the other none, and every VIP is served by its
/// HAProxy.
fn serves_all(lab: &Lab, index: usize) -> bool {
    VIPS.iter().all(|vip| lab.holder(vip) == Some(index))
        && VIPS
            .iter()
            .all(|vip| fetch(lab, vip).as_deref() == Some(&format!("r{index}")))
}

/// The daemons' logs and HAProxy's, for failure messages.
fn logs(lab: &Lab) -> String {
    let mut all = lab.logs();
    for router in 0..2 {
        let text = fs::read_to_string(lab.dir().join(format!("haproxy-r{router}.log")));
        all.push_str(&format!(
            "--- haproxy r{router} ---\n{}\n",
            text.unwrap_or_default()
        ));
    }
    all
}

/// The one check script's name and state, as `xvrrpd status` reports them.
fn check(lab: &Lab, index: usize) -> (String, String) {
    let status = lab.status(index);
    let scripts = status["scripts"].as_array().expect("scripts in status");
    assert_eq!(scripts.len(), 1, "{status}");
    let text = |key: &str| scripts[0][key].as_str().unwrap_or_default().to_owned();
    (text("name"), text("state"))
}

fn state(lab: &Lab, index: usize) -> serde_json::Value {
    lab.status(index)["instances"][0]["state"].clone()
}

#[test]
fn stopping_haproxy_on_the_master_moves_the_vips_and_the_service() {
    tests::require_root();
    let mut lab = Lab::new("haproxy", 2);
    lab.start_file_pid_namespace(0, "r0-keepalived.conf", &keepalived_conf(0, 101));
    lab.start_file_pid_namespace(1, "r1-keepalived.conf", &keepalived_conf(1, 100));
    let lab = lab;
    let mut haproxy = [Some(Haproxy::start(&lab, 0)), Some(Haproxy::start(&lab, 1))];

    // Both checks pass: 103 against 102; r0 is master and its HAProxy answers on every VIP.
    assert!(
        tests::eventually(SETTLE, || serves_all(&lab, 0)),
        "{:?}\n{}",
        VIPS.map(|vip| fetch(&lab, vip)),
        logs(&lab)
    );
    assert!(
        tests::eventually(
            SETTLE,
            || lab.status(0)["instances"][0]["effective_priority"] == 103
                && lab.status(1)["instances"][0]["effective_priority"] == 102
        ),
        "{}\n{}",
        lab.status(0),
        lab.status(1)
    );
    assert_eq!(
        (state(&lab, 0), state(&lab, 1)),
        ("master".into(), "backup".into())
    );
    assert_eq!(check(&lab, 0), ("chk_haproxy".into(), "passing".into()));

    // HAProxy stops on the master: 101 < 102, the backup takes the VIPs and serves them.
    haproxy[0].take().unwrap().stop();
    let stopped = Instant::now();
    assert!(
        tests::eventually(SETTLE, || serves_all(&lab, 1)),
        "{:?}\n{}",
        VIPS.map(|vip| fetch(&lab, vip)),
        logs(&lab)
    );
    let failover = stopped.elapsed();
    assert_eq!(
        (state(&lab, 0), state(&lab, 1)),
        ("backup".into(), "master".into())
    );
    assert_eq!(lab.status(0)["instances"][0]["effective_priority"], 101);
    assert_eq!(check(&lab, 0), ("chk_haproxy".into(), "failing".into()));
    // r1's HAProxy still runs: its check passes, whatever r0's `killall` saw.
    assert_eq!(lab.status(1)["instances"][0]["effective_priority"], 102);

    // It starts again: 103 > 102, r0 preempts and serves again.
    haproxy[0] = Some(Haproxy::start(&lab, 0));
    assert!(
        tests::eventually(SETTLE, || serves_all(&lab, 0)),
        "{:?}\n{}",
        VIPS.map(|vip| fetch(&lab, vip)),
        logs(&lab)
    );
    assert_eq!(
        (state(&lab, 0), state(&lab, 1)),
        ("master".into(), "backup".into())
    );
    eprintln!("haproxy stop to service on the backup: {failover:?}");
}
