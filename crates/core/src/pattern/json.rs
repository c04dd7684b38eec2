//! JSON patterns: `{ $.errorCode = "AccessDenied*" || ($.a.b[0] > 3 && $.c NOT EXISTS) }`.
//!
//! Grammar (whitespace and newlines are free between tokens):
//!
//! ```text
//! pattern    := '{' or '}'
//! or         := and ( '||' and )*
//! and        := unary ( '&&' unary )*
//! unary      := '(' or ')' | comparison
//! comparison := selector ( op value | 'IS' ('NULL'|'TRUE'|'FALSE') | 'NOT' 'EXISTS' )
//! selector   := '$' ( '.' name | '.' '*' | '.' '[' quoted ']' | '[' index ']' | '[' '*' ']' )+
//! op         := '=' | '!=' | '<' | '<=' | '>' | '>='
//! value      := quoted-string | %regex% | unquoted-token
//! ```
//!
//! Precedence, as the CloudWatch Logs documentation states it ("Using filter patterns to match
//! terms in JSON log events"): parentheses first, then `&&`, then `||` — `&&` binds tighter.
//! So `A || B && C` means `A || (B && C)`. The documentation's own example shows it:
//! `{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = "nonmatch" &&
//! $.actions[2] = "nonmatch" }` matches an event whose email matches and whose other two
//! fields do not. The CIS v3.0 pattern for 3.1 is therefore
//! `*UnauthorizedOperation || (AccessDenied* && not delivery.logs && not HeadBucket)`.
//!
//! Semantics, following CloudWatch:
//! - a comparison on a field that is missing, or that is an object or an array, is false —
//!   for `!=` as for `=`; use `NOT EXISTS` to match a missing field;
//! - `*` in a string value matches any run of characters, quoted or not;
//! - `<`, `<=`, `>`, `>=` take a number and compare JSON numbers;
//! - `=`/`!=` with a number compare numerically;
//! - a wildcard selector (`[*]`, `.*`) matches when any element satisfies the comparison.

use super::lexer::Lexer;
use super::value::{self, ValuePattern};
use super::{MAX_NESTING, MAX_WILDCARD_SELECTORS_PER_PATTERN, MAX_WILDCARD_SELECTORS_PER_SELECTOR, ParseError};
use serde_json::Value;

/// A boolean expression of comparisons.
#[derive(Clone, Debug)]
pub enum Expr {
    /// Matches when any part matches.
    Or(Vec<Expr>),
    /// Matches when every part matches.
    And(Vec<Expr>),
    /// One comparison on one property selector.
    Compare(Comparison),
}

/// `selector test`, e.g. `$.errorCode = "AccessDenied*"` or `$.x NOT EXISTS`.
#[derive(Clone, Debug)]
pub struct Comparison {
    pub selector: Selector,
    pub operator: Operator,
}

/// The test applied to the selected value.
#[derive(Clone, Debug)]
pub enum Operator {
    Equal(ValuePattern),
    NotEqual(ValuePattern),
    Less(f64),
    LessOrEqual(f64),
    Greater(f64),
    GreaterOrEqual(f64),
    IsNull,
    IsTrue,
    IsFalse,
    NotExists,
}

/// A property selector such as `$.userIdentity.type` or `$.items[0]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    /// The selector as written, for messages.
    pub text: String,
    pub steps: Vec<Step>,
}

/// One step of a property selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Field(String),
    Index(usize),
    AnyField,
    AnyIndex,
}

impl Expr {
    pub fn matches(&self, event: &Value) -> bool {
        match self {
            Expr::Or(parts) => parts.iter().any(|p| p.matches(event)),
            Expr::And(parts) => parts.iter().all(|p| p.matches(event)),
            Expr::Compare(c) => c.matches(event),
        }
    }
}

impl Selector {
    /// The values the selector reaches in `root`; several only through a wildcard step.
    pub fn select<'v>(&self, root: &'v Value) -> Vec<&'v Value> {
        let mut current = vec![root];
        for step in &self.steps {
            let mut next = Vec::new();
            for value in current {
                match (step, value) {
                    (Step::Field(name), Value::Object(map)) => next.extend(map.get(name)),
                    (Step::Index(i), Value::Array(items)) => next.extend(items.get(*i)),
                    (Step::AnyField, Value::Object(map)) => next.extend(map.values()),
                    (Step::AnyIndex, Value::Array(items)) => next.extend(items.iter()),
                    _ => {}
                }
            }
            if next.is_empty() {
                return next;
            }
            current = next;
        }
        current
    }
}

impl Comparison {
    pub fn matches(&self, event: &Value) -> bool {
        let values = self.selector.select(event);
        match &self.operator {
            Operator::NotExists => values.is_empty(),
            Operator::IsNull => values.iter().any(|v| v.is_null()),
            Operator::IsTrue => values.contains(&&Value::Bool(true)),
            Operator::IsFalse => values.contains(&&Value::Bool(false)),
            Operator::Equal(pattern) => values.iter().any(|v| scalar(v).is_some_and(|(t, n)| pattern.matches_scalar(&t, n))),
            Operator::NotEqual(pattern) => values.iter().any(|v| scalar(v).is_some_and(|(t, n)| !pattern.matches_scalar(&t, n))),
            Operator::Less(x) => numbers(&values).any(|n| n < *x),
            Operator::LessOrEqual(x) => numbers(&values).any(|n| n <= *x),
            Operator::Greater(x) => numbers(&values).any(|n| n > *x),
            Operator::GreaterOrEqual(x) => numbers(&values).any(|n| n >= *x),
        }
    }
}

/// A scalar as text (and as a number when it is one); `None` for null, arrays and objects.
fn scalar(value: &Value) -> Option<(std::borrow::Cow<'_, str>, Option<f64>)> {
    match value {
        Value::String(s) => Some((s.as_str().into(), None)),
        Value::Number(n) => Some((n.to_string().into(), n.as_f64())),
        Value::Bool(b) => Some((if *b { "true" } else { "false" }.into(), None)),
        _ => None,
    }
}

fn numbers<'a>(values: &'a [&'a Value]) -> impl Iterator<Item = f64> + 'a {
    values.iter().filter_map(|v| v.as_f64())
}

/// Parses a whole JSON pattern, braces included.
pub(crate) fn parse(chars: &[char]) -> Result<Expr, ParseError> {
    let mut parser = Parser { lexer: Lexer::new(chars), wildcards: 0, regexes: 0 };
    let lexer = &mut parser.lexer;
    lexer.skip_ws();
    if !lexer.eat("{") {
        return Err(lexer.error("expected `{` to open a JSON pattern"));
    }
    let expr = parser.or(0)?;
    let lexer = &mut parser.lexer;
    lexer.skip_ws();
    if !lexer.eat("}") {
        let message = if lexer.at_end() {
            "expected `}` to close the JSON pattern, found the end of the pattern".to_owned()
        } else {
            format!("expected `&&`, `||` or `}}`, found {}", lexer.found())
        };
        return Err(lexer.error(message));
    }
    lexer.skip_ws();
    if !lexer.at_end() {
        return Err(lexer.error(format!("unexpected {} after the closing `}}`", lexer.found())));
    }
    Ok(expr)
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    wildcards: usize,
    regexes: usize,
}

/// CloudWatch allows at most two regular expressions in one pattern.
pub(crate) const MAX_REGEXES_PER_PATTERN: usize = 2;

impl Parser<'_> {
    fn or(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let mut parts = vec![self.and(depth)?];
        loop {
            self.lexer.skip_ws();
            if self.lexer.eat("||") {
                parts.push(self.and(depth)?);
            } else {
                break;
            }
        }
        Ok(if parts.len() == 1 { parts.pop().unwrap_or(Expr::Or(Vec::new())) } else { Expr::Or(parts) })
    }

    fn and(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let mut parts = vec![self.unary(depth)?];
        loop {
            self.lexer.skip_ws();
            if self.lexer.eat("&&") {
                parts.push(self.unary(depth)?);
            } else {
                break;
            }
        }
        Ok(if parts.len() == 1 { parts.pop().unwrap_or(Expr::And(Vec::new())) } else { Expr::And(parts) })
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, ParseError> {
        self.lexer.skip_ws();
        match self.lexer.peek() {
            Some('(') => {
                if depth >= MAX_NESTING {
                    return Err(self.lexer.error(format!("parentheses nested deeper than {MAX_NESTING}")));
                }
                let open = self.lexer.pos;
                self.lexer.bump();
                let inner = self.or(depth + 1)?;
                self.lexer.skip_ws();
                if !self.lexer.eat(")") {
                    return Err(self.lexer.error(format!(
                        "expected `)` to close the `(` at column {}, found {}",
                        open + 1,
                        self.lexer.found()
                    )));
                }
                Ok(inner)
            }
            Some('$') => Ok(Expr::Compare(self.comparison()?)),
            _ => Err(self.lexer.error(format!(
                "expected a property selector such as `$.errorCode`, or `(`, found {}",
                self.lexer.found()
            ))),
        }
    }

    fn comparison(&mut self) -> Result<Comparison, ParseError> {
        let selector = self.selector()?;
        self.lexer.skip_ws();
        let op_pos = self.lexer.pos;
        let symbol = ["!=", "<=", ">=", "=", "<", ">"].into_iter().find(|s| self.lexer.eat(s));
        let operator = if let Some(symbol) = symbol {
            self.lexer.skip_ws();
            if self.lexer.peek() == Some('=') {
                return Err(self.lexer.error(format!("`{symbol}=` is not an operator; use `=` for equality")));
            }
            let value = self.value(symbol)?;
            match symbol {
                "=" => Operator::Equal(value),
                "!=" => Operator::NotEqual(value),
                _ => {
                    let ValuePattern::Number { value: number, .. } = value else {
                        return Err(ParseError::at(op_pos, format!("`{symbol}` compares numbers; expected a number after it")));
                    };
                    match symbol {
                        "<" => Operator::Less(number),
                        "<=" => Operator::LessOrEqual(number),
                        ">" => Operator::Greater(number),
                        _ => Operator::GreaterOrEqual(number),
                    }
                }
            }
        } else if self.lexer.eat_keyword("IS") {
            self.lexer.skip_ws();
            if self.lexer.eat_keyword("NULL") {
                Operator::IsNull
            } else if self.lexer.eat_keyword("TRUE") {
                Operator::IsTrue
            } else if self.lexer.eat_keyword("FALSE") {
                Operator::IsFalse
            } else if self.lexer.eat_keyword("NOT") {
                return Err(ParseError::at(op_pos, "`IS NOT` is not supported by CloudWatch; use `IS NULL`, `IS TRUE`, `IS FALSE` or `NOT EXISTS`"));
            } else {
                return Err(self.lexer.error(format!("expected `NULL`, `TRUE` or `FALSE` after `IS`, found {}", self.lexer.found())));
            }
        } else if self.lexer.eat_keyword("NOT") {
            self.lexer.skip_ws();
            if !self.lexer.eat_keyword("EXISTS") {
                return Err(self.lexer.error(format!("expected `EXISTS` after `NOT`, found {}", self.lexer.found())));
            }
            Operator::NotExists
        } else if self.lexer.eat_keyword("EXISTS") {
            return Err(ParseError::at(op_pos, "`EXISTS` is not supported by CloudWatch; only `NOT EXISTS` is"));
        } else {
            return Err(self.lexer.error(format!(
                "expected an operator (`=`, `!=`, `<`, `<=`, `>`, `>=`, `IS`, `NOT EXISTS`) after `{}`, found {}",
                selector.text,
                self.lexer.found()
            )));
        };
        Ok(Comparison { selector, operator })
    }

    fn value(&mut self, after: &str) -> Result<ValuePattern, ParseError> {
        match self.lexer.peek() {
            Some('"') => Ok(ValuePattern::Text(value::parse_quoted(&mut self.lexer)?)),
            Some('%') => {
                self.regexes += 1;
                if self.regexes > MAX_REGEXES_PER_PATTERN {
                    return Err(self.lexer.error(format!(
                        "CloudWatch allows at most {MAX_REGEXES_PER_PATTERN} regular expressions in a pattern"
                    )));
                }
                Ok(ValuePattern::Regex(value::parse_regex(&mut self.lexer)?))
            }
            _ => {
                let start = self.lexer.pos;
                while let Some(c) = self.lexer.peek() {
                    let pair = |a: char| c == a && self.lexer.peek_at(1) == Some(a);
                    if c.is_whitespace() || "(){}\"".contains(c) || pair('&') || pair('|') {
                        break;
                    }
                    self.lexer.bump();
                }
                if self.lexer.pos == start {
                    return Err(self.lexer.error(format!("expected a value after `{after}`, found {}", self.lexer.found())));
                }
                let token: String = self.lexer.chars[start..self.lexer.pos].iter().collect();
                Ok(value::unquoted_value(&token))
            }
        }
    }

    fn selector(&mut self) -> Result<Selector, ParseError> {
        let start = self.lexer.pos;
        if !self.lexer.eat("$") {
            return Err(self.lexer.error("expected `$` to start a property selector"));
        }
        let mut steps = Vec::new();
        let mut wildcards_here = 0;
        loop {
            match self.lexer.peek() {
                Some('.') => {
                    self.lexer.bump();
                    match self.lexer.peek() {
                        Some('*') => {
                            self.lexer.bump();
                            wildcards_here += 1;
                            steps.push(Step::AnyField);
                        }
                        Some('[') => {
                            self.lexer.bump();
                            let key = self.bracket_key()?;
                            steps.push(Step::Field(key));
                        }
                        _ => {
                            let name_start = self.lexer.pos;
                            while self.lexer.peek().is_some_and(is_name_char) {
                                self.lexer.bump();
                            }
                            if self.lexer.pos == name_start {
                                return Err(self.lexer.error(format!("expected a property name after `.`, found {}", self.lexer.found())));
                            }
                            steps.push(Step::Field(self.lexer.chars[name_start..self.lexer.pos].iter().collect()));
                        }
                    }
                }
                Some('[') => {
                    self.lexer.bump();
                    match self.lexer.peek() {
                        Some('*') => {
                            self.lexer.bump();
                            if !self.lexer.eat("]") {
                                return Err(self.lexer.error("expected `]` after `[*`"));
                            }
                            wildcards_here += 1;
                            steps.push(Step::AnyIndex);
                        }
                        Some('\'' | '"') => steps.push(Step::Field(self.bracket_key()?)),
                        _ => {
                            let digits_start = self.lexer.pos;
                            while self.lexer.peek().is_some_and(|c| c.is_ascii_digit()) {
                                self.lexer.bump();
                            }
                            let digits: String = self.lexer.chars[digits_start..self.lexer.pos].iter().collect();
                            let Ok(index) = digits.parse::<usize>() else {
                                return Err(ParseError::at(digits_start, format!("expected an array index, `*` or a quoted name inside `[`, found {}", {
                                    let l = Lexer { chars: self.lexer.chars, pos: digits_start };
                                    l.found()
                                })));
                            };
                            if !self.lexer.eat("]") {
                                return Err(self.lexer.error(format!("expected `]` after the array index, found {}", self.lexer.found())));
                            }
                            steps.push(Step::Index(index));
                        }
                    }
                }
                _ => break,
            }
        }
        if steps.is_empty() {
            return Err(self.lexer.error(format!("expected `.` and a property name after `$`, found {}", self.lexer.found())));
        }
        if wildcards_here > MAX_WILDCARD_SELECTORS_PER_SELECTOR {
            return Err(ParseError::at(start, format!("CloudWatch allows at most {MAX_WILDCARD_SELECTORS_PER_SELECTOR} wildcard in a property selector")));
        }
        self.wildcards += wildcards_here;
        if self.wildcards > MAX_WILDCARD_SELECTORS_PER_PATTERN {
            return Err(ParseError::at(start, format!("CloudWatch allows at most {MAX_WILDCARD_SELECTORS_PER_PATTERN} wildcard selectors in a pattern")));
        }
        let text = self.lexer.chars[start..self.lexer.pos].iter().collect();
        Ok(Selector { text, steps })
    }

    /// After `[` (or `.[`): a quoted key and the closing `]`.
    fn bracket_key(&mut self) -> Result<String, ParseError> {
        let quote = match self.lexer.peek() {
            Some(q @ ('\'' | '"')) => q,
            _ => return Err(self.lexer.error(format!("expected a quoted property name inside `[`, found {}", self.lexer.found()))),
        };
        let open = self.lexer.pos;
        self.lexer.bump();
        let mut key = String::new();
        loop {
            match self.lexer.bump() {
                Some(c) if c == quote => break,
                Some(c) => key.push(c),
                None => return Err(ParseError::at(open, "quoted property name opened here is never closed")),
            }
        }
        if !self.lexer.eat("]") {
            return Err(self.lexer.error(format!("expected `]` after the quoted property name, found {}", self.lexer.found())));
        }
        Ok(key)
    }
}

fn is_name_char(c: char) -> bool {
    !(c.is_whitespace() || ".[]=!<>(){}&|\"'%$,".contains(c))
}
