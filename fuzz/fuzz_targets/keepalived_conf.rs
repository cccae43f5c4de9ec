//! The keepalived.conf reader: no panic on any text; every warning and every refusal names a
//! line of the file; an accepted file keeps the promises `config::Config` documents, and what
//! `xvrrpd convert` prints for it reads back as the same configuration. The text is read from
//! memory, so an `include` in it is refused rather than followed: the fuzzer never makes the
//! reader open files.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vrrp_user::config::{Config, to_toml};
use xvrrpd_fuzz::config::{
    check_accepted, check_diagnostics, check_refusal, line_count, without_lines,
};

const FILE: &str = "fuzz.conf";

fuzz_target!(|data: &[u8]| {
    // Config::check refuses invalid UTF-8 (with a line) before the reader sees the text.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines = line_count(text);
    let checked = Config::from_keepalived_str(text, FILE);
    check_diagnostics(&checked.warnings, FILE, lines);
    let config = match checked.result {
        Ok(config) => config,
        Err(err) => return check_refusal(&err, FILE, lines),
    };
    check_accepted(&config, lines);
    let toml = to_toml(&config);
    let reread = Config::from_toml_str(&toml, "converted.toml")
        .unwrap_or_else(|err| panic!("converted TOML refused: {err}\n{toml}"));
    assert_eq!(
        without_lines(reread.config),
        without_lines(config),
        "convert changed the configuration:\n{toml}"
    );
});
