//! The `xvrrpd` command line on bad input: clear errors and non-zero exits, never a panic.
//! These need no root: every failure happens before anything privileged.
use std::process::{Command, Output};

fn xvrrpd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xvrrpd"))
        .args(args)
        .env("RUST_LOG", "off")
        .output()
        .expect("run xvrrpd")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn data(name: &str) -> String {
    format!("{}/tests/data/config/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn check_accepts_the_shipped_example() {
    let example = format!("{}/conf/xvrrpd.toml", env!("CARGO_MANIFEST_DIR"));
    let out = xvrrpd(&["check", "-c", &example]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(": OK ("));
}

#[test]
fn check_and_run_report_file_and_line_and_exit_non_zero() {
    let bad = data("bad_vrid.toml");
    for command in ["check", "run"] {
        let out = xvrrpd(&[command, "-c", &bad]);
        assert_eq!(out.status.code(), Some(1), "{command}");
        let text = stderr(&out);
        assert!(
            text.contains(&format!("{bad}:")) && text.contains("vrid must be 1..255, got 0"),
            "{command}: {text}"
        );
        assert!(!text.contains("panicked"), "{text}");
    }
}

#[test]
fn keepalived_conf_is_read_and_its_errors_have_a_line() {
    let out = xvrrpd(&["check", "-c", &data("keepalived.conf")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out)
            .contains("keepalived.conf:1: error: vrrp_instance VI_1 has no virtual_ipaddress"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_missing_file_is_named() {
    let out = xvrrpd(&["check", "-c", "/nonexistent/xvrrpd.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("/nonexistent/xvrrpd.toml"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn status_without_a_daemon_says_so() {
    let out = xvrrpd(&["status", "--socket", "/nonexistent/xvrrpd.sock"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot reach xvrrpd at /nonexistent/xvrrpd.sock"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bad_arguments_are_usage_errors() {
    let out = xvrrpd(&["run"]);
    assert_eq!(out.status.code(), Some(2), "clap's usage exit code");
    assert!(stderr(&out).contains("--config"), "{}", stderr(&out));
    let out = xvrrpd(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn run_names_a_missing_interface() {
    let dir = std::env::temp_dir().join(format!("xvrrpd-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("missing.toml");
    std::fs::write(
        &path,
        "[global]\ncontrol_socket = \"/tmp/xvrrpd-cli-missing.sock\"\nxdp = \"off\"\n\
         [[instance]]\nname = \"VI_1\"\ninterface = \"nosuch9\"\nvrid = 51\n\
         virtual_ips = [\"192.0.2.100/24\"]\n",
    )
    .unwrap();
    let out = xvrrpd(&["run", "-c", path.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("interface nosuch9 does not exist"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn config_id_picks_the_conditional_lines_of_a_keepalived_conf() {
    let file = format!(
        "{}/tests/data/keepalived-conf/good/conditional/keepalived.conf",
        env!("CARGO_MANIFEST_DIR")
    );
    for (id, priority, source, peer, vip) in [
        ("lb1", 150, "192.0.2.1", "192.0.2.2", "192.0.2.100"),
        ("lb2", 100, "192.0.2.2", "192.0.2.1", "192.0.2.200"),
    ] {
        let out = xvrrpd(&["convert", "--config-id", id, "-c", &file]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(stderr(&out), "", "no warnings");
        let toml = String::from_utf8_lossy(&out.stdout);
        assert!(toml.contains(&format!("router_id = \"{id}\"")), "{toml}");
        for vrid in ["51", "52"] {
            assert!(toml.contains(&format!("vrid = {vrid}\n")), "{toml}");
        }
        assert_eq!(
            toml.matches(&format!("priority = {priority}\n")).count(),
            2,
            "{toml}"
        );
        assert_eq!(
            toml.matches(&format!("unicast_source = \"{source}\""))
                .count(),
            2,
            "{toml}"
        );
        assert_eq!(
            toml.matches(&format!("unicast_peers = [\"{peer}\"]"))
                .count(),
            2,
            "{toml}"
        );
        assert!(toml.contains("\"198.51.100.2/24\""), "{toml}");
        assert_eq!(toml.matches(&format!("\"{vip}/24\"")).count(), 2, "{toml}");
    }
}

#[test]
fn check_warns_of_scripts_that_cannot_run_on_this_host() {
    let dir = std::env::temp_dir().join(format!("xv-cli-scripts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let conf = dir.join("keepalived.conf");
    std::fs::write(
        &conf,
        r#"vrrp_script chk_haproxy {
    script "/nonexistent/chk_haproxy --quick"
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 100
    virtual_ipaddress {
        192.0.2.100/24
    }
    track_script {
        chk_haproxy
    }
    notify_master "/nonexistent/chk_haproxy master"
    notify_backup true
}
"#,
    )
    .expect("write the configuration");
    let conf = conf.to_str().expect("a UTF-8 path").to_owned();
    let out = xvrrpd(&["check", "-c", &conf]);
    let file_only = xvrrpd(&["check", "--file-only", "-c", &conf]);
    std::fs::remove_dir_all(&dir).expect("remove the temp dir");
    assert!(file_only.status.success(), "{}", stderr(&file_only));
    assert_eq!(stderr(&file_only), "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "{conf}: warning: /nonexistent/chk_haproxy: not found: every run fails (used by \
             vrrp_script chk_haproxy, instance VI_1 notify_master)\n"
        )
    );
}
