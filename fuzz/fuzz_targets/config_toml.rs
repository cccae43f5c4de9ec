//! The native TOML configuration reader: no panic on any text; a refusal names at least one
//! line of the file; an accepted file keeps the promises `config::Config` documents, and each
//! of its instances is one the state machine accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vrrp_user::config::{Config, Family};

const FILE: &str = "fuzz.toml";

fuzz_target!(|data: &[u8]| {
    // `Config::load` refuses invalid UTF-8 before this reader sees the text.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines = text.bytes().filter(|&b| b == b'\n').count() + 1;
    let loaded = match Config::from_toml_str(text, FILE) {
        Ok(loaded) => loaded,
        Err(err) => {
            let diagnostics = err.diagnostics();
            assert!(
                !diagnostics.is_empty(),
                "refused without a diagnostic: {err}"
            );
            for d in diagnostics {
                assert_eq!(d.file, FILE);
                assert!(
                    (1..=lines).contains(&d.line),
                    "line {} of {lines}: {d}",
                    d.line
                );
            }
            let _ = err.to_string();
            return;
        }
    };
    for w in &loaded.warnings {
        assert!(
            (1..=lines).contains(&w.line),
            "warning on line {} of {lines}: {w}",
            w.line
        );
    }
    let config = loaded.config;
    assert!(!config.instances.is_empty());
    for instance in &config.instances {
        assert!((1..=lines).contains(&instance.line));
        let family = instance.family();
        assert!(!instance.virtual_ips.is_empty() && instance.virtual_ips.len() <= 255);
        assert!(
            instance
                .virtual_ips
                .iter()
                .all(|v| Family::of(v.address) == family)
        );
        assert!(
            instance
                .unicast_peers
                .iter()
                .all(|&p| Family::of(p) == family)
        );
        if let Some(source) = instance.unicast_source {
            assert_eq!(Family::of(source), family);
        }
        let primary = instance
            .unicast_source
            .unwrap_or(instance.virtual_ips[0].address);
        if let Err(err) = instance.fsm_config(primary).validate() {
            panic!(
                "accepted instance {} is refused by the state machine: {err}",
                instance.name
            );
        }
    }
});
