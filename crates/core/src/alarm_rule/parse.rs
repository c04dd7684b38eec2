//! From text to a syntax tree, by recursive descent over the rule's characters. The tree keeps
//! what was written: parentheses as [`Node::Group`], and a run of operands joined by `AND`/`OR`
//! at one level as one [`Node::Chain`], so that the evaluator can group it each way CloudWatch
//! might. Recursion happens only at `(` and `NOT`, each counted against [`MAX_NESTING`].

use std::collections::HashMap;

use super::{MAX_NESTING, MAX_RULE_LEN, ParseError, State};

pub(super) use crate::chain::Op;

/// The `M` of `AT_LEAST(M, …)`, already checked against the length of its list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Threshold {
    /// From 1 to the length of the list.
    Count(usize),
    /// From 1 to 100.
    Percent(usize),
}

#[derive(Clone, Debug)]
pub(super) enum Node {
    Const(bool),
    /// `STATE(alarm)`; `alarm` indexes the rule's alarms.
    Is { state: State, alarm: usize },
    /// `AT_LEAST(threshold, [NOT] state, (alarms…))`.
    AtLeast { threshold: Threshold, negated: bool, state: State, alarms: Vec<usize> },
    Not(Box<Node>),
    /// Parentheses as written.
    Group(Box<Node>),
    /// `first op operand op operand …`, at least one operator; no operand is itself a chain.
    Chain(Box<Node>, Vec<(Op, Node)>),
}

pub(super) struct Parsed {
    pub root: Node,
    pub alarms: Vec<String>,
    pub relies_on_precedence: bool,
}

/// Largest threshold read; anything larger is refused before it can overflow.
const MAX_THRESHOLD: usize = 1_000_000;

const KEYWORDS: [&str; 9] = ["ALARM", "OK", "INSUFFICIENT_DATA", "AT_LEAST", "TRUE", "FALSE", "NOT", "AND", "OR"];

pub(super) fn parse(text: &str) -> Result<Parsed, ParseError> {
    let length = text.chars().count();
    if length > MAX_RULE_LEN {
        return Err(ParseError {
            column: MAX_RULE_LEN + 1,
            message: format!("the rule is {length} characters long; CloudWatch accepts at most {MAX_RULE_LEN}"),
        });
    }
    let mut parser =
        Parser { chars: text.chars().collect(), pos: 0, depth: 0, alarms: Vec::new(), index: HashMap::new(), mixed: false };
    parser.skip_ws();
    if parser.at_end() {
        return Err(ParseError { column: 1, message: "the rule is empty".to_owned() });
    }
    let root = parser.chain("")?;
    parser.skip_ws();
    match parser.peek() {
        None => Ok(Parsed { root, alarms: parser.alarms, relies_on_precedence: parser.mixed }),
        Some(')') => Err(parser.error("unmatched ')'")),
        Some(_) => Err(parser.error(format!("expected AND or OR between conditions, found {}", parser.found()))),
    }
}

struct Parser {
    chars: Vec<char>,
    /// Index into `chars` of the next character; its column is `pos + 1`.
    pos: usize,
    /// Parentheses and `NOT`s around the current position.
    depth: usize,
    alarms: Vec<String>,
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

/// A character of an alarm name written without quotes.
fn is_bare_name_char(c: char) -> bool {
    !matches!(c, '(' | ')' | ',' | '"' | '\\') && !c.is_whitespace() && !c.is_control()
}

fn upper_keyword(word: &str) -> Option<&'static str> {
    KEYWORDS.iter().copied().find(|k| k.eq_ignore_ascii_case(word))
}

impl Parser {
    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
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

    /// What is at the current position, for a message: a word, a character or the end.
    fn found(&self) -> String {
        match self.peek() {
            None => "the end of the rule".to_owned(),
            Some(c) if is_word_char(c) => {
                let word: String = self.chars[self.pos..].iter().take_while(|c| is_word_char(**c)).collect();
                format!("'{word}'")
            }
            Some(c) => format!("'{c}'"),
        }
    }

    /// Reads a word at the current position (possibly empty).
    fn word(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(is_word_char) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    /// The refusal of a word that is not a keyword here.
    fn misspelt(&self, start: usize, word: &str, expected: &str) -> ParseError {
        match upper_keyword(word) {
            Some(keyword) if keyword != word => {
                self.error_at(start, format!("keywords are upper case: write {keyword}, not {word}"))
            }
            _ => self.error_at(start, format!("unknown word '{word}': expected {expected}")),
        }
    }

    fn expect(&mut self, c: char, message: impl FnOnce(&str) -> String) -> Result<(), ParseError> {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(message(&self.found())))
        }
    }

    /// One more level of parentheses or `NOT`, opened at `start`.
    fn enter(&mut self, start: usize) -> Result<(), ParseError> {
        if self.depth >= MAX_NESTING {
            return Err(self.error_at(start, format!("nesting deeper than {MAX_NESTING} levels of parentheses and NOT")));
        }
        self.depth += 1;
        Ok(())
    }

    fn intern(&mut self, name: String) -> usize {
        if let Some(&i) = self.index.get(&name) {
            return i;
        }
        self.alarms.push(name.clone());
        self.index.insert(name, self.alarms.len() - 1);
        self.alarms.len() - 1
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
                    word if word.eq_ignore_ascii_case("and") || word.eq_ignore_ascii_case("or") => {
                        return Err(self.misspelt(start, word, ""));
                    }
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

    fn unary(&mut self, after: &str) -> Result<Node, ParseError> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            Some('(') => {
                self.enter(start)?;
                self.pos += 1;
                let inner = self.chain(" after '('")?;
                self.expect(')', |found| {
                    format!("expected AND, OR or ')' to close the '(' at column {}, found {found}", start + 1)
                })?;
                self.depth -= 1;
                Ok(Node::Group(Box::new(inner)))
            }
            Some(c) if is_word_char(c) => {
                let word = self.word();
                let state = match word.as_str() {
                    "NOT" => {
                        self.enter(start)?;
                        let operand = self.unary(" after NOT")?;
                        self.depth -= 1;
                        return Ok(Node::Not(Box::new(operand)));
                    }
                    "TRUE" => return Ok(Node::Const(true)),
                    "FALSE" => return Ok(Node::Const(false)),
                    "AT_LEAST" => return self.at_least(),
                    "AND" | "OR" => {
                        return Err(self.error_at(start, format!("expected a condition{after}, found '{word}'")));
                    }
                    "ALARM" => State::Alarm,
                    "OK" => State::Ok,
                    "INSUFFICIENT_DATA" => State::InsufficientData,
                    _ => {
                        return Err(self.misspelt(
                            start,
                            &word,
                            "ALARM, OK, INSUFFICIENT_DATA, AT_LEAST, TRUE, FALSE, NOT or '('",
                        ));
                    }
                };
                self.expect('(', |found| format!("expected '(' after {word}, found {found}"))?;
                self.skip_ws();
                let alarm = self.reference()?;
                self.expect(')', |found| {
                    format!("expected ')' after the alarm name, found {found} (quote a name that holds spaces, commas or parentheses)")
                })?;
                Ok(Node::Is { state, alarm })
            }
            _ => Err(self.error(format!("expected a condition{after}, found {}", self.found()))),
        }
    }

    /// An alarm name or ARN, quoted or bare, at the current position.
    fn reference(&mut self) -> Result<usize, ParseError> {
        let start = self.pos;
        let backslash = |p: &Parser| {
            p.error("a backslash in an alarm name: CloudWatch does not document escapes, so orgwatch does not read them")
        };
        match self.peek() {
            Some('"') => {
                self.pos += 1;
                let mut name = String::new();
                loop {
                    match self.peek() {
                        None => return Err(self.error_at(start, "the quoted alarm name is never closed")),
                        Some('"') => break,
                        Some('\\') => return Err(backslash(self)),
                        Some(c) => {
                            name.push(c);
                            self.pos += 1;
                        }
                    }
                }
                if name.is_empty() {
                    return Err(self.error_at(start, "the quoted alarm name is empty"));
                }
                self.pos += 1;
                Ok(self.intern(name))
            }
            Some('\\') => Err(backslash(self)),
            Some(c) if is_bare_name_char(c) => {
                while self.peek().is_some_and(is_bare_name_char) {
                    self.pos += 1;
                }
                if self.peek() == Some('\\') {
                    return Err(backslash(self));
                }
                let name: String = self.chars[start..self.pos].iter().collect();
                Ok(self.intern(name))
            }
            _ => Err(self.error(format!("expected an alarm name or ARN, found {}", self.found()))),
        }
    }

    /// The rest of `AT_LEAST(M, [NOT] STATE, (alarm, …))`, after the word.
    fn at_least(&mut self) -> Result<Node, ParseError> {
        self.expect('(', |found| format!("expected '(' after AT_LEAST, found {found}"))?;
        self.skip_ws();
        let threshold_at = self.pos;
        let mut value: usize = 0;
        let mut digits = 0;
        while let Some(d) = self.peek().and_then(|c| c.to_digit(10)) {
            value = value.saturating_mul(10).saturating_add(d as usize).min(MAX_THRESHOLD + 1);
            digits += 1;
            self.pos += 1;
        }
        if digits == 0 {
            return Err(self.error(format!(
                "expected a count or a percentage (such as 2 or 50%) as the threshold of AT_LEAST, found {}",
                self.found()
            )));
        }
        if value > MAX_THRESHOLD {
            return Err(self.error_at(threshold_at, "the threshold of AT_LEAST is too large"));
        }
        let percent = self.peek() == Some('%');
        if percent {
            self.pos += 1;
        }
        self.expect(',', |found| format!("expected ',' after the threshold of AT_LEAST, found {found}"))?;
        self.skip_ws();
        let state_at = self.pos;
        let mut word = self.word();
        let negated = word == "NOT";
        if negated {
            self.skip_ws();
            let at = self.pos;
            word = self.word();
            if !matches!(word.as_str(), "ALARM" | "OK" | "INSUFFICIENT_DATA") {
                if !word.is_empty() && upper_keyword(&word).is_some_and(|k| k != word) {
                    return Err(self.misspelt(at, &word, ""));
                }
                self.pos = at;
                return Err(self.error(format!("expected ALARM, OK or INSUFFICIENT_DATA after NOT, found {}", self.found())));
            }
        }
        let state = match word.as_str() {
            "ALARM" => State::Alarm,
            "OK" => State::Ok,
            "INSUFFICIENT_DATA" => State::InsufficientData,
            _ => {
                if !word.is_empty() && upper_keyword(&word).is_some_and(|k| k != word) {
                    return Err(self.misspelt(state_at, &word, ""));
                }
                self.pos = state_at;
                return Err(self.error(format!(
                    "expected ALARM, OK, INSUFFICIENT_DATA or NOT and one of them as the state of AT_LEAST, found {}",
                    self.found()
                )));
            }
        };
        self.expect(',', |found| format!("expected ',' after the state of AT_LEAST, found {found}"))?;
        self.expect('(', |found| format!("expected '(' to open the list of alarms of AT_LEAST, found {found}"))?;
        let mut alarms = Vec::new();
        loop {
            self.skip_ws();
            alarms.push(self.reference()?);
            self.skip_ws();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some(')') => {
                    self.pos += 1;
                    break;
                }
                _ => {
                    return Err(self.error(format!("expected ',' or ')' in the list of alarms of AT_LEAST, found {}", self.found())));
                }
            }
        }
        self.expect(')', |found| format!("expected ')' to close AT_LEAST(…), found {found}"))?;
        let threshold = if percent {
            if !(1..=100).contains(&value) {
                return Err(self.error_at(threshold_at, format!("AT_LEAST needs a percentage between 1% and 100%, not {value}%")));
            }
            Threshold::Percent(value)
        } else {
            if value == 0 {
                return Err(self.error_at(threshold_at, "AT_LEAST needs a count of at least 1"));
            }
            if value > alarms.len() {
                let n = alarms.len();
                return Err(self.error_at(
                    threshold_at,
                    format!("AT_LEAST needs {value} alarms in the state but lists only {n}, so it can never hold"),
                ));
            }
            Threshold::Count(value)
        };
        Ok(Node::AtLeast { threshold, negated, state, alarms })
    }
}
