//! The chain evaluation: a pure function from collected facts to one finding per
//! (account, control). No I/O, no way to fail.
//!
//! For each multi-region trail an account can see, every path trail → metric filter →
//! alarm → topic is judged link by link. The account passes when any path holds. Otherwise the
//! finding reports one path: if any path had a link that could not be seen, the furthest such
//! path (status `ERROR` — an unseen link might have held); else the furthest failing path, at
//! the first link it broke. Ties go to the first path in ARN and name order, so the reason is
//! deterministic.

use crate::controls::Control;
use crate::detect::detect;
use crate::facts::{AccountFacts, Alarm, EventSelectors, LogGroupRef, MetricRef, MetricTransformation, OrgView, Topic, Trail, Unobserved, UnobservedKind};
use crate::finding::{Evidence, EvidenceLink, Finding, LinkKind, Reason, Status};
use crate::pattern::FilterPattern;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// A configured exception: this control does not apply to this account, for a reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiver {
    pub account_id: String,
    pub control_id: String,
    pub reason: String,
    /// Last day (UTC) the waiver holds; none means it never expires.
    pub expires: Option<NaiveDate>,
}

impl Waiver {
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires.is_some_and(|day| now.date_naive() > day)
    }
}

/// How far along the chain a path got; a later link means a path that got further.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Link {
    Trail = 1,
    EventSelectors,
    LogGroup,
    Delivery,
    MetricFilter,
    MetricValue,
    Alarm,
    AlarmActions,
    AlarmFiring,
    AlarmNotification,
    Topic,
    Subscription,
    TopicEncryption,
    Complete,
}

/// One judged path.
#[derive(Clone, Debug)]
struct Path {
    reached: Link,
    reason: Reason,
    message: String,
    links: Vec<EvidenceLink>,
    notes: Vec<String>,
}

impl Path {
    fn status(&self) -> Status {
        self.reason.status()
    }
}

/// Judges one control in one account.
pub fn evaluate(control: &Control, account_id: &str, org: OrgView<'_>, waivers: &[Waiver], now: DateTime<Utc>) -> Finding {
    let mut notes = Vec::new();
    for waiver in waivers.iter().filter(|w| w.account_id == account_id && w.control_id == control.id) {
        if waiver.is_expired(now) {
            notes.push(format!(
                "a waiver expired on {} and was ignored (reason: {})",
                waiver.expires.map(|d| d.to_string()).unwrap_or_default(),
                waiver.reason
            ));
        } else {
            let until = waiver.expires.map_or_else(|| "with no expiry".to_owned(), |d| format!("until {d}"));
            return finding(
                control,
                account_id,
                Reason::Waived,
                format!("Waived {until}: {}", waiver.reason),
                Evidence { links: vec![EvidenceLink::with_detail(LinkKind::Waiver, account_id, waiver.reason.clone())], chains_examined: 0, notes },
            );
        }
    }

    let Some(facts) = org.account(account_id) else {
        return finding(control, account_id, Reason::ApiError, "The account's facts were not collected.".into(), Evidence { notes, ..Evidence::default() });
    };
    if let Some(error) = &facts.role_assumption_error {
        return finding(
            control,
            account_id,
            Reason::RoleAssumptionFailed,
            format!("The audit role could not be assumed in account {account_id}: {error}"),
            Evidence { links: vec![EvidenceLink::new(LinkKind::Account, account_id)], chains_examined: 0, notes },
        );
    }
    let trails = match &facts.trails {
        Ok(trails) => trails,
        Err(unobserved) => {
            let (reason, message) = unobserved_reason(unobserved, "the account's trails");
            return finding(control, account_id, reason, message, Evidence { links: vec![EvidenceLink::new(LinkKind::Account, account_id)], chains_examined: 0, notes });
        }
    };

    let mut candidates: Vec<&Trail> = trails.iter().filter(|t| t.multi_region).collect();
    candidates.sort_by(|a, b| a.arn.cmp(&b.arn));
    candidates.dedup_by(|a, b| a.arn == b.arn);
    if candidates.is_empty() {
        let single: Vec<&str> = trails.iter().map(|t| t.arn.as_str()).collect();
        let message = if single.is_empty() {
            "No CloudTrail trail is visible in the account.".to_owned()
        } else {
            format!("No multi-region trail: only single-region trails exist ({}).", single.join(", "))
        };
        let links = trails.iter().map(|t| EvidenceLink::with_detail(LinkKind::Trail, &t.arn, "single-region")).collect();
        return finding(control, account_id, Reason::NoMultiRegionTrail, message, Evidence { links, chains_examined: 0, notes });
    }

    let mut paths = Vec::new();
    for trail in candidates {
        judge_trail(control, account_id, facts, org, trail, &mut paths);
    }
    let chains_examined = paths.len();
    let chosen = choose(paths);
    notes.extend(chosen.notes);
    finding(control, account_id, chosen.reason, chosen.message, Evidence { links: chosen.links, chains_examined, notes })
}

fn finding(control: &Control, account_id: &str, reason: Reason, message: String, evidence: Evidence) -> Finding {
    Finding { account_id: account_id.to_owned(), control_id: control.id.to_owned(), status: reason.status(), reason, message, evidence }
}

/// A pass if any; else the furthest path with an unseen link; else the furthest failure.
fn choose(paths: Vec<Path>) -> Path {
    let best = |status: Status| {
        paths
            .iter()
            .filter(|p| p.status() == status)
            // max_by_key keeps the last of equals; reverse first so the first path wins ties.
            .rev()
            .max_by_key(|p| p.reached)
            .cloned()
    };
    best(Status::Pass).or_else(|| best(Status::Error)).or_else(|| best(Status::Fail)).unwrap_or_else(|| Path {
        reached: Link::Trail,
        reason: Reason::NoMultiRegionTrail,
        message: "No trail could be judged.".into(),
        links: Vec::new(),
        notes: Vec::new(),
    })
}

fn unobserved_reason(unobserved: &Unobserved, what: &str) -> (Reason, String) {
    let reason = match unobserved.kind {
        UnobservedKind::AccessDenied => Reason::AccessDenied,
        UnobservedKind::ApiError => Reason::ApiError,
    };
    let verb = match unobserved.kind {
        UnobservedKind::AccessDenied => "was denied",
        UnobservedKind::ApiError => "failed",
    };
    (reason, format!("Could not see {what}: {} {verb}: {}", unobserved.operation, unobserved.message))
}

/// Builds paths one link at a time; `end` closes the current path.
struct Walk<'p> {
    links: Vec<EvidenceLink>,
    notes: Vec<String>,
    out: &'p mut Vec<Path>,
}

impl Walk<'_> {
    fn end(&mut self, reached: Link, reason: Reason, message: String) {
        self.out.push(Path { reached, reason, message, links: self.links.clone(), notes: self.notes.clone() });
    }

    fn unseen(&mut self, reached: Link, unobserved: &Unobserved, what: &str) {
        let (reason, message) = unobserved_reason(unobserved, what);
        self.end(reached, reason, message);
    }

    fn not_collected(&mut self, reached: Link, what: &str) {
        self.end(reached, Reason::ApiError, format!("Could not see {what}: it was not collected."));
    }

    /// Runs `inner` with one more link, then drops it again.
    fn with<R>(&mut self, link: EvidenceLink, inner: impl FnOnce(&mut Self) -> R) -> R {
        self.links.push(link);
        let result = inner(self);
        self.links.pop();
        result
    }
}

fn judge_trail(control: &Control, account_id: &str, facts: &AccountFacts, org: OrgView<'_>, trail: &Trail, out: &mut Vec<Path>) {
    let mut walk = Walk { links: Vec::new(), notes: Vec::new(), out };
    let detail = if trail.organization_trail { "multi-region organization trail" } else { "multi-region trail" };
    walk.with(EvidenceLink::with_detail(LinkKind::Trail, &trail.arn, detail), |walk| {
        // The trail's chain lives in the account that owns it: an organization trail's in the
        // management account.
        let owner = trail.owner_account().unwrap_or(account_id);
        let owner_facts = if owner == account_id {
            facts
        } else if !org.is_member(owner) {
            return walk.end(
                Link::Trail,
                Reason::OutsideOrganization,
                format!("Trail {} is owned by account {owner}, which is outside the organization; its chain cannot be seen.", trail.arn),
            );
        } else {
            match org.account(owner) {
                None => return walk.not_collected(Link::Trail, &format!("the chain of trail {} in its owner account {owner}", trail.arn)),
                Some(owner_facts) => {
                    if let Some(error) = &owner_facts.role_assumption_error {
                        return walk.end(
                            Link::Trail,
                            Reason::RoleAssumptionFailed,
                            format!("Trail {} is owned by account {owner}, whose audit role could not be assumed: {error}", trail.arn),
                        );
                    }
                    owner_facts
                }
            }
        };
        judge_owned_trail(control, owner_facts, trail, walk);
    });
}

fn judge_owned_trail(control: &Control, facts: &AccountFacts, trail: &Trail, walk: &mut Walk<'_>) {
    let status = match facts.trail_status.get(&trail.arn) {
        None => return walk.not_collected(Link::Trail, &format!("the status of trail {}", trail.arn)),
        Some(Err(u)) => return walk.unseen(Link::Trail, u, &format!("the status of trail {}", trail.arn)),
        Some(Ok(status)) => status,
    };
    if !status.is_logging {
        return walk.end(Link::Trail, Reason::TrailNotLogging, format!("Trail {} is not logging (IsLogging is false).", trail.arn));
    }
    match facts.event_selectors.get(&trail.arn) {
        None => return walk.not_collected(Link::EventSelectors, &format!("the event selectors of trail {}", trail.arn)),
        Some(Err(u)) => return walk.unseen(Link::EventSelectors, u, &format!("the event selectors of trail {}", trail.arn)),
        Some(Ok(selectors)) => {
            if let Some(gap) = management_events_gap(selectors) {
                return walk.end(Link::EventSelectors, Reason::ManagementEventsNotCaptured, format!("Trail {} {gap}.", trail.arn));
            }
        }
    }
    let Some(log_group_arn) = trail.log_group_arn.as_deref().filter(|a| !a.is_empty()) else {
        return walk.end(Link::LogGroup, Reason::TrailNotSendingToCloudwatch, format!("Trail {} does not deliver to a CloudWatch Logs group.", trail.arn));
    };
    let Some(log_group) = LogGroupRef::from_arn(log_group_arn) else {
        return walk.end(
            Link::LogGroup,
            Reason::TrailNotSendingToCloudwatch,
            format!("Trail {} names a CloudWatch Logs group ARN that cannot be read: {log_group_arn}.", trail.arn),
        );
    };
    walk.with(EvidenceLink::new(LinkKind::LogGroup, log_group_arn), |walk| {
        if let Some(error) = status.latest_cloudwatch_logs_delivery_error.as_deref().filter(|e| !e.is_empty()) {
            return walk.end(
                Link::Delivery,
                Reason::CloudwatchDeliveryFailing,
                format!("Trail {} fails to deliver to log group {}: {error}.", trail.arn, log_group.name),
            );
        }
        judge_log_group(control, facts, &log_group, walk);
    });
}

/// Why the selectors miss management events (read or write), or `None` when they capture all.
fn management_events_gap(selectors: &EventSelectors) -> Option<&'static str> {
    if selectors.basic.is_empty() && selectors.advanced.is_empty() {
        return None; // never configured: AWS's default logs all management events
    }
    let (mut read, mut write) = (false, false);
    for selector in &selectors.basic {
        if !selector.include_management_events.unwrap_or(true) {
            continue;
        }
        match selector.read_write_type.as_deref().unwrap_or("All") {
            "ReadOnly" => read = true,
            "WriteOnly" => write = true,
            _ => (read, write) = (true, true),
        }
    }
    for selector in &selectors.advanced {
        let field = |name: &str| selector.field_selectors.iter().filter(move |f| f.field == name).collect::<Vec<_>>();
        let management = field("eventCategory").iter().any(|f| f.equals.iter().any(|v| v == "Management"));
        if !management {
            continue;
        }
        match field("readOnly").first() {
            Some(f) if f.equals.iter().any(|v| v == "true") || f.not_equals.iter().any(|v| v == "false") => read = true,
            Some(f) if f.equals.iter().any(|v| v == "false") || f.not_equals.iter().any(|v| v == "true") => write = true,
            _ => (read, write) = (true, true),
        }
    }
    match (read, write) {
        (true, true) => None,
        (true, false) => Some("captures only read-only management events"),
        (false, true) => Some("captures only write-only management events"),
        (false, false) => Some("captures no management events"),
    }
}

fn judge_log_group(control: &Control, facts: &AccountFacts, log_group: &LogGroupRef, walk: &mut Walk<'_>) {
    let filters = match facts.metric_filters.get(log_group) {
        None => return walk.not_collected(Link::MetricFilter, &format!("the metric filters of log group {}", log_group.name)),
        Some(Err(u)) => return walk.unseen(Link::MetricFilter, u, &format!("the metric filters of log group {}", log_group.name)),
        Some(Ok(filters)) => filters,
    };
    let mut detecting = Vec::new();
    let mut misses = Vec::new();
    for filter in filters {
        match FilterPattern::parse(&filter.pattern) {
            Err(e) => misses.push(format!("metric filter {:?} has a pattern CloudWatch would not accept: {e}", filter.name)),
            Ok(pattern) => {
                let detection = detect(&pattern, control);
                if detection.detects() {
                    detecting.push((filter, detection.over_broad().then(|| detection.summary())));
                } else {
                    misses.push(format!("metric filter {:?} {}", filter.name, detection.summary()));
                }
            }
        }
    }
    if detecting.is_empty() {
        let before = walk.notes.len();
        walk.notes.extend(misses);
        let message = if filters.is_empty() {
            format!("Log group {} has no metric filters.", log_group.name)
        } else {
            format!("None of the {} metric filter(s) on log group {} detects {} (see the notes).", filters.len(), log_group.name, control.id)
        };
        walk.end(Link::MetricFilter, Reason::NoMatchingMetricFilter, message);
        walk.notes.truncate(before);
        return;
    }
    for (filter, over_broad) in detecting {
        let link = EvidenceLink::with_detail(LinkKind::MetricFilter, &filter.name, filter.pattern.clone());
        walk.with(link, |walk| {
            if let Some(summary) = &over_broad {
                walk.notes.push(format!("metric filter {:?} {summary}", filter.name));
            }
            if filter.transformations.is_empty() {
                walk.end(Link::MetricValue, Reason::MetricFilterNeverCounts, format!("Metric filter {:?} publishes no metric.", filter.name));
            }
            for transformation in &filter.transformations {
                judge_transformation(facts, log_group, filter.name.as_str(), transformation, walk);
            }
            if over_broad.is_some() {
                walk.notes.pop();
            }
        });
    }
}

fn judge_transformation(facts: &AccountFacts, log_group: &LogGroupRef, filter: &str, transformation: &MetricTransformation, walk: &mut Walk<'_>) {
    let metric = MetricRef {
        account_id: log_group.account_id.clone(),
        region: log_group.region.clone(),
        namespace: transformation.namespace.clone(),
        name: transformation.metric_name.clone(),
    };
    let metric_id = format!("{}/{}", metric.namespace, metric.name);
    walk.with(EvidenceLink::with_detail(LinkKind::Metric, &metric_id, format!("value {}", transformation.value)), |walk| {
        let value = match transformation.value.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 => v,
            Ok(v) => {
                return walk.end(
                    Link::MetricValue,
                    Reason::MetricFilterNeverCounts,
                    format!("Metric filter {filter:?} publishes {v} for each match, so metric {metric_id} never counts anything."),
                );
            }
            Err(_) => {
                return walk.end(
                    Link::MetricValue,
                    Reason::MetricFilterNeverCounts,
                    format!("Metric filter {filter:?} publishes {:?} rather than a positive count, so metric {metric_id} does not count matches.", transformation.value),
                );
            }
        };
        let alarms = match facts.alarms.get(&metric) {
            None => return walk.not_collected(Link::Alarm, &format!("the alarms on metric {metric_id}")),
            Some(Err(u)) => return walk.unseen(Link::Alarm, u, &format!("the alarms on metric {metric_id}")),
            Some(Ok(alarms)) => alarms,
        };
        let mut on_metric: Vec<&Alarm> = alarms
            .iter()
            .filter(|a| a.namespace.as_deref() == Some(metric.namespace.as_str()) && a.metric_name.as_deref() == Some(metric.name.as_str()))
            .collect();
        on_metric.sort_by(|a, b| a.arn.cmp(&b.arn));
        if on_metric.is_empty() {
            return walk.end(
                Link::Alarm,
                Reason::NoAlarmOnMetric,
                format!("No alarm watches metric {metric_id} in account {} region {}.", metric.account_id, metric.region),
            );
        }
        for alarm in on_metric {
            walk.with(EvidenceLink::new(LinkKind::Alarm, &alarm.arn), |walk| judge_alarm(facts, alarm, transformation, value, walk));
        }
    });
}

fn judge_alarm(facts: &AccountFacts, alarm: &Alarm, transformation: &MetricTransformation, value: f64, walk: &mut Walk<'_>) {
    if !alarm.actions_enabled {
        return walk.end(Link::AlarmActions, Reason::AlarmActionsDisabled, format!("Alarm {:?} has its actions disabled.", alarm.name));
    }
    if let Err(why) = alarm_can_fire(alarm, transformation, value) {
        return walk.end(Link::AlarmFiring, Reason::AlarmCannotFire, format!("Alarm {:?} cannot reach ALARM when denied calls occur: {why}.", alarm.name));
    }
    let mut topics: Vec<&str> = alarm.alarm_actions.iter().map(String::as_str).filter(|a| a.starts_with("arn:") && a.split(':').nth(2) == Some("sns")).collect();
    topics.sort_unstable();
    topics.dedup();
    if topics.is_empty() {
        return walk.end(Link::AlarmNotification, Reason::NoAlarmNotification, format!("Alarm {:?} notifies no SNS topic when it fires.", alarm.name));
    }
    for topic_arn in topics {
        walk.with(EvidenceLink::new(LinkKind::Topic, topic_arn), |walk| judge_topic(facts, alarm, topic_arn, walk));
    }
}

fn judge_topic(facts: &AccountFacts, alarm: &Alarm, topic_arn: &str, walk: &mut Walk<'_>) {
    let (kms_key, subscriptions) = match facts.topics.get(topic_arn) {
        None => return walk.not_collected(Link::Topic, &format!("topic {topic_arn}")),
        Some(Err(u)) => return walk.unseen(Link::Topic, u, &format!("topic {topic_arn}")),
        Some(Ok(Topic::NotFound)) => {
            return walk.end(Link::Topic, Reason::SnsTopicNotFound, format!("Alarm {:?} notifies topic {topic_arn}, which does not exist.", alarm.name));
        }
        Some(Ok(Topic::Found { kms_master_key_id, subscriptions })) => (kms_master_key_id, subscriptions),
    };
    let subscriptions = match subscriptions {
        Err(u) => return walk.unseen(Link::Subscription, u, &format!("the subscriptions of topic {topic_arn}")),
        Ok(s) => s,
    };
    let confirmed: Vec<_> = subscriptions.iter().filter(|s| s.is_confirmed()).collect();
    if confirmed.is_empty() {
        let pending = subscriptions.len();
        let message = if pending == 0 {
            format!("Topic {topic_arn} has no subscriptions.")
        } else {
            format!("Topic {topic_arn} has {pending} subscription(s), none confirmed.")
        };
        return walk.end(Link::Subscription, Reason::NoConfirmedSubscription, message);
    }
    let first = confirmed[0];
    walk.with(EvidenceLink::with_detail(LinkKind::Subscription, &first.subscription_arn, format!("{} ({} confirmed)", first.protocol, confirmed.len())), |walk| {
        if let Some(key) = kms_key.as_deref().filter(|k| is_aws_managed_sns_key(k)) {
            return walk.end(
                Link::TopicEncryption,
                Reason::SnsTopicUnpublishable,
                format!("Topic {topic_arn} is encrypted with the AWS-managed key {key}, which CloudWatch cannot use to publish alarms."),
            );
        }
        walk.end(
            Link::Complete,
            Reason::Compliant,
            format!("Alarm {:?} notifies topic {topic_arn}, which has {} confirmed subscription(s).", alarm.name, confirmed.len()),
        );
    });
}

fn is_aws_managed_sns_key(key: &str) -> bool {
    key == "alias/aws/sns" || key.ends_with(":alias/aws/sns")
}

/// Whether the alarm's statistic, operator and threshold can reach ALARM when denied calls
/// occur. Each matching event publishes `value`; in a period with calls, `Sum` and `SampleCount`
/// grow without bound, while `Average`, `Minimum`, `Maximum` and percentiles equal `value`.
fn alarm_can_fire(alarm: &Alarm, transformation: &MetricTransformation, value: f64) -> Result<(), String> {
    if transformation.has_dimensions != alarm.has_dimensions {
        return Err(if transformation.has_dimensions {
            "the metric filter publishes dimensions the alarm does not name".into()
        } else {
            "the alarm names dimensions the metric filter does not publish".into()
        });
    }
    let operator = alarm.comparison_operator.as_deref().unwrap_or("");
    match operator {
        "GreaterThanUpperThreshold" | "LessThanLowerOrGreaterThanUpperThreshold" => return Ok(()),
        "LessThanThreshold" | "LessThanOrEqualToThreshold" | "LessThanLowerThreshold" => {
            return Err(format!("{operator} alarms when the count is low, not when calls occur"));
        }
        "GreaterThanThreshold" | "GreaterThanOrEqualToThreshold" => {}
        "" => return Err("it has no comparison operator".into()),
        other => return Err(format!("comparison operator {other} is not one CloudWatch alarms use")),
    }
    let Some(threshold) = alarm.threshold else {
        return Err("it has no threshold".into());
    };
    let unbounded = alarm.extended_statistic.is_none() && matches!(alarm.statistic.as_deref(), Some("Sum" | "SampleCount"));
    if unbounded {
        return Ok(());
    }
    let statistic = alarm.extended_statistic.as_deref().or(alarm.statistic.as_deref()).unwrap_or("?");
    let reaches = if operator == "GreaterThanThreshold" { value > threshold } else { value >= threshold };
    if reaches {
        Ok(())
    } else {
        Err(format!("the {statistic} of a metric that counts {value} per call never goes {} {threshold}", if operator == "GreaterThanThreshold" { "above" } else { "to" }))
    }
}

#[cfg(test)]
mod tests;
