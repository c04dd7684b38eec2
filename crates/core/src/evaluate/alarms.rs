//! The alarms on a detecting filter's metric, read once per account and region with
//! `DescribeAlarms` (metric and composite alarms): metric alarms on the metric itself, metric-math
//! alarms whose queries read it (judged by the expression that returns data, [`crate::metric_math`]),
//! and the composite alarms above them that go to ALARM whenever they do and notify
//! ([`crate::alarm_rule`]).
//!
//! A composite alarm notifies for a child when its rule is true whenever the child is in ALARM,
//! whatever the state of every other alarm: `ALARM(child) OR …` does, `ALARM(child) AND
//! ALARM(other)` does not, as a burst of denied calls alone does not move `other`. Composites are
//! followed up through nesting: one that goes to ALARM with the child counts as in ALARM for the
//! composites above it.

use super::{Link, Look, Walk};
use crate::alarm_rule::{AlarmRule, Implication, Ref};
use crate::facts::{Alarm, Alarms, CompositeAlarm, Dimension, LogGroupRef, MetricFilter, MetricRef, MetricTransformation, arn_account, arn_region};
use crate::finding::{EvidenceLink, LinkKind, Reason};
use crate::metric_math::{self, Expression, Reach, Value};
use crate::request::{Answer, Request};
use std::collections::BTreeSet;

/// Expressions of a metric-math alarm followed at most, one through another.
const MAX_QUERY_DEPTH: usize = 16;

/// Who sends the notification: a metric alarm, or a composite alarm above it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Notifier<'a> {
    pub name: &'a str,
    pub arn: &'a str,
    pub composite: bool,
}

impl Notifier<'_> {
    /// "Alarm" or "Composite alarm", to begin a sentence.
    pub fn title(&self) -> &'static str {
        if self.composite { "Composite alarm" } else { "Alarm" }
    }
}

/// What a burst of denied calls does to an alarm's state.
enum Firing {
    Fires,
    /// It cannot reach ALARM, and why.
    Cannot(String),
    /// Its metric math cannot be judged, and why.
    Undecidable(String),
    /// What the filter's metric carries cannot be judged (a system field's value), and why.
    Unjudged(String),
}

/// The dimensions the filter's metric carries.
struct MetricDimensions<'a> {
    /// Every dimension name: the transformation's and the system fields', sorted.
    names: Vec<&'a str>,
    /// The system fields (`@aws.account`, `@aws.region`), whose values are the log group's
    /// account and region.
    system: &'a [String],
    group: &'a LogGroupRef,
    /// The log group receives an organization trail's events, whose system fields orgwatch does
    /// not know (the members' accounts or the management account's).
    organization_trail: bool,
}

impl<'f> Walk<'_, 'f> {
    /// The alarms on the metric a detecting filter publishes, `value` a match.
    pub(super) fn alarms(&mut self, group: &LogGroupRef, filter: &MetricFilter, metric: &MetricRef, transformation: &MetricTransformation, value: f64) {
        let request = Request::Alarms { account_id: metric.account_id.clone(), region: metric.region.clone() };
        let what = format!("the alarms of account {} in {}", metric.account_id, metric.region);
        let alarms = match self.look(Link::Alarm, request, &what, |a| as_variant!(a, Answer::Alarms)) {
            Look::Known(alarms) => alarms,
            Look::Pending | Look::Ended => return,
        };
        let mut names: Vec<&str> = transformation.dimensions.iter().chain(&filter.system_dimensions).map(String::as_str).collect();
        names.sort_unstable();
        names.dedup();
        let dimensions = MetricDimensions { names, system: &filter.system_dimensions, group, organization_trail: self.shared };
        let mut watching: Vec<(&'f Alarm, Firing)> = alarms.metric.iter().filter_map(|alarm| watch(alarm, metric, &dimensions, value).map(|firing| (alarm, firing))).collect();
        watching.sort_by(|a, b| a.0.arn.cmp(&b.0.arn));
        let metric_id = format!("{}/{}", metric.namespace, metric.name);
        if watching.is_empty() {
            return self.end(Link::Alarm, Reason::NoAlarmOnMetric, format!("No alarm watches metric {metric_id} in account {} region {}.", metric.account_id, metric.region));
        }
        for (alarm, firing) in watching {
            let link = alarm_link(alarm, &metric.account_id, &metric.region);
            let before = self.watching.replace(alarm);
            self.with(link, |walk| walk.alarm(metric, alarm, firing, alarms));
            self.watching = before;
        }
    }

    fn alarm(&mut self, metric: &MetricRef, alarm: &'f Alarm, firing: Firing, all: &'f Alarms) {
        let notifier = Notifier { name: &alarm.name, arn: &alarm.arn, composite: false };
        if !alarm.actions_enabled {
            self.end(Link::AlarmActions, Reason::AlarmActionsDisabled, format!("Alarm {:?} has its actions disabled.", alarm.name));
        } else {
            match &firing {
                Firing::Cannot(why) => self.end(Link::AlarmFiring, Reason::AlarmCannotFire, format!("Alarm {:?} cannot reach ALARM when denied calls occur: {why}.", alarm.name)),
                Firing::Undecidable(why) => {
                    self.end(Link::AlarmFiring, Reason::MetricMathUndecidable, format!("orgwatch cannot judge whether alarm {:?} reaches ALARM when denied calls occur: {why}.", alarm.name))
                }
                Firing::Unjudged(why) => self.end(Link::AlarmFiring, Reason::MetricFilterUnjudged, format!("orgwatch cannot judge whether alarm {:?} watches the events of account {}: {why}.", alarm.name, self.audit.account_id)),
                Firing::Fires => self.notify(notifier, &alarm.alarm_actions, metric, Link::AlarmNotification),
            }
        }
        // A composite above watches the alarm's state whatever its own actions.
        if matches!(firing, Firing::Fires) && !all.composite.is_empty() {
            self.composites(metric, alarm, all);
        }
    }

    /// The SNS topics `actions` name, each walked on; none is `reached`'s failure.
    fn notify(&mut self, notifier: Notifier<'f>, actions: &'f [String], metric: &MetricRef, reached: Link) {
        let mut topics: Vec<&str> = actions.iter().map(String::as_str).filter(|a| a.starts_with("arn:") && a.split(':').nth(2) == Some("sns")).collect();
        topics.sort_unstable();
        topics.dedup();
        if topics.is_empty() {
            return self.end(reached, Reason::NoAlarmNotification, format!("{} {:?} notifies no SNS topic when it fires.", notifier.title(), notifier.name));
        }
        for topic_arn in topics {
            // A topic is read in the account and region its ARN names.
            let owner = arn_account(topic_arn).unwrap_or(&metric.account_id).to_owned();
            let region = arn_region(topic_arn).unwrap_or(&metric.region).to_owned();
            let link = EvidenceLink::new(LinkKind::Topic, topic_arn).in_account(&owner).in_region(&region);
            self.with(link, |walk| walk.topic(notifier, &metric.account_id, topic_arn, owner, region));
        }
    }

    /// The composite alarms that go to ALARM whenever `child` does, and notify; and those that
    /// watch it but would not fire on its ALARM alone.
    fn composites(&mut self, metric: &MetricRef, child: &'f Alarm, all: &'f Alarms) {
        let rules: Vec<(&'f CompositeAlarm, Result<AlarmRule, String>)> =
            all.composite.iter().map(|c| (c, AlarmRule::parse(&c.rule).map_err(|e| e.to_string()))).collect();
        // In ALARM with the child: the child, then every composite implied by those already in.
        let mut in_alarm: BTreeSet<String> = BTreeSet::from([child.name.clone()]);
        // (index of the composite, the alarm in ALARM it watches), in the order they were found.
        let mut firing: Vec<(usize, String)> = Vec::new();
        loop {
            let mut more = false;
            for (index, (composite, rule)) in rules.iter().enumerate() {
                let Ok(rule) = rule else { continue };
                if in_alarm.contains(&composite.name) {
                    continue;
                }
                let Some(via) = rule.alarms().into_iter().map(alarm_name).find(|n| in_alarm.contains(*n)) else { continue };
                if matches!(rule.implied_by(&|r| identity(r, &in_alarm)), Implication::Always) {
                    firing.push((index, via.to_owned()));
                    in_alarm.insert(composite.name.clone());
                    more = true;
                }
            }
            if !more {
                break;
            }
        }
        for (index, via) in &firing {
            let composite = rules[*index].0;
            let route = self.route(&rules, &firing, *index, via, &child.name);
            let notifier = Notifier { name: &composite.name, arn: &composite.arn, composite: true };
            self.with_all(route, |walk| {
                if !composite.actions_enabled {
                    return walk.end(Link::CompositeActions, Reason::AlarmActionsDisabled, format!("Composite alarm {:?} goes to ALARM with alarm {:?}, but has its actions disabled.", composite.name, child.name));
                }
                let suppressed = composite.actions_suppressor.as_ref().map(|s| {
                    format!("composite alarm {:?} holds its actions back while alarm {s:?} is in ALARM (ActionsSuppressor)", composite.name)
                });
                let noted = suppressed.is_some();
                walk.notes.extend(suppressed);
                walk.notify(notifier, &composite.alarm_actions, metric, Link::CompositeNotification);
                if noted {
                    walk.notes.pop();
                }
            });
        }
        // Composites that watch an alarm in ALARM but do not go to ALARM with it.
        for (index, (composite, rule)) in rules.iter().enumerate() {
            if in_alarm.contains(&composite.name) {
                continue;
            }
            let via = match rule {
                Ok(rule) => rule.alarms().into_iter().map(alarm_name).find(|n| in_alarm.contains(*n)).map(str::to_owned),
                // A rule orgwatch cannot read may watch the child: say so rather than pass it by.
                Err(_) => in_alarm.iter().find(|n| composite.rule.contains(n.as_str())).cloned(),
            };
            let Some(via) = via else { continue };
            let mut route = self.route(&rules, &firing, index, &via, &child.name);
            route.pop();
            let notifies = composite.actions_enabled && composite.alarm_actions.iter().any(|a| a.split(':').nth(2) == Some("sns"));
            let (reason, message, detail) = match rule {
                Err(e) => (Reason::AlarmRuleUndecidable, format!("orgwatch cannot read the rule of composite alarm {:?}, which names alarm {via:?}: {e}.", composite.name), "rule unreadable".to_owned()),
                Ok(rule) => match rule.implied_by(&|r| identity(r, &in_alarm)) {
                    Implication::Always => continue,
                    Implication::Undecidable { why } => {
                        (Reason::AlarmRuleUndecidable, format!("orgwatch cannot decide whether composite alarm {:?} goes to ALARM with alarm {via:?}: {why}.", composite.name), "rule undecidable".to_owned())
                    }
                    Implication::NotAlways { counterexample } => {
                        let states: Vec<String> = counterexample.iter().map(|(alarm, state)| format!("{alarm} in {state}")).collect();
                        let unless = if states.is_empty() { String::new() } else { format!(" (it stays out of ALARM with {})", states.join(", ")) };
                        let reason = if notifies { Reason::AlarmCannotFire } else { Reason::NoAlarmNotification };
                        let message = if notifies {
                            format!("Composite alarm {:?} notifies, but its rule does not go to ALARM on alarm {via:?}'s ALARM alone{unless}; a burst of denied calls does not reach it.", composite.name)
                        } else {
                            format!("Alarm {:?} notifies no SNS topic, and composite alarm {:?}, which watches it, neither notifies nor goes to ALARM on its ALARM alone{unless}.", child.name, composite.name)
                        };
                        (reason, message, "does not go to ALARM with it alone".to_owned())
                    }
                },
            };
            route.push(composite_link(composite, &via, &detail));
            self.with_all(route, |walk| walk.end(Link::CompositeRule, reason, message));
        }
    }

    /// The evidence links from the child up to composite `index`, which watches `via`.
    fn route(&self, rules: &[(&CompositeAlarm, Result<AlarmRule, String>)], firing: &[(usize, String)], index: usize, via: &str, child: &str) -> Vec<EvidenceLink> {
        let mut route = vec![composite_link(rules[index].0, via, "goes to ALARM with it")];
        let mut below = via.to_owned();
        // Each composite was found through one found before it, so this ends.
        while below != child {
            let Some((at, next)) = firing.iter().find(|(i, _)| rules[*i].0.name == below) else { break };
            route.push(composite_link(rules[*at].0, next, "goes to ALARM with it"));
            below = next.clone();
        }
        route.reverse();
        route
    }

    /// Runs `inner` with `links` added, then drops them.
    fn with_all<R>(&mut self, links: Vec<EvidenceLink>, inner: impl FnOnce(&mut Self) -> R) -> R {
        let before = self.links.len();
        self.links.extend(links);
        let result = inner(self);
        self.links.truncate(before);
        result
    }
}

/// An alarm's name, from its name or its ARN (`arn:…:alarm:NAME`).
fn alarm_name(reference: &str) -> &str {
    reference.split_once(":alarm:").filter(|_| reference.starts_with("arn:")).map_or(reference, |(_, name)| name)
}

fn identity(reference: &str, in_alarm: &BTreeSet<String>) -> Ref {
    let name = alarm_name(reference);
    if in_alarm.contains(name) { Ref::InAlarm } else { Ref::Other(name.to_owned()) }
}

fn composite_link(composite: &CompositeAlarm, via: &str, detail: &str) -> EvidenceLink {
    let arn = &composite.arn;
    EvidenceLink::with_detail(LinkKind::CompositeAlarm, arn, format!("{detail}: {via}"))
        .in_account(arn_account(arn).unwrap_or_default())
        .in_region(arn_region(arn).unwrap_or_default())
        .with("name", composite.name.as_str())
        .with("rule", composite.rule.as_str())
        .with("watches", via)
        .with("actions_enabled", composite.actions_enabled)
        .with("alarm_actions", composite.alarm_actions.clone())
        .with("actions_suppressor", composite.actions_suppressor.clone().map_or(serde_json::Value::Null, serde_json::Value::from))
}

/// An alarm's evidence link: its name and what decides whether it can fire and whom it notifies.
fn alarm_link(alarm: &Alarm, account_id: &str, region: &str) -> EvidenceLink {
    let text = |v: &Option<String>| v.clone().map_or(serde_json::Value::Null, serde_json::Value::from);
    let mut link = EvidenceLink::new(LinkKind::Alarm, &alarm.arn)
        .in_account(account_id)
        .in_region(region)
        .with("name", alarm.name.as_str())
        .with("statistic", text(&alarm.statistic))
        .with("extended_statistic", text(&alarm.extended_statistic))
        .with("comparison_operator", text(&alarm.comparison_operator))
        .with("threshold", alarm.threshold.map_or(serde_json::Value::Null, serde_json::Value::from))
        .with("actions_enabled", alarm.actions_enabled)
        .with("alarm_actions", alarm.alarm_actions.clone())
        .with("has_dimensions", alarm.has_dimensions());
    let number = |v: Option<i32>| v.map_or(serde_json::Value::Null, serde_json::Value::from);
    if alarm.period.is_some() || alarm.evaluation_periods.is_some() {
        link = link
            .with("period", number(alarm.period))
            .with("evaluation_periods", number(alarm.evaluation_periods))
            .with("datapoints_to_alarm", number(alarm.datapoints_to_alarm))
            .with("treat_missing_data", text(&alarm.treat_missing_data));
    }
    if !alarm.metrics.is_empty() {
        link = link.with("metrics", serde_json::to_value(&alarm.metrics).unwrap_or_default());
    }
    link
}

/// Whether `alarm` watches the metric, and if so what a burst does to it; `None` when it does
/// not (another metric, or metric math that does not read this one).
fn watch(alarm: &Alarm, metric: &MetricRef, dimensions: &MetricDimensions<'_>, value: f64) -> Option<Firing> {
    if alarm.metrics.is_empty() {
        let on_metric = alarm.namespace.as_deref() == Some(metric.namespace.as_str()) && alarm.metric_name.as_deref() == Some(metric.name.as_str());
        return on_metric.then(|| plain(alarm, dimensions, value));
    }
    let reads = |q: &crate::facts::MetricQuery| {
        q.metric.as_ref().is_some_and(|m| m.namespace == metric.namespace && m.metric_name == metric.name) && q.account_id.as_deref().is_none_or(|a| a == metric.account_id)
    };
    if !alarm.metrics.iter().any(reads) {
        return None;
    }
    let returning: Vec<&crate::facts::MetricQuery> = alarm.metrics.iter().filter(|q| q.return_data).collect();
    let [returned] = returning.as_slice() else {
        return Some(Firing::Undecidable(format!("{} of its queries return data, where CloudWatch alarms on exactly one", returning.len())));
    };
    let burst = query_value(alarm, &returned.id, metric, dimensions, value, 0);
    let operator = alarm.comparison_operator.as_deref().unwrap_or("");
    if operator.is_empty() {
        return Some(Firing::Cannot("it has no comparison operator".into()));
    }
    let Some(threshold) = alarm.threshold else {
        return match (operator, &burst) {
            ("GreaterThanUpperThreshold" | "LessThanLowerOrGreaterThanUpperThreshold", Value::Unbounded) => Some(Firing::Fires),
            (_, Value::Free) => None,
            _ => Some(Firing::Undecidable(format!("query {} is alarmed on against an anomaly band", returned.id))),
        };
    };
    match metric_math::reaches(&burst, operator, threshold) {
        Ok(()) => Some(Firing::Fires),
        Err(Reach::NotOnTheMetric) => None,
        Err(Reach::Never(why)) => Some(Firing::Cannot(format!("query {}: {why}", returned.id))),
        Err(Reach::Undecidable(why)) => Some(Firing::Undecidable(format!("query {}: {why}", returned.id))),
    }
}

/// The value of query `id` of a metric-math alarm during a burst.
fn query_value(alarm: &Alarm, id: &str, metric: &MetricRef, dimensions: &MetricDimensions<'_>, value: f64, depth: usize) -> Value {
    let Some(query) = alarm.metrics.iter().find(|q| q.id == id) else {
        return Value::Undecidable(format!("no query has id {id}"));
    };
    if depth > MAX_QUERY_DEPTH {
        return Value::Undecidable(format!("its expressions nest deeper than {MAX_QUERY_DEPTH}"));
    }
    if let Some(stat) = &query.metric {
        let on_metric = stat.namespace == metric.namespace && stat.metric_name == metric.name && query.account_id.as_deref().is_none_or(|a| a == metric.account_id);
        if !on_metric {
            return Value::Free;
        }
        if let Err(why) = same_dimensions(&stat.dimensions, dimensions) {
            // Another set of dimensions is another metric: the burst does not move it, unless
            // orgwatch cannot tell.
            return match why {
                Mismatch::Other => Value::Free,
                Mismatch::Unjudged(why) => Value::Undecidable(why),
            };
        }
        return match statistic_value(&stat.stat, value) {
            Some(v) => v,
            None => Value::Undecidable(format!("statistic {} of query {id}", stat.stat)),
        };
    }
    let Some(text) = &query.expression else {
        return Value::Undecidable(format!("query {id} has neither a metric nor an expression"));
    };
    match Expression::parse(text) {
        Err(e) => Value::Undecidable(format!("expression {text:?} of query {id}: {e}")),
        Ok(expression) => expression.during_burst(&|other| (alarm.metrics.iter().any(|q| q.id == other)).then(|| query_value(alarm, other, metric, dimensions, value, depth + 1))),
    }
}

/// A statistic of the metric during a burst: `Sum` and `SampleCount` grow with the count; the
/// others of a metric whose every datapoint is `value` equal it.
fn statistic_value(stat: &str, value: f64) -> Option<Value> {
    match stat {
        "Sum" | "SampleCount" => Some(Value::Unbounded),
        "Average" | "Minimum" | "Maximum" | "IQM" => Some(Value::Constant(value)),
        other => {
            let lower = other.to_ascii_lowercase();
            // Percentiles (p99, p99.9) and trimmed or winsorized means of equal values.
            let percentile = ["p", "tm", "wm"].iter().any(|prefix| lower.strip_prefix(prefix).is_some_and(|rest| !rest.is_empty() && rest.parse::<f64>().is_ok()));
            percentile.then_some(Value::Constant(value))
        }
    }
}

enum Mismatch {
    /// The alarm watches another metric.
    Other,
    /// orgwatch cannot tell.
    Unjudged(String),
}

/// Whether an alarm's dimensions name the filter's metric: the same names, and, for a system
/// field, the log group's own account or region.
fn same_dimensions(named: &[Dimension], dimensions: &MetricDimensions<'_>) -> Result<(), Mismatch> {
    let mut names: Vec<&str> = named.iter().map(|d| d.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    if names != dimensions.names {
        return Err(Mismatch::Other);
    }
    for dimension in named.iter().filter(|d| dimensions.system.contains(&d.name)) {
        if dimensions.organization_trail {
            return Err(Mismatch::Unjudged(format!(
                "the alarm names {} = {} of log group {}, which holds an organization trail's events, and orgwatch does not judge which value those carry",
                dimension.name, dimension.value, dimensions.group.name
            )));
        }
        let own = match dimension.name.as_str() {
            "@aws.account" => dimensions.group.account_id.as_str(),
            "@aws.region" => dimensions.group.region.as_str(),
            other => return Err(Mismatch::Unjudged(format!("the metric filter emits system field {other}, which orgwatch does not know"))),
        };
        if dimension.value != own {
            return Err(Mismatch::Unjudged(format!(
                "the alarm names {} = {}, and orgwatch does not judge which events of log group {} carry that value",
                dimension.name, dimension.value, dimensions.group.name
            )));
        }
    }
    Ok(())
}

/// Whether a metric alarm on the metric itself can reach ALARM when denied calls occur. Each
/// matching event publishes `value`; in a period with calls, `Sum` and `SampleCount` grow
/// without bound, while `Average`, `Minimum`, `Maximum` and percentiles equal `value`.
fn plain(alarm: &Alarm, dimensions: &MetricDimensions<'_>, value: f64) -> Firing {
    match same_dimensions(&alarm.dimensions, dimensions) {
        Ok(()) => {}
        Err(Mismatch::Other) => {
            let why = if dimensions.names.is_empty() {
                "the alarm names dimensions the metric filter does not publish".to_owned()
            } else if alarm.dimensions.is_empty() {
                "the metric filter publishes dimensions the alarm does not name".to_owned()
            } else {
                format!("the alarm names dimensions {} where the metric filter publishes {}", names(&alarm.dimensions), dimensions.names.join(", "))
            };
            return Firing::Cannot(why);
        }
        Err(Mismatch::Unjudged(why)) => return Firing::Unjudged(why),
    }
    let operator = alarm.comparison_operator.as_deref().unwrap_or("");
    match operator {
        "GreaterThanUpperThreshold" | "LessThanLowerOrGreaterThanUpperThreshold" => return Firing::Fires,
        "LessThanThreshold" | "LessThanOrEqualToThreshold" | "LessThanLowerThreshold" => {
            return Firing::Cannot(format!("{operator} alarms when the count is low, not when calls occur"));
        }
        "GreaterThanThreshold" | "GreaterThanOrEqualToThreshold" => {}
        "" => return Firing::Cannot("it has no comparison operator".into()),
        other => return Firing::Cannot(format!("comparison operator {other} is not one CloudWatch alarms use")),
    }
    let Some(threshold) = alarm.threshold else {
        return Firing::Cannot("it has no threshold".into());
    };
    let unbounded = alarm.extended_statistic.is_none() && matches!(alarm.statistic.as_deref(), Some("Sum" | "SampleCount"));
    if unbounded {
        return Firing::Fires;
    }
    let statistic = alarm.extended_statistic.as_deref().or(alarm.statistic.as_deref()).unwrap_or("?");
    let reaches = if operator == "GreaterThanThreshold" { value > threshold } else { value >= threshold };
    if reaches {
        Firing::Fires
    } else {
        Firing::Cannot(format!("the {statistic} of a metric that counts {value} per call never goes {} {threshold}", if operator == "GreaterThanThreshold" { "above" } else { "to" }))
    }
}

fn names(dimensions: &[Dimension]) -> String {
    dimensions.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(", ")
}
