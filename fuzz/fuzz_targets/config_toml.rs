//! The native TOML configuration reader: no panic on any text; a refusal names at least one
//! line of the file; an accepted file keeps the promises `config::Config` documents, and each
//! of its instances is one the state machine accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vrrp_user::config::Config;
use xvrrpd_fuzz::config::{check_accepted, check_diagnostics, check_refusal, line_count};

const FILE: &str = "fuzz.toml";

fuzz_target!(|data: &[u8]| {
    // `Config::load` refuses invalid UTF-8 before this reader sees the text.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines = line_count(text);
    match Config::from_toml_str(text, FILE) {
        Ok(loaded) => {
            check_diagnostics(&loaded.warnings, FILE, lines);
            check_accepted(&loaded.config, lines);
        }
        Err(err) => check_refusal(&err, FILE, lines),
    }
});
