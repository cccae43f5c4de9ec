//! The words of a keepalived.conf and of every file it includes, in reading order. `include
//! PATTERN` (and keepalived's variants `includer`, `includem`, `includew`, `includeb`,
//! `includea`) may stand anywhere a line may; PATTERN is a glob, relative to the directory of
//! the file that includes it, and the matches are read in name order.
use std::path::{Path, PathBuf};

use super::{
    Report,
    lexer::{Loc, Token, lex},
};
use crate::config::ConfigError;

/// How deep includes may nest: deeper is a loop, or as good as one.
const MAX_INCLUDE_DEPTH: usize = 16;

const INCLUDE_KEYWORDS: [&str; 6] = [
    "include", "includer", "includem", "includew", "includeb", "includea",
];

/// Reads `path` and what it includes into `tokens`. Only the top file's being unreadable is an
/// error of its own; problems with included files are reported at their `include` line.
pub fn read(path: &Path, report: &mut Report) -> Result<Vec<Token>, ConfigError> {
    let text = std::fs::read(path).map_err(|error| ConfigError::Read {
        path: path.to_owned(),
        error,
    })?;
    let mut reader = Reader {
        report,
        tokens: Vec::new(),
        stack: Vec::new(),
        from_disk: true,
    };
    reader.file(path, text);
    Ok(reader.tokens)
}

/// Like [`read`], for a text in memory named `name`. A text has no directory to include from,
/// and whoever hands one in (the fuzzer, a test) must not make the reader open files: an
/// include is an error.
pub fn read_text(text: &str, name: &str, report: &mut Report) -> Vec<Token> {
    let mut reader = Reader {
        report,
        tokens: Vec::new(),
        stack: Vec::new(),
        from_disk: false,
    };
    reader.file(Path::new(name), text.as_bytes().to_vec());
    reader.tokens
}

struct Reader<'a> {
    report: &'a mut Report,
    tokens: Vec<Token>,
    /// The files being read, outermost first, to refuse an include loop.
    stack: Vec<PathBuf>,
    /// Whether includes are read; false for a text in memory.
    from_disk: bool,
}

impl Reader<'_> {
    fn file(&mut self, path: &Path, bytes: Vec<u8>) {
        let file = self.report.add_file(path.display().to_string());
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(err) => {
                let valid = &err.as_bytes()[..err.utf8_error().valid_up_to()];
                let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
                let at = self.report.loc(file, line);
                self.report
                    .error(at, "the file is not valid UTF-8".to_owned());
                return;
            }
        };
        let lines = match lex(&text, file) {
            Ok(lines) => lines,
            Err((line, message)) => {
                let at = self.report.loc(file, line);
                self.report.error(at, message);
                return;
            }
        };
        let canonical = if self.from_disk {
            std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
        } else {
            path.to_owned()
        };
        self.stack.push(canonical);
        let dir = path.parent().unwrap_or(Path::new("")).to_owned();
        for line in lines {
            if let Some(first) = line.first()
                && INCLUDE_KEYWORDS.iter().any(|k| first.is(k))
            {
                let at = self.report.loc(file, first.at.line);
                self.include(&line, &dir, at);
                continue;
            }
            for mut token in line {
                token.at = self.report.loc(file, token.at.line);
                self.tokens.push(token);
            }
        }
        self.stack.pop();
    }

    fn include(&mut self, line: &[Token], dir: &Path, at: Loc) {
        let keyword = &line[0].text;
        let pattern = match line {
            [_, pattern] => &pattern.text,
            [_] => {
                self.report
                    .error(at, format!("{keyword} needs a file name or pattern"));
                return;
            }
            [_, pattern, ..] => {
                self.report.warn(
                    at,
                    format!(
                        "{keyword} takes one pattern; what follows {:?} is ignored",
                        pattern.text
                    ),
                );
                &pattern.text
            }
            [] => return,
        };
        if !self.from_disk {
            self.report.error(
                at,
                format!("{keyword} {pattern}: includes are only read from a file on disk"),
            );
            return;
        }
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            self.report.error(
                at,
                format!("{keyword} {pattern}: includes nest more than {MAX_INCLUDE_DEPTH} deep (a loop?)"),
            );
            return;
        }
        let full = dir.join(pattern);
        let full_text = full.to_string_lossy().into_owned();
        let is_glob = pattern.contains(['*', '?', '[']);
        // As libc's glob, which keepalived uses: a wildcard matches no leading dot (an
        // editor's or an operator's hidden copy stays out).
        let options = glob::MatchOptions {
            require_literal_leading_dot: true,
            ..glob::MatchOptions::new()
        };
        let matches: Vec<PathBuf> = match glob::glob_with(&full_text, options) {
            Ok(paths) => paths
                .filter_map(Result::ok)
                .filter(|p| !p.is_dir())
                .collect(),
            Err(err) => {
                self.report.error(
                    at,
                    format!("{keyword} {pattern}: not a valid pattern: {err}"),
                );
                return;
            }
        };
        if matches.is_empty() {
            if is_glob {
                self.report.warn(
                    at,
                    format!("{keyword} {pattern}: no file matches (nothing included)"),
                );
            } else if full.is_dir() {
                self.report.error(
                    at,
                    format!("{keyword} {pattern}: {full_text} is a directory"),
                );
            } else {
                self.report.error(
                    at,
                    format!("{keyword} {pattern}: {full_text} does not exist"),
                );
            }
            return;
        }
        for path in matches {
            let canonical = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            if self.stack.contains(&canonical) {
                self.report.error(
                    at,
                    format!(
                        "{keyword} {pattern}: {} is already being read (an include loop)",
                        path.display()
                    ),
                );
                continue;
            }
            match std::fs::read(&path) {
                Ok(bytes) => self.file(&path, bytes),
                Err(err) => self.report.error(
                    at,
                    format!("{keyword} {pattern}: {}: {err}", path.display()),
                ),
            }
        }
    }
}
