//! From text to a syntax tree, by recursive descent over the criteria's characters. The tree
//! keeps what was written: parentheses as [`Node::Group`], and a run of conditions joined by
//! `AND`/`OR` at one level as one [`Node::Chain`], so that the evaluator can group it each way
//! CloudWatch might. Recursion happens only at `(`, counted against [`MAX_NESTING`].

use std::collections::HashMap;

use super::{MAX_CRITERIA_LEN, MAX_NESTING, ParseError};

pub(super) use crate::chain::Op;

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Cmp {
    /// `=`, one value.
    Eq,
    /// `!=`, one value.
    Ne,
    /// `IN`, a list of at least one value.
    In,
    /// `NOT IN`, a list of at least one value.
    NotIn,
}

impl Cmp {
    pub(super) fn spaced(self) -> &'static str {
        match self {
            Cmp::Eq => " = ",
            Cmp::Ne => " != ",
            Cmp::In => " IN ",
            Cmp::NotIn => " NOT IN ",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Node {
    /// `field cmp values`; `field` indexes the criteria's fields; `values` holds exactly one
    /// value for `=` and `!=`, at least one for `IN` and `NOT IN`.
    Cmp { field: usize, cmp: Cmp, values: Vec<String> },
    /// Parentheses as written.
    Group(Box<Node>),
    /// `first op operand op operand …`, at least one operator; no operand is itself a chain.
    Chain(Box<Node>, Vec<(Op, Node)>),
}

pub(super) struct Parsed {
    pub root: Node,
    pub fields: Vec<String>,
    pub relies_on_precedence: bool,
}

/// Words that cannot be a bare field name, in any case.
const KEYWORDS: [&str; 4] = ["AND", "OR", "NOT", "IN"];

const OPERATORS: &str = "=, !=, IN or NOT IN";

pub(super) fn parse(text: &str) -> Result<Parsed, ParseError> {
    let length = text.chars().count();
    if length > MAX_CRITERIA_LEN {
        return Err(ParseError {
            column: MAX_CRITERIA_LEN + 1,
            message: format!("the criteria are {length} characters long; CloudWatch accepts at most {MAX_CRITERIA_LEN}"),
        });
    }
    let mut parser =
        Parser { chars: text.chars().collect(), pos: 0, depth: 0, fields: Vec::new(), index: HashMap::new(), mixed: false };
    parser.skip_ws();
    if parser.at_end() {
        return Err(parser.error_at(
            0,
            "the criteria are empty (an empty fieldSelectionCriteria means no criteria: every event is processed)",
        ));
    }
    let root = parser.chain("")?;
    parser.skip_ws();
    match parser.peek() {
        None => Ok(Parsed { root, fields: parser.fields, relies_on_precedence: parser.mixed }),
        Some(')') => Err(parser.error("unmatched ')'")),
        Some(_) => Err(parser.error(format!("expected AND or OR between conditions, found {}", parser.found()))),
    }
}

struct Parser {
    chars: Vec<char>,
    /// Index into `chars` of the next character; its column is `pos + 1`.
    pos: usize,
    /// Parentheses around the current position.
    depth: usize,
    fields: Vec<String>,
    index: HashMap<String, usize>,
    /// Some chain mixes AND and OR.
    mixed: bool,
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn keyword(word: &str) -> Option<&'static str> {
    KEYWORDS.iter().copied().find(|k| k.eq_ignore_ascii_case(word))
}

impl Parser {
    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.pos += 1;
        }
    }

    fn error(&self, message: impl Into<String>) -> ParseError {
        self.error_at(self.pos, message)
    }

    fn error_at(&self, pos: usize, message: impl Into<String>) -> ParseError {
        ParseError { column: pos.min(self.chars.len()) + 1, message: message.into() }
    }

    /// What is at the current position, for a message: a word (a field with its `@` and dots),
    /// a character or the end.
    fn found(&self) -> String {
        let wordy = |c: char| c.is_alphanumeric() || c == '_' || c == '.';
        match self.peek() {
            None => "the end of the criteria".to_owned(),
            Some(c) if wordy(c) || (c == '@' && self.peek_at(1).is_some_and(wordy)) => {
                let word: String =
                    std::iter::once(c).chain(self.chars[self.pos + 1..].iter().copied().take_while(|c| wordy(*c))).collect();
                format!("'{word}'")
            }
            Some(c) => format!("'{c}'"),
        }
    }

    /// Reads a word of letters, digits and underscores at the current position (possibly empty).
    fn word(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(is_word_char) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    /// The refusal of a keyword written in another case.
    fn misspelt(&self, start: usize, word: &str, keyword: &str) -> ParseError {
        self.error_at(start, format!("keywords are upper case: write {keyword}, not {word}"))
    }

    /// One more level of parentheses, opened at `start`.
    fn enter(&mut self, start: usize) -> Result<(), ParseError> {
        if self.depth >= MAX_NESTING {
            return Err(self.error_at(start, format!("nesting deeper than {MAX_NESTING} levels of parentheses")));
        }
        self.depth += 1;
        Ok(())
    }

    fn intern(&mut self, name: String) -> usize {
        if let Some(&i) = self.index.get(&name) {
            return i;
        }
        self.fields.push(name.clone());
        self.index.insert(name, self.fields.len() - 1);
        self.fields.len() - 1
    }

    /// `unary (AND|OR unary)*`; `after` says what came before, for messages.
    fn chain(&mut self, after: &str) -> Result<Node, ParseError> {
        let first = self.unary(after)?;
        let mut rest = Vec::new();
        loop {
            let before = self.pos;
            self.skip_ws();
            let start = self.pos;
            let op = match self.peek() {
                Some(c) if is_word_char(c) => match self.word().as_str() {
                    "AND" => Op::And,
                    "OR" => Op::Or,
                    word if word.eq_ignore_ascii_case("and") => return Err(self.misspelt(start, word, "AND")),
                    word if word.eq_ignore_ascii_case("or") => return Err(self.misspelt(start, word, "OR")),
                    _ => {
                        self.pos = before;
                        break;
                    }
                },
                _ => {
                    self.pos = before;
                    break;
                }
            };
            let operand = self.unary(if op == Op::And { " after AND" } else { " after OR" })?;
            rest.push((op, operand));
        }
        if rest.is_empty() {
            return Ok(first);
        }
        if rest.iter().any(|(op, _)| *op == Op::And) && rest.iter().any(|(op, _)| *op == Op::Or) {
            self.mixed = true;
        }
        Ok(Node::Chain(Box::new(first), rest))
    }

    /// A parenthesised chain or a condition.
    fn unary(&mut self, after: &str) -> Result<Node, ParseError> {
        self.skip_ws();
        let start = self.pos;
        if self.peek() == Some('(') {
            self.enter(start)?;
            self.pos += 1;
            let inner = self.chain(" after '('")?;
            self.skip_ws();
            if self.peek() != Some(')') {
                return Err(self.error(format!(
                    "expected AND, OR or ')' to close the '(' at column {}, found {}",
                    start + 1,
                    self.found()
                )));
            }
            self.pos += 1;
            self.depth -= 1;
            return Ok(Node::Group(Box::new(inner)));
        }
        let name = self.field(after)?;
        let field = self.intern(name);
        let (cmp, values) = self.comparison(field)?;
        Ok(Node::Cmp { field, cmp, values })
    }

    /// A field at the current position: `@` and a name, or a bare name that is not a keyword.
    fn field(&mut self, after: &str) -> Result<String, ParseError> {
        let start = self.pos;
        let expected = |p: &Parser| {
            let note = match p.peek() {
                Some('"') | Some('\'') => " (a condition starts with the field, such as @aws.region = \"us-east-1\")",
                _ => "",
            };
            p.error(format!("expected a condition{after} (a field such as @aws.region), found {}{note}", p.found()))
        };
        let mut name = String::new();
        if self.peek() == Some('@') {
            name.push('@');
            self.pos += 1;
            if !self.peek().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') {
                return Err(self.error(format!("expected a field name after '@', found {}", self.found())));
            }
        } else if !self.peek().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') {
            return Err(expected(self));
        }
        loop {
            let part = self.word();
            name.push_str(&part);
            if self.peek() == Some('.') {
                name.push('.');
                self.pos += 1;
                if !self.peek().is_some_and(is_word_char) {
                    return Err(self.error(format!("expected the rest of the field name after '.', found {}", self.found())));
                }
            } else {
                break;
            }
        }
        if let Some(keyword) = keyword(&name) {
            self.pos = start;
            let note = if keyword == "NOT" { " (CloudWatch documents NOT only in NOT IN)" } else { "" };
            return Err(self.error(format!(
                "expected a condition{after} (a field such as @aws.region), found '{name}'{note}"
            )));
        }
        Ok(name)
    }

    /// The operator and operand after the field at index `field`.
    fn comparison(&mut self, field: usize) -> Result<(Cmp, Vec<String>), ParseError> {
        self.skip_ws();
        let start = self.pos;
        let name = self.fields.get(field).cloned().unwrap_or_default();
        let unknown = |p: &Parser, op: &str| {
            p.error_at(start, format!("unknown operator '{op}': CloudWatch documents {OPERATORS}"))
        };
        match self.peek() {
            Some('=') => {
                if self.peek_at(1) == Some('=') {
                    return Err(self.error_at(start, "unknown operator '==': write = for equality"));
                }
                self.pos += 1;
                Ok((Cmp::Eq, vec![self.single("=")?]))
            }
            Some('!') => {
                if self.peek_at(1) != Some('=') {
                    return Err(unknown(self, "!"));
                }
                if self.peek_at(2) == Some('=') {
                    return Err(unknown(self, "!=="));
                }
                self.pos += 2;
                Ok((Cmp::Ne, vec![self.single("!=")?]))
            }
            Some(c @ ('<' | '>')) => {
                let op: String = match self.peek_at(1) {
                    Some(d @ ('=' | '>')) => [c, d].iter().collect(),
                    _ => c.to_string(),
                };
                Err(unknown(self, &op))
            }
            Some(c) if is_word_char(c) => {
                let word = self.word();
                match word.as_str() {
                    "IN" => Ok((Cmp::In, self.list("IN")?)),
                    "NOT" => {
                        self.skip_ws();
                        let at = self.pos;
                        let next = self.word();
                        match next.as_str() {
                            "IN" => Ok((Cmp::NotIn, self.list("NOT IN")?)),
                            w if w.eq_ignore_ascii_case("like") => Err(self.error_at(
                                start,
                                format!("NOT LIKE is not documented for fieldSelectionCriteria: CloudWatch documents {OPERATORS}"),
                            )),
                            w if w.eq_ignore_ascii_case("in") => Err(self.misspelt(at, w, "IN")),
                            _ => {
                                self.pos = at;
                                Err(self.error(format!("expected IN after NOT, found {}", self.found())))
                            }
                        }
                    }
                    w if w.eq_ignore_ascii_case("in") => Err(self.misspelt(start, w, "IN")),
                    w if w.eq_ignore_ascii_case("not") => Err(self.misspelt(start, w, "NOT")),
                    w if w.eq_ignore_ascii_case("like") => Err(self.error_at(
                        start,
                        format!("LIKE is not documented for fieldSelectionCriteria: CloudWatch documents {OPERATORS}"),
                    )),
                    _ => {
                        self.pos = start;
                        Err(self.error(format!("expected {OPERATORS} after {name}, found {}", self.found())))
                    }
                }
            }
            _ => Err(self.error(format!("expected {OPERATORS} after {name}, found {}", self.found()))),
        }
    }

    /// The one value after `=` or `!=`.
    fn single(&mut self, op: &str) -> Result<String, ParseError> {
        self.skip_ws();
        match self.peek() {
            Some('"') => self.value(),
            Some('[') => Err(self.error(format!("{op} compares with one value; use IN or NOT IN for a list"))),
            Some('\'') => Err(self.error("values are written in double quotes, not single quotes")),
            _ => Err(self.error(format!("expected a value in double quotes after {op}, found {}", self.found()))),
        }
    }

    /// A double-quoted value at the current position (known to be `"`).
    fn value(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        self.pos += 1;
        let mut value = String::new();
        loop {
            match self.peek() {
                None => return Err(self.error_at(start, "the quoted value is never closed")),
                Some('"') => break,
                Some('\\') => {
                    return Err(self.error(
                        "a backslash in a value: CloudWatch does not document escapes, so orgwatch does not read them",
                    ));
                }
                Some(c) => {
                    value.push(c);
                    self.pos += 1;
                }
            }
        }
        self.pos += 1;
        Ok(value)
    }

    /// The square-bracketed list after `IN` or `NOT IN`.
    fn list(&mut self, op: &str) -> Result<Vec<String>, ParseError> {
        self.skip_ws();
        let open = self.pos;
        match self.peek() {
            Some('[') => self.pos += 1,
            Some('(') => {
                return Err(self.error(format!("the list after {op} is written in square brackets, not parentheses")));
            }
            Some('"') => {
                return Err(self.error(format!("{op} takes a list in square brackets, such as [\"a\", \"b\"]")));
            }
            _ => return Err(self.error(format!("expected '[' to open the list after {op}, found {}", self.found()))),
        }
        self.skip_ws();
        if self.peek() == Some(']') {
            return Err(self.error_at(
                open,
                format!("an empty list after {op}: the documentation shows none, so orgwatch does not judge one"),
            ));
        }
        let mut values = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                Some('"') => values.push(self.value()?),
                Some('\'') => return Err(self.error("values are written in double quotes, not single quotes")),
                _ => return Err(self.error(format!("expected a value in double quotes in the list, found {}", self.found()))),
            }
            self.skip_ws();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some(']') => {
                    self.pos += 1;
                    return Ok(values);
                }
                _ => {
                    return Err(self.error(format!(
                        "expected ',' or ']' in the list opened at column {}, found {}",
                        open + 1,
                        self.found()
                    )));
                }
            }
        }
    }
}
