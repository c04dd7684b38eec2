//! Space-delimited patterns: `[ip, user, username, timestamp, request = *.html*, status_code = 4*, bytes]`.
//!
//! The event's text is split on spaces; text between double quotes or square brackets is one
//! field (without its delimiters). Pattern fields match event fields by position; `...` matches
//! any number of fields. A field may carry a condition on itself, with `=`, `!=`, `<`, `<=`,
//! `>`, `>=`, `*` wildcards and `%regex%`, joined by `&&` and `||` (`&&` binds tighter), e.g.
//! `[w1=ERROR || w1=WARNING, w2]`. Supported: all of that. Not supported: a condition on one
//! field that tests another field's name (refused with a clear error).

use super::lexer::Lexer;
use super::value::{self, ValuePattern};
use super::ParseError;

#[derive(Clone, Debug)]
pub(crate) struct DelimitedPattern {
    fields: Vec<Field>,
}

#[derive(Clone, Debug)]
enum Field {
    /// `...`: any number of event fields.
    Ellipsis,
    /// A named field; `None` when it only takes a position.
    Named { condition: Option<Condition> },
}

/// `||` of `&&` groups of tests on one field.
#[derive(Clone, Debug)]
struct Condition {
    any_of: Vec<Vec<Test>>,
}

#[derive(Clone, Debug)]
enum Test {
    Equal(ValuePattern),
    NotEqual(ValuePattern),
    Less(f64),
    LessOrEqual(f64),
    Greater(f64),
    GreaterOrEqual(f64),
}

impl Test {
    fn matches(&self, token: &str) -> bool {
        let number = value::parse_number(token);
        match self {
            Test::Equal(v) => v.matches_scalar(token, number),
            Test::NotEqual(v) => !v.matches_scalar(token, number),
            Test::Less(x) => number.is_some_and(|n| n < *x),
            Test::LessOrEqual(x) => number.is_some_and(|n| n <= *x),
            Test::Greater(x) => number.is_some_and(|n| n > *x),
            Test::GreaterOrEqual(x) => number.is_some_and(|n| n >= *x),
        }
    }
}

pub(crate) fn parse(chars: &[char]) -> Result<DelimitedPattern, ParseError> {
    let mut lexer = Lexer::new(chars);
    lexer.skip_ws();
    if !lexer.eat("[") {
        return Err(lexer.error("expected `[` to open a space-delimited pattern"));
    }
    let mut fields = Vec::new();
    let mut regexes = 0;
    loop {
        lexer.skip_ws();
        if lexer.eat("...") {
            fields.push(Field::Ellipsis);
        } else {
            let name = name(&mut lexer)?;
            lexer.skip_ws();
            let condition = if matches!(lexer.peek(), Some('=' | '!' | '<' | '>')) {
                Some(condition(&mut lexer, &name, &mut regexes)?)
            } else {
                None
            };
            fields.push(Field::Named { condition });
        }
        lexer.skip_ws();
        if lexer.eat(",") {
            continue;
        }
        if lexer.eat("]") {
            break;
        }
        return Err(lexer.error(format!("expected `,` or `]`, found {}", lexer.found())));
    }
    lexer.skip_ws();
    if !lexer.at_end() {
        return Err(lexer.error(format!("unexpected {} after the closing `]`", lexer.found())));
    }
    Ok(DelimitedPattern { fields })
}

fn name(lexer: &mut Lexer<'_>) -> Result<String, ParseError> {
    let start = lexer.pos;
    while lexer.peek().is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.') {
        lexer.bump();
    }
    if lexer.pos == start {
        return Err(lexer.error(format!("expected a field name or `...`, found {}", lexer.found())));
    }
    Ok(lexer.chars[start..lexer.pos].iter().collect())
}

fn condition(lexer: &mut Lexer<'_>, field: &str, regexes: &mut usize) -> Result<Condition, ParseError> {
    let mut any_of = vec![vec![test(lexer, regexes)?]];
    loop {
        lexer.skip_ws();
        let joined_by_or = if lexer.eat("||") {
            true
        } else if lexer.eat("&&") {
            false
        } else {
            break;
        };
        lexer.skip_ws();
        let name_at = lexer.pos;
        let other = name(lexer)?;
        if other != field {
            return Err(ParseError::at(
                name_at,
                format!("a condition on field `{field}` can only test `{field}`, not `{other}`"),
            ));
        }
        lexer.skip_ws();
        let next = test(lexer, regexes)?;
        if joined_by_or {
            any_of.push(vec![next]);
        } else if let Some(group) = any_of.last_mut() {
            group.push(next);
        }
    }
    Ok(Condition { any_of })
}

fn test(lexer: &mut Lexer<'_>, regexes: &mut usize) -> Result<Test, ParseError> {
    let op_at = lexer.pos;
    let Some(symbol) = ["!=", "<=", ">=", "=", "<", ">"].into_iter().find(|s| lexer.eat(s)) else {
        return Err(lexer.error(format!("expected an operator (`=`, `!=`, `<`, `<=`, `>`, `>=`), found {}", lexer.found())));
    };
    lexer.skip_ws();
    let value = match lexer.peek() {
        Some('"') => ValuePattern::Text(value::parse_quoted(lexer)?),
        Some('%') => {
            *regexes += 1;
            if *regexes > super::json::MAX_REGEXES_PER_PATTERN {
                return Err(lexer.error("CloudWatch allows at most 2 regular expressions in a pattern"));
            }
            ValuePattern::Regex(value::parse_regex(lexer)?)
        }
        _ => {
            let start = lexer.pos;
            while let Some(c) = lexer.peek() {
                let pair = |a: char| c == a && lexer.peek_at(1) == Some(a);
                if c.is_whitespace() || c == ',' || c == ']' || pair('&') || pair('|') {
                    break;
                }
                lexer.bump();
            }
            if lexer.pos == start {
                return Err(lexer.error(format!("expected a value after `{symbol}`, found {}", lexer.found())));
            }
            value::unquoted_value(&lexer.chars[start..lexer.pos].iter().collect::<String>())
        }
    };
    let number = |v: &ValuePattern| match v {
        ValuePattern::Number { value, .. } => Ok(*value),
        _ => Err(ParseError::at(op_at, format!("`{symbol}` compares numbers; expected a number after it"))),
    };
    Ok(match symbol {
        "=" => Test::Equal(value),
        "!=" => Test::NotEqual(value),
        "<" => Test::Less(number(&value)?),
        "<=" => Test::LessOrEqual(number(&value)?),
        ">" => Test::Greater(number(&value)?),
        _ => Test::GreaterOrEqual(number(&value)?),
    })
}

/// Splits an event into fields: spaces separate, `"…"` and `[…]` group.
fn split_fields(text: &str) -> Vec<&str> {
    let mut fields = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            open @ (b'"' | b'[') => {
                let close = if open == b'"' { b'"' } else { b']' };
                let start = i + 1;
                let end = bytes[start..].iter().position(|b| *b == close).map_or(bytes.len(), |p| start + p);
                fields.push(&text[start..end]);
                i = end + 1;
            }
            _ => {
                let start = i;
                while i < bytes.len() && !matches!(bytes[i], b' ' | b'\t' | b'\n' | b'\r') {
                    i += 1;
                }
                fields.push(&text[start..i]);
            }
        }
    }
    fields
}

impl DelimitedPattern {
    pub(crate) fn matches(&self, text: &str) -> bool {
        let tokens = split_fields(text);
        // reachable[t]: the pattern fields seen so far can consume exactly the first t tokens.
        let mut reachable = vec![false; tokens.len() + 1];
        reachable[0] = true;
        for field in &self.fields {
            let mut next = vec![false; tokens.len() + 1];
            match field {
                Field::Ellipsis => {
                    let mut any = false;
                    for t in 0..=tokens.len() {
                        any |= reachable[t];
                        next[t] = any;
                    }
                }
                Field::Named { condition } => {
                    for t in 0..tokens.len() {
                        if reachable[t] && condition.as_ref().is_none_or(|c| c.matches(tokens[t])) {
                            next[t + 1] = true;
                        }
                    }
                }
            }
            reachable = next;
        }
        reachable[tokens.len()]
    }
}

impl Condition {
    fn matches(&self, token: &str) -> bool {
        self.any_of.iter().any(|group| group.iter().all(|t| t.matches(token)))
    }
}
