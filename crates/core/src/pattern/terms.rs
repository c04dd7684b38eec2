//! Term patterns for unstructured events: `ERROR ARGUMENTS`, `?ERROR ?WARN`, `ERROR -DEBUG`,
//! `"INTERNAL SERVER ERROR"`.
//!
//! A plain term must appear, a `-` term must not, and `?` terms are alternatives of which one
//! must appear; as CloudWatch documents, `?` terms are ignored when the pattern also has plain
//! or `-` terms. A term is searched for as a case-sensitive substring of the raw message. The
//! empty pattern, and a quoted phrase of blanks (`" "`), match every event.

use super::ParseError;
use super::lexer::Lexer;
use super::value;

#[derive(Clone, Debug, Default)]
pub(crate) struct TermPattern {
    required: Vec<String>,
    excluded: Vec<String>,
    optional: Vec<String>,
    match_all: bool,
}

pub(crate) fn parse(chars: &[char]) -> Result<TermPattern, ParseError> {
    let mut lexer = Lexer::new(chars);
    let mut pattern = TermPattern::default();
    loop {
        lexer.skip_ws();
        let Some(c) = lexer.peek() else { break };
        let prefix = match c {
            '?' | '-' => {
                lexer.bump();
                Some(c)
            }
            _ => None,
        };
        let term = if lexer.peek() == Some('"') {
            let glob = value::parse_quoted(&mut lexer)?;
            // Inside a phrase a star is a plain character.
            let text = glob_text(&glob);
            if text.trim().is_empty() {
                pattern.match_all = true;
                continue;
            }
            text
        } else {
            let start = lexer.pos;
            while lexer.peek().is_some_and(|c| !c.is_whitespace()) {
                lexer.bump();
            }
            if lexer.pos == start {
                return Err(lexer.error(format!("expected a term after `{}`", prefix.unwrap_or(' '))));
            }
            lexer.chars[start..lexer.pos].iter().collect()
        };
        match prefix {
            Some('?') => pattern.optional.push(term),
            Some(_) => pattern.excluded.push(term),
            None => pattern.required.push(term),
        }
    }
    Ok(pattern)
}

fn glob_text(glob: &value::Glob) -> String {
    glob.segments_joined("*")
}

impl TermPattern {
    pub(crate) fn matches(&self, text: &str) -> bool {
        if self.match_all && self.required.is_empty() && self.excluded.is_empty() && self.optional.is_empty() {
            return true;
        }
        if !self.required.is_empty() || !self.excluded.is_empty() {
            return self.required.iter().all(|t| text.contains(t.as_str()))
                && !self.excluded.iter().any(|t| text.contains(t.as_str()));
        }
        if !self.optional.is_empty() {
            return self.optional.iter().any(|t| text.contains(t.as_str()));
        }
        true
    }
}
