//! Values on the right of a comparison: strings with `*` wildcards, numbers, and `%regex%`.

use super::ParseError;
use super::lexer::Lexer;

/// What a comparison compares a field against.
#[derive(Clone, Debug)]
pub enum ValuePattern {
    /// A string, quoted or not; `*` stands for any run of characters (`\*` for a star).
    Text(Glob),
    /// A number; compared numerically with JSON numbers.
    Number { text: String, value: f64 },
    /// A `%regex%`, searched for anywhere in the value.
    Regex(Regex),
}

impl ValuePattern {
    /// Whether a scalar rendered as `text` (and, if numeric, `number`) satisfies the value.
    pub(crate) fn matches_scalar(&self, text: &str, number: Option<f64>) -> bool {
        match self {
            ValuePattern::Text(glob) => glob.matches(text),
            ValuePattern::Number { text: literal, value } => match number {
                Some(n) => n == *value,
                None => text == literal || text.parse::<f64>().is_ok_and(|n| n == *value),
            },
            ValuePattern::Regex(regex) => regex.is_match(text),
        }
    }
}

/// A string pattern where `*` matches any run of characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob {
    /// The literal pieces between wildcards; one piece means no wildcard.
    segments: Vec<String>,
}

impl Glob {
    pub fn new(segments: Vec<String>) -> Self {
        debug_assert!(!segments.is_empty());
        Glob { segments }
    }

    /// A glob from text in which every `*` is a wildcard.
    pub fn from_wildcard_text(text: &str) -> Self {
        Glob { segments: text.split('*').map(str::to_owned).collect() }
    }

    /// The literal pieces joined back with `sep` in place of each wildcard.
    /// The literal parts between the `*`s (one part: no wildcard).
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    pub fn segments_joined(&self, sep: &str) -> String {
        self.segments.join(sep)
    }

    /// Linear in the text for each segment: the first segment anchors the start, the last the
    /// end, and the middle ones are found leftmost-first, which is exact for `*`-only globs.
    pub fn matches(&self, text: &str) -> bool {
        let segments = &self.segments;
        if segments.len() == 1 {
            return text == segments[0];
        }
        let first = &segments[0];
        let last = &segments[segments.len() - 1];
        if text.len() < first.len() + last.len() || !text.starts_with(first.as_str()) {
            return false;
        }
        if !text.ends_with(last.as_str()) {
            return false;
        }
        let mut rest = &text[first.len()..text.len() - last.len()];
        for middle in &segments[1..segments.len() - 1] {
            match rest.find(middle.as_str()) {
                Some(i) => rest = &rest[i + middle.len()..],
                None => return false,
            }
        }
        true
    }
}

/// A CloudWatch `%…%` regular expression, compiled with bounded size.
#[derive(Clone, Debug)]
pub struct Regex {
    pub source: String,
    compiled: regex::Regex,
}

impl Regex {
    pub fn is_match(&self, text: &str) -> bool {
        self.compiled.is_match(text)
    }
}

const REGEX_SYMBOLS: &str = ":_#=@/;,- ";
const REGEX_OPERATORS: &str = "^$?[]{}|\\*+.";

/// Parses `%…%` at the cursor. CloudWatch's dialect is a subset of Rust's `regex` syntax
/// without groups; other characters are refused as CloudWatch refuses them.
pub(crate) fn parse_regex(lexer: &mut Lexer<'_>) -> Result<Regex, ParseError> {
    let start = lexer.pos;
    if !lexer.eat("%") {
        return Err(lexer.error("expected `%` to open a regular expression"));
    }
    let mut source = String::new();
    let mut translated = String::new();
    loop {
        let Some(c) = lexer.peek() else {
            return Err(ParseError::at(start, "regular expression opened here is never closed with `%`"));
        };
        if c == '%' {
            lexer.bump();
            break;
        }
        if c == '\\' {
            lexer.bump();
            let Some(escaped) = lexer.bump() else {
                return Err(lexer.error("expected a character after `\\` in the regular expression"));
            };
            source.push('\\');
            source.push(escaped);
            translated.push('\\');
            translated.push(escaped);
            continue;
        }
        if !(c.is_ascii_alphanumeric() || REGEX_SYMBOLS.contains(c) || REGEX_OPERATORS.contains(c)) {
            return Err(lexer.error(format!(
                "`{c}` is not allowed in a CloudWatch regular expression (groups and most symbols are not supported)"
            )));
        }
        lexer.bump();
        source.push(c);
        // CloudWatch accepts `{,n}`; Rust's regex spells it `{0,n}`.
        if c == '{' && lexer.peek() == Some(',') {
            translated.push_str("{0");
        } else {
            translated.push(c);
        }
    }
    if source.is_empty() {
        return Err(ParseError::at(start, "empty regular expression `%%`"));
    }
    let compiled = regex::RegexBuilder::new(&translated)
        .size_limit(1 << 20)
        .dfa_size_limit(1 << 20)
        .nest_limit(super::MAX_NESTING as u32)
        .build()
        .map_err(|e| {
            let detail = e.to_string();
            let last = detail.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("invalid");
            ParseError::at(start, format!("invalid regular expression `%{source}%`: {}", last.trim()))
        })?;
    Ok(Regex { source, compiled })
}

/// Parses a double-quoted string at the cursor; `\"` and `\\` escape, `\*` is a literal star.
pub(crate) fn parse_quoted(lexer: &mut Lexer<'_>) -> Result<Glob, ParseError> {
    let start = lexer.pos;
    if !lexer.eat("\"") {
        return Err(lexer.error("expected `\"`"));
    }
    let mut segments = vec![String::new()];
    loop {
        let Some(c) = lexer.bump() else {
            return Err(ParseError::at(start, "string opened here is never closed with `\"`"));
        };
        match c {
            '"' => break,
            '\\' => match lexer.bump() {
                Some(escaped) => segments.last_mut().map_or((), |s| s.push(escaped)),
                None => return Err(ParseError::at(start, "string opened here is never closed with `\"`")),
            },
            '*' => segments.push(String::new()),
            other => segments.last_mut().map_or((), |s| s.push(other)),
        }
    }
    Ok(Glob::new(segments))
}

/// Whether `text` is a number as CloudWatch writes them: optional sign, digits, optional
/// fraction and exponent.
pub(crate) fn parse_number(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    let mut i = 0;
    if matches!(bytes.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits_start = i;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    let mut digits = i - digits_start;
    if i < bytes.len() && bytes[i] == b'.' {
        i += 1;
        let fraction_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        digits += i - fraction_start;
    }
    if digits == 0 {
        return None;
    }
    if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
        i += 1;
        if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
            i += 1;
        }
        let exponent_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == exponent_start {
            return None;
        }
    }
    if i != bytes.len() {
        return None;
    }
    text.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// A value from an unquoted token: a number when it reads as one, otherwise a string in which
/// `*` is a wildcard.
pub(crate) fn unquoted_value(token: &str) -> ValuePattern {
    match parse_number(token) {
        Some(value) => ValuePattern::Number { text: token.to_owned(), value },
        None => ValuePattern::Text(Glob::from_wildcard_text(token)),
    }
}
