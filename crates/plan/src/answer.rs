//! A pure answerer of the core's [`Request`]s from a plan: the planned trails, log groups,
//! metric filters, alarms, topics and their policies, subscriptions, KMS keys, their aliases and
//! policies, with every reference resolved once.
//!
//! What the plan does not show is answered [`Unobserved::not_in_plan`], never guessed: a
//! topic whose ARN names nothing in the plan (its subscriptions cannot be seen), a log group
//! outside the plan that no planned filter is on, a plan without a trail, a key outside the
//! plan, a policy whose text is known only after apply, an account's path in the organization.
//! Things the plan manages are taken as the whole truth about what hangs on them: a planned
//! topic has exactly the planned subscriptions, a metric of a planned filter exactly the planned
//! alarms, a planned alarm no history yet. A topic or key the plan gives no policy gets the one
//! AWS gives it: SNS's default topic policy, KMS's default key policy.

use crate::terraform::{Plan, Resource, UNKNOWN};
use orgwatch_core::facts::{
    AdvancedEventSelector, AdvancedFieldSelector, Alarm, AlarmHistory, Alarms, BasicEventSelector, CompositeAlarm, Dimension, EventSelectors, Key, KeyMetadata, LogGroupRef, MetricFilter, MetricQuery, MetricStat, MetricTransformation, Observed, Subscription,
    Topic, Trail, TrailStatus, arn_account, arn_region, default_topic_policy,
};
use orgwatch_core::remediate::grant::default_key_policy;
use orgwatch_core::{Answer, Request, Unobserved};
use serde_json::Value;
use std::collections::BTreeMap;

/// Protocols whose subscriptions AWS confirms when they are made.
const SELF_CONFIRMING: &[&str] = &["sqs", "lambda", "firehose", "application", "sms"];

#[derive(Clone, Debug)]
struct PlannedTrail {
    trail: Trail,
    logging: bool,
    selectors: EventSelectors,
    /// `cloud_watch_logs_role_arn` is set (or known after apply).
    has_role: bool,
}

#[derive(Clone, Debug)]
struct PlannedFilter {
    address: String,
    log_group: String,
    region: String,
    filter: MetricFilter,
}

#[derive(Clone, Debug)]
struct PlannedTopic {
    arn: String,
    /// The ARN is the planned value, not one made from the topic's name.
    arn_known: bool,
    name: Option<String>,
    region: String,
    kms_master_key_id: Option<String>,
    /// Its `policy` argument.
    policy: PlannedPolicy,
}

/// A resource policy as the plan shows it.
#[derive(Clone, Debug)]
enum PlannedPolicy {
    Text(String),
    /// Written in the configuration, known only after apply.
    AfterApply,
    /// Not written: AWS gives its default.
    Default,
}

/// An `aws_sns_topic_policy` or `aws_kms_key_policy`: the topic ARN or key id it names.
#[derive(Clone, Debug)]
struct PlannedAttachedPolicy {
    address: String,
    target: Option<String>,
    policy: PlannedPolicy,
}

#[derive(Clone, Debug)]
struct PlannedKey {
    address: String,
    arn: String,
    /// The key id, for a key that exists.
    key_id: Option<String>,
    enabled: bool,
    policy: PlannedPolicy,
}

#[derive(Clone, Debug)]
struct PlannedAlias {
    name: String,
    arn: String,
    target: Option<String>,
}

#[derive(Clone, Debug)]
struct PlannedSubscription {
    topic_arn: Option<String>,
    subscription: Subscription,
}

/// The plan's chain resources, ready to answer requests.
#[derive(Debug)]
pub struct PlanFacts {
    pub account: String,
    pub region: String,
    trails: Vec<PlannedTrail>,
    /// Planned log groups: (name, region).
    log_groups: Vec<(String, String)>,
    filters: Vec<PlannedFilter>,
    alarms: Vec<(String, Alarm)>,
    composites: Vec<(String, CompositeAlarm)>,
    /// ARNs of the planned alarms that exist already (and so have a history the plan does not
    /// show).
    existing_alarms: Vec<String>,
    topics: Vec<PlannedTopic>,
    topic_policies: Vec<PlannedAttachedPolicy>,
    subscriptions: Vec<PlannedSubscription>,
    keys: Vec<PlannedKey>,
    key_policies: Vec<PlannedAttachedPolicy>,
    aliases: Vec<PlannedAlias>,
    /// The plan address of each evidence id (ARN, filter name, `namespace/metric`).
    addresses: BTreeMap<String, String>,
    /// The address of the `aws_sns_topic_policy` or `aws_kms_key_policy` of a topic or key, by
    /// its ARN.
    policy_addresses: BTreeMap<String, String>,
    /// Remarks attached to an evidence id, carried into the findings that name it.
    notes: BTreeMap<String, Vec<String>>,
    /// Trails taken to exist outside the plan, one per log group the plan's filters are on,
    /// to judge the rest of the chain of a plan without a trail.
    assumed_trails: Vec<Trail>,
}

fn is_arn_of(service: &'static str) -> impl Fn(&str) -> bool {
    move |s: &str| s.starts_with("arn:") && s.split(':').nth(2) == Some(service)
}

fn any(_: &str) -> bool {
    true
}

fn boolean(resource: &Resource, attribute: &str) -> Option<bool> {
    resource.values.get(attribute).and_then(Value::as_bool)
}

/// The keys of a map attribute (`dimensions`), sorted.
fn keys_of(value: Option<&Value>) -> Vec<String> {
    let mut keys: Vec<String> = value.and_then(Value::as_object).map(|m| m.keys().cloned().collect()).unwrap_or_default();
    keys.sort();
    keys
}

/// A map attribute (`dimensions`) as dimensions, string values only.
fn dimensions_of(value: Option<&Value>) -> Vec<Dimension> {
    value
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(name, v)| Dimension { name: name.clone(), value: v.as_str().unwrap_or_default().to_owned() }).collect())
        .unwrap_or_default()
}

/// The `metric_query` blocks of an `aws_cloudwatch_metric_alarm`.
fn metric_queries(value: Option<&Value>) -> Vec<MetricQuery> {
    let blocks = value.and_then(Value::as_array).into_iter().flatten();
    blocks
        .map(|q| {
            let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
            let metric = q.get("metric").and_then(Value::as_array).and_then(|m| m.first()).map(|m| MetricStat {
                namespace: text(m, "namespace").unwrap_or_default(),
                metric_name: text(m, "metric_name").unwrap_or_default(),
                dimensions: dimensions_of(m.get("dimensions")),
                stat: text(m, "stat").unwrap_or_default(),
            });
            MetricQuery {
                id: text(q, "id").unwrap_or_default(),
                metric,
                expression: text(q, "expression"),
                // Terraform's default, as AWS's, is true.
                return_data: q.get("return_data").and_then(Value::as_bool).unwrap_or(true),
                account_id: text(q, "account_id"),
            }
        })
        .collect()
}

fn strings_of(value: Option<&Value>) -> Vec<String> {
    value.and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect()).unwrap_or_default()
}

/// Whether two regions or accounts can be the same one (either may be known only after apply).
fn may_equal(a: &str, b: &str) -> bool {
    a == b || a == UNKNOWN || b == UNKNOWN
}

impl PlanFacts {
    pub fn new(plan: &Plan) -> PlanFacts {
        let account = plan.account();
        let region = plan.provider_region().unwrap_or_else(|| UNKNOWN.to_owned());
        let mut facts = PlanFacts {
            account,
            region,
            trails: Vec::new(),
            log_groups: Vec::new(),
            filters: Vec::new(),
            alarms: Vec::new(),
            composites: Vec::new(),
            existing_alarms: Vec::new(),
            topics: Vec::new(),
            topic_policies: Vec::new(),
            subscriptions: Vec::new(),
            keys: Vec::new(),
            key_policies: Vec::new(),
            aliases: Vec::new(),
            addresses: BTreeMap::new(),
            policy_addresses: BTreeMap::new(),
            notes: BTreeMap::new(),
            assumed_trails: Vec::new(),
        };
        for r in plan.of_type("aws_cloudwatch_log_group") {
            let Some(name) = plan.string(r, "name", &any) else { continue };
            let region = plan.region_of(r);
            let arn = plan.string(r, "arn", &is_arn_of("logs")).unwrap_or_default();
            facts.address(&arn, &r.address);
            facts.address(&format!("{arn}:*"), &r.address);
            facts.log_groups.push((name, region));
        }
        for r in plan.of_type("aws_cloudtrail") {
            let Some(arn) = plan.string(r, "arn", &is_arn_of("cloudtrail")) else { continue };
            let name = plan.string(r, "name", &any).unwrap_or_else(|| r.address.clone());
            let log_group_arn = plan.string(r, "cloud_watch_logs_group_arn", &is_arn_of("logs"));
            let role_unknown = r.unknown.get("cloud_watch_logs_role_arn") == Some(&Value::Bool(true));
            let has_role = role_unknown || plan.string(r, "cloud_watch_logs_role_arn", &any).is_some();
            facts.address(&arn, &r.address);
            facts.trails.push(PlannedTrail {
                trail: Trail {
                    arn: arn.clone(),
                    name,
                    home_region: arn_region(&arn).unwrap_or(&facts.region).to_owned(),
                    multi_region: boolean(r, "is_multi_region_trail").unwrap_or(false),
                    organization_trail: boolean(r, "is_organization_trail").unwrap_or(false),
                    log_group_arn,
                },
                logging: boolean(r, "enable_logging").unwrap_or(true),
                selectors: selectors(r),
                has_role,
            });
        }
        for r in plan.of_type("aws_cloudwatch_log_metric_filter") {
            let (Some(name), Some(log_group)) = (plan.string(r, "name", &any), plan.string(r, "log_group_name", &any)) else { continue };
            let pattern = plan.string(r, "pattern", &any).unwrap_or_default();
            let transformations: Vec<MetricTransformation> = r
                .values
                .get("metric_transformation")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|t| {
                    let text = |key: &str| t.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
                    MetricTransformation { metric_name: text("name"), namespace: text("namespace"), value: text("value"), dimensions: keys_of(t.get("dimensions")) }
                })
                .collect();
            for t in &transformations {
                facts.addresses.entry(format!("{}/{}", t.namespace, t.metric_name)).or_insert_with(|| r.address.clone());
            }
            facts.addresses.entry(name.clone()).or_insert_with(|| r.address.clone());
            let region = plan.region_of(r);
            facts.filters.push(PlannedFilter { address: r.address.clone(), log_group, region, filter: MetricFilter {
                    name,
                    pattern,
                    transformations,
                    system_dimensions: strings_of(r.values.get("emit_system_field_dimensions")),
                    field_selection_criteria: plan.string(r, "field_selection_criteria", &any),
                    apply_on_transformed_logs: boolean(r, "apply_on_transformed_logs").unwrap_or(false),
                },
            });
        }
        for r in plan.of_type("aws_cloudwatch_metric_alarm") {
            let Some(name) = plan.string(r, "alarm_name", &any) else { continue };
            let arn = plan.string(r, "arn", &is_arn_of("cloudwatch")).unwrap_or_else(|| r.address.clone());
            let text = |key: &str| plan.string(r, key, &any);
            let alarm = Alarm {
                name,
                arn: arn.clone(),
                namespace: text("namespace"),
                metric_name: text("metric_name"),
                statistic: text("statistic"),
                extended_statistic: text("extended_statistic"),
                comparison_operator: text("comparison_operator"),
                threshold: r.values.get("threshold").and_then(Value::as_f64),
                actions_enabled: boolean(r, "actions_enabled").unwrap_or(true),
                // Topics only: other actions (Auto Scaling, EC2) notify no one.
                alarm_actions: plan.strings(r, "alarm_actions", &|s| s.starts_with("arn:")),
                dimensions: dimensions_of(r.values.get("dimensions")),
                period: r.values.get("period").and_then(Value::as_i64).and_then(|p| i32::try_from(p).ok()).filter(|p| *p > 0),
                evaluation_periods: r.values.get("evaluation_periods").and_then(Value::as_i64).and_then(|p| i32::try_from(p).ok()),
                datapoints_to_alarm: r.values.get("datapoints_to_alarm").and_then(Value::as_i64).and_then(|p| i32::try_from(p).ok()),
                treat_missing_data: text("treat_missing_data"),
                metrics: metric_queries(r.values.get("metric_query")),
            };
            facts.address(&arn, &r.address);
            if !r.actions.iter().any(|a| a == "create") && r.values.get("arn").and_then(Value::as_str).is_some() {
                facts.existing_alarms.push(arn.clone());
            }
            facts.alarms.push((plan.region_of(r), alarm));
        }
        for r in plan.of_type("aws_cloudwatch_composite_alarm") {
            let (Some(name), Some(rule)) = (plan.string(r, "alarm_name", &any), plan.string(r, "alarm_rule", &any)) else { continue };
            let arn = plan.string(r, "arn", &is_arn_of("cloudwatch")).unwrap_or_else(|| r.address.clone());
            let suppressor = r.values.get("actions_suppressor").and_then(Value::as_array).and_then(|a| a.first()).and_then(|s| s.get("alarm")).and_then(Value::as_str).map(str::to_owned);
            let composite = CompositeAlarm {
                name,
                arn: arn.clone(),
                rule,
                actions_enabled: boolean(r, "actions_enabled").unwrap_or(true),
                alarm_actions: plan.strings(r, "alarm_actions", &|s| s.starts_with("arn:")),
                actions_suppressor: suppressor,
            };
            facts.address(&arn, &r.address);
            facts.composites.push((plan.region_of(r), composite));
        }
        for r in plan.of_type("aws_kms_key") {
            let Some(arn) = plan.string(r, "arn", &is_arn_of("kms")) else { continue };
            facts.address(&arn, &r.address);
            let key_id = r.values.get("key_id").and_then(Value::as_str).map(str::to_owned);
            facts.keys.push(PlannedKey { address: r.address.clone(), arn, key_id, enabled: boolean(r, "is_enabled").unwrap_or(true), policy: planned_policy(plan, r) });
        }
        for r in plan.of_type("aws_kms_alias") {
            let (Some(name), Some(arn)) = (plan.string(r, "name", &any), plan.string(r, "arn", &is_arn_of("kms"))) else { continue };
            facts.aliases.push(PlannedAlias { name, arn, target: plan.string(r, "target_key_id", &any) });
        }
        for r in plan.of_type("aws_kms_key_policy") {
            let target = plan.string(r, "key_id", &any);
            facts.key_policies.push(PlannedAttachedPolicy { address: r.address.clone(), target, policy: planned_policy(plan, r) });
        }
        for r in plan.of_type("aws_sns_topic_policy") {
            let target = plan.string(r, "arn", &is_arn_of("sns"));
            facts.topic_policies.push(PlannedAttachedPolicy { address: r.address.clone(), target, policy: planned_policy(plan, r) });
        }
        for r in plan.of_type("aws_sns_topic") {
            let Some(arn) = plan.string(r, "arn", &is_arn_of("sns")) else { continue };
            let arn_known = r.values.get("arn").and_then(Value::as_str).is_some();
            let kms_master_key_id = plan.string(r, "kms_master_key_id", &any);
            facts.address(&arn, &r.address);
            let policy = planned_policy(plan, r);
            facts.topics.push(PlannedTopic { arn, arn_known, name: plan.string(r, "name", &any), region: plan.region_of(r), kms_master_key_id, policy });
        }
        // An attached policy is where a finding on the policy points.
        let topic_policies: Vec<(String, String)> =
            facts.topics.iter().filter_map(|t| Some((t.arn.clone(), facts.topic_policies.iter().find(|p| p.target.as_deref().is_some_and(|a| facts.same_topic(t, a)))?.address.clone()))).collect();
        let key_policies: Vec<(String, String)> = facts.keys.iter().filter_map(|k| Some((k.arn.clone(), facts.attached_key_policy(k)?.address.clone()))).collect();
        facts.policy_addresses = topic_policies.into_iter().chain(key_policies).collect();
        for r in plan.of_type("aws_sns_topic_subscription") {
            let topic_arn = plan.string(r, "topic_arn", &is_arn_of("sns"));
            let protocol = plan.string(r, "protocol", &any).unwrap_or_default();
            let existing = r.values.get("arn").and_then(Value::as_str);
            let pending = boolean(r, "pending_confirmation");
            let self_confirming = SELF_CONFIRMING.contains(&protocol.as_str()) || boolean(r, "endpoint_auto_confirms") == Some(true);
            let id = existing.map_or_else(|| format!("{}:{}", topic_arn.as_deref().unwrap_or("arn:aws:sns"), r.address), str::to_owned);
            let subscription_arn = match (existing, pending) {
                (Some(_), Some(true)) => "PendingConfirmation".to_owned(),
                _ => id.clone(),
            };
            if existing.is_none() && !self_confirming {
                let note = format!("the {protocol} subscription {} is confirmed by its recipient after apply; until then the scan reports NO_CONFIRMED_SUBSCRIPTION", r.address);
                facts.notes.entry(id.clone()).or_default().push(note);
            }
            facts.address(&id, &r.address);
            facts.subscriptions.push(PlannedSubscription { topic_arn, subscription: Subscription { subscription_arn, protocol } });
        }
        facts.assumed_trails = facts.assumed_trails();
        facts
    }

    fn address(&mut self, id: &str, address: &str) {
        if !id.is_empty() {
            self.addresses.entry(id.to_owned()).or_insert_with(|| address.to_owned());
        }
    }

    /// The plan address an evidence id names, if the plan has it.
    pub fn address_of(&self, id: &str) -> Option<&str> {
        self.addresses.get(id).map(String::as_str)
    }

    /// The plan address of an evidence link. A topic's or key's policy is its
    /// `aws_sns_topic_policy` or `aws_kms_key_policy` when the plan has one, else the key, or
    /// the topic when its own `policy` argument writes it (SNS's default is no resource's).
    pub fn address_of_link(&self, link: &orgwatch_core::EvidenceLink) -> Option<&str> {
        use orgwatch_core::LinkKind;
        match link.kind {
            LinkKind::TopicPolicy | LinkKind::KeyPolicy => {
                if let Some(attached) = self.policy_addresses.get(&link.id) {
                    return Some(attached);
                }
                let default_topic_policy = link.kind == LinkKind::TopicPolicy && self.topic(&link.id).is_none_or(|t| matches!(t.policy, PlannedPolicy::Default));
                if default_topic_policy { None } else { self.address_of(&link.id) }
            }
            _ => self.address_of(&link.id),
        }
    }

    /// Remarks on a chain that holds: what the plan cannot show of what it names (the history
    /// of an alarm that exists already).
    pub fn notes_on_pass(&self, links: &[orgwatch_core::EvidenceLink]) -> Vec<String> {
        links
            .iter()
            .filter(|l| l.kind == orgwatch_core::LinkKind::Alarm && self.existing_alarms.contains(&l.id))
            .map(|l| {
                let address = self.address_of(&l.id).unwrap_or(&l.id);
                format!("{address} exists already: what CloudWatch recorded of its notifications is not in the plan; a scan reads it (ALARM_ACTION_FAILED)")
            })
            .collect()
    }

    /// The remarks on an evidence id (a subscription confirmed after apply, a key policy).
    pub fn notes_of(&self, id: &str) -> &[String] {
        self.notes.get(id).map_or(&[], Vec::as_slice)
    }

    /// Planned alarms that watch a metric of this name in another namespace, or another metric
    /// of this namespace: the likely cause of `NO_ALARM_ON_METRIC`.
    pub fn near_misses(&self, namespace: &str, name: &str) -> Vec<String> {
        self.alarms
            .iter()
            .filter_map(|(_, a)| {
                let (ns, metric) = (a.namespace.as_deref()?, a.metric_name.as_deref()?);
                let near = (ns == namespace) != (metric == name);
                near.then(|| format!("{} watches {ns}/{metric}, not {namespace}/{name}", self.address_of(&a.arn).unwrap_or(&a.name)))
            })
            .collect()
    }

    /// The planned metric filters on a log group (by name), for locating a finding.
    pub fn filters_on(&self, log_group_name: &str) -> Vec<&str> {
        self.filters.iter().filter(|f| f.log_group == log_group_name).map(|f| f.address.as_str()).collect()
    }

    /// Every account an ARN of the plan names: the core reads a link in the account that owns
    /// it, and these are the accounts the plan can speak for (or say it cannot see).
    pub fn accounts(&self) -> std::collections::BTreeSet<String> {
        let arns = self.trails.iter().flat_map(|t| [Some(&t.trail.arn), t.trail.log_group_arn.as_ref()]).flatten();
        let actions = self.alarms.iter().flat_map(|(_, a)| a.alarm_actions.iter());
        let topics = self.topics.iter().flat_map(|t| [Some(&t.arn), t.kms_master_key_id.as_ref()]).flatten();
        let keys = self.keys.iter().map(|k| &k.arn);
        let alarms = self.alarms.iter().map(|(_, a)| &a.arn);
        let mut accounts: std::collections::BTreeSet<String> =
            arns.chain(actions).chain(topics).chain(keys).chain(alarms).filter(|a| a.starts_with("arn:")).filter_map(|a| arn_account(a)).map(str::to_owned).collect();
        accounts.insert(self.account.clone());
        accounts
    }

    pub fn has_trails(&self) -> bool {
        !self.trails.is_empty()
    }

    /// Whether `id` is the ARN of a trail taken to exist outside the plan.
    pub fn is_assumed_trail(&self, id: &str) -> bool {
        self.assumed_trails.iter().any(|t| t.arn == id)
    }

    /// The log groups the plan's filters are on, or that the plan creates.
    fn assumed_trails(&self) -> Vec<Trail> {
        let mut groups: Vec<(String, String)> = self.filters.iter().map(|f| (f.log_group.clone(), f.region.clone())).chain(self.log_groups.iter().cloned()).collect();
        groups.sort();
        groups.dedup();
        groups
            .into_iter()
            .map(|(name, region)| Trail {
                arn: format!("arn:aws:cloudtrail:{region}:{}:trail/(outside the plan, delivering to {name})", self.account),
                name: format!("(outside the plan, delivering to {name})"),
                home_region: region.clone(),
                multi_region: true,
                organization_trail: false,
                log_group_arn: Some(format!("arn:aws:logs:{region}:{}:log-group:{name}", self.account)),
            })
            .collect()
    }

    /// The plan's answer to one request. With `assume_trail`, a plan without trails is
    /// answered with [`PlanFacts::is_assumed_trail`] trails that hold, so the rest of the
    /// chain can be judged; such an answer never makes a pass on its own (see the crate).
    pub fn answer(&self, request: &Request, assume_trail: bool) -> Observed<Answer> {
        let op = request.operation();
        match request {
            Request::Trails { .. } if self.trails.is_empty() && assume_trail && !self.assumed_trails.is_empty() => Ok(Answer::Trails(self.assumed_trails.clone())),
            Request::Trails { .. } if self.trails.is_empty() => Err(Unobserved::not_in_plan(op, "the plan manages no aws_cloudtrail, and a trail outside it cannot be seen")),
            Request::Trails { .. } => Ok(Answer::Trails(self.trails.iter().map(|t| t.trail.clone()).collect())),
            Request::TrailStatus { trail_arn, .. } | Request::EventSelectors { trail_arn, .. } if self.is_assumed_trail(trail_arn) => Ok(match request {
                Request::TrailStatus { .. } => Answer::TrailStatus(TrailStatus { is_logging: true, latest_cloudwatch_logs_delivery_error: None }),
                _ => Answer::EventSelectors(EventSelectors::default()),
            }),
            Request::TrailStatus { trail_arn, .. } => {
                let trail = self.trail(trail_arn, op)?;
                let delivery_error = (trail.trail.log_group_arn.is_some() && !trail.has_role)
                    .then(|| "it names no cloud_watch_logs_role_arn, and CloudTrail needs a role to write to CloudWatch Logs (AWS refuses the log group without one)".to_owned());
                Ok(Answer::TrailStatus(TrailStatus { is_logging: trail.logging, latest_cloudwatch_logs_delivery_error: delivery_error }))
            }
            Request::EventSelectors { trail_arn, .. } => Ok(Answer::EventSelectors(self.trail(trail_arn, op)?.selectors.clone())),
            Request::MetricFilters(group) => self.metric_filters(group, op),
            Request::Alarms { region: wanted, .. } => Ok(Answer::Alarms(Alarms {
                metric: self.alarms.iter().filter(|(region, _)| may_equal(region, wanted)).map(|(_, a)| a.clone()).collect(),
                composite: self.composites.iter().filter(|(region, _)| may_equal(region, wanted)).map(|(_, a)| a.clone()).collect(),
            })),
            Request::Topic { topic_arn, .. } => match self.topic(topic_arn) {
                Some(topic) => {
                    let policy = self.topic_policy(topic).map_err(|why| Unobserved::not_in_plan(op, why))?;
                    Ok(Answer::Topic(Topic::Found { kms_master_key_id: topic.kms_master_key_id.clone(), policy: Some(policy) }))
                }
                None => Err(Unobserved::not_in_plan(op, topic_not_in_plan(topic_arn))),
            },
            Request::Key { key_id, .. } => match self.key(key_id) {
                Some(key) => Ok(Answer::Key(Key::Found(KeyMetadata {
                    arn: key.arn.clone(),
                    key_id: key.key_id.clone().unwrap_or_else(|| key.arn.rsplit_once("key/").map_or(key.arn.as_str(), |(_, id)| id).to_owned()),
                    manager: "CUSTOMER".into(),
                    state: if key.enabled { "Enabled" } else { "Disabled" }.into(),
                }))),
                None => Err(Unobserved::not_in_plan(op, key_not_in_plan(key_id))),
            },
            Request::KeyPolicy { key_id, .. } => match self.key(key_id) {
                Some(key) => Ok(Answer::KeyPolicy(self.key_policy(key).map_err(|why| Unobserved::not_in_plan(op, why))?)),
                None => Err(Unobserved::not_in_plan(op, key_not_in_plan(key_id))),
            },
            // A planned alarm is taken to have no notification recorded yet (see notes_on_pass).
            // Not the whole history of every alarm: each alarm's own is asked for, below.
            Request::AlarmHistory { alarm_name: None, .. } => Ok(Answer::AlarmHistory(AlarmHistory { items: Vec::new(), complete: false })),
            Request::AlarmHistory { region, alarm_name: Some(alarm_name), .. } => match self.alarms.iter().any(|(r, a)| a.name == *alarm_name && may_equal(r, region))
                || self.composites.iter().any(|(r, a)| a.name == *alarm_name && may_equal(r, region))
            {
                true => Ok(Answer::AlarmHistory(AlarmHistory { items: Vec::new(), complete: true })),
                false => Err(Unobserved::not_in_plan(op, format!("alarm {alarm_name:?} is no alarm of the plan, so what CloudWatch recorded of its notifications cannot be seen"))),
            },
            // A plan is judged without advice (AdviceMode::Off): these are never asked.
            Request::AlarmStates { .. } | Request::MetricData { .. } => Err(Unobserved::not_in_plan(op, "what an alarm measured is not in a plan")),
            Request::OrgPath { account_id } => Err(Unobserved::not_in_plan(
                op,
                format!("the path of account {account_id} in the organization (aws:SourceOrgPaths) is not in a plan"),
            )),
            Request::Subscriptions { topic_arn, .. } => match self.topic(topic_arn) {
                Some(topic) => Ok(Answer::Subscriptions(
                    self.subscriptions.iter().filter(|s| s.topic_arn.as_deref().is_some_and(|arn| self.same_topic(topic, arn))).map(|s| s.subscription.clone()).collect(),
                )),
                None => Err(Unobserved::not_in_plan(op, topic_not_in_plan(topic_arn))),
            },
        }
    }

    fn trail(&self, arn: &str, op: &str) -> Result<&PlannedTrail, Unobserved> {
        self.trails.iter().find(|t| t.trail.arn == arn).ok_or_else(|| Unobserved::not_in_plan(op, format!("trail {arn} is not in the plan")))
    }

    fn metric_filters(&self, group: &LogGroupRef, op: &str) -> Observed<Answer> {
        let filters: Vec<MetricFilter> = self.filters.iter().filter(|f| f.log_group == group.name && may_equal(&f.region, &group.region)).map(|f| f.filter.clone()).collect();
        let planned = self.log_groups.iter().any(|(name, region)| *name == group.name && may_equal(region, &group.region));
        if filters.is_empty() && !planned {
            return Err(Unobserved::not_in_plan(op, format!("log group {} is not in the plan and no metric filter of the plan is on it", group.name)));
        }
        Ok(Answer::MetricFilters(filters))
    }

    fn topic(&self, arn: &str) -> Option<&PlannedTopic> {
        self.topics.iter().find(|t| self.same_topic(t, arn))
    }

    /// The topic's ARN, or, while its ARN is known only after apply, an ARN of its region
    /// and name (a literal ARN written for a topic the plan creates).
    fn same_topic(&self, topic: &PlannedTopic, arn: &str) -> bool {
        if topic.arn == arn {
            return true;
        }
        let parts: Vec<&str> = arn.split(':').collect();
        !topic.arn_known && parts.len() == 6 && parts[2] == "sns" && may_equal(parts[3], &topic.region) && topic.name.as_deref() == Some(parts[5]) && may_equal(parts[4], &self.account)
    }
}

impl PlanFacts {
    /// The access policy a planned topic will have.
    fn topic_policy(&self, topic: &PlannedTopic) -> Result<String, String> {
        let attached = self.topic_policies.iter().find(|p| p.target.as_deref().is_some_and(|arn| self.same_topic(topic, arn)));
        let (policy, address) = match attached {
            Some(attached) => (&attached.policy, attached.address.as_str()),
            None => (&topic.policy, self.address_of(&topic.arn).unwrap_or(&topic.arn)),
        };
        match policy {
            PlannedPolicy::Text(text) => Ok(text.clone()),
            PlannedPolicy::AfterApply => Err(format!("the access policy of topic {} ({address}) is known only after apply, so whether it lets CloudWatch publish cannot be seen", topic.arn)),
            PlannedPolicy::Default => Ok(default_topic_policy(&topic.arn, arn_account(&topic.arn).unwrap_or(&self.account))),
        }
    }

    /// A planned key, by the key id, key ARN, alias name or alias ARN a topic names it with.
    fn key(&self, named: &str) -> Option<&PlannedKey> {
        let by_key = |name: &str| self.keys.iter().find(|k| k.arn == name || k.key_id.as_deref() == Some(name));
        by_key(named).or_else(|| {
            let alias = self.aliases.iter().find(|a| a.name == named || a.arn == named || same_alias_arn(named, a))?;
            by_key(alias.target.as_deref()?)
        })
    }

    fn attached_key_policy(&self, key: &PlannedKey) -> Option<&PlannedAttachedPolicy> {
        self.key_policies.iter().find(|p| p.target.as_deref().is_some_and(|t| t == key.arn || key.key_id.as_deref() == Some(t)))
    }

    /// The policy a planned key will have.
    fn key_policy(&self, key: &PlannedKey) -> Result<String, String> {
        let (policy, address) = match self.attached_key_policy(key) {
            Some(attached) => (&attached.policy, attached.address.as_str()),
            None => (&key.policy, key.address.as_str()),
        };
        match policy {
            PlannedPolicy::Text(text) => Ok(text.clone()),
            PlannedPolicy::AfterApply => Err(format!("the policy of key {} ({address}) is known only after apply, so whether it lets CloudWatch use the key cannot be seen", key.address)),
            PlannedPolicy::Default => Ok(default_key_policy("aws", arn_account(&key.arn).unwrap_or(&self.account)).to_string()),
        }
    }
}

/// Whether an alias ARN names this alias (its region or account may be known only after apply).
fn same_alias_arn(named: &str, alias: &PlannedAlias) -> bool {
    let parts: Vec<&str> = named.splitn(6, ':').collect();
    let theirs: Vec<&str> = alias.arn.splitn(6, ':').collect();
    parts.len() == 6 && theirs.len() == 6 && parts[5] == alias.name && may_equal(parts[3], theirs[3]) && may_equal(parts[4], theirs[4])
}

/// A resource's `policy` argument: its planned text; else, when the configuration writes one,
/// a policy known only after apply (or a constant); else AWS's default.
fn planned_policy(plan: &Plan, resource: &Resource) -> PlannedPolicy {
    if let Some(text) = resource.values.get("policy").and_then(Value::as_str).filter(|t| !t.trim().is_empty()) {
        return PlannedPolicy::Text(text.to_owned());
    }
    match plan.expression(resource, "policy") {
        Some(expression) => match expression.get("constant_value") {
            Some(Value::String(text)) if !text.trim().is_empty() => PlannedPolicy::Text(text.clone()),
            Some(Value::Null) | None if !plan.is_unknown(resource, "policy") && expression.get("references").is_none() => PlannedPolicy::Default,
            _ => PlannedPolicy::AfterApply,
        },
        None => PlannedPolicy::Default,
    }
}

fn key_not_in_plan(key: &str) -> String {
    format!("key {key} is no aws_kms_key of the plan, so whether it is enabled and lets CloudWatch use it cannot be seen")
}

fn topic_not_in_plan(arn: &str) -> String {
    format!("topic {arn} is no aws_sns_topic of the plan, so whether it exists and who subscribes to it cannot be seen")
}

/// `event_selector` and `advanced_event_selector` blocks of an `aws_cloudtrail`.
fn selectors(trail: &Resource) -> EventSelectors {
    let blocks = |key: &str| trail.values.get(key).and_then(Value::as_array).cloned().unwrap_or_default();
    let basic = blocks("event_selector")
        .iter()
        .map(|s| BasicEventSelector {
            read_write_type: s.get("read_write_type").and_then(Value::as_str).map(str::to_owned),
            include_management_events: s.get("include_management_events").and_then(Value::as_bool),
        })
        .collect();
    let advanced = blocks("advanced_event_selector")
        .iter()
        .map(|s| AdvancedEventSelector {
            name: s.get("name").and_then(Value::as_str).map(str::to_owned),
            field_selectors: s
                .get("field_selector")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|f| AdvancedFieldSelector {
                    field: f.get("field").and_then(Value::as_str).unwrap_or_default().to_owned(),
                    equals: strings_of(f.get("equals")),
                    not_equals: strings_of(f.get("not_equals")),
                })
                .collect(),
        })
        .collect();
    EventSelectors { basic, advanced }
}
