//! The words of a keepalived.conf and of every file it includes, in reading order. `include
//! PATTERN` (and keepalived's variants `includer`, `includem`, `includew`, `includeb`,
//! `includea`) may stand anywhere a line may; PATTERN is a glob, relative to the directory of
//! the file that includes it, and the matches are read in name order.
use std::path::{Path, PathBuf};

use super::{
    Report,
    lexer::{Loc, Token, lex_lines},
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
        self.stack.push(canonical);
        let numbered: Vec<(usize, &str)> =
            text.lines().enumerate().map(|(i, l)| (i + 1, l)).collect();
        // Includes are found on the lines as written (keepalived finds them before conditions
        // and parameters) and read where they stand: a file of definitions included first
        // serves the lines after it.
        for chunk in numbered.split_inclusive(|(_, line)| is_include(line)) {
            let (body, include) = match chunk.split_last() {
                Some((last, body)) if is_include(last.1) => (body, Some(*last)),
                _ => (chunk, None),
            };
            if !self.words(body, file, &dir) {
                break;
            }
            if let Some((number, line)) = include {
                let words = lex_lines([(number, line)], file);
                let at = self.report.loc(file, number);
                match words {
                    Ok(mut words) => self.include(&words.pop().unwrap_or_default(), &dir, at),
                    Err((_, message)) => {
                        self.report.error(at, message);
                        break;
                    }
                }
            }
        }
        self.stack.pop();
    }

    /// Reads the words of `lines` of `file` (in `dir`); `false` after an error that ends the
    /// file's reading.
    fn words(&mut self, lines: &[(usize, &str)], file: usize, dir: &Path) -> bool {
        let words = self
            .preprocessor
            .lines(lines.iter().copied(), dir)
            .and_then(|lines| lex_lines(lines.iter().map(|(n, l)| (*n, l.as_str())), file));
        match words {
            Ok(lines) => {
                for mut token in lines.into_iter().flatten() {
                    token.at = self.report.loc(file, token.at.line);
                    self.tokens.push(token);
                }
                true
            }
            Err((line, message)) => {
                let at = self.report.loc(file, line);
                self.report.error(at, message);
                false
            }
        }
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
            let why = match (is_glob, full.is_dir()) {
                (true, _) => {
                    self.report.warn(
                        at,
                        format!("{keyword} {pattern}: no file matches (nothing included)"),
                    );
                    return;
                }
                (false, true) => "is a directory",
                (false, false) => "does not exist",
            };
            // keepalived's plain include logs a file it cannot open and goes on; the checking
            // variants (includea, includer, ...) fail.
            if keyword == "include" {
                self.report.warn(
                    at,
                    format!(
                        "{keyword} {pattern}: {full_text} {why}; nothing included, as keepalived \
                         does (includea would make this an error)"
                    ),
                );
            } else {
                self.report
                    .error(at, format!("{keyword} {pattern}: {full_text} {why}"));
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

/// Whether `line`, as written, is an include (its first word one of [`INCLUDE_KEYWORDS`]).
fn is_include(line: &str) -> bool {
    line.split_whitespace()
        .next()
        .is_some_and(|word| INCLUDE_KEYWORDS.contains(&word))
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

/// Where a comment starts in `line` (its length if none), by the lexer's rules: `#` or `!`
/// outside quotes, which `"` or `'` open and close, a backslash escaping inside them. The
/// bytes that matter are ASCII, so this holds whatever the encoding of the rest.
fn comment_start(line: &[u8]) -> usize {
    let mut quote = None;
    let mut escaped = false;
    for (i, &byte) in line.iter().enumerate() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if byte == b'\\' => escaped = true,
            Some(open) if byte == open => quote = None,
            Some(_) => {}
            None if byte == b'"' || byte == b'\'' => quote = Some(byte),
            None if byte == b'#' || byte == b'!' => return i,
            None => {}
        }
    }
    line.len()
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
