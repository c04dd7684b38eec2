//! The JSON that `terraform show -json PLANFILE` writes, as far as the chain needs it: the
//! managed resources of `planned_values` (every module), their `resource_changes` (actions and
//! `after_unknown`), and the `configuration`, whose expressions name what a value unknown until
//! apply will be (`references` such as `aws_sns_topic.alerts.arn`).
//!
//! Values are looked up in this order: the planned value; else, for the attributes AWS computes
//! (`arn`, `id`), one made from the resource's known name, region and account, so that two
//! resources of one plan can be linked before either exists; else the configuration's
//! expression: a constant, or the first reference that names something the plan can resolve
//! (a resource, a module's output, a module's input variable, a root variable).

use serde_json::{Map, Value};
use std::fmt;

/// The value shown for a part of an identifier that is known only after apply.
pub const UNKNOWN: &str = "(known after apply)";

/// How deep references are followed (through module outputs and variables) before giving up.
const MAX_DEPTH: usize = 16;

/// Why a file is not a plan orgwatch can read.
#[derive(Debug)]
pub enum PlanError {
    NotJson(serde_json::Error),
    NotAPlan(String),
    UnsupportedVersion(String),
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::NotJson(e) => write!(f, "it is not JSON ({e})"),
            PlanError::NotAPlan(why) => write!(f, "it is not a Terraform plan in JSON: {why}"),
            PlanError::UnsupportedVersion(v) => write!(f, "its format_version {v:?} is not supported (orgwatch reads the 1.x plan format of `terraform show -json`)"),
        }
    }
}

impl std::error::Error for PlanError {}

/// One managed resource instance the plan leaves in place or creates.
#[derive(Clone, Debug)]
pub struct Resource {
    /// The full address, e.g. `module.alerts.aws_sns_topic.this[0]`.
    pub address: String,
    /// The module instance it is in: `""` for the root, else e.g. `module.alerts`.
    pub module: String,
    pub kind: String,
    pub values: Value,
    /// `after_unknown` of its change: `true` at every leaf known only after apply.
    pub unknown: Value,
    /// `change.actions` (`["create"]`, `["no-op"]`, `["delete", "create"]`, …).
    pub actions: Vec<String>,
}

/// A parsed plan.
#[derive(Debug)]
pub struct Plan {
    pub format_version: String,
    pub resources: Vec<Resource>,
    /// Addresses the plan deletes (absent from `planned_values`).
    pub deleted: Vec<String>,
    configuration: Value,
    variables: Value,
}

impl Plan {
    pub fn parse(text: &str) -> Result<Plan, PlanError> {
        let doc: Value = serde_json::from_str(text).map_err(PlanError::NotJson)?;
        let Some(top) = doc.as_object() else {
            return Err(PlanError::NotAPlan("the top level is not an object".into()));
        };
        let Some(version) = top.get("format_version").and_then(Value::as_str) else {
            return Err(PlanError::NotAPlan("it has no format_version".into()));
        };
        if !matches!(version.split('.').next(), Some("0" | "1")) {
            return Err(PlanError::UnsupportedVersion(version.to_owned()));
        }
        let Some(planned) = top.get("planned_values") else {
            let why = if top.contains_key("values") {
                "it has values but no planned_values, so it is a state; give the JSON of a plan file (`terraform plan -out=tfplan && terraform show -json tfplan`)"
            } else {
                "it has no planned_values"
            };
            return Err(PlanError::NotAPlan(why.into()));
        };
        let changes = match top.get("resource_changes") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(list)) => list.iter().collect(),
            Some(_) => return Err(PlanError::NotAPlan("resource_changes is not a list".into())),
        };
        let mut resources = Vec::new();
        if let Some(root) = planned.get("root_module") {
            collect(root, "planned_values.root_module", &mut resources)?;
        }
        let mut deleted = Vec::new();
        for change in changes {
            let address = change.get("address").and_then(Value::as_str).unwrap_or_default();
            let actions: Vec<String> = change.pointer("/change/actions").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect()).unwrap_or_default();
            if change.get("mode").and_then(Value::as_str) != Some("managed") {
                continue;
            }
            match resources.iter_mut().find(|r| r.address == address) {
                Some(resource) => {
                    resource.unknown = change.pointer("/change/after_unknown").cloned().unwrap_or(Value::Null);
                    resource.actions = actions;
                }
                None if actions.iter().any(|a| a == "delete") => deleted.push(address.to_owned()),
                None => {}
            }
        }
        Ok(Plan {
            format_version: version.to_owned(),
            resources,
            deleted,
            configuration: top.get("configuration").cloned().unwrap_or(Value::Null),
            variables: top.get("variables").cloned().unwrap_or(Value::Null),
        })
    }

    /// The managed resources of one type.
    pub fn of_type<'p>(&'p self, kind: &'p str) -> impl Iterator<Item = &'p Resource> + 'p {
        self.resources.iter().filter(move |r| r.kind == kind)
    }

    /// The region the root module's default `aws` provider is configured with, when constant.
    pub fn provider_region(&self) -> Option<String> {
        self.configuration.pointer("/provider_config/aws/expressions/region/constant_value").and_then(Value::as_str).map(str::to_owned)
    }

    /// The configuration of the provider a resource is managed with (`provider_config_key`:
    /// `aws`, `aws.security`, `alerts:aws`); a module's provider that is not configured there
    /// is the root's of the same name, passed down.
    fn provider_of(&self, resource: &Resource) -> Option<&Value> {
        let key = self.resource_config(resource)?.get("provider_config_key")?.as_str()?;
        let configs = self.configuration.get("provider_config")?;
        configs.get(key).or_else(|| configs.get(key.rsplit_once(':')?.1))
    }

    /// The account a provider configuration is held to: its one `allowed_account_ids`, else
    /// the account of the role it assumes, when constant.
    fn provider_account(provider: &Value) -> Option<String> {
        let expressions = provider.get("expressions")?;
        let allowed = expressions.pointer("/allowed_account_ids/constant_value").and_then(Value::as_array).filter(|ids| ids.len() == 1);
        if let Some(id) = allowed.and_then(|ids| ids[0].as_str()) {
            return Some(id.to_owned());
        }
        let role = expressions.get("assume_role").and_then(|blocks| blocks.get(0).or(Some(blocks)))?.pointer("/role_arn/constant_value")?.as_str()?;
        orgwatch_core::facts::arn_account(role).map(str::to_owned)
    }

    /// The account a resource lives in: its ARN's, else its provider's, else the plan's.
    pub fn account_of(&self, resource: &Resource) -> String {
        let from_arn = resource.values.get("arn").and_then(Value::as_str).and_then(orgwatch_core::facts::arn_account).map(str::to_owned);
        from_arn.or_else(|| self.provider_of(resource).and_then(Plan::provider_account)).unwrap_or_else(|| self.account())
    }

    /// Whether the attribute is known only after apply.
    pub fn is_unknown(&self, resource: &Resource, attribute: &str) -> bool {
        resource.unknown.get(attribute) == Some(&Value::Bool(true))
    }

    /// A resource attribute as a string: planned, else computed from known parts, else through
    /// the configuration. `accept` says which resolved values can be meant.
    pub fn string(&self, resource: &Resource, attribute: &str, accept: &dyn Fn(&str) -> bool) -> Option<String> {
        self.string_at(resource, attribute, accept, 0)
    }

    /// A list attribute (`alarm_actions`): its known elements, and what its expression's
    /// references resolve to for the elements known only after apply.
    pub fn strings(&self, resource: &Resource, attribute: &str, accept: &dyn Fn(&str) -> bool) -> Vec<String> {
        let mut out: Vec<String> = resource.values.get(attribute).and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).filter(|s| accept(s)).map(str::to_owned).collect()).unwrap_or_default();
        let unknown = match resource.unknown.get(attribute) {
            Some(Value::Bool(true)) => true,
            Some(Value::Array(items)) => items.iter().any(|i| i == &Value::Bool(true)),
            _ => false,
        };
        if unknown && let Some(expression) = self.expression(resource, attribute) {
            for value in self.evaluate(&resource.module, expression, accept, 0) {
                if !out.contains(&value) {
                    out.push(value);
                }
            }
        }
        out
    }

    fn string_at(&self, resource: &Resource, attribute: &str, accept: &dyn Fn(&str) -> bool, depth: usize) -> Option<String> {
        if let Some(value) = resource.values.get(attribute).and_then(Value::as_str).filter(|s| !s.is_empty()) {
            return Some(value.to_owned());
        }
        if depth > MAX_DEPTH {
            return None;
        }
        if let Some(computed) = self.computed(resource, attribute, depth) {
            return Some(computed);
        }
        let expression = self.expression(resource, attribute)?;
        self.evaluate(&resource.module, expression, accept, depth + 1).into_iter().next()
    }

    /// `arn` and `id` of the chain's resource types, from their names, before AWS assigns them.
    fn computed(&self, resource: &Resource, attribute: &str, depth: usize) -> Option<String> {
        let name = |attr: &str| self.string_at(resource, attr, &|_| true, depth + 1);
        let region = self.region_of(resource);
        let account = self.account_of(resource);
        match (resource.kind.as_str(), attribute) {
            ("aws_sns_topic", "arn" | "id") => Some(format!("arn:aws:sns:{region}:{account}:{}", name("name").unwrap_or_else(|| resource.address.clone()))),
            ("aws_cloudwatch_log_group", "arn") => Some(format!("arn:aws:logs:{region}:{account}:log-group:{}", name("name")?)),
            ("aws_cloudwatch_log_group", "id") => name("name"),
            ("aws_cloudtrail", "arn") => Some(format!("arn:aws:cloudtrail:{region}:{account}:trail/{}", name("name")?)),
            ("aws_cloudtrail", "id") => name("name"),
            ("aws_cloudwatch_metric_alarm", "arn") => Some(format!("arn:aws:cloudwatch:{region}:{account}:alarm:{}", name("alarm_name")?)),
            ("aws_kms_key", "arn" | "id" | "key_id") => Some(format!("arn:aws:kms:{region}:{account}:key/{}", resource.address)),
            ("aws_kms_alias", "arn") => Some(format!("arn:aws:kms:{region}:{account}:{}", name("name")?)),
            ("aws_kms_alias", "id") => name("name"),
            _ => None,
        }
    }

    /// The region a resource lives in: its own `region` argument, its ARN's, else its
    /// provider's, else the root provider's.
    pub fn region_of(&self, resource: &Resource) -> String {
        let known = resource.values.get("region").and_then(Value::as_str).map(str::to_owned);
        let from_arn = || resource.values.get("arn").and_then(Value::as_str).and_then(orgwatch_core::facts::arn_region).map(str::to_owned);
        let provider = || self.provider_of(resource)?.pointer("/expressions/region/constant_value")?.as_str().map(str::to_owned);
        known.or_else(from_arn).or_else(provider).or_else(|| self.provider_region()).unwrap_or_else(|| UNKNOWN.to_owned())
    }

    /// The account the plan deploys to: the one the root's `aws` provider is held to, else that
    /// of the first ARN of a resource that already exists.
    pub fn account(&self) -> String {
        if let Some(account) = self.configuration.pointer("/provider_config/aws").and_then(Plan::provider_account) {
            return account;
        }
        self.resources
            .iter()
            .filter_map(|r| r.values.get("arn").and_then(Value::as_str))
            .find_map(orgwatch_core::facts::arn_account)
            .map_or_else(|| UNKNOWN.to_owned(), str::to_owned)
    }

    /// The configuration of a module instance (`""`, `module.a`, `module.a[0].module.b`).
    fn module_config(&self, module: &str) -> Option<&Value> {
        let mut config = self.configuration.get("root_module")?;
        for segment in split(module).chunks(2) {
            let [keyword, call] = segment else { return None };
            if keyword != "module" {
                return None;
            }
            config = config.get("module_calls")?.get(strip_index(call))?.get("module")?;
        }
        Some(config)
    }

    /// A resource's block in the configuration.
    fn resource_config(&self, resource: &Resource) -> Option<&Value> {
        let local = resource.address.strip_prefix(&format!("{}.", resource.module)).filter(|_| !resource.module.is_empty()).unwrap_or(&resource.address);
        let local = strip_index(local);
        let config = self.module_config(&resource.module)?;
        config.get("resources")?.as_array()?.iter().find(|r| r.get("address").and_then(Value::as_str) == Some(local))
    }

    /// The expression of one attribute in a resource's configuration.
    pub fn expression(&self, resource: &Resource, attribute: &str) -> Option<&Value> {
        self.resource_config(resource)?.get("expressions")?.get(attribute)
    }

    /// What an expression can be: its constant, or what its references resolve to.
    fn evaluate(&self, module: &str, expression: &Value, accept: &dyn Fn(&str) -> bool, depth: usize) -> Vec<String> {
        if depth > MAX_DEPTH {
            return Vec::new();
        }
        match expression.get("constant_value") {
            Some(Value::String(s)) => return if accept(s) { vec![s.clone()] } else { Vec::new() },
            Some(Value::Array(items)) => return items.iter().filter_map(Value::as_str).filter(|s| accept(s)).map(str::to_owned).collect(),
            Some(_) => return Vec::new(),
            None => {}
        }
        let references: Vec<&str> = expression.get("references").and_then(Value::as_array).map(|r| r.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        let mut out = Vec::new();
        for reference in &references {
            // `aws_x.y` comes along with `aws_x.y.arn`: the object itself is no string.
            if references.iter().any(|other| other.len() > reference.len() && other.starts_with(reference) && other[reference.len()..].starts_with(['.', '['])) {
                continue;
            }
            if let Some(value) = self.reference(module, reference, accept, depth + 1).filter(|v| accept(v) && !out.contains(v)) {
                out.push(value);
            }
        }
        out
    }

    /// Resolves one reference made in `module`.
    fn reference(&self, module: &str, reference: &str, accept: &dyn Fn(&str) -> bool, depth: usize) -> Option<String> {
        let parts = split(reference);
        match parts.first().map(String::as_str)? {
            "var" => {
                let name = parts.get(1)?;
                if module.is_empty() {
                    return self.variables.get(name)?.get("value")?.as_str().map(str::to_owned);
                }
                let (parent, call) = parent_module(module)?;
                let expression = self.module_config(&parent)?.get("module_calls")?.get(strip_index(&call))?.get("expressions")?.get(name)?;
                self.evaluate(&parent, expression, accept, depth + 1).into_iter().next()
            }
            "module" => {
                let (call, output) = (parts.get(1)?, parts.get(2)?);
                let child = join(module, &format!("module.{call}"));
                let expression = self.module_config(&child)?.get("outputs")?.get(output)?.get("expression")?;
                self.evaluate(&child, expression, accept, depth + 1).into_iter().next()
            }
            "data" | "local" | "each" | "count" | "path" | "self" | "terraform" => None,
            kind => {
                let (name, attribute) = (parts.get(1)?, parts.get(2)?);
                let address = join(module, &format!("{kind}.{name}"));
                let resource = self.resources.iter().find(|r| r.address == address).or_else(|| {
                    // `aws_x.y` of a resource with one counted instance.
                    let mut instances = self.resources.iter().filter(|r| r.address.starts_with(&format!("{address}[")));
                    let first = instances.next()?;
                    instances.next().is_none().then_some(first)
                })?;
                self.string_at(resource, strip_index(attribute), accept, depth + 1)
            }
        }
    }
}

/// Walks a module of `planned_values` and its child modules.
fn collect(module: &Value, path: &str, out: &mut Vec<Resource>) -> Result<(), PlanError> {
    let Some(module) = module.as_object() else {
        return Err(PlanError::NotAPlan(format!("{path} is not an object")));
    };
    let module_address = module.get("address").and_then(Value::as_str).unwrap_or_default();
    for resource in list(module, "resources", path)? {
        let field = |name: &str| resource.get(name).and_then(Value::as_str);
        let (Some(address), Some(kind)) = (field("address"), field("type")) else {
            return Err(PlanError::NotAPlan(format!("a resource of {path} has no address or type")));
        };
        if field("mode") != Some("managed") {
            continue;
        }
        out.push(Resource {
            address: address.to_owned(),
            module: module_address.to_owned(),
            kind: kind.to_owned(),
            values: resource.get("values").cloned().unwrap_or(Value::Object(Map::new())),
            unknown: Value::Null,
            actions: Vec::new(),
        });
    }
    for (i, child) in list(module, "child_modules", path)?.into_iter().enumerate() {
        collect(child, &format!("{path}.child_modules[{i}]"), out)?;
    }
    Ok(())
}

fn list<'v>(module: &'v Map<String, Value>, key: &str, path: &str) -> Result<Vec<&'v Value>, PlanError> {
    match module.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items.iter().collect()),
        Some(_) => Err(PlanError::NotAPlan(format!("{path}.{key} is not a list"))),
    }
}

/// Splits an address or reference on the dots outside `[...]` and quotes.
fn split(text: &str) -> Vec<String> {
    let (mut parts, mut current, mut depth, mut quoted) = (Vec::new(), String::new(), 0usize, false);
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if quoted => {
                current.push(c);
                if let Some(next) = chars.next() {
                    current.push(next);
                }
                continue;
            }
            '"' => quoted = !quoted,
            '[' if !quoted => depth += 1,
            ']' if !quoted => depth = depth.saturating_sub(1),
            '.' if !quoted && depth == 0 => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
}

/// `name[0]` → `name`.
fn strip_index(text: &str) -> &str {
    if text.ends_with(']') { text.find('[').map_or(text, |i| &text[..i]) } else { text }
}

fn join(module: &str, local: &str) -> String {
    if module.is_empty() { local.to_owned() } else { format!("{module}.{local}") }
}

/// `module.a.module.b[1]` → (`module.a`, `b[1]`).
fn parent_module(module: &str) -> Option<(String, String)> {
    let parts = split(module);
    let (call, parents) = parts.split_last()?;
    let parents = parents.strip_suffix(&["module".to_owned()])?;
    Some((parents.join("."), call.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_split_outside_brackets_and_quotes() {
        assert_eq!(split(r#"module.a["x.y"].aws_sns_topic.t[0]"#), vec!["module", r#"a["x.y"]"#, "aws_sns_topic", "t[0]"]);
        assert_eq!(strip_index("t[0]"), "t");
        assert_eq!(parent_module("module.a.module.b[1]"), Some(("module.a".to_owned(), "b[1]".to_owned())));
        assert_eq!(parent_module("module.a"), Some((String::new(), "a".to_owned())));
    }

    #[test]
    fn unreadable_input_names_its_cause() {
        let message = |text: &str| Plan::parse(text).unwrap_err().to_string();
        assert!(message("{ nope").starts_with("it is not JSON (key must be a string at line 1 column 3)"), "{}", message("{ nope"));
        assert_eq!(message("[]"), "it is not a Terraform plan in JSON: the top level is not an object");
        assert_eq!(message(r#"{"resource_changes": []}"#), "it is not a Terraform plan in JSON: it has no format_version");
        assert!(message(r#"{"format_version": "1.0", "values": {}}"#).contains("so it is a state"));
        assert!(message(r#"{"format_version": "2.0", "planned_values": {}}"#).contains("\"2.0\" is not supported"));
        assert!(message(r#"{"format_version": "1.2", "planned_values": {"root_module": {"resources": 5}}}"#).ends_with("planned_values.root_module.resources is not a list"));
        assert!(Plan::parse(r#"{"format_version": "1.2", "planned_values": {}}"#).unwrap().resources.is_empty());
    }
}
