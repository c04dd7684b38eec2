//! The CloudWatch Logs filter-pattern language: parsing and evaluation.
//!
//! A metric filter's pattern is written by an account owner, so it is untrusted input.
//! [`FilterPattern::parse`] never panics, refuses patterns longer than CloudWatch's own cap
//! ([`MAX_PATTERN_LEN`]), bounds nesting ([`MAX_NESTING`]) so neither parsing nor evaluation can
//! overflow the stack, and reports errors with a 1-based column.
//!
//! Four forms exist, told apart by the first non-blank character:
//! - `{ … }` a JSON pattern ([`json`]): comparisons on property selectors joined by `&&`/`||`;
//! - `[ … ]` a space-delimited pattern ([`delimited`]): positional fields with conditions;
//! - `%…%` a standalone regular expression, searched for in the event's raw text;
//! - anything else, a term pattern ([`terms`]): words and quoted phrases, `?` alternatives and
//!   `-` exclusions. The empty pattern matches every event.
//!
//! Matching is case-sensitive, as in CloudWatch.

mod delimited;
mod json;
mod lexer;
mod terms;
mod value;

use std::fmt;

pub use json::{Comparison, Expr, Operator, Selector, Step};
pub use value::{Glob, ValuePattern};

/// CloudWatch refuses metric-filter patterns longer than this many characters.
pub const MAX_PATTERN_LEN: usize = 1024;

/// Deepest nesting of parentheses accepted. CloudWatch itself has no published limit; this one
/// keeps recursion shallow on hostile input and is far beyond anything a person writes.
pub const MAX_NESTING: usize = 32;

/// Most `*` wildcard selectors in one property selector, as CloudWatch allows.
pub const MAX_WILDCARD_SELECTORS_PER_SELECTOR: usize = 1;

/// Most `*` wildcard selectors in a whole pattern, as CloudWatch allows.
pub const MAX_WILDCARD_SELECTORS_PER_PATTERN: usize = 3;

/// Why a pattern was refused, and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} at column {column}")]
pub struct ParseError {
    /// 1-based column, counted in characters, of the place the parser stopped at.
    pub column: usize,
    /// What was expected or found, in a user's words.
    pub message: String,
}

impl ParseError {
    pub(crate) fn at(offset_chars: usize, message: impl Into<String>) -> Self {
        ParseError { column: offset_chars + 1, message: message.into() }
    }
}

/// A log event as a filter sees it: the raw message and, when it is a JSON object, the
/// parsed value.
#[derive(Clone, Debug)]
pub struct LogEvent {
    /// The raw message text, searched by term and regex patterns.
    pub text: String,
    /// The message parsed as JSON, read by JSON patterns; `None` when it is not JSON.
    pub json: Option<serde_json::Value>,
}

impl LogEvent {
    /// An event from its raw text; JSON is parsed when the text is JSON.
    pub fn from_text(text: impl Into<String>) -> Self {
        let text = text.into();
        let json = serde_json::from_str(&text).ok();
        LogEvent { text, json }
    }

    /// An event from a JSON value; its text is the compact serialization.
    pub fn from_json(value: serde_json::Value) -> Self {
        LogEvent { text: value.to_string(), json: Some(value) }
    }
}

/// A parsed filter pattern.
#[derive(Clone, Debug)]
pub struct FilterPattern {
    source: String,
    kind: PatternKind,
}

#[derive(Clone, Debug)]
enum PatternKind {
    Json(Expr),
    Delimited(delimited::DelimitedPattern),
    Regex(value::Regex),
    Terms(terms::TermPattern),
}

/// Which of the four forms a pattern is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatternForm {
    Json,
    SpaceDelimited,
    Regex,
    Terms,
}

impl FilterPattern {
    /// Parses a pattern as CloudWatch Logs would accept it for a metric filter.
    pub fn parse(source: &str) -> Result<Self, ParseError> {
        let length = source.chars().count();
        if length > MAX_PATTERN_LEN {
            return Err(ParseError::at(
                MAX_PATTERN_LEN,
                format!(
                    "pattern is {length} characters long; CloudWatch accepts at most {MAX_PATTERN_LEN}"
                ),
            ));
        }
        let chars: Vec<char> = source.chars().collect();
        let first = chars.iter().position(|c| !c.is_whitespace());
        let kind = match first.map(|i| chars[i]) {
            Some('{') => PatternKind::Json(json::parse(&chars)?),
            Some('[') => PatternKind::Delimited(delimited::parse(&chars)?),
            Some('%') if is_standalone_regex(&chars) => {
                let start = first.unwrap_or(0);
                let mut lexer = lexer::Lexer::new(&chars);
                lexer.pos = start;
                let regex = value::parse_regex(&mut lexer)?;
                lexer.skip_ws();
                if !lexer.at_end() {
                    return Err(lexer.error("unexpected text after the regular expression"));
                }
                PatternKind::Regex(regex)
            }
            _ => PatternKind::Terms(terms::parse(&chars)?),
        };
        Ok(FilterPattern { source: source.to_owned(), kind })
    }

    /// Which form the pattern is written in.
    pub fn form(&self) -> PatternForm {
        match self.kind {
            PatternKind::Json(_) => PatternForm::Json,
            PatternKind::Delimited(_) => PatternForm::SpaceDelimited,
            PatternKind::Regex(_) => PatternForm::Regex,
            PatternKind::Terms(_) => PatternForm::Terms,
        }
    }

    /// The expression of a JSON pattern; none for the other forms.
    pub fn json(&self) -> Option<&Expr> {
        match &self.kind {
            PatternKind::Json(expr) => Some(expr),
            _ => None,
        }
    }

    /// Whether the pattern matches the event.
    pub fn matches(&self, event: &LogEvent) -> bool {
        match &self.kind {
            PatternKind::Json(expr) => event.json.as_ref().is_some_and(|v| expr.matches(v)),
            PatternKind::Delimited(p) => p.matches(&event.text),
            PatternKind::Regex(r) => r.is_match(&event.text),
            PatternKind::Terms(t) => t.matches(&event.text),
        }
    }
}

impl fmt::Display for FilterPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// `%…%` alone, and not a term pattern that happens to start with `%`.
fn is_standalone_regex(chars: &[char]) -> bool {
    let trimmed: Vec<char> = chars.iter().copied().skip_while(|c| c.is_whitespace()).collect();
    let end = trimmed.iter().rposition(|c| !c.is_whitespace()).map_or(0, |i| i + 1);
    end >= 2 && trimmed[end - 1] == '%'
}

#[cfg(test)]
mod tests;
