//! What an include line's pattern names, as keepalived's `glob(GLOB_BRACE | GLOB_MARK)` finds
//! it: `{a,b}` alternatives (nested too) each globbed in turn, each one's matches in name order;
//! a wildcard matches no leading dot. keepalived reads the matches that are regular files and
//! not executable, and tells apart a name that does not exist (or a wildcard in a directory
//! that does not exist) from a wildcard that matches nothing; its include variants make errors
//! of some of these ([`Checks`]).
use std::path::{Path, PathBuf};

/// More alternatives than this is a mistake (`{a,b}` repeated expands exponentially).
const MAX_ALTERNATIVES: usize = 256;
/// Patterns looked at while expanding: every alternative, and every brace expression on the way.
const MAX_EXPANSION_STEPS: usize = 1024;

/// What an include variant makes an error of (keepalived's `check_include`: `includer` R,
/// `includem` R and M, `includew` R, M and W, `includeb` R and B, `includea` all; the plain
/// `include` nothing).
#[derive(Clone, Copy)]
pub struct Checks {
    /// R: a match that cannot be read, or is a directory or an executable.
    pub readable: bool,
    /// M: nothing found, and a name that does not exist (or a wildcard's directory).
    pub file_exists: bool,
    /// W: nothing found, and a wildcard that matches nothing.
    pub wildcard_match: bool,
    /// B: a brace alternative names nothing that exists; nothing is read then.
    pub every_alternative: bool,
}

/// The problems, with the variants that make each an error.
pub const READABLE: &str = "includer, includem, includew, includeb and includea refuse this";
pub const FILE_EXISTS: &str = "includem, includew and includea refuse this";
pub const WILDCARD_MATCH: &str = "includew and includea refuse this";
pub const EVERY_ALTERNATIVE: &str = "includeb and includea refuse this";

impl Checks {
    pub fn of(keyword: &str) -> Checks {
        let is = |variants: &[&str]| variants.contains(&keyword) || keyword == "includea";
        Checks {
            readable: is(&["includer", "includem", "includew", "includeb"]),
            file_exists: is(&["includem", "includew"]),
            wildcard_match: is(&["includew"]),
            every_alternative: is(&["includeb"]),
        }
    }

    /// Whether nothing found, with names missing, is an error, and which variants refuse it:
    /// M's check, or B's for a pattern with braces (as keepalived's `have_brace`).
    pub fn missing(&self, braces: bool) -> (bool, &'static str) {
        match braces {
            true => (self.every_alternative, EVERY_ALTERNATIVE),
            false => (self.file_exists, FILE_EXISTS),
        }
    }
}

/// What a pattern found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Found {
    /// Regular files, in order: alternative by alternative, each one's in name order.
    pub files: Vec<PathBuf>,
    /// Matches keepalived does not read, with why.
    pub skipped: Vec<(PathBuf, &'static str)>,
    /// Names (brace alternatives, with the including file's directory) that do not exist, or
    /// the directory a wildcard is in when that does not exist.
    pub missing: Vec<String>,
    /// A wildcard matched nothing in a directory that exists.
    pub unmatched: bool,
    /// The pattern has brace alternatives.
    pub braces: bool,
}

impl Found {
    /// Whether glob found nothing at all (keepalived's GLOB_NOMATCH).
    pub fn nothing(&self) -> bool {
        self.files.is_empty() && self.skipped.is_empty()
    }
}

/// Globs `pattern` (made relative to `dir`). `Err` for a pattern that is not valid.
pub fn find(dir: &Path, pattern: &str) -> Result<Found, String> {
    let alternatives = expand_braces(pattern)?;
    let mut found = Found {
        braces: alternatives.len() > 1 || alternatives[0] != pattern,
        ..Found::default()
    };
    // As libc's glob: a wildcard matches no leading dot (an editor's or an operator's hidden
    // copy stays out).
    let options = glob::MatchOptions {
        require_literal_leading_dot: true,
        ..glob::MatchOptions::new()
    };
    // keepalived globs from the including file's directory: wildcards in its name are letters.
    let base = glob::Pattern::escape(&dir.to_string_lossy());
    for alternative in alternatives {
        let full = dir.join(&alternative);
        let text = full.to_string_lossy().into_owned();
        if !has_wildcard(&alternative) {
            match std::fs::symlink_metadata(&full) {
                Ok(_) => sort_match(full, &mut found),
                Err(_) => found.missing.push(text),
            }
            continue;
        }
        let pattern = Path::new(&base).join(glibc_pattern(&alternative));
        let matches: Vec<PathBuf> = glob::glob_with(&pattern.to_string_lossy(), options)
            .map_err(|err| format!("not a valid pattern: {err}"))?
            .filter_map(Result::ok)
            .collect();
        if matches.is_empty() {
            let directory = literal_directory(&full);
            match directory.is_dir() {
                true => found.unmatched = true,
                false => found.missing.push(directory.display().to_string()),
            }
        }
        for path in matches {
            sort_match(path, &mut found);
        }
    }
    Ok(found)
}

/// keepalived's `check_glob_file`: only a regular file that is not executable is read.
fn sort_match(path: PathBuf, found: &mut Found) {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(&path) {
        Ok(meta) if meta.is_dir() => found.skipped.push((path, "is a directory")),
        Ok(meta) if !meta.is_file() => found.skipped.push((path, "is not a regular file")),
        Ok(meta) if meta.permissions().mode() & 0o111 != 0 => found
            .skipped
            .push((path, "is executable (keepalived reads no executable file)")),
        // A file that vanished or cannot be inspected is left to fail when read.
        _ => found.files.push(path),
    }
}

/// A glibc glob pattern in the glob crate's terms: `**` is `*` (glibc does not recurse),
/// `[^...]` is `[!...]`, and a backslash makes the next character a letter.
fn glibc_pattern(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(next) if "*?[]{}".contains(next) => out.push_str(&format!("[{next}]")),
                Some(next) => out.push(next),
                None => out.push('\\'),
            },
            '*' => {
                while chars.peek() == Some(&'*') {
                    chars.next();
                }
                out.push('*');
            }
            '[' if chars.peek() == Some(&'^') => {
                chars.next();
                out.push_str("[!");
            }
            c => out.push(c),
        }
    }
    out
}

fn has_wildcard(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

/// The directory glob opens first: `full`'s components up to the first with a wildcard.
fn literal_directory(full: &Path) -> PathBuf {
    full.components()
        .take_while(|part| !has_wildcard(&part.as_os_str().to_string_lossy()))
        .collect()
}

/// glibc's GLOB_BRACE: `a{b,c{d,e}}f` is `abf`, `acdf`, `acef`. A brace without its match, or
/// after a backslash, is a plain character.
fn expand_braces(pattern: &str) -> Result<Vec<String>, String> {
    let mut done = Vec::new();
    let mut pending = vec![pattern.to_owned()];
    // Each step copies a pattern: bounded, so that a line of thousands of braces is refused
    // rather than expanded for minutes.
    let mut steps = 0;
    while let Some(pattern) = pending.pop() {
        steps += 1;
        if steps > MAX_EXPANSION_STEPS {
            return Err(format!("more than {MAX_EXPANSION_STEPS} brace expressions"));
        }
        let Some((open, close)) = first_brace_pair(&pattern) else {
            done.push(pattern);
            continue;
        };
        let (head, body, tail) = (
            &pattern[..open],
            &pattern[open + 1..close],
            &pattern[close + 1..],
        );
        // In reverse, as `pending` is a stack: the alternatives come out in written order.
        for alternative in split_alternatives(body).into_iter().rev() {
            pending.push(format!("{head}{alternative}{tail}"));
        }
        if done.len() + pending.len() > MAX_ALTERNATIVES {
            return Err(format!("more than {MAX_ALTERNATIVES} brace alternatives"));
        }
    }
    Ok(done)
}

/// The byte offsets of the first unescaped `{` that has a matching `}`, and of that `}`.
fn first_brace_pair(pattern: &str) -> Option<(usize, usize)> {
    let bytes = pattern.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'{' => {
                if let Some(close) = matching_close(bytes, i) {
                    return Some((i, close));
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn matching_close(bytes: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0;
    let mut i = open;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// `body` split at its top-level commas.
fn split_alternatives(body: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start, mut escaped) = (0usize, 0, false);
    for (i, byte) in body.bytes().enumerate() {
        match byte {
            _ if escaped => escaped = false,
            b'\\' => escaped = true,
            b'{' => depth += 1,
            b'}' => depth = depth.saturating_sub(1),
            b',' if depth == 0 => {
                parts.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&body[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn braces_expand_in_written_order_nested_and_escaped() {
        let expand = |p: &str| expand_braces(p).unwrap();
        assert_eq!(expand("a{b,c{d,e}}f"), ["abf", "acdf", "acef"]);
        assert_eq!(
            expand("{x,y}/{1,2}.conf"),
            ["x/1.conf", "x/2.conf", "y/1.conf", "y/2.conf"]
        );
        assert_eq!(expand("plain.conf"), ["plain.conf"]);
        assert_eq!(expand("open{a,b.conf"), ["open{a,b.conf"]);
        assert_eq!(expand(r"lit\{a,b}.conf"), [r"lit\{a,b}.conf"]);
        assert_eq!(expand("{a}.conf"), ["a.conf"]);
        let many = "{a,b,c,d}".repeat(5);
        assert!(
            expand_braces(&many)
                .unwrap_err()
                .contains("brace alternatives")
        );
        assert_eq!(glibc_pattern(r"a/**/[^x]\*.conf"), "a/*/[!x][*].conf");
        let long = "{a}".repeat(100_000);
        assert!(
            expand_braces(&long)
                .unwrap_err()
                .contains("brace expressions")
        );
        assert_eq!(expand("{}x{,}"), ["x", "x"]);
    }

    #[test]
    fn found_tells_missing_names_from_unmatched_wildcards_and_skips_what_keepalived_skips() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("xv-include-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("conf.d/sub")).unwrap();
        for name in [
            "a.conf",
            "b.conf",
            "conf.d/2.conf",
            "conf.d/1.conf",
            "conf.d/.hidden.conf",
        ] {
            std::fs::write(dir.join(name), "").unwrap();
        }
        std::fs::write(dir.join("run.conf"), "").unwrap();
        std::fs::set_permissions(dir.join("run.conf"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        let find = |pattern: &str| find(&dir, pattern).unwrap();

        let found = find("{b,a,gone}.conf");
        assert_eq!(found.files, [dir.join("b.conf"), dir.join("a.conf")]);
        assert_eq!(found.missing, [dir.join("gone.conf").display().to_string()]);
        assert!(found.braces && !found.unmatched);

        let found = find("conf.d/*");
        assert_eq!(
            found.files,
            [dir.join("conf.d/1.conf"), dir.join("conf.d/2.conf")]
        );
        assert_eq!(found.skipped, [(dir.join("conf.d/sub"), "is a directory")]);

        let found = find("conf.d/*.none");
        assert!(found.nothing() && found.unmatched && found.missing.is_empty());
        let found = find("none.d/*.conf");
        assert!(found.nothing() && !found.unmatched);
        assert_eq!(found.missing, [dir.join("none.d").display().to_string()]);

        let found = find("run.conf");
        assert_eq!(found.skipped[0].0, dir.join("run.conf"));
        assert!(found.files.is_empty() && !found.braces);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
