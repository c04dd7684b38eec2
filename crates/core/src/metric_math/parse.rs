//! From text to a syntax tree: a lexer over characters (so columns count characters, not
//! bytes) and a recursive-descent parser whose every recursion passes through [`Parser::enter`],
//! which refuses nesting deeper than [`MAX_NESTING`]. Operators of one precedence level are kept
//! as one flat [`Node::Chain`], so a long `m1 + m2 + …` costs no depth, and parentheses are kept
//! as [`Node::Group`], so the canonical form shows them where the author wrote them.

use std::fmt;

use super::{MAX_NESTING, ParseError};

/// A binary operator. `&&` and `||` are read as `AND` and `OR`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

impl BinOp {
    /// Precedence level, loosest first. `^` has its own rule in the parser.
    pub(super) fn level(self) -> u8 {
        match self {
            BinOp::Or => 0,
            BinOp::And => 1,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => 2,
            BinOp::Add | BinOp::Sub => 3,
            BinOp::Mul | BinOp::Div => 4,
            BinOp::Pow => 5,
        }
    }

    pub(super) fn text(self) -> &'static str {
        match self {
            BinOp::Or => "OR",
            BinOp::And => "AND",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Pow => "^",
        }
    }
}

/// The syntax tree. Numbers are never negative here: a minus sign is a [`Node::Neg`].
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Node {
    Number(f64),
    /// The id of another query: a lower-case letter, then letters, digits and underscores.
    Id(String),
    /// A quoted string as written between its quotes (escapes kept), and the quote used.
    Str { quote: char, raw: String },
    /// An upper-case word that is a whole argument of a call, not called itself: `REPEAT`,
    /// `LINEAR`, `ASC`, `DESC`, `AVG` in `SORT`…
    Keyword(String),
    Call { name: String, args: Vec<Node> },
    Array(Vec<Node>),
    /// Parentheses as written.
    Group(Box<Node>),
    /// Unary minus.
    Neg(Box<Node>),
    /// `first op₁ x₁ op₂ x₂ …`, all operators of one precedence level.
    Chain { first: Box<Node>, rest: Vec<(BinOp, Node)> },
    /// A Metrics Insights query (`SELECT …`), which shares the Expression field but is another
    /// language; kept as written.
    Insights(String),
}

impl Node {
    /// The chain's precedence level, if the node is a chain (not one in parentheses).
    pub(super) fn chain_level(&self) -> Option<u8> {
        match self {
            Node::Chain { rest, .. } => rest.first().map(|(op, _)| op.level()),
            _ => None,
        }
    }
}

/// Formats a number so that the lexer reads it back exactly (Rust's shortest round-trip
/// digits), in exponent form when the plain form would be long.
pub(super) fn number_text(x: f64) -> String {
    let a = x.abs();
    if a != 0.0 && !(1e-6..1e16).contains(&a) { format!("{x:e}") } else { format!("{x}") }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Number(x) => f.write_str(&number_text(*x)),
            Node::Id(id) | Node::Keyword(id) => f.write_str(id),
            Node::Str { quote, raw } => write!(f, "{quote}{raw}{quote}"),
            Node::Call { name, args } => {
                write!(f, "{name}(")?;
                for (i, arg) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{arg}")?;
                }
                f.write_str(")")
            }
            Node::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Node::Group(inner) => write!(f, "({inner})"),
            Node::Neg(inner) => write!(f, "-{inner}"),
            Node::Chain { first, rest } => {
                write!(f, "{first}")?;
                for (op, operand) in rest {
                    write!(f, " {} {operand}", op.text())?;
                }
                Ok(())
            }
            Node::Insights(text) => f.write_str(text),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(f64),
    Id(String),
    Name(String),
    Str(char, String),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Op(BinOp),
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Num(x) => format!("the number {}", number_text(*x)),
            Tok::Id(id) => format!("the id {id}"),
            Tok::Name(name) => format!("the name {name}"),
            Tok::Str(..) => "a string".to_owned(),
            Tok::LParen => "'('".to_owned(),
            Tok::RParen => "')'".to_owned(),
            Tok::LBracket => "'['".to_owned(),
            Tok::RBracket => "']'".to_owned(),
            Tok::Comma => "','".to_owned(),
            Tok::Op(op) => format!("'{}'", op.text()),
            Tok::End => "the end".to_owned(),
        }
    }
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    /// 1-based column, in characters.
    column: usize,
}

fn error(column: usize, message: impl Into<String>) -> ParseError {
    ParseError { column, message: message.into() }
}

fn lex(chars: &[char]) -> Result<Vec<Token>, ParseError> {
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        let next = chars.get(i + 1).copied();
        let mut push = |tok: Tok, width: usize| {
            tokens.push(Token { tok, column });
            width
        };
        i += match c {
            ' ' | '\t' | '\n' | '\r' => 1,
            '(' => push(Tok::LParen, 1),
            ')' => push(Tok::RParen, 1),
            '[' => push(Tok::LBracket, 1),
            ']' => push(Tok::RBracket, 1),
            ',' => push(Tok::Comma, 1),
            '+' => push(Tok::Op(BinOp::Add), 1),
            '-' => push(Tok::Op(BinOp::Sub), 1),
            '*' => push(Tok::Op(BinOp::Mul), 1),
            '/' => push(Tok::Op(BinOp::Div), 1),
            '^' => push(Tok::Op(BinOp::Pow), 1),
            '=' if next == Some('=') => push(Tok::Op(BinOp::Eq), 2),
            '=' => return Err(error(column, "'=' alone is not an operator; compare with '=='")),
            '!' if next == Some('=') => push(Tok::Op(BinOp::Ne), 2),
            '!' => return Err(error(column, "'!' alone is not an operator; metric math has '!=' only")),
            '<' if next == Some('=') => push(Tok::Op(BinOp::Le), 2),
            '<' => push(Tok::Op(BinOp::Lt), 1),
            '>' if next == Some('=') => push(Tok::Op(BinOp::Ge), 2),
            '>' => push(Tok::Op(BinOp::Gt), 1),
            '&' if next == Some('&') => push(Tok::Op(BinOp::And), 2),
            '&' => return Err(error(column, "'&' alone is not an operator; write '&&' or AND")),
            '|' if next == Some('|') => push(Tok::Op(BinOp::Or), 2),
            '|' => return Err(error(column, "'|' alone is not an operator; write '||' or OR")),
            '"' | '\'' => {
                let mut j = i + 1;
                loop {
                    match chars.get(j) {
                        None => return Err(error(column, format!("unterminated string: no closing {c}"))),
                        Some('\\') => j += 2,
                        Some(&q) if q == c => break,
                        Some(_) => j += 1,
                    }
                }
                let raw: String = chars[i + 1..j].iter().collect();
                push(Tok::Str(c, raw), j + 1 - i)
            }
            '0'..='9' | '.' => {
                let (value, width) = number(chars, i)?;
                if let Some(&after) = chars.get(i + width)
                    && (after.is_ascii_alphanumeric() || after == '_')
                {
                    let word: String = chars[i..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == '_' || **c == '.').collect();
                    return Err(error(column, format!("'{word}' is not a number, and an id must start with a lower-case letter")));
                }
                push(Tok::Num(value), width)
            }
            'a'..='z' | 'A'..='Z' | '_' => {
                let word: String = chars[i..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == '_').collect();
                let width = word.chars().count();
                if c.is_ascii_lowercase() {
                    push(Tok::Id(word), width)
                } else if c.is_ascii_uppercase() && !word.chars().any(|c| c.is_ascii_lowercase()) {
                    match word.as_str() {
                        "AND" => push(Tok::Op(BinOp::And), width),
                        "OR" => push(Tok::Op(BinOp::Or), width),
                        _ => push(Tok::Name(word), width),
                    }
                } else {
                    return Err(error(column, format!("'{word}' is neither an id (which must start with a lower-case letter) nor a function name (which is all upper-case)")));
                }
            }
            other => return Err(error(column, format!("unexpected character {other:?}"))),
        };
    }
    tokens.push(Token { tok: Tok::End, column: chars.len() + 1 });
    Ok(tokens)
}

/// Reads a number at `start`: digits with an optional fraction (`5`, `50.25`, `.5`, `5.`) and an
/// optional exponent (`1e3`, `2.5E-2`). Returns its value and width in characters.
fn number(chars: &[char], start: usize) -> Result<(f64, usize), ParseError> {
    let digits = |from: usize| chars[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let mut end = start + digits(start);
    let whole = end - start;
    let mut fraction = 0;
    if chars.get(end) == Some(&'.') {
        fraction = digits(end + 1);
        end += 1 + fraction;
    }
    if whole == 0 && fraction == 0 {
        return Err(error(start + 1, "a '.' must be part of a number such as 0.5"));
    }
    if matches!(chars.get(end), Some('e' | 'E')) {
        let sign = usize::from(matches!(chars.get(end + 1), Some('+' | '-')));
        let exponent = digits(end + 1 + sign);
        if exponent > 0 {
            end += 1 + sign + exponent;
        }
    }
    let text: String = chars[start..end].iter().collect();
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok((value, end - start)),
        _ => Err(error(start + 1, format!("the number {text} is out of range"))),
    }
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

/// Reads a whole expression.
pub(super) fn parse(text: &str) -> Result<Node, ParseError> {
    let trimmed = text.trim_start();
    let select = trimmed.get(..6).is_some_and(|word| word.eq_ignore_ascii_case("SELECT"));
    if select && trimmed.get(6..).is_some_and(|after| after.chars().next().is_none_or(char::is_whitespace)) {
        return Ok(Node::Insights(trimmed.trim_end().to_owned()));
    }
    let chars: Vec<char> = text.chars().collect();
    let mut parser = Parser { tokens: lex(&chars)?, pos: 0, depth: 0 };
    let root = parser.expression()?;
    let token = parser.peek().clone();
    match token.tok {
        Tok::End => Ok(root),
        Tok::RParen => Err(error(token.column, "')' closes no '('")),
        Tok::RBracket => Err(error(token.column, "']' closes no '['")),
        other => Err(error(token.column, format!("expected an operator or the end, found {}", other.describe()))),
    }
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn peek_at(&self, ahead: usize) -> &Tok {
        &self.tokens[(self.pos + ahead).min(self.tokens.len() - 1)].tok
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        token
    }

    /// Every recursion of the parser passes here, so the tree it builds, and every walk over
    /// that tree, stays shallow.
    fn enter(&mut self, column: usize) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(error(column, format!("the expression nests deeper than {MAX_NESTING} levels")));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn expression(&mut self) -> Result<Node, ParseError> {
        self.level(0)
    }

    /// Binary operators of `level` (0 = OR … 4 = `*` `/`), left to right in one chain.
    fn level(&mut self, level: u8) -> Result<Node, ParseError> {
        if level > 4 {
            return self.unary();
        }
        let first = self.level(level + 1)?;
        let mut rest = Vec::new();
        while let Tok::Op(op) = self.peek().tok
            && op.level() == level
        {
            self.advance();
            rest.push((op, self.level(level + 1)?));
        }
        Ok(if rest.is_empty() { first } else { Node::Chain { first: Box::new(first), rest } })
    }

    fn unary(&mut self) -> Result<Node, ParseError> {
        if self.peek().tok == Tok::Op(BinOp::Sub) {
            let minus = self.advance();
            self.enter(minus.column)?;
            let inner = self.unary()?;
            self.leave();
            return Ok(Node::Neg(Box::new(inner)));
        }
        let first = self.primary()?;
        let mut rest = Vec::new();
        while self.peek().tok == Tok::Op(BinOp::Pow) {
            self.advance();
            rest.push((BinOp::Pow, self.exponent()?));
        }
        Ok(if rest.is_empty() { first } else { Node::Chain { first: Box::new(first), rest } })
    }

    /// An operand after `^`: a primary, possibly negated (`2 ^ -1`).
    fn exponent(&mut self) -> Result<Node, ParseError> {
        if self.peek().tok == Tok::Op(BinOp::Sub) {
            let minus = self.advance();
            self.enter(minus.column)?;
            let inner = self.exponent()?;
            self.leave();
            return Ok(Node::Neg(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Node, ParseError> {
        let before = self.pos.checked_sub(1).map(|p| self.tokens[p].tok.clone());
        let token = self.advance();
        match token.tok {
            Tok::Num(x) => Ok(Node::Number(x)),
            Tok::Str(quote, raw) => Ok(Node::Str { quote, raw }),
            Tok::Id(id) => {
                if *self.peek_at(0) == Tok::LParen {
                    let upper = id.to_ascii_uppercase();
                    return Err(error(token.column, format!("function names are upper-case: write {upper}(…), not {id}(…)")));
                }
                Ok(Node::Id(id))
            }
            Tok::Name(name) => {
                if self.peek().tok != Tok::LParen {
                    let message = format!("'{name}' is neither a call nor an id: an id must start with a lower-case letter, and a bare upper-case keyword is only a function's argument");
                    return Err(error(token.column, message));
                }
                let open = self.advance();
                self.enter(open.column)?;
                let args = self.list(Tok::RParen, open.column, true)?;
                self.leave();
                Ok(Node::Call { name, args })
            }
            Tok::LParen => {
                self.enter(token.column)?;
                let inner = self.expression()?;
                let close = self.advance();
                if close.tok != Tok::RParen {
                    let message = format!("expected ')' to close the '(' at column {}, found {}", token.column, close.tok.describe());
                    return Err(error(close.column, message));
                }
                self.leave();
                Ok(Node::Group(Box::new(inner)))
            }
            Tok::LBracket => {
                self.enter(token.column)?;
                if self.peek().tok == Tok::RBracket {
                    return Err(error(self.peek().column, "an array needs at least one element"));
                }
                let items = self.list(Tok::RBracket, token.column, false)?;
                self.leave();
                Ok(Node::Array(items))
            }
            other => {
                let message = match before {
                    Some(Tok::Op(op)) => format!("expected an expression after '{}', found {}", op.text(), other.describe()),
                    Some(Tok::Comma) => format!("expected an expression after ',', found {}", other.describe()),
                    _ => format!("expected an expression, found {}", other.describe()),
                };
                Err(error(token.column, message))
            }
        }
    }

    /// Comma-separated expressions up to `close` (already past the opening token at `opened`).
    fn list(&mut self, close: Tok, opened: usize, may_be_empty: bool) -> Result<Vec<Node>, ParseError> {
        let mut items = Vec::new();
        if may_be_empty && self.peek().tok == close {
            self.advance();
            return Ok(items);
        }
        loop {
            // A bare upper-case word as a whole argument is a keyword: FILL(m1, REPEAT).
            let keyword = match (&self.peek().tok, self.peek_at(1)) {
                (Tok::Name(word), Tok::Comma | Tok::RParen) if close == Tok::RParen => Some(word.clone()),
                _ => None,
            };
            match keyword {
                Some(word) => {
                    self.advance();
                    items.push(Node::Keyword(word));
                }
                None => items.push(self.expression()?),
            }
            let token = self.advance();
            match token.tok {
                Tok::Comma => {}
                ref t if *t == close => return Ok(items),
                other => {
                    let (open_text, close_text) = if close == Tok::RParen { ("(", ")") } else { ("[", "]") };
                    let message = format!("expected ',' or '{close_text}' to close the '{open_text}' at column {opened}, found {}", other.describe());
                    return Err(error(token.column, message));
                }
            }
        }
    }
}
