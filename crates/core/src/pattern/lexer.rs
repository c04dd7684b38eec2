//! A cursor over the pattern's characters, shared by the JSON and space-delimited parsers.

use super::ParseError;

pub(crate) struct Lexer<'a> {
    pub chars: &'a [char],
    pub pos: usize,
}

impl<'a> Lexer<'a> {
    pub fn new(chars: &'a [char]) -> Self {
        Lexer { chars, pos: 0 }
    }

    pub fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    pub fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    pub fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    pub fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// Consumes `text` if the input continues with it.
    pub fn eat(&mut self, text: &str) -> bool {
        let mut i = self.pos;
        for expected in text.chars() {
            if self.chars.get(i) != Some(&expected) {
                return false;
            }
            i += 1;
        }
        self.pos = i;
        true
    }

    /// Consumes a keyword (case-insensitive) that is not followed by a word character.
    pub fn eat_keyword(&mut self, keyword: &str) -> bool {
        let mut i = self.pos;
        for expected in keyword.chars() {
            match self.chars.get(i) {
                Some(c) if c.eq_ignore_ascii_case(&expected) => i += 1,
                _ => return false,
            }
        }
        if self.chars.get(i).is_some_and(|c| c.is_alphanumeric() || *c == '_') {
            return false;
        }
        self.pos = i;
        true
    }

    pub fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError::at(self.pos, message)
    }

    /// A short, printable description of what stands at the cursor, for error messages.
    pub fn found(&self) -> String {
        match self.peek() {
            None => "the end of the pattern".to_owned(),
            Some(_) => {
                let snippet: String = self.chars[self.pos..].iter().take(12).collect();
                format!("`{snippet}`")
            }
        }
    }
}
