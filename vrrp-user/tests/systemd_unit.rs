//! The shipped systemd unit (dist/xvrrpd.service) is valid for systemd and uses the daemon's
//! own commands.
use std::{path::Path, process::Command};

#[test]
fn the_unit_verifies_and_calls_our_commands() {
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist/xvrrpd.service"),
    )
    .expect("dist/xvrrpd.service");
    for line in [
        "Type=notify",
        "ExecStart=/usr/sbin/xvrrpd run -c /etc/xvrrpd/xvrrpd.toml",
        "ExecReload=/usr/sbin/xvrrpd reload --socket /run/xvrrpd.sock",
        "WatchdogSec=10s",
    ] {
        assert!(unit.lines().any(|l| l == line), "{line} missing");
    }
    // systemd-analyze checks every directive; it needs the binary to exist.
    let dir = std::env::temp_dir().join(format!("xvrrpd-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("xvrrpd.service");
    std::fs::write(
        &path,
        unit.replace("/usr/sbin/xvrrpd", env!("CARGO_BIN_EXE_xvrrpd")),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze (package systemd) is needed to check the unit");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The commands it names exist with those arguments.
    for args in [
        &["check", "--help"][..],
        &["reload", "--help"],
        &["run", "--help"],
    ] {
        let status = Command::new(env!("CARGO_BIN_EXE_xvrrpd"))
            .args(args)
            .output()
            .unwrap()
            .status;
        assert!(status.success(), "xvrrpd {args:?}");
    }
}
