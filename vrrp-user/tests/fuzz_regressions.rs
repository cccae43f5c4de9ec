//! Inputs the fuzz targets (`fuzz/`) found crashing or breaking a promise, minimised, each
//! with what it broke. They run with the ordinary tests so that the fixes stay fixed.
use vrrp_user::config::{Config, to_toml};

const FILE: &str = "k.conf";

/// Errors as `LINE: message`, or the configuration and warnings as `LINE: message`.
fn read(text: &str) -> Result<(Config, Vec<String>), Vec<String>> {
    let checked = Config::from_keepalived_str(text, FILE);
    let lines = |list: &[vrrp_user::config::Diagnostic]| -> Vec<String> {
        list.iter()
            .map(|d| format!("{}: {}", d.line, d.message))
            .collect()
    };
    match checked.result {
        Ok(config) => Ok((config, lines(&checked.warnings))),
        Err(err) => Err(lines(err.diagnostics())),
    }
}

fn instance_with(body: &str) -> String {
    format!("vrrp_instance A {{\n interface eth0\n virtual_router_id 5\n{body}\n}}\n")
}

const ONE_VIP: &str = " virtual_ipaddress {\n  192.0.2.1\n }";

#[test]
fn keepalived_conf_an_empty_virtual_ipaddress_block_is_no_vip() {
    // The instance was dropped without a word and the file "accepted" with 0 instances.
    assert_eq!(
        read(&instance_with(" virtual_ipaddress { }")).unwrap_err(),
        [
            "1: vrrp_instance A has no virtual_ipaddress; xvrrpd needs at least one (VRRPv3 \
          requires one)"
        ]
    );
}

#[test]
fn keepalived_conf_names_with_control_characters_are_refused_as_in_toml() {
    // `xvrrpd convert` printed names the TOML reader then refused.
    let instance = instance_with(ONE_VIP).replace("A {", "VI\u{7f}1 {");
    assert_eq!(
        read(&instance).unwrap_err(),
        ["1: vrrp_instance name \"VI\\u{7f}1\" contains control characters"]
    );
    let vi = instance_with(ONE_VIP).replace("A {", "VI_1 {");
    assert_eq!(
        read(&format!(
            "vrrp_script c\u{1}k {{\n script /bin/true\n}}\n{vi}"
        ))
        .unwrap_err(),
        ["1: vrrp_script name \"c\\u{1}k\" contains control characters"]
    );
    assert_eq!(
        read(&format!(
            "{vi}vrrp_sync_group G\0 {{\n group {{\n  VI_1\n }}\n}}\n"
        ))
        .unwrap_err(),
        ["8: vrrp_sync_group name \"G\\0\" contains control characters"]
    );
}

#[test]
fn keepalived_conf_a_password_ends_at_a_nul_byte_as_in_keepalived() {
    // The bytes after the NUL were used: keepalived (a C string) never sends them, and
    // `xvrrpd convert` could not write them.
    let text = instance_with(&format!(
        " authentication {{\n  auth_type PASS\n  auth_pass ab\0cd\n }}\n{ONE_VIP}"
    ));
    let (config, warnings) = read(&text).unwrap();
    assert_eq!(config.instances[0].auth, Some(*b"ab\0\0\0\0\0\0"));
    assert_eq!(
        warnings,
        ["6: auth_pass contains a NUL byte; only what precedes it is used, as keepalived does"]
    );
    let converted = Config::from_toml_str(&to_toml(&config), "c.toml").unwrap();
    assert_eq!(converted.config.instances[0].auth, config.instances[0].auth);
    let empty = instance_with(&format!(
        " authentication {{\n  auth_type PASS\n  auth_pass \"\"\n }}\n{ONE_VIP}"
    ));
    assert_eq!(read(&empty).unwrap_err(), ["6: auth_pass is empty"]);
}

#[test]
fn keepalived_conf_a_track_file_weight_beyond_254_is_refused_as_in_toml() {
    // A vrrp_track_file's own weight had no bound: an instance tracking the file without a
    // weight of its own took 410, and `convert` printed a file its TOML reader refused.
    let text = format!(
        "vrrp_track_file maint {{\n file /run/maint\n weight 410\n}}\n{}",
        instance_with(&format!("{ONE_VIP}\n track_file {{\n  maint\n }}"))
    );
    assert_eq!(
        read(&text).unwrap_err(),
        ["3: weight must be -254..254, got 410"]
    );
}

#[test]
fn keepalived_conf_an_empty_quoted_word_is_refused_where_toml_refuses_it() {
    // A quoted "" was taken as a user, group, name, router_id or path; `xvrrpd convert` then
    // printed `""`, which its TOML reader refused (found with `notify /x "" ops`).
    let notify = |args: &str| instance_with(&format!("{ONE_VIP}\n notify /bin/true {args}"));
    assert_eq!(
        read(&notify("\"\" ops")).unwrap_err(),
        ["7: notify user must not be empty"]
    );
    assert_eq!(
        read(&notify("lb \"\"")).unwrap_err(),
        ["7: notify group must not be empty"]
    );
    let vi = instance_with(ONE_VIP);
    let refused = |head: &str| read(&format!("{head}{vi}")).unwrap_err();
    assert_eq!(
        refused("vrrp_script chk {\n script /bin/true\n user \"\"\n}\n"),
        ["3: user must not be empty"]
    );
    assert_eq!(
        refused("global_defs {\n script_user lb \"\"\n}\n"),
        ["2: script_user group must not be empty"]
    );
    assert_eq!(
        refused("global_defs {\n router_id \"\"\n}\n"),
        ["2: router_id must not be empty"]
    );
    assert_eq!(
        refused("global_defs {\n vrrp_notify_fifo \"\"\n}\n"),
        ["2: notify_fifo must not be empty"]
    );
    assert_eq!(
        refused("vrrp_track_file \"\" {\n file /run/maint\n}\n"),
        ["1: vrrp_track_file name must not be empty"]
    );
    assert_eq!(
        refused("vrrp_track_file maint {\n file \"\"\n}\n"),
        ["2: file must not be empty"]
    );
    assert_eq!(
        refused("vrrp_script \"\" {\n script /bin/true\n}\n"),
        ["1: vrrp_script name must not be empty"]
    );
    assert_eq!(
        read(&vi.replace("A {", "\"\" {")).unwrap_err(),
        ["1: vrrp_instance name must not be empty"]
    );
    let (config, _) = read(&notify("lb ops")).unwrap();
    let converted = Config::from_toml_str(&to_toml(&config), "c.toml").unwrap();
    assert_eq!(
        converted.config.instances[0].notify,
        config.instances[0].notify
    );
}
