//! keepalived.conf's words: white space separates them, `#` or `!` starts a comment anywhere
//! outside quotes, `"` and `'` quote (and are removed; `a" b "c` is one word), a backslash
//! inside quotes escapes a character, `{` and `}` are words of their own.

/// Where a word is written: a file of the reader's table, and a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Loc {
    /// In reading order, across included files: diagnostics sort on it.
    pub seq: usize,
    pub file: usize,
    pub line: usize,
}

/// One word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// Quotes removed, escapes applied.
    pub text: String,
    /// As written, quotes included: commands are split from it (see `argv`).
    pub raw: String,
    /// Whether any part was quoted (a quoted `"{"` is not a brace).
    pub quoted: bool,
    /// Whether it is the first word on its line.
    pub first_on_line: bool,
    pub at: Loc,
}

impl Token {
    /// Whether it is the unquoted word `word`.
    pub fn is(&self, word: &str) -> bool {
        !self.quoted && self.text == word
    }
}

/// The words of one file, line by line; `Err((line, message))` for an unterminated quote.
#[cfg(test)]
pub fn lex(text: &str, file: usize) -> Result<Vec<Vec<Token>>, (usize, String)> {
    let lines: Vec<(usize, &str)> = text.lines().enumerate().map(|(i, l)| (i + 1, l)).collect();
    lex_lines(lines, file)
}

/// The words of `lines`, each given with its line number in `file`.
pub fn lex_lines<'a>(
    lines: impl IntoIterator<Item = (usize, &'a str)>,
    file: usize,
) -> Result<Vec<Vec<Token>>, (usize, String)> {
    let mut words = Vec::new();
    for (number, line) in lines {
        let at = Loc {
            seq: 0,
            file,
            line: number,
        };
        words.push(lex_line(line, at).map_err(|message| (number, message))?);
    }
    Ok(words)
}

fn lex_line(line: &str, at: Loc) -> Result<Vec<Token>, String> {
    let mut tokens: Vec<Token> = Vec::new();
    let mut chars = line.char_indices().peekable();
    let mut current: Option<(usize, String, bool)> = None;
    let finish = |tokens: &mut Vec<Token>, current: &mut Option<(usize, String, bool)>, end| {
        if let Some((start, text, quoted)) = current.take() {
            tokens.push(Token {
                text,
                raw: line[start..end].to_owned(),
                quoted,
                first_on_line: tokens.is_empty(),
                at,
            });
        }
    };
    while let Some((i, c)) = chars.next() {
        match c {
            '#' | '!' => {
                finish(&mut tokens, &mut current, i);
                return Ok(tokens);
            }
            c if c.is_whitespace() => finish(&mut tokens, &mut current, i),
            '{' | '}' => {
                finish(&mut tokens, &mut current, i);
                current = Some((i, c.to_string(), false));
                finish(&mut tokens, &mut current, i + 1);
            }
            '"' | '\'' => {
                let (_, text, quoted) = current.get_or_insert_with(|| (i, String::new(), true));
                *quoted = true;
                let mut closed = false;
                while let Some((_, q)) = chars.next() {
                    match q {
                        q if q == c => {
                            closed = true;
                            break;
                        }
                        '\\' => match chars.next() {
                            Some((_, escaped)) => text.push(escaped_char(escaped)),
                            None => break,
                        },
                        q => text.push(q),
                    }
                }
                if !closed {
                    return Err(format!("a {c} quote is not closed on this line"));
                }
            }
            c => current
                .get_or_insert_with(|| (i, String::new(), false))
                .1
                .push(c),
        }
    }
    finish(&mut tokens, &mut current, line.len());
    Ok(tokens)
}

/// Where a comment starts in `line` (its length if none), by [`lex_line`]'s rules: `#` or `!`
/// outside quotes, which `"` or `'` open and close, a backslash escaping inside them. The
/// bytes that matter are ASCII, so this holds whatever the encoding of the rest.
pub fn comment_start(line: &[u8]) -> usize {
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

/// The common one-letter escapes; any other character stands for itself (`\"`, `\\`).
fn escaped_char(c: char) -> char {
    match c {
        'n' => '\n',
        't' => '\t',
        'r' => '\r',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<(String, String, bool)> {
        lex(line, 0)
            .unwrap()
            .into_iter()
            .flatten()
            .map(|t| (t.text, t.raw, t.quoted))
            .collect()
    }

    fn texts(line: &str) -> Vec<String> {
        words(line).into_iter().map(|(text, _, _)| text).collect()
    }

    #[test]
    fn words_comments_and_braces() {
        assert_eq!(
            texts("vrrp_instance VI_1 {"),
            ["vrrp_instance", "VI_1", "{"]
        );
        assert_eq!(texts("  priority 100 # the master"), ["priority", "100"]);
        assert_eq!(
            texts("! Configuration File for keepalived"),
            Vec::<String>::new()
        );
        assert_eq!(texts("auth_pass abc!def"), ["auth_pass", "abc"]);
        assert_eq!(
            texts("track_script {chk}"),
            ["track_script", "{", "chk", "}"]
        );
    }

    #[test]
    fn quotes_group_and_are_removed() {
        assert_eq!(
            words("script \"killall -0 haproxy\""),
            [
                ("script".into(), "script".into(), false),
                (
                    "killall -0 haproxy".into(),
                    "\"killall -0 haproxy\"".into(),
                    true
                )
            ]
        );
        // keepalived.conf(5): 'abcd" efg h jkl "mnop' is one string.
        assert_eq!(texts("abcd\" efg h jkl \"mnop"), ["abcd efg h jkl mnop"]);
        assert_eq!(
            texts("abcd \"efg h jkl\" mnop"),
            ["abcd", "efg h jkl", "mnop"]
        );
        assert_eq!(
            texts("x '# not a comment' \"{\""),
            ["x", "# not a comment", "{"]
        );
        assert_eq!(texts(r#"x "a \"b\" c""#), ["x", "a \"b\" c"]);
    }

    #[test]
    fn lines_and_unterminated_quotes() {
        let lines = lex("a\n\n  b c\n", 3).unwrap();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[2][1].at.line, 3);
        assert_eq!(lines[2][1].at.file, 3);
        assert!(lines[2][0].first_on_line && !lines[2][1].first_on_line);
        assert_eq!(
            lex("a\nscript \"x y\n", 0).unwrap_err(),
            (2, "a \" quote is not closed on this line".to_owned())
        );
    }
}
