//! From text to rules. serde_json reads the text twice: once as a plain value (its syntax
//! errors, and each statement's Sid and text as written), then through the visitors below,
//! which check the structure while serde_json still knows where it is, so every refusal
//! carries a line and column.

use std::collections::BTreeSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::{Effect, ParseError, label_for};

/// A statement as the evaluator reads it.
#[derive(Clone, Debug)]
pub(super) struct Rule {
    pub sid: Option<String>,
    pub effect: Effect,
    pub principal: Principals,
    pub actions: Element,
    /// `None` when the statement names neither Resource nor NotResource.
    pub resources: Option<Element>,
    pub conditions: Vec<ConditionBlock>,
}

/// Principal or NotPrincipal.
#[derive(Clone, Debug)]
pub(super) struct Principals {
    pub negated: bool,
    pub block: PrincipalBlock,
}

#[derive(Clone, Debug)]
pub(super) enum PrincipalBlock {
    /// `"*"`.
    Everyone,
    /// `{"AWS": …, "Service": …, …}`: only the two kinds that can name a service principal are
    /// kept; `Federated` and `CanonicalUser` never do.
    Named { aws: Vec<String>, service: Vec<String> },
}

/// Action/NotAction or Resource/NotResource.
#[derive(Clone, Debug)]
pub(super) struct Element {
    pub negated: bool,
    pub values: Vec<String>,
}

/// One operator of a Condition and the keys under it.
#[derive(Clone, Debug)]
pub(super) struct ConditionBlock {
    pub operator: String,
    pub keys: Vec<(String, Vec<String>)>,
}

/// Reads `text` (already known to be at most `MAX_POLICY_LEN` bytes).
pub(super) fn parse(text: &str) -> Result<(Vec<Rule>, Vec<Value>), ParseError> {
    let document: Value = serde_json::from_str(text).map_err(|e| located(text, &e))?;
    let written: Vec<Value> = match document.get("Statement") {
        Some(Value::Array(items)) => items.clone(),
        Some(single @ Value::Object(_)) => vec![single.clone()],
        _ => Vec::new(),
    };
    let labels: Vec<String> = written
        .iter()
        .enumerate()
        .map(|(index, s)| label_for(index, s.get("Sid").and_then(Value::as_str)))
        .collect();
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let rules = DocumentSeed { labels: &labels }
        .deserialize(&mut deserializer)
        .and_then(|rules| deserializer.end().map(|()| rules))
        .map_err(|e| located(text, &e))?;
    Ok((rules, written))
}

/// serde_json's error as ours: its column counts bytes, ours characters, and never 0.
fn located(text: &str, error: &serde_json::Error) -> ParseError {
    let full = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
    let line = error.line().max(1);
    let line_text = text.split('\n').nth(line - 1).unwrap_or("");
    let column = line_text.char_indices().take_while(|(at, _)| *at < error.column()).count().max(1);
    ParseError { line, column, message }
}

/// The place a policy of `len` bytes stops being acceptable: the character holding byte `limit`.
pub(super) fn position_of_byte(text: &str, limit: usize) -> (usize, usize) {
    let mut at = limit.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

struct DocumentSeed<'a> {
    labels: &'a [String],
}

impl<'de> DeserializeSeed<'de> for DocumentSeed<'_> {
    type Value = Vec<Rule>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for DocumentSeed<'_> {
    type Value = Vec<Rule>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a policy document as a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut seen = BTreeSet::new();
        let mut rules = None;
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(A::Error::custom(format!("the policy has {key} twice")));
            }
            match key.as_str() {
                "Version" => match map.next_value::<Value>()? {
                    Value::String(v) if v == "2012-10-17" || v == "2008-10-17" => {}
                    other => {
                        return Err(A::Error::custom(format!("Version must be \"2012-10-17\" or \"2008-10-17\", not {}", shown(&other))));
                    }
                },
                "Id" => {
                    map.next_value::<de::IgnoredAny>()?;
                }
                "Statement" => rules = Some(map.next_value_seed(StatementsSeed { labels: self.labels })?),
                other => return Err(A::Error::custom(format!("the policy has an unknown element {other:?}"))),
            }
        }
        rules.ok_or_else(|| A::Error::custom("the policy has no Statement"))
    }
}

/// `Statement`: one statement object, or an array of them.
struct StatementsSeed<'a> {
    labels: &'a [String],
}

impl<'de> DeserializeSeed<'de> for StatementsSeed<'_> {
    type Value = Vec<Rule>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StatementsSeed<'_> {
    type Value = Vec<Rule>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Statement to be a statement object or an array of them")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Ok(vec![StatementSeed { index: 0, labels: self.labels }.visit_map(map)?])
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut rules = Vec::new();
        while let Some(rule) = seq.next_element_seed(StatementSeed { index: rules.len(), labels: self.labels })? {
            rules.push(rule);
        }
        Ok(rules)
    }
}

struct StatementSeed<'a> {
    index: usize,
    labels: &'a [String],
}

impl StatementSeed<'_> {
    fn label(&self) -> String {
        self.labels.get(self.index).cloned().unwrap_or_else(|| label_for(self.index, None))
    }
}

impl<'de> DeserializeSeed<'de> for StatementSeed<'_> {
    type Value = Rule;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for StatementSeed<'_> {
    type Value = Rule;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} to be a JSON object", self.label())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let label = self.label();
        let fail = |message: String| A::Error::custom(format!("{label}: {message}"));
        let mut seen = BTreeSet::new();
        let (mut sid, mut effect, mut principal, mut not_principal) = (None, None, None, None);
        let (mut action, mut not_action, mut resource, mut not_resource, mut conditions) = (None, None, None, None, None);
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(fail(format!("{key} appears twice")));
            }
            match key.as_str() {
                "Sid" => match map.next_value::<Value>()? {
                    Value::String(s) => sid = Some(s),
                    other => return Err(fail(format!("Sid must be a string, not {}", shown(&other)))),
                },
                "Effect" => match map.next_value::<Value>()? {
                    Value::String(s) if s == "Allow" => effect = Some(Effect::Allow),
                    Value::String(s) if s == "Deny" => effect = Some(Effect::Deny),
                    other => return Err(fail(format!("Effect must be \"Allow\" or \"Deny\", not {}", shown(&other)))),
                },
                "Principal" | "NotPrincipal" => {
                    let block = map.next_value_seed(PrincipalSeed { label: &label, field: &key })?;
                    if key == "Principal" { principal = Some(block) } else { not_principal = Some(block) }
                }
                "Action" | "NotAction" | "Resource" | "NotResource" => {
                    let values = strings(&key, &map.next_value::<Value>()?).map_err(fail)?;
                    match key.as_str() {
                        "Action" => action = Some(values),
                        "NotAction" => not_action = Some(values),
                        "Resource" => resource = Some(values),
                        _ => not_resource = Some(values),
                    }
                }
                "Condition" => conditions = Some(map.next_value_seed(ConditionSeed { label: &label })?),
                other => return Err(fail(format!("unknown element {other:?}"))),
            }
        }
        let effect = effect.ok_or_else(|| fail("no Effect".into()))?;
        let principal = match (principal, not_principal) {
            (Some(block), None) => Principals { negated: false, block },
            (None, Some(block)) => Principals { negated: true, block },
            (Some(_), Some(_)) => return Err(fail("both Principal and NotPrincipal".into())),
            (None, None) => return Err(fail("no Principal or NotPrincipal; a resource policy must name one".into())),
        };
        let actions = match (action, not_action) {
            (Some(values), None) => Element { negated: false, values },
            (None, Some(values)) => Element { negated: true, values },
            (Some(_), Some(_)) => return Err(fail("both Action and NotAction".into())),
            (None, None) => return Err(fail("no Action or NotAction".into())),
        };
        let resources = match (resource, not_resource) {
            (Some(values), None) => Some(Element { negated: false, values }),
            (None, Some(values)) => Some(Element { negated: true, values }),
            (Some(_), Some(_)) => return Err(fail("both Resource and NotResource".into())),
            (None, None) => None,
        };
        Ok(Rule { sid, effect, principal, actions, resources, conditions: conditions.unwrap_or_default() })
    }
}

/// A value for messages: strings quoted, other values as JSON, cut short.
fn shown(value: &Value) -> String {
    let text = match value {
        Value::Array(_) => return "an array".into(),
        Value::Object(_) => return "an object".into(),
        other => other.to_string(),
    };
    if text.chars().count() > 40 { format!("{}…", text.chars().take(40).collect::<String>()) } else { text }
}

/// A string, or a non-empty array of strings.
fn strings(field: &str, value: &Value) -> Result<Vec<String>, String> {
    let wrong = || format!("{field} must be a string or an array of strings, not {}", shown(value));
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if items.is_empty() => Err(format!("{field} is an empty array")),
        Value::Array(items) => items.iter().map(|item| item.as_str().map(str::to_owned).ok_or_else(wrong)).collect(),
        _ => Err(wrong()),
    }
}

/// `Principal` or `NotPrincipal`: `"*"`, or an object of principal types.
struct PrincipalSeed<'a> {
    label: &'a str,
    field: &'a str,
}

impl<'de> DeserializeSeed<'de> for PrincipalSeed<'_> {
    type Value = PrincipalBlock;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for PrincipalSeed<'_> {
    type Value = PrincipalBlock;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the {} of {} to be \"*\" or an object of principal types", self.field, self.label)
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        if value == "*" {
            Ok(PrincipalBlock::Everyone)
        } else {
            Err(E::custom(format!("{}: {} must be \"*\" or an object of principal types, not {value:?}", self.label, self.field)))
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let fail = |message: String| A::Error::custom(format!("{}: {} {message}", self.label, self.field));
        let mut seen = BTreeSet::new();
        let (mut aws, mut service) = (Vec::new(), Vec::new());
        while let Some(kind) = map.next_key::<String>()? {
            if !seen.insert(kind.clone()) {
                return Err(fail(format!("has {kind} twice")));
            }
            let names = strings(&kind, &map.next_value::<Value>()?).map_err(|m| fail(m.to_string()))?;
            match kind.as_str() {
                "AWS" => aws = names,
                "Service" => service = names,
                "Federated" | "CanonicalUser" => {}
                other => return Err(fail(format!("has an unknown principal type {other:?}"))),
            }
        }
        Ok(PrincipalBlock::Named { aws, service })
    }
}

/// `Condition`: operator → key → values.
struct ConditionSeed<'a> {
    label: &'a str,
}

impl<'de> DeserializeSeed<'de> for ConditionSeed<'_> {
    type Value = Vec<ConditionBlock>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ConditionSeed<'_> {
    type Value = Vec<ConditionBlock>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the Condition of {} to be an object of condition operators", self.label)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut blocks: Vec<ConditionBlock> = Vec::new();
        while let Some(operator) = map.next_key::<String>()? {
            if blocks.iter().any(|b| b.operator == operator) {
                return Err(A::Error::custom(format!("{}: Condition has operator {operator} twice", self.label)));
            }
            let keys = map.next_value_seed(OperatorSeed { label: self.label, operator: &operator })?;
            blocks.push(ConditionBlock { operator, keys });
        }
        Ok(blocks)
    }
}

/// The keys under one condition operator.
struct OperatorSeed<'a> {
    label: &'a str,
    operator: &'a str,
}

impl<'de> DeserializeSeed<'de> for OperatorSeed<'_> {
    type Value = Vec<(String, Vec<String>)>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for OperatorSeed<'_> {
    type Value = Vec<(String, Vec<String>)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "condition operator {} of {} to be an object of condition keys", self.operator, self.label)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut keys: Vec<(String, Vec<String>)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let fail = |message: String| A::Error::custom(format!("{}: Condition {} key {key} {message}", self.label, self.operator));
            if keys.iter().any(|(k, _)| *k == key) {
                return Err(fail("appears twice".into()));
            }
            let values = condition_values(&map.next_value::<Value>()?).map_err(fail)?;
            keys.push((key, values));
        }
        Ok(keys)
    }
}

/// A condition's values: strings, booleans or numbers (as their text), alone or in a
/// non-empty array.
fn condition_values(value: &Value) -> Result<Vec<String>, String> {
    fn one(value: &Value) -> Option<String> {
        match value {
            Value::String(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
    let wrong = || format!("must have a string, a boolean, a number or an array of them, not {}", shown(value));
    match value {
        Value::Array(items) if items.is_empty() => Err("has an empty array of values".into()),
        Value::Array(items) => items.iter().map(|item| one(item).ok_or_else(wrong)).collect(),
        other => one(other).map(|v| vec![v]).ok_or_else(wrong),
    }
}
