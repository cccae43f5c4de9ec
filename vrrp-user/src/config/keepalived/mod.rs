//! The keepalived.conf reader: the words ([`lexer`]) of the file and of what it includes
//! ([`source`]), their blocks ([`tree`]), then what they mean ([`global`], [`instance`],
//! [`values`]) as a [`Config`] checked by the same rules as the native format
//! ([`super::crossref`], [`super::fields`]).
//!
//! keepalived's own behaviour is the reference (keepalived.conf(5), keepalived 2.2). A keyword
//! xvrrpd does not know or does not support is a warning, never silently dropped; a value
//! keepalived would correct with a log line (an advert interval to round, `nopreempt` with
//! `state MASTER`) is corrected the same way with a warning.
mod complete;
mod global;
mod include;
mod instance;
mod lexer;
mod preprocess;
mod source;
#[cfg(test)]
mod tests;
mod tree;
mod values;

use std::path::Path;

use super::{Config, ConfigError, Diagnostic, crossref::Site};
use lexer::Loc;
pub use preprocess::set_config_id;

/// What reading a file found: the warnings, and the configuration or the errors.
pub(super) struct Outcome {
    pub warnings: Vec<Diagnostic>,
    pub result: Result<Config, ConfigError>,
}

/// Reads a keepalived.conf (and the files it includes).
pub(super) fn read(path: &Path) -> Outcome {
    let mut report = Report::default();
    match source::read(path, &mut report) {
        Ok(tokens) => outcome(tokens, report, path),
        Err(err) => Outcome {
            warnings: Vec::new(),
            result: Err(err),
        },
    }
}

/// Reads the text of a keepalived.conf named `name`; an `include` in it is an error.
pub(super) fn read_text(text: &str, name: &str) -> Outcome {
    let mut report = Report::default();
    let tokens = source::read_text(text, name, &mut report);
    outcome(tokens, report, Path::new(name))
}

fn outcome(tokens: Vec<lexer::Token>, mut report: Report, path: &Path) -> Outcome {
    let stmts = tree::parse(tokens, &mut report);
    // With a brace missing or in excess, what belongs where is a guess: say only that.
    let config = if report.failed() {
        None
    } else {
        global::config(&stmts, &mut report)
    };
    let (errors, warnings) = report.finish();
    Outcome {
        warnings,
        result: match config {
            // Every way of losing an instance reports why; this is the net under them.
            Some(config) if errors.is_empty() && !config.instances.is_empty() => Ok(config),
            _ if errors.is_empty() => Err(ConfigError::Invalid(vec![Diagnostic {
                file: path.display().to_string(),
                line: 1,
                message: "no vrrp_instance is defined; at least one is needed".to_owned(),
            }])),
            _ => Err(ConfigError::Invalid(errors)),
        },
    }
}

/// The files read and what was found wrong with them.
#[derive(Default)]
pub(super) struct Report {
    files: Vec<String>,
    seq: usize,
    errors: Vec<(Loc, String)>,
    warnings: Vec<(Loc, String)>,
    /// Problems found between parts (after reading), in the order found.
    late_errors: Vec<Diagnostic>,
}

impl Report {
    /// Registers a file; its index for [`Loc::file`].
    fn add_file(&mut self, name: String) -> usize {
        self.files.push(name);
        self.files.len() - 1
    }

    /// A place in a file, ordered after every place made before it.
    fn loc(&mut self, file: usize, line: usize) -> Loc {
        self.seq += 1;
        Loc {
            seq: self.seq,
            file,
            line,
        }
    }

    fn error(&mut self, at: Loc, message: String) {
        self.errors.push((at, message));
    }

    fn warn(&mut self, at: Loc, message: String) {
        self.warnings.push((at, message));
    }

    fn site(&self, at: Loc) -> Site {
        Site {
            file: self.files.get(at.file).cloned().unwrap_or_default(),
            line: at.line,
        }
    }

    /// Whether an error has been reported.
    fn failed(&self) -> bool {
        !self.errors.is_empty() || !self.late_errors.is_empty()
    }

    /// The errors and the warnings, each in reading order.
    fn finish(mut self) -> (Vec<Diagnostic>, Vec<Diagnostic>) {
        let diagnostics = |report: &Report, mut list: Vec<(Loc, String)>| {
            list.sort_by_key(|(at, _)| at.seq);
            list.into_iter()
                .map(|(at, message)| report.site(at).diagnostic(message))
                .collect::<Vec<_>>()
        };
        let errors = std::mem::take(&mut self.errors);
        let warnings = std::mem::take(&mut self.warnings);
        let mut errors = diagnostics(&self, errors);
        errors.append(&mut self.late_errors);
        let warnings = diagnostics(&self, warnings);
        (errors, warnings)
    }

    #[cfg(test)]
    fn errors_for_test(&self) -> Vec<String> {
        self.errors
            .iter()
            .map(|(at, message)| format!("{}: {message}", at.line))
            .collect()
    }
}
