//! The promises both configuration readers keep, checked on whatever they make of a text.
use vrrp_user::config::{Config, ConfigError, Diagnostic, Family};

/// The number of lines of `text`, for checking that diagnostics point into it.
pub fn line_count(text: &str) -> usize {
    text.bytes().filter(|&b| b == b'\n').count() + 1
}

/// Each diagnostic names `file` and one of its `lines`.
pub fn check_diagnostics<'a>(
    list: impl IntoIterator<Item = &'a Diagnostic>,
    file: &str,
    lines: usize,
) {
    for d in list {
        assert_eq!(d.file, file);
        assert!(
            (1..=lines).contains(&d.line),
            "line {} of {lines}: {d}",
            d.line
        );
    }
}

/// A refusal says why, on lines of the file.
pub fn check_refusal(err: &ConfigError, file: &str, lines: usize) {
    let diagnostics = err.diagnostics();
    assert!(
        !diagnostics.is_empty(),
        "refused without a diagnostic: {err}"
    );
    check_diagnostics(diagnostics, file, lines);
    let _ = err.to_string();
}

/// An accepted configuration keeps what `Config` documents, and each of its instances is one
/// the state machine accepts.
pub fn check_accepted(config: &Config, lines: usize) {
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
}

/// `config` without the `line` fields, which say where things are written: a converted file
/// writes them elsewhere.
pub fn without_lines(mut config: Config) -> Config {
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
