//! Commands written as one string, split into a program and its arguments the way keepalived
//! splits `script` and `notify*` strings: unquoted white space separates arguments, single
//! quotes keep white space inside one argument (also within double quotes), double quotes are
//! removed, and a backslash
//! escapes the next character (`\n`, `\t`, `\x41`, `\101`, `\\`, `\'`, ...). No shell is
//! involved: `$VAR`, `|`, `>` and globs are passed to the program as they are.

/// Splits `text` into arguments; an error names the problem (an unterminated quote, nothing
/// to run).
pub fn split_command(text: &str) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    let mut current = String::new();
    // Whether `current` is an argument even if empty (`''` is an empty argument).
    let mut started = false;
    let mut single = false;
    let mut double = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            // Single quotes group inside a double-quoted string too: keepalived's double
            // quotes delimit the configuration word, its single quotes the arguments.
            '\'' => {
                single = !single;
                started = true;
            }
            '"' if !single => double = !double,
            '\\' => {
                let Some(escaped) = chars.next() else {
                    return Err("it ends with a lone backslash".to_owned());
                };
                current.push(unescape(escaped, &mut chars));
                started = true;
            }
            c if c.is_whitespace() && !single => {
                if started || !current.is_empty() {
                    args.push(std::mem::take(&mut current));
                    started = false;
                }
            }
            c => {
                current.push(c);
                started = true;
            }
        }
    }
    if single {
        return Err("a single quote is not closed".to_owned());
    }
    if double {
        return Err("a double quote is not closed".to_owned());
    }
    if started || !current.is_empty() {
        args.push(current);
    }
    match args.first() {
        None => Err("it is empty".to_owned()),
        Some(program) if program.is_empty() => Err("the program name is empty".to_owned()),
        Some(_) => Ok(args),
    }
}

/// The character a backslash followed by `c` stands for; numeric escapes read their digits
/// from `rest`.
fn unescape(c: char, rest: &mut std::iter::Peekable<std::str::Chars<'_>>) -> char {
    let mut number = |radix: u32, max_digits: usize, first: Option<u32>| {
        let mut value = first.unwrap_or(0);
        let mut digits = usize::from(first.is_some());
        while digits < max_digits {
            match rest.peek().and_then(|d| d.to_digit(radix)) {
                Some(d) => {
                    value = value * radix + d;
                    rest.next();
                    digits += 1;
                }
                None => break,
            }
        }
        char::from_u32(value & 0xff).unwrap_or('\0')
    };
    match c {
        'a' => '\x07',
        'b' => '\x08',
        'E' | 'e' => '\x1b',
        'f' => '\x0c',
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'v' => '\x0b',
        'x' => number(16, 2, None),
        '0'..='7' => number(8, 3, c.to_digit(8)),
        'c' => rest.next().map_or('\0', |ctl| {
            char::from(ctl.to_ascii_uppercase() as u8 ^ 0x40)
        }),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::split_command;

    fn split(text: &str) -> Vec<String> {
        split_command(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    #[test]
    fn white_space_separates_and_single_quotes_group() {
        assert_eq!(split("killall -0 haproxy"), ["killall", "-0", "haproxy"]);
        assert_eq!(split("  /bin/x   a\tb  "), ["/bin/x", "a", "b"]);
        assert_eq!(split("/x.sh 'a b' c"), ["/x.sh", "a b", "c"]);
        assert_eq!(split("\"/x.sh MASTER\""), ["/x.sh", "MASTER"]);
        assert_eq!(split("/x.sh ''"), ["/x.sh", ""]);
        assert_eq!(split("/x.sh a'b c'd"), ["/x.sh", "ab cd"]);
    }

    #[test]
    fn the_man_page_example() {
        // keepalived.conf(5): `"/etc/keepalived/notify_event.sh ' spaces\\x20f\x69le '
        // '\"s p a c e \"' SG1.low master"`.
        let text = r#"/etc/keepalived/notify_event.sh ' spaces\\x20f\x69le ' '\"s p a c e \"' SG1.low master"#;
        assert_eq!(
            split(text),
            [
                "/etc/keepalived/notify_event.sh",
                " spaces\\x20file ",
                "\"s p a c e \"",
                "SG1.low",
                "master"
            ]
        );
    }

    #[test]
    fn escapes() {
        assert_eq!(split(r"a \n\t\101\x42\cA\q"), ["a", "\n\tAB\x01q"]);
        assert_eq!(split(r"a b\ c"), ["a", "b c"]);
    }

    #[test]
    fn problems() {
        assert_eq!(split_command("").unwrap_err(), "it is empty");
        assert_eq!(split_command("   ").unwrap_err(), "it is empty");
        assert_eq!(
            split_command("/x 'a").unwrap_err(),
            "a single quote is not closed"
        );
        assert_eq!(
            split_command("/x \"a").unwrap_err(),
            "a double quote is not closed"
        );
        assert_eq!(
            split_command("/x \\").unwrap_err(),
            "it ends with a lone backslash"
        );
        assert_eq!(
            split_command("'' a").unwrap_err(),
            "the program name is empty"
        );
    }
}
