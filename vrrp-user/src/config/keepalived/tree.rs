//! keepalived.conf's structure: statements (the words of a line) that may open a block `{ ...
//! }` of further statements. A block opens with `{` at the end of its line or alone at the
//! start of the next one; `}` closes it wherever it stands.
use super::{
    Report,
    lexer::{Loc, Token},
};

/// A keyword, its arguments, and its block if it has one.
#[derive(Debug)]
pub struct Stmt {
    /// At least one word.
    pub words: Vec<Token>,
    pub block: Option<Vec<Stmt>>,
}

impl Stmt {
    pub fn keyword(&self) -> &str {
        &self.words[0].text
    }

    pub fn args(&self) -> &[Token] {
        &self.words[1..]
    }

    pub fn at(&self) -> Loc {
        self.words[0].at
    }
}

/// How deep blocks may nest. keepalived's deepest (a virtual_server's real_server's checker's
/// url) are four deep; the bound keeps a garbage file from exhausting the stack of the daemon
/// that reloads it.
const MAX_DEPTH: usize = 32;

/// The statements of the whole token stream; brace problems are reported.
pub fn parse(tokens: Vec<Token>, report: &mut Report) -> Vec<Stmt> {
    let mut parser = Parser {
        tokens: tokens.into_iter().peekable(),
        report,
    };
    parser.block(None, 0)
}

struct Parser<'a, I: Iterator<Item = Token>> {
    tokens: std::iter::Peekable<I>,
    report: &'a mut Report,
}

impl<I: Iterator<Item = Token>> Parser<'_, I> {
    /// Statements up to the `}` that closes the block opened at `opened` (the end for the top),
    /// `depth` blocks deep.
    fn block(&mut self, opened: Option<Loc>, depth: usize) -> Vec<Stmt> {
        let mut stmts = Vec::new();
        loop {
            let Some(token) = self.tokens.next() else {
                if let Some(at) = opened {
                    self.report
                        .error(at, "this block is not closed: a } is missing".to_owned());
                }
                return stmts;
            };
            if token.is("}") {
                if opened.is_some() {
                    return stmts;
                }
                self.report
                    .error(token.at, "this } closes no block".to_owned());
                continue;
            }
            if token.is("{") {
                self.report.error(
                    token.at,
                    "a block without a keyword before its {".to_owned(),
                );
                self.nested(Some(token.at), depth);
                continue;
            }
            let mut words = vec![token];
            while let Some(next) = self.tokens.peek() {
                if next.first_on_line || next.is("{") || next.is("}") {
                    break;
                }
                words.extend(self.tokens.next());
            }
            // keepalived also takes a `{` at the start of the next line.
            let opens = self.tokens.peek().is_some_and(|next| next.is("{"));
            let block = if opens {
                let brace = self.tokens.next().map(|t| t.at);
                Some(self.nested(brace, depth))
            } else {
                None
            };
            stmts.push(Stmt { words, block });
        }
    }

    /// The block opened at `opened` inside one `depth` deep; past [`MAX_DEPTH`], an error and
    /// its tokens skipped (without recursion) up to its `}`.
    fn nested(&mut self, opened: Option<Loc>, depth: usize) -> Vec<Stmt> {
        if depth < MAX_DEPTH {
            return self.block(opened, depth + 1);
        }
        let at = opened.expect("a nested block has an opening brace");
        self.report
            .error(at, format!("blocks nest more than {MAX_DEPTH} deep here"));
        let mut open = 1usize;
        for token in self.tokens.by_ref() {
            if token.is("{") {
                open += 1;
            } else if token.is("}") {
                open -= 1;
                if open == 0 {
                    return Vec::new();
                }
            }
        }
        self.report
            .error(at, "this block is not closed: a } is missing".to_owned());
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::keepalived::lexer::lex;

    fn tree(text: &str) -> (Vec<Stmt>, Vec<String>) {
        let mut report = Report::default();
        let file = report.add_file("t.conf".to_owned());
        let tokens = lex(text, file).unwrap().into_iter().flatten().collect();
        let stmts = parse(tokens, &mut report);
        let errors = report.errors_for_test();
        (stmts, errors)
    }

    fn shape(stmts: &[Stmt]) -> String {
        stmts
            .iter()
            .map(|s| {
                let words: Vec<&str> = s.words.iter().map(|w| w.text.as_str()).collect();
                match &s.block {
                    Some(block) => format!("{}{{{}}}", words.join(" "), shape(block)),
                    None => words.join(" "),
                }
            })
            .collect::<Vec<_>>()
            .join(";")
    }

    #[test]
    fn blocks_nest() {
        let (stmts, errors) = tree(
            "global_defs {\n router_id lb1\n}\nvrrp_instance VI_1 {\n  authentication {\n    \
             auth_type PASS\n  }\n  virtual_ipaddress\n  {\n    192.0.2.1/24 dev eth0\n  }\n}\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            shape(&stmts),
            "global_defs{router_id lb1};vrrp_instance VI_1{authentication{auth_type PASS};\
             virtual_ipaddress{192.0.2.1/24 dev eth0}}"
        );
        assert_eq!(stmts[1].block.as_ref().unwrap()[1].at().line, 8);
    }

    #[test]
    fn one_line_blocks() {
        let (stmts, errors) = tree("track_script { chk_a chk_b }\nx { }\n");
        assert!(errors.is_empty());
        assert_eq!(shape(&stmts), "track_script{chk_a chk_b};x{}");
    }

    #[test]
    fn brace_problems_are_reported() {
        let (_, errors) = tree("a {\n b\n");
        assert_eq!(errors, ["1: this block is not closed: a } is missing"]);
        let (_, errors) = tree("a\n}\n");
        assert_eq!(errors, ["2: this } closes no block"]);
        let (_, errors) = tree("a { }\n{ b }\n");
        assert_eq!(errors, ["2: a block without a keyword before its {"]);
    }

    #[test]
    fn blocks_nested_past_the_bound_are_an_error_not_a_stack_overflow() {
        let deep = 100_000;
        let text = "a {\n".repeat(deep) + &"}\n".repeat(deep) + "b\n";
        let (stmts, errors) = tree(&text);
        assert_eq!(
            errors,
            [format!(
                "{}: blocks nest more than {MAX_DEPTH} deep here",
                MAX_DEPTH + 1
            )]
        );
        // What follows the deep block is read.
        assert_eq!(stmts.last().map(Stmt::keyword), Some("b"));
        let (_, errors) = tree(&"a {\n".repeat(deep));
        assert!(
            errors.iter().any(|e| e.contains("nest more than")),
            "{:?}",
            &errors[..3]
        );
    }
}
