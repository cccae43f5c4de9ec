//! The words of a keepalived.conf and of every file it includes, in reading order. `include
//! PATTERN` (and keepalived's variants `includer`, `includem`, `includew`, `includeb`,
//! `includea`) may stand anywhere a line may; PATTERN, the rest of the line, is a glob with
//! brace alternatives, relative to the directory of the file that includes it ([`include`]).
use std::path::{Path, PathBuf};

use super::{
    Report,
    include::{self, Checks},
    lexer::{Loc, Token, comment_start, lex_lines},
    preprocess::{Preprocessor, config_id},
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
        preprocessor: Preprocessor::new(config_id()),
    };
    reader.file(path, text);
    Ok(reader.tokens)
}

/// Like [`read`], for a text in memory named `name`. A text has no directory to include from,
/// and whoever hands one in (the fuzzer, a test) must not make the reader open files: an
/// include is an error.
pub fn read_text(text: &str, name: &str, report: &mut Report) -> Vec<Token> {
    read_text_as(text, name, config_id(), report)
}

/// [`read_text`] on the router whose config id is `config_id`.
pub fn read_text_as(text: &str, name: &str, config_id: String, report: &mut Report) -> Vec<Token> {
    let mut reader = Reader {
        report,
        tokens: Vec::new(),
        stack: Vec::new(),
        from_disk: false,
        preprocessor: Preprocessor::new(config_id),
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
    /// Conditional lines and parameters, across the files.
    preprocessor: Preprocessor,
}

impl Reader<'_> {
    fn file(&mut self, path: &Path, bytes: Vec<u8>) {
        let file = self.report.add_file(path.display().to_string());
        let text = match decode(bytes) {
            Ok(text) => text,
            Err(line) => {
                let at = self.report.loc(file, line);
                self.report.error(
                    at,
                    "this line is not valid UTF-8 (outside a comment)".to_owned(),
                );
                return;
            }
        };
        let dir = path.parent().unwrap_or(Path::new("")).to_owned();
        let canonical = if self.from_disk {
            std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
        } else {
            path.to_owned()
        };
        // `${_PWD}` is keepalived's working directory once in the file's: absolute, and the
        // directory the file is named in (a symbolic link's, not its target's).
        let pwd = match self.from_disk {
            true => std::fs::canonicalize(if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                &dir
            })
            .unwrap_or_else(|_| dir.clone()),
            false => dir.clone(),
        };
        self.stack.push(canonical);
        let including = self.preprocessor.suspend();
        self.preprocessor.enter(&pwd);
        // A line that cannot be read makes the file's words a guess: none are kept.
        let first_token = self.tokens.len();
        let mut physical = text.lines().enumerate().map(|(i, l)| (i + 1, l));
        // Line by line, includes where they stand (found after conditions and parameters, as
        // keepalived finds them): a file of definitions included first serves what follows.
        while let Some(made) = self.preprocessor.next(&mut physical) {
            let (number, line) = match made {
                Ok(Some(line)) => line,
                Ok(None) => continue,
                Err((line, message)) => {
                    let at = self.report.loc(file, line);
                    self.report.error(at, message);
                    self.tokens.truncate(first_token);
                    break;
                }
            };
            let mut words = match lex_lines([(number, line.as_str())], file) {
                Ok(mut words) => words.pop().unwrap_or_default(),
                Err((_, message)) => {
                    let at = self.report.loc(file, number);
                    self.report.error(at, message);
                    self.tokens.truncate(first_token);
                    break;
                }
            };
            if words
                .first()
                .is_some_and(|first| INCLUDE_KEYWORDS.iter().any(|k| first.is(k)))
            {
                let at = self.report.loc(file, number);
                self.include(&line, &dir, at);
                self.preprocessor.enter(&pwd);
                continue;
            }
            for token in &mut words {
                token.at = self.report.loc(file, token.at.line);
            }
            self.tokens.append(&mut words);
        }
        self.preprocessor.resume(including);
        self.stack.pop();
    }

    /// `line`, an include: its keyword, then the rest of the line is the pattern (spaces and
    /// braces included, as keepalived takes it).
    fn include(&mut self, line: &str, dir: &Path, at: Loc) {
        let line = line.trim();
        let (keyword, pattern) = line
            .split_once([' ', '\t'])
            .map_or((line, ""), |(keyword, rest)| (keyword, rest.trim()));
        let checks = Checks::of(keyword);
        if pattern.is_empty() {
            self.report
                .error(at, format!("{keyword} needs a file name or pattern"));
            return;
        }
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
        let found = match include::find(dir, pattern) {
            Ok(found) => found,
            Err(err) => {
                self.report.error(at, format!("{keyword} {pattern}: {err}"));
                return;
            }
        };
        // keepalived keeps quotes in an include's name.
        let quoted = match pattern.contains(['"', '\'']) {
            true => " (the quotes are part of the name, as in keepalived)",
            false => "",
        };
        let missing = match found.missing.as_slice() {
            [one] => format!("{one} does not exist{quoted}"),
            many => format!("{} do not exist{quoted}", many.join(", ")),
        };
        if found.nothing() {
            if !found.missing.is_empty() {
                let message = format!("{keyword} {pattern}: {missing}; nothing included");
                let (fails, refusing) = checks.missing(found.braces);
                self.check(at, fails, message, refusing);
            } else if found.unmatched {
                let message = format!("{keyword} {pattern}: no file matches; nothing included");
                self.check(at, checks.wildcard_match, message, include::WILDCARD_MATCH);
            }
            return;
        }
        if !found.missing.is_empty() {
            // keepalived reads none of the alternatives when it fails on this.
            let message = format!("{keyword} {pattern}: {missing}; the rest is included");
            self.check(
                at,
                checks.every_alternative,
                message,
                include::EVERY_ALTERNATIVE,
            );
            if checks.every_alternative {
                return;
            }
        }
        for (path, why) in found.skipped {
            let message = format!("{keyword} {pattern}: {} {why}; skipped", path.display());
            self.check(at, checks.readable, message, include::READABLE);
        }
        for path in found.files {
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
                Err(err) => {
                    let message =
                        format!("{keyword} {pattern}: {}: {err}; skipped", path.display());
                    self.check(at, checks.readable, message, include::READABLE);
                }
            }
        }
    }

    /// An include that did not read a file: an error if its variant checks for that, else a
    /// warning (keepalived logs it and goes on) that says which variants would refuse it.
    fn check(&mut self, at: Loc, fails: bool, message: String, refusing: &str) {
        if fails {
            self.report.error(at, message);
        } else {
            self.report
                .warn(at, format!("{message}, as keepalived does ({refusing})"));
        }
    }
}

/// The file's text. keepalived reads bytes: a comment in another encoding (an accented
/// Latin-1 word) is dropped here as the lexer would drop it; anything else that is not UTF-8
/// is an error at its line (`Err`, counted from 1).
fn decode(bytes: Vec<u8>) -> Result<String, usize> {
    let bytes = match String::from_utf8(bytes) {
        Ok(text) => return Ok(text),
        Err(err) => err.into_bytes(),
    };
    let mut text = String::with_capacity(bytes.len());
    for (index, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let kept = match std::str::from_utf8(line) {
            Ok(line) => line,
            Err(_) => std::str::from_utf8(&line[..comment_start(line)]).map_err(|_| index + 1)?,
        };
        if index > 0 {
            text.push('\n');
        }
        text.push_str(kept);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_comment_in_another_encoding_is_dropped_and_a_value_in_one_refused() {
        let latin1 =
            b"# Serveur principal \xe9quipe r\xe9seau\nvrrp_instance VI_1 { ! \xe9t\xe9\n}\n";
        assert_eq!(
            decode(latin1.to_vec()),
            Ok("\nvrrp_instance VI_1 { \n}\n".to_owned())
        );
        // A quoted # is no comment: the byte after it is in a value.
        assert_eq!(decode(b"a\nnotify \"/x#\xe9\"\n".to_vec()), Err(2));
        assert_eq!(decode(b"auth_pass \xff\xfe\n".to_vec()), Err(1));
        assert_eq!(
            decode("caf\u{e9}\n".as_bytes().to_vec()),
            Ok("caf\u{e9}\n".to_owned())
        );
    }
}
