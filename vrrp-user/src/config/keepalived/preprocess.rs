//! keepalived's "advanced configuration" (keepalived.conf(5)), applied to each line before its
//! words are read, so that one file can serve both routers of a pair:
//!
//! - a line starting with `@ID` is kept only on the router whose config id is ID, one starting
//!   with `@^ID` only on the others; the config id is the host name up to its first dot unless
//!   `--config-id` names another (keepalived's `-i`);
//! - `$NAME=VALUE` defines a parameter (a value ending in `\` goes on over the next lines;
//!   comments and the blanks around it are not part of it), and `$NAME` followed by white
//!   space, `,`, `)` or the end of the line, or `${NAME}` anywhere, is replaced by its value,
//!   again until nothing defined is left; an undefined one stays as written, so a `$` in a
//!   script is untouched. `${_INSTANCE}` is the config id and `${_PWD}` the directory the
//!   file is named in, made absolute (unless the configuration defines either itself).
//!
//! Replacements are done when used, not when defined, and their lines are read again one at
//! a time, in order, through the same steps (a value may hold `@ID` lines, definitions and
//! includes, each read before the lines after it). Every line a replacement makes is reported
//! at the line that used the parameter. A line may make at most 1 MiB of text, the whole
//! configuration 4 MiB. `~SEQ` lines are an error (not supported).
use std::{
    collections::{HashMap, VecDeque},
    path::Path,
    sync::OnceLock,
};

use super::lexer::comment_start;

/// How many times one line may be replaced into: more is a parameter that contains itself.
const MAX_ROUNDS: usize = 64;
/// How much text the replacements of one line of a file may make (keepalived bounds a line),
/// and of the whole configuration, against a runaway parameter.
const MAX_MADE_PER_LINE: usize = 1 << 20;
const MAX_MADE: usize = 4 << 20;

static CONFIG_ID: OnceLock<String> = OnceLock::new();

/// Sets the config id for the rest of the process (`--config-id`); `false` if it was already
/// set.
pub fn set_config_id(id: String) -> bool {
    CONFIG_ID.set(id).is_ok()
}

/// `--config-id`, else the host name up to its first dot, as keepalived's default.
pub fn config_id() -> String {
    CONFIG_ID.get().cloned().unwrap_or_else(|| {
        let host = crate::config::hostname();
        host.split('.').next().unwrap_or_default().to_owned()
    })
}

/// The parameters defined so far: they hold across included files, as in keepalived.
pub struct Preprocessor {
    config_id: String,
    /// `${_PWD}` unless a parameter of that name is defined.
    pwd: String,
    parameters: HashMap<String, String>,
    /// Lines a replacement made, still to be read before the file's next.
    pending: Pending,
    /// What the replacements may still make, for the current line of the file and in all.
    line_budget: usize,
    budget: usize,
}

/// A line to read: the line of the file it comes from, and its text.
pub type Line = (usize, String);

/// Lines a replacement made in a file, with their round, still to be read.
pub type Pending = VecDeque<(usize, String, usize)>;

/// Why preprocessing stopped: the line, and what went wrong there.
pub type Stop = (usize, String);

impl Preprocessor {
    pub fn new(config_id: String) -> Self {
        Preprocessor {
            config_id,
            pwd: String::new(),
            parameters: HashMap::new(),
            pending: VecDeque::new(),
            line_budget: MAX_MADE_PER_LINE,
            budget: MAX_MADE,
        }
    }

    /// The file read from now on is in `dir` (`${_PWD}`); again when reading comes back to a
    /// file after one it includes.
    pub fn enter(&mut self, dir: &Path) {
        self.pwd = dir.to_string_lossy().into_owned();
    }

    /// Sets aside the lines still pending in the file being read, while one it includes is
    /// read; [`Preprocessor::resume`] gives them back.
    pub fn suspend(&mut self) -> Pending {
        std::mem::take(&mut self.pending)
    }

    pub fn resume(&mut self, pending: Pending) {
        self.pending = pending;
    }

    /// The next line to read: made by a replacement, else from `physical` (lines with their
    /// numbers). `Ok(None)` for a line that makes nothing (a failed condition, a definition,
    /// which takes the lines that continue it too); `None` at the end. One line at a time, in
    /// order, as keepalived reads them: an include among the lines a parameter makes is read
    /// before the lines after it are.
    pub fn next<'a>(
        &mut self,
        physical: &mut impl Iterator<Item = (usize, &'a str)>,
    ) -> Option<Result<Option<Line>, Stop>> {
        if let Some((number, line, round)) = self.pending.pop_front() {
            return Some(self.read(number, &line, round, physical));
        }
        let (number, line) = physical.next()?;
        self.line_budget = MAX_MADE_PER_LINE;
        Some(self.read(number, line, 0, physical))
    }

    /// One line, its comment gone: its condition, a definition, or its replacements (whose
    /// lines are read next).
    fn read<'a>(
        &mut self,
        number: usize,
        line: &str,
        round: usize,
        physical: &mut impl Iterator<Item = (usize, &'a str)>,
    ) -> Result<Option<Line>, Stop> {
        let Some(line) = self.condition(uncommented(line)) else {
            return Ok(None);
        };
        if let Some((name, first)) = definition(line) {
            let mut value = first.trim().to_owned();
            // Continued over the next lines of the file while each ends in a backslash.
            while round == 0
                && let Some(stripped) = value.strip_suffix('\\')
            {
                value = stripped.trim_end().to_owned();
                let Some((_, next)) = physical.next() else {
                    break;
                };
                if !value.is_empty() {
                    value.push('\n');
                }
                value.push_str(uncommented(next).trim_end());
            }
            self.parameters.insert(name.to_owned(), value);
            return Ok(None);
        }
        if line.trim_start().starts_with("~SEQ") {
            return Err((
                number,
                "~SEQ sequence lines are not supported: write out the lines they stand for"
                    .to_owned(),
            ));
        }
        let replaced = self.replace(line).map_err(|why| (number, why))?;
        if replaced == line {
            return Ok(Some((number, replaced)));
        }
        if round >= MAX_ROUNDS {
            return Err((
                number,
                "parameter replacement does not end (a parameter that contains itself?)".to_owned(),
            ));
        }
        for (i, made) in replaced.lines().enumerate() {
            self.pending.insert(i, (number, made.to_owned(), round + 1));
        }
        Ok(None)
    }

    /// Keeps a line whose `@ID` / `@^ID` condition holds, without it; any other line as is.
    fn condition<'a>(&self, line: &'a str) -> Option<&'a str> {
        let Some(rest) = line.trim_start().strip_prefix('@') else {
            return Some(line);
        };
        let (negated, rest) = match rest.strip_prefix('^') {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let matches = rest[..end] == self.config_id;
        (matches != negated).then_some(&rest[end..])
    }

    /// A parameter's value: one defined, else `_PWD` or `_INSTANCE`.
    fn value(&self, name: &str) -> Option<&str> {
        match self.parameters.get(name) {
            Some(value) => Some(value),
            None if name == "_PWD" => Some(&self.pwd),
            None if name == "_INSTANCE" => Some(&self.config_id),
            None => None,
        }
    }

    /// One pass of replacements over `line`: `${NAME}` anywhere, `$NAME` before white space,
    /// `,`, `)` or the end; undefined names stay. An error once a budget is spent.
    fn replace(&mut self, line: &str) -> Result<String, String> {
        let mut out = String::with_capacity(line.len());
        let mut rest = line;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let (name, len) = if let Some(braced) = after.strip_prefix('{') {
                match braced.find('}') {
                    Some(end) => (&braced[..end], end + 2),
                    None => ("", 0),
                }
            } else {
                let end = after
                    .find(|c: char| !is_name_char(c))
                    .unwrap_or(after.len());
                let followed = after[end..]
                    .chars()
                    .next()
                    .is_none_or(|c| c.is_whitespace() || c == ',' || c == ')');
                if followed {
                    (&after[..end], end)
                } else {
                    ("", 0)
                }
            };
            let Some(value) = self.value(name).filter(|_| is_name(name)) else {
                out.push('$');
                rest = after;
                continue;
            };
            let (Some(line_left), Some(left)) = (
                self.line_budget.checked_sub(value.len()),
                self.budget.checked_sub(value.len()),
            ) else {
                let (what, limit) = match self.line_budget < value.len() {
                    true => ("this line", MAX_MADE_PER_LINE),
                    false => ("the configuration", MAX_MADE),
                };
                return Err(format!(
                    "parameter replacement makes more than {} KiB of text for {what}; stopped",
                    limit >> 10
                ));
            };
            out.push_str(value);
            (self.line_budget, self.budget) = (line_left, left);
            rest = &after[len..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// `line` without its comment (keepalived drops it before reading a definition, and again in
/// what a replacement makes).
fn uncommented(line: &str) -> &str {
    &line[..comment_start(line.as_bytes())]
}

/// `$NAME=VALUE` (only white space before the `$`, none before the `=`): the name and the
/// value as written.
fn definition(line: &str) -> Option<(&str, &str)> {
    let rest = line.trim_start().strip_prefix('$')?;
    let (name, value) = rest.split_once('=')?;
    is_name(name).then_some((name, value))
}

fn is_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| !c.is_ascii_digit()) && name.chars().all(is_name_char)
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(text: &str) -> Vec<(usize, &str)> {
        text.lines().enumerate().map(|(i, l)| (i + 1, l)).collect()
    }

    /// Every line `text` makes on the router `id`, or where it stopped.
    fn run(id: &str, text: &str) -> Result<Vec<Line>, Stop> {
        let mut pre = Preprocessor::new(id.to_owned());
        pre.enter(Path::new("/etc/keepalived"));
        let mut physical = numbered(text).into_iter();
        let mut out = Vec::new();
        while let Some(made) = pre.next(&mut physical) {
            out.extend(made?);
        }
        Ok(out)
    }

    fn lines(id: &str, text: &str) -> Vec<(usize, String)> {
        run(id, text).unwrap()
    }

    fn texts(id: &str, text: &str) -> Vec<String> {
        lines(id, text).into_iter().map(|(_, line)| line).collect()
    }

    #[test]
    fn conditional_lines_follow_the_config_id() {
        // keepalived.conf(5)'s example.
        let text = "@main   router_id main_router\n@backup router_id backup_router\n\
                    unicast_peer {\n  @^main    1.2.3.4\n  @^backup  1.2.3.5\n}\n";
        assert_eq!(
            texts("main", text),
            [
                "   router_id main_router",
                "unicast_peer {",
                "  1.2.3.5",
                "}"
            ]
        );
        assert_eq!(
            texts("other", text),
            ["unicast_peer {", "    1.2.3.4", "  1.2.3.5", "}"]
        );
    }

    #[test]
    fn parameters_are_replaced_when_used_and_again_in_what_they_make() {
        // keepalived.conf(5)'s examples.
        let text = "$ADDRESS_BASE=10.2.${ADDRESS_BASE_SUB}\n$ADDRESS_BASE_SUB=0\n\
                    ${ADDRESS_BASE}.100/32\n$ADDRESS_BASE_SUB=10\n${ADDRESS_BASE}.100/32\n";
        assert_eq!(
            lines("main", text),
            [
                (3, "10.2.0.100/32".to_owned()),
                (5, "10.2.10.100/32".to_owned())
            ]
        );
        let text = "@main $PRIORITY=240\n@backup $PRIORITY=200\npriority $PRIORITY\n\
                    $IF_MAIN=@main\n$IF_MAIN priority 241\n";
        assert_eq!(texts("main", text), ["priority 240", " priority 241"]);
        assert_eq!(texts("backup", text), ["priority 200"]);
        // Undefined, or not followed by white space: left as written.
        let text = "notify \"/bin/echo $HOME ${UNSET}\"\n$A=1\nx $Ab $A\n";
        assert_eq!(
            texts("main", text),
            ["notify \"/bin/echo $HOME ${UNSET}\"", "x $Ab 1"]
        );
        assert_eq!(
            texts("lb1", "id ${_INSTANCE} ${_PWD}\n"),
            ["id lb1 /etc/keepalived"]
        );
    }

    #[test]
    fn comments_and_blanks_around_a_value_are_not_part_of_it() {
        let text = "$VIP=192.0.2.1/24 # service VIP\n$A= 5\nvirtual_ipaddress { $VIP }\n\
                    198.51.100.${A}/24\n$L=x \\  # continued\ny \\ # and on\nz\n($L)\n";
        assert_eq!(
            texts("main", text),
            [
                "virtual_ipaddress { 192.0.2.1/24 }",
                "198.51.100.5/24",
                "(x",
                "y",
                "z)"
            ]
        );
    }

    #[test]
    fn a_multiline_definition_makes_lines_at_the_line_that_uses_it() {
        let text = "$INSTANCE= \\\nvrrp_instance VI_${NUM} { \\\n  @high priority 130 \\\n  \
                    @low priority 120 \\\n}\n\n$NUM=0\n$INSTANCE\n$NUM=1\n$INSTANCE\n";
        assert_eq!(
            lines("high", text),
            [
                (6, String::new()),
                (8, "vrrp_instance VI_0 {".to_owned()),
                (8, " priority 130".to_owned()),
                (8, "}".to_owned()),
                (10, "vrrp_instance VI_1 {".to_owned()),
                (10, " priority 130".to_owned()),
                (10, "}".to_owned()),
            ]
        );
    }

    #[test]
    fn a_parameter_that_contains_itself_is_an_error() {
        let err = run("x", "$A=a ${A}\n\n${A}\n").unwrap_err();
        assert_eq!(err.0, 3);
        assert!(err.1.contains("does not end"), "{err:?}");
        // Each one doubling the next: stopped long before memory runs out.
        let doubling: String = (0..40)
            .map(|i| format!("$P{i}=${{P{}}} ${{P{}}}\n", i + 1, i + 1))
            .collect();
        let err = run("x", &format!("{doubling}$P40=x\n${{P0}}\n")).unwrap_err();
        assert_eq!(err.0, 42);
        assert!(
            err.1.contains("more than 1024 KiB of text for this line"),
            "{err:?}"
        );
        // Wide rather than deep: many uses of one long value on one line.
        let wide = format!("$A={}\n{}\n", "a".repeat(100_000), "${A} ".repeat(500));
        assert!(
            run("x", &wide)
                .unwrap_err()
                .1
                .contains("more than 1024 KiB")
        );
    }

    #[test]
    fn a_sequence_line_is_refused_clearly() {
        let err = run("x", "a\n~SEQ(N, 1, 3) b ${N}\n").unwrap_err();
        assert_eq!(err.0, 2);
        assert!(
            err.1.starts_with("~SEQ sequence lines are not supported"),
            "{err:?}"
        );
    }
}
