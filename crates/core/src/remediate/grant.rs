//! The statements that let CloudWatch publish an alarm — on a topic's access policy and on its
//! key's policy — and the policies they go into. A policy is replaced whole (SNS's `Policy`
//! attribute, KMS's `default` key policy), so every statement it holds is kept as written and
//! the statement is added beside them; a Deny is never dropped.

use serde_json::{Map, Value, json};

pub use crate::evaluate::CLOUDWATCH;

/// Whose alarms a topic's statement admits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admits {
    /// Every alarm of the organization (`aws:SourceOrgID`), for a topic other accounts notify.
    Organization(String),
    /// The alarms of one account (`aws:SourceAccount`).
    Account(String),
}

/// The statement of a topic's policy that lets CloudWatch publish for the alarms `admits` names.
pub fn topic_statement(topic_arn: &str, admits: &Admits) -> Value {
    let (sid, key, value) = match admits {
        Admits::Organization(id) => ("AllowCloudWatchAlarmsOfTheOrganization".to_owned(), "aws:SourceOrgID", id.as_str()),
        Admits::Account(account) => (format!("AllowCloudWatchAlarmsOf{account}"), "aws:SourceAccount", account.as_str()),
    };
    json!({
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": CLOUDWATCH},
        "Action": "sns:Publish",
        "Resource": topic_arn,
        "Condition": {"StringEquals": {key: value}}
    })
}

/// The statement of a key's policy that lets CloudWatch encrypt the alarms it publishes to a
/// topic encrypted with the key, as the SNS developer guide gives it.
pub fn key_statement() -> Value {
    json!({"Sid": "CloudWatchPublishesAlarms", "Effect": "Allow", "Principal": {"Service": CLOUDWATCH}, "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*"})
}

/// The policy KMS gives a key created without one: the account's IAM decides, which serves no
/// service principal.
pub fn default_key_policy(partition: &str, account: &str) -> Value {
    json!({"Version": "2012-10-17", "Id": "key-default-1", "Statement": [
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": format!("arn:{partition}:iam::{account}:root")}, "Action": "kms:*", "Resource": "*"}
    ]})
}

/// A policy document read from its JSON text: an object whose `Statement` is a list (one
/// statement written bare is made a list of one). `None` for text that is no such document.
pub fn document(text: &str) -> Option<Value> {
    let mut doc: Value = serde_json::from_str(text).ok()?;
    let object = doc.as_object_mut()?;
    let statements = match object.remove("Statement") {
        Some(Value::Array(list)) if list.iter().all(Value::is_object) => list,
        Some(one @ Value::Object(_)) => vec![one],
        None => Vec::new(),
        Some(_) => return None,
    };
    object.insert("Statement".into(), Value::Array(statements));
    Some(doc)
}

/// The document with `statement` added, every statement it has kept. `None` when it already
/// holds that statement (whatever its Sid). A Sid already in use gets a number.
pub fn merged(document: &Value, statement: Value) -> Option<Value> {
    let mut doc = document.clone();
    let list = doc.get_mut("Statement").and_then(Value::as_array_mut)?;
    let without_sid = |s: &Value| -> Map<String, Value> {
        let mut map = s.as_object().cloned().unwrap_or_default();
        map.remove("Sid");
        map
    };
    if list.iter().any(|s| without_sid(s) == without_sid(&statement)) {
        return None;
    }
    let mut statement = statement;
    if let Some(sid) = statement.get("Sid").and_then(Value::as_str).map(str::to_owned) {
        let taken = |candidate: &str| list.iter().any(|s| s.get("Sid").and_then(Value::as_str) == Some(candidate));
        let mut unique = sid.clone();
        let mut n = 2;
        while taken(&unique) {
            unique = format!("{sid}{n}");
            n += 1;
        }
        statement["Sid"] = Value::String(unique);
    }
    list.push(statement);
    Some(doc)
}

/// How a person finds a statement in its policy: by Sid, else by its place (1-based).
pub fn statement_label(statement: &Value, document: Option<&Value>) -> String {
    if let Some(sid) = statement.get("Sid").and_then(Value::as_str).filter(|s| !s.is_empty()) {
        return format!("statement {sid:?}");
    }
    let place = document.and_then(|d| d.get("Statement")).and_then(Value::as_array).and_then(|list| list.iter().position(|s| s == statement));
    place.map_or_else(|| format!("the statement {statement}"), |i| format!("statement #{}", i + 1))
}
