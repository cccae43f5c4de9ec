//! The keepalived.conf reader: no panic on any text; every warning and every refusal names a
//! line of the file; an accepted file keeps the promises `config::Config` documents. The text
//! is read from memory, so an `include` in it is refused rather than followed: the fuzzer
//! never makes the reader open files.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vrrp_user::config::{Config, Family};

const FILE: &str = "fuzz.conf";

fuzz_target!(|data: &[u8]| {
    // Config::check refuses invalid UTF-8 (with a line) before the reader sees the text.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines = text.bytes().filter(|&b| b == b'\n').count() + 1;
    let within = |line: usize| (1..=lines).contains(&line);
    let checked = Config::from_keepalived_str(text, FILE);
    for w in &checked.warnings {
        assert_eq!(w.file, FILE);
        assert!(within(w.line), "warning on line {} of {lines}: {w}", w.line);
    }
    let config = match checked.result {
        Ok(config) => config,
        Err(err) => {
            let diagnostics = err.diagnostics();
            assert!(
                !diagnostics.is_empty(),
                "refused without a diagnostic: {err}"
            );
            for d in diagnostics {
                assert_eq!(d.file, FILE);
                assert!(within(d.line), "error on line {} of {lines}: {d}", d.line);
            }
            return;
        }
    };
    assert!(!config.instances.is_empty());
    for instance in &config.instances {
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
    // What `xvrrpd convert` prints must read back as the same configuration.
    let toml = vrrp_user::config::to_toml(&config);
    let reread = Config::from_toml_str(&toml, "converted.toml")
        .unwrap_or_else(|err| panic!("converted TOML refused: {err}\n{toml}"));
    assert_eq!(
        without_lines(reread.config),
        without_lines(config),
        "convert changed the configuration:\n{toml}"
    );
});

/// `line` fields say where things are written: the converted file writes them elsewhere.
fn without_lines(mut config: Config) -> Config {
    for instance in &mut config.instances {
        instance.line = 0;
    }
    for script in &mut config.scripts {
        script.line = 0;
    }
    for group in &mut config.sync_groups {
        group.line = 0;
    }
    config
}
