//! keepalived.conf values: the arguments of a statement, checked, with messages in
//! keepalived's words (`virtual_router_id must be 1..255, got 0`).
use std::{net::IpAddr, time::Duration};

use super::{Report, lexer::Token, tree::Stmt};
use crate::config::{Command, ScriptUser, Vip, argv::split_command, fields, native::Raw};

/// A problem was reported; the value is not to be used.
pub struct Reported;

impl Report {
    /// The single argument of `stmt`: an error if there is none, a warning for extra ones.
    pub(super) fn one<'s>(&mut self, stmt: &'s Stmt) -> Result<&'s Token, Reported> {
        match stmt.args() {
            [] => {
                self.error(stmt.at(), format!("{} needs a value", stmt.keyword()));
                Err(Reported)
            }
            [value, rest @ ..] => {
                if let Some(extra) = rest.first() {
                    self.warn(
                        extra.at,
                        format!(
                            "{} takes one value; {:?} and what follows is ignored",
                            stmt.keyword(),
                            extra.text
                        ),
                    );
                }
                self.no_block(stmt);
                Ok(value)
            }
        }
    }

    /// A keyword without a value (`nopreempt`): arguments are ignored with a warning.
    pub(super) fn flag(&mut self, stmt: &Stmt) {
        if let Some(extra) = stmt.args().first() {
            self.warn(
                extra.at,
                format!(
                    "{} takes no value; {:?} is ignored",
                    stmt.keyword(),
                    extra.text
                ),
            );
        }
        self.no_block(stmt);
    }

    /// A statement that should have no block: the block is ignored with a warning.
    pub(super) fn no_block(&mut self, stmt: &Stmt) {
        if stmt.block.is_some() {
            self.warn(
                stmt.at(),
                format!("{} takes no block; its block is ignored", stmt.keyword()),
            );
        }
    }

    /// The statements of a block keyword (`virtual_ipaddress { ... }`); arguments before the
    /// block are ignored with a warning.
    pub(super) fn block<'s>(&mut self, stmt: &'s Stmt) -> &'s [Stmt] {
        if let Some(extra) = stmt.args().first() {
            self.warn(
                extra.at,
                format!(
                    "{} {:?}: the value before the block is ignored",
                    stmt.keyword(),
                    extra.text
                ),
            );
        }
        self.body(stmt)
    }

    /// The statements of a named section (`vrrp_instance NAME { ... }`); words after the name
    /// are ignored with a warning.
    pub(super) fn named_block<'s>(&mut self, stmt: &'s Stmt) -> &'s [Stmt] {
        if let Some(extra) = stmt.args().get(1) {
            self.warn(
                extra.at,
                format!(
                    "{} {}: {:?} after the name is ignored",
                    stmt.keyword(),
                    stmt.args()[0].text,
                    extra.text
                ),
            );
        }
        self.body(stmt)
    }

    fn body<'s>(&mut self, stmt: &'s Stmt) -> &'s [Stmt] {
        match &stmt.block {
            Some(block) => block,
            None => {
                self.warn(
                    stmt.at(),
                    format!("{} needs a block {{ ... }}; ignored", stmt.keyword()),
                );
                &[]
            }
        }
    }

    /// An unknown or unsupported keyword inside `context`, ignored with a warning.
    pub(super) fn unknown(&mut self, stmt: &Stmt, context: &str) {
        self.warn(
            stmt.at(),
            format!(
                "unknown or unsupported keyword {:?} in {context}; ignored",
                stmt.keyword()
            ),
        );
    }

    /// Reports `result`'s error at `token`.
    pub(super) fn at<T>(
        &mut self,
        token: &Token,
        result: Result<T, String>,
    ) -> Result<T, Reported> {
        result.map_err(|message| {
            self.error(token.at, message);
            Reported
        })
    }
}

/// An integer in `lo..=hi`.
pub fn integer(token: &Token, key: &str, lo: i64, hi: i64) -> Result<i64, String> {
    match token.text.parse::<i64>() {
        Ok(n) if (lo..=hi).contains(&n) => Ok(n),
        Ok(n) => Err(format!("{key} must be {lo}..{hi}, got {n}")),
        Err(_) => Err(format!(
            "{key} must be an integer {lo}..{hi}, got {:?}",
            token.text
        )),
    }
}

/// A decimal number of seconds (keepalived's TIMER: `3`, `0.5`, `2.71828`), to the
/// microsecond.
pub fn seconds(token: &Token, key: &str) -> Result<Duration, String> {
    let text = token.text.as_str();
    let bad = || format!("{key} must be a number of seconds such as 1 or 0.5, got {text:?}");
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || (text.ends_with('.')) {
        return Err(bad());
    }
    let whole: u64 = whole.parse().map_err(|_| bad())?;
    let micros: u64 = format!("{:0<6}", &fraction[..fraction.len().min(6)])
        .parse()
        .map_err(|_| bad())?;
    whole
        .checked_mul(1_000_000)
        .and_then(|n| n.checked_add(micros))
        .map(Duration::from_micros)
        .ok_or_else(bad)
}

/// A whole number of seconds in `0..=max`.
pub fn whole_seconds(token: &Token, key: &str, max: u64) -> Result<Duration, String> {
    let max = i64::try_from(max).unwrap_or(i64::MAX);
    integer(token, key, 0, max).map(|n| Duration::from_secs(n as u64))
}

/// A plain unicast address; `what` names it in messages.
pub fn address(token: &Token, what: &str) -> Result<IpAddr, String> {
    fields::address(&Raw::String(token.text.clone()), what)
}

/// A word that must not be empty: a quoted `""` is refused, as the TOML reader refuses `""`.
pub fn text(token: &Token, what: &str) -> Result<String, String> {
    fields::string(&Raw::String(token.text.clone()), what)
}

impl Report {
    /// `USER [GROUP]` to run scripts as, from `words` (none: `None`); `user_key` and
    /// `group_key` name them in messages. Words after the group are the caller's to warn of.
    pub(super) fn run_as(
        &mut self,
        words: &[Token],
        user_key: &str,
        group_key: &str,
    ) -> Result<Option<ScriptUser>, Reported> {
        let Some(user) = words.first() else {
            return Ok(None);
        };
        let user = self.at(user, text(user, user_key))?;
        let group = match words.get(1) {
            Some(group) => Some(self.at(group, text(group, group_key))?),
            None => None,
        };
        Ok(Some(ScriptUser { user, group }))
    }
}

/// `IP[/MASK] [brd IP] [dev IF] [scope S] [label L] ...`: the address with the options
/// xvrrpd knows; the others, named in `ignored`, are for a warning.
pub fn vip_line(words: &[Token], ignored: &mut Vec<String>) -> Result<Vip, String> {
    let mut vip = fields::vip(&Raw::String(words[0].text.clone()))?;
    let mut rest = words[1..].iter();
    while let Some(option) = rest.next() {
        let mut value = |name: &str| {
            rest.next()
                .map(|t| t.text.clone())
                .ok_or_else(|| format!("virtual IP {}: {name} needs a value", vip.address))
        };
        match option.text.as_str() {
            "dev" => vip.device = Some(value("dev")?),
            "label" => vip.label = Some(value("label")?),
            "scope" => vip.scope = Some(fields::scope_from_text(&value("scope")?)?),
            "brd" | "broadcast" => {
                let text = value("brd")?;
                vip.broadcast = Some(text.parse().map_err(|_| {
                    format!(
                        "virtual IP {}: brd {text:?} is not an IPv4 address",
                        vip.address
                    )
                })?);
            }
            // Options with a value.
            "peer" | "preferred_lft" | "track_group" => {
                value(&option.text)?;
                ignored.push(option.text.clone());
            }
            other => ignored.push(other.to_owned()),
        }
    }
    fields::vip_extras(&vip)?;
    Ok(vip)
}

/// keepalived's true/false words (`check_true_false`, lower case only).
pub fn on_off(token: &Token, key: &str) -> Result<bool, String> {
    match token.text.as_str() {
        "on" | "true" | "yes" => Ok(true),
        "off" | "false" | "no" => Ok(false),
        other => Err(format!(
            "{key} takes on/off, true/false or yes/no, got {other:?}"
        )),
    }
}

/// A word as keepalived reads `raw`, the word as written up to the end of its line: its
/// `decomment` cuts at a `#` or `!` outside double quotes (a backslash before one makes it a
/// letter), then its splitter (`alloc_strvec_r`) takes a word that starts with `"` to the next
/// `"`, with nothing escaped, and any other to white space or a `"`. Single quotes are plain
/// characters. Only script lines are read with quotes and escapes as [`command`] reads them.
pub fn keepalived_word(raw: &str) -> String {
    let mut line = String::with_capacity(raw.len());
    let mut quoted = false;
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' if !quoted => {
                if let Some(&escaped @ ('#' | '!')) = chars.peek() {
                    chars.next();
                    line.push(escaped);
                    continue;
                }
            }
            '#' | '!' if !quoted => break,
            _ => {}
        }
        line.push(c);
    }
    let word = match line.strip_prefix('"') {
        Some(quoted) => quoted.split('"').next().unwrap_or(quoted),
        None => line
            .split(|c: char| c.is_whitespace() || c == '"')
            .next()
            .unwrap_or(&line),
    };
    word.to_owned()
}

/// A command from its words: each split as keepalived splits script strings.
pub fn command(words: &[Token], key: &str) -> Result<Command, String> {
    let mut argv = Vec::new();
    for word in words {
        let mut part = split_command(&word.raw)
            .map_err(|why| format!("{key} {:?} is not a command: {why}", word.text))?;
        argv.append(&mut part);
    }
    if argv.is_empty() {
        return Err(format!("{key} needs a command"));
    }
    Ok(argv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::keepalived::lexer::Loc;

    fn token(text: &str) -> Token {
        Token {
            text: text.to_owned(),
            raw: text.to_owned(),
            quoted: false,
            first_on_line: false,
            at: Loc {
                seq: 0,
                file: 0,
                line: 1,
            },
        }
    }

    #[test]
    fn seconds_are_decimal_to_the_microsecond() {
        let ok = [
            ("1", Duration::from_secs(1)),
            ("0.5", Duration::from_millis(500)),
            ("2.71828", Duration::from_micros(2_718_280)),
            ("0.0000019", Duration::from_micros(1)),
            ("007", Duration::from_secs(7)),
        ];
        for (text, expected) in ok {
            assert_eq!(seconds(&token(text), "advert_int"), Ok(expected), "{text}");
        }
        for text in ["", "-1", "1.", ".5", "1s", "1e3", "a", "1.2.3"] {
            assert_eq!(
                seconds(&token(text), "advert_int").unwrap_err(),
                format!("advert_int must be a number of seconds such as 1 or 0.5, got {text:?}")
            );
        }
    }

    #[test]
    fn vip_lines() {
        let words: Vec<Token> =
            "192.0.2.10/24 brd 192.0.2.255 dev eth1 scope link label eth1:1 no_track"
                .split(' ')
                .map(token)
                .collect();
        let mut ignored = Vec::new();
        let vip = vip_line(&words, &mut ignored).unwrap();
        assert_eq!(vip.to_string(), "192.0.2.10/24");
        assert_eq!(vip.broadcast, Some("192.0.2.255".parse().unwrap()));
        assert_eq!(vip.device.as_deref(), Some("eth1"));
        assert_eq!(vip.scope, Some(253));
        assert_eq!(vip.label.as_deref(), Some("eth1:1"));
        assert_eq!(ignored, ["no_track"]);
        let words: Vec<Token> = ["2001:db8::1/64", "label", "x"].map(token).to_vec();
        assert_eq!(
            vip_line(&words, &mut ignored).unwrap_err(),
            "virtual IP 2001:db8::1: a label is for IPv4 addresses only"
        );
        let words: Vec<Token> = ["192.0.2.1", "dev"].map(token).to_vec();
        assert_eq!(
            vip_line(&words, &mut ignored).unwrap_err(),
            "virtual IP 192.0.2.1: dev needs a value"
        );
    }
}
