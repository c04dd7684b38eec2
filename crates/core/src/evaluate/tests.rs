use super::*;
use crate::controls::{self, UNAUTHORIZED_API_CALLS};
use crate::detect::DetectionCache;
use crate::facts::*;
use chrono::TimeZone;
use std::collections::{BTreeMap, BTreeSet};

const ACCOUNT: &str = "111122223333";
const MANAGEMENT: &str = "999988887777";
const SECURITY: &str = "444455556666";
const REGION: &str = "us-east-1";
const ORGANIZATION: &str = "o-exampleorgid";
const GOOD_PATTERN: &str = r#"{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }"#;

/// A topic as a test describes it: attributes and subscriptions together.
#[derive(Clone, Debug)]
enum Topic {
    NotFound,
    /// `policy` `None` is SNS's default policy for the topic's owner.
    Found { kms_master_key_id: Option<String>, policy: Option<String>, subscriptions: Observed<Vec<Subscription>> },
}

/// What one account holds, as a test describes it; [`drive`] answers the core's requests from it.
#[derive(Clone, Debug)]
struct AccountFacts {
    account_id: String,
    /// Set when the audit role cannot be assumed: every request to the account fails so.
    role_error: Option<String>,
    trails: Observed<Vec<Trail>>,
    trail_status: BTreeMap<String, Observed<TrailStatus>>,
    event_selectors: BTreeMap<String, Observed<EventSelectors>>,
    metric_filters: BTreeMap<LogGroupRef, Observed<Vec<MetricFilter>>>,
    /// By the metric they watch; DescribeAlarms answers every entry of its region.
    alarms: BTreeMap<MetricRef, Observed<Vec<Alarm>>>,
    composites: Vec<CompositeAlarm>,
    topics: BTreeMap<String, Observed<Topic>>,
    /// By the key id DescribeKey is asked for.
    keys: BTreeMap<String, Observed<Key>>,
    key_policies: BTreeMap<String, Observed<String>>,
    /// By alarm name.
    histories: BTreeMap<String, Observed<Vec<AlarmHistoryItem>>>,
    /// The account's history page is full and holds none of these: each alarm's own is read.
    history_truncated: bool,
    org_path: Option<Observed<String>>,
    /// GetMetricData, by query: a query not here has no data; an `Err` fails the whole call.
    metric_data: BTreeMap<MetricDataQuery, Observed<MetricValues>>,
}

impl AccountFacts {
    fn empty(account_id: &str) -> Self {
        AccountFacts {
            account_id: account_id.into(),
            role_error: None,
            trails: Ok(vec![]),
            trail_status: BTreeMap::new(),
            event_selectors: BTreeMap::new(),
            metric_filters: BTreeMap::new(),
            alarms: BTreeMap::new(),
            composites: Vec::new(),
            topics: BTreeMap::new(),
            keys: BTreeMap::new(),
            key_policies: BTreeMap::new(),
            histories: BTreeMap::new(),
            history_truncated: false,
            org_path: None,
            metric_data: BTreeMap::new(),
        }
    }

    fn unreachable(account_id: &str, error: &str) -> Self {
        AccountFacts { role_error: Some(error.into()), ..AccountFacts::empty(account_id) }
    }

    /// The answer to a request addressed to this account; `None` when it holds no such thing
    /// (the fact is then never collected).
    fn answer(&self, request: &Request) -> Option<Observed<Answer>> {
        if let Some(error) = &self.role_error {
            return Some(Err(Unobserved::role_assumption_failed(error.clone())));
        }
        let topic = |arn: &str| self.topics.get(arn).cloned();
        Some(match request {
            Request::Trails { .. } => self.trails.clone().map(Answer::Trails),
            Request::TrailStatus { trail_arn, .. } => self.trail_status.get(trail_arn)?.clone().map(Answer::TrailStatus),
            Request::EventSelectors { trail_arn, .. } => self.event_selectors.get(trail_arn)?.clone().map(Answer::EventSelectors),
            Request::MetricFilters(group) => self.metric_filters.get(group)?.clone().map(Answer::MetricFilters),
            Request::Alarms { region, .. } => {
                let entries: Vec<&Observed<Vec<Alarm>>> = self.alarms.iter().filter(|(m, _)| m.region == *region).map(|(_, a)| a).collect();
                if entries.is_empty() && self.composites.is_empty() {
                    return None;
                }
                let mut metric = Vec::new();
                for entry in entries {
                    match entry {
                        Ok(alarms) => metric.extend(alarms.iter().cloned()),
                        Err(u) => return Some(Err(u.clone())),
                    }
                }
                Ok(Answer::Alarms(Alarms { metric, composite: self.composites.clone() }))
            }
            Request::Topic { topic_arn, .. } => topic(topic_arn)?.map(|t| match t {
                Topic::NotFound => Answer::Topic(crate::facts::Topic::NotFound),
                Topic::Found { kms_master_key_id, policy, .. } => Answer::Topic(crate::facts::Topic::Found {
                    kms_master_key_id,
                    policy: match policy.as_deref() {
                        Some(NO_POLICY) => None,
                        Some(text) => Some(text.to_owned()),
                        None => Some(default_topic_policy(topic_arn, &self.account_id)),
                    },
                }),
            }),
            Request::Subscriptions { topic_arn, .. } => match topic(topic_arn)? {
                Err(u) => Err(u),
                Ok(Topic::NotFound) => Err(Unobserved::api_error("sns:ListSubscriptionsByTopic", "NotFound: Topic does not exist")),
                Ok(Topic::Found { subscriptions, .. }) => subscriptions.map(Answer::Subscriptions),
            },
            Request::Key { key_id, .. } => self.keys.get(key_id)?.clone().map(Answer::Key),
            Request::KeyPolicy { key_id, .. } => self.key_policies.get(key_id)?.clone().map(Answer::KeyPolicy),
            Request::AlarmHistory { alarm_name: Some(name), .. } => {
                self.histories.get(name)?.clone().map(|items| Answer::AlarmHistory(AlarmHistory { items: items.into_iter().filter(|i| i.kind.is_action()).collect(), complete: true }))
            }
            Request::AlarmHistory { alarm_name: None, .. } if self.history_truncated => Ok(Answer::AlarmHistory(AlarmHistory { items: Vec::new(), complete: false })),
            Request::AlarmHistory { alarm_name: None, every_kind, .. } => {
                let mut items = Vec::new();
                for entry in self.histories.values() {
                    match entry {
                        Ok(more) => items.extend(more.iter().filter(|i| *every_kind || i.kind.is_action()).cloned()),
                        Err(u) => return Some(Err(u.clone())),
                    }
                }
                items.sort_by_key(|i| std::cmp::Reverse(i.timestamp));
                Ok(Answer::AlarmHistory(AlarmHistory { items, complete: true }))
            }
            Request::AlarmStates { alarm_name, start, end, .. } => self.histories.get(alarm_name)?.clone().map(|items| {
                let mut items: Vec<AlarmHistoryItem> = items.into_iter().filter(|i| i.kind == HistoryKind::StateUpdate && i.timestamp >= *start && i.timestamp <= *end).collect();
                items.sort_by_key(|i| std::cmp::Reverse(i.timestamp));
                Answer::AlarmHistory(AlarmHistory { items, complete: true })
            }),
            Request::MetricData { queries, .. } => {
                let mut all = Vec::new();
                for query in queries {
                    match self.metric_data.get(query) {
                        Some(Ok(values)) => all.push(values.clone()),
                        Some(Err(u)) => return Some(Err(u.clone())),
                        None => all.push(MetricValues::default()),
                    }
                }
                Ok(Answer::MetricData(all))
            }
            Request::OrgPath { .. } => self.org_path.clone()?.map(Answer::OrgPath),
        })
    }
}

fn trail_arn(account: &str, name: &str) -> String {
    format!("arn:aws:cloudtrail:{REGION}:{account}:trail/{name}")
}

fn log_group(account: &str) -> LogGroupRef {
    LogGroupRef { account_id: account.into(), region: REGION.into(), name: "CloudTrail/Default".into() }
}

fn metric(account: &str) -> MetricRef {
    MetricRef { account_id: account.into(), region: REGION.into(), namespace: "CISBenchmark".into(), name: "UnauthorizedAPICalls".into() }
}

fn topic_arn(account: &str) -> String {
    format!("arn:aws:sns:{REGION}:{account}:security-alerts")
}

fn alarm(account: &str) -> Alarm {
    Alarm {
        name: "CIS-3.1-UnauthorizedAPICalls".into(),
        arn: format!("arn:aws:cloudwatch:{REGION}:{account}:alarm:CIS-3.1-UnauthorizedAPICalls"),
        namespace: Some("CISBenchmark".into()),
        metric_name: Some("UnauthorizedAPICalls".into()),
        statistic: Some("Sum".into()),
        extended_statistic: None,
        comparison_operator: Some("GreaterThanOrEqualToThreshold".into()),
        threshold: Some(1.0),
        actions_enabled: true,
        alarm_actions: vec![topic_arn(account)],
        ..Alarm::default()
    }
}

fn trail(account: &str, name: &str) -> Trail {
    Trail {
        arn: trail_arn(account, name),
        name: name.into(),
        home_region: REGION.into(),
        multi_region: true,
        organization_trail: false,
        log_group_arn: Some(format!("arn:aws:logs:{REGION}:{account}:log-group:CloudTrail/Default:*")),
    }
}

/// An account whose whole chain holds.
fn compliant(account: &str) -> AccountFacts {
    let t = trail(account, "main");
    let mut facts = AccountFacts::empty(account);
    facts.trail_status.insert(t.arn.clone(), Ok(TrailStatus { is_logging: true, latest_cloudwatch_logs_delivery_error: None }));
    facts.event_selectors.insert(t.arn.clone(), Ok(EventSelectors::default()));
    facts.trails = Ok(vec![t]);
    facts.metric_filters.insert(
        log_group(account),
        Ok(vec![MetricFilter {
            name: "UnauthorizedAPICalls".into(),
            pattern: GOOD_PATTERN.into(),
            transformations: vec![MetricTransformation { metric_name: "UnauthorizedAPICalls".into(), namespace: "CISBenchmark".into(), value: "1".into(), dimensions: vec![] }],
            ..MetricFilter::default()
        }]),
    );
    facts.alarms.insert(metric(account), Ok(vec![alarm(account)]));
    facts.topics.insert(
        topic_arn(account),
        Ok(Topic::Found {
            kms_master_key_id: None,
            policy: None,
            subscriptions: Ok(vec![Subscription { subscription_arn: format!("{}:8a1b", topic_arn(account)), protocol: "email".into() }]),
        }),
    );
    // The alarm never fired: CloudWatch keeps no notification of it.
    facts.histories.insert(alarm(account).name, Ok(vec![]));
    facts
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap()
}

/// What driving the core to its findings took: the requests of each round, in order.
struct Driven {
    findings: Vec<Finding>,
    rounds: Vec<Vec<Need>>,
}

/// Drives the core as a scan does: asks, answers every request from the accounts' facts, asks
/// again; facts an account does not hold are never collected, and the core then concludes.
fn drive(accounts: &[AccountFacts], subject: &str, controls: &[&Control], waivers: &[Waiver]) -> Driven {
    drive_advised(accounts, subject, controls, waivers, AdviceMode::Off)
}

/// [`drive`] on a scan that gathers or carries advice.
fn drive_advised(accounts: &[AccountFacts], subject: &str, controls: &[&Control], waivers: &[Waiver], advice: AdviceMode<'_>) -> Driven {
    let members: BTreeSet<String> = accounts.iter().map(|a| a.account_id.clone()).collect();
    let audit = Audit {
        account_id: subject,
        controls,
        scope: Scope { region: REGION, members: &members, members_complete: true, organization_id: Some(ORGANIZATION) },
        waivers,
        now: now(),
        detections: &DetectionCache::new(),
        advice,
    };
    let mut facts = Facts::new();
    let mut rounds = Vec::new();
    loop {
        match audit.step(&facts) {
            Step::Done(findings) => return Driven { findings, rounds },
            Step::Need(needs) => {
                let mut answered = false;
                for need in &needs {
                    assert!(facts.get(&need.request).is_none(), "asked twice for {:?}", need.request);
                    let owner = accounts.iter().find(|a| a.account_id == need.request.account_id());
                    if let Some(answer) = owner.and_then(|a| a.answer(&need.request)) {
                        facts.insert(need.request.clone(), answer);
                        answered = true;
                    }
                }
                rounds.push(needs);
                if !answered {
                    let findings = audit.conclude(&facts, &Unobserved::api_error("collection", "it was not collected"));
                    return Driven { findings, rounds };
                }
            }
        }
    }
}

fn judge_with(accounts: Vec<AccountFacts>, subject: &str, waivers: &[Waiver]) -> Finding {
    let control = controls::find(UNAUTHORIZED_API_CALLS).unwrap();
    drive(&accounts, subject, &[control], waivers).findings.remove(0)
}

fn judge(facts: AccountFacts) -> Finding {
    judge_with(vec![facts], ACCOUNT, &[])
}

fn the_trail(f: &mut AccountFacts) -> &mut Trail {
    &mut f.trails.as_mut().unwrap()[0]
}

fn the_filter(f: &mut AccountFacts) -> &mut MetricFilter {
    &mut f.metric_filters.get_mut(&log_group(ACCOUNT)).unwrap().as_mut().unwrap()[0]
}

fn the_alarm(f: &mut AccountFacts) -> &mut Alarm {
    &mut f.alarms.get_mut(&metric(ACCOUNT)).unwrap().as_mut().unwrap()[0]
}

fn the_topic(f: &mut AccountFacts) -> &mut Observed<Topic> {
    f.topics.get_mut(&topic_arn(ACCOUNT)).unwrap()
}

fn selectors(f: &mut AccountFacts) -> &mut Observed<EventSelectors> {
    f.event_selectors.get_mut(&trail_arn(ACCOUNT, "main")).unwrap()
}

fn basic(rw: &str, management: bool) -> BasicEventSelector {
    BasicEventSelector { read_write_type: Some(rw.into()), include_management_events: Some(management) }
}

fn advanced(fields: &[(&str, &[&str])]) -> AdvancedEventSelector {
    AdvancedEventSelector {
        name: None,
        field_selectors: fields
            .iter()
            .map(|(field, equals)| AdvancedFieldSelector { field: (*field).into(), equals: equals.iter().map(|s| (*s).into()).collect(), not_equals: vec![] })
            .collect(),
    }
}

const KEY_ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn customer_key(state: &str) -> Key {
    Key::Found(KeyMetadata { arn: KEY_ARN.into(), key_id: "1234abcd-12ab-34cd-56ef-1234567890ab".into(), manager: "CUSTOMER".into(), state: state.into() })
}

/// KMS's default key policy: the account's IAM decides, which serves no service principal.
fn root_only_key_policy() -> String {
    format!(r#"{{"Version": "2012-10-17", "Id": "key-default-1", "Statement": [{{"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {{"AWS": "arn:aws:iam::{ACCOUNT}:root"}}, "Action": "kms:*", "Resource": "*"}}]}}"#)
}

fn key_policy_for_cloudwatch(actions: &[&str]) -> String {
    key_policy_with(&serde_json::json!({"Sid": "AllowCloudWatchAlarms", "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": actions, "Resource": "*"}))
}

fn cloudwatch_key_policy() -> String {
    key_policy_for_cloudwatch(&["kms:Decrypt", "kms:GenerateDataKey*"])
}

fn denying_key_policy() -> String {
    let mut policy: serde_json::Value = serde_json::from_str(&cloudwatch_key_policy()).unwrap();
    policy["Statement"].as_array_mut().unwrap().push(serde_json::json!({"Sid": "NoServices", "Effect": "Deny", "Principal": "*", "Action": "kms:GenerateDataKey*", "Resource": "*", "Condition": {"Bool": {"aws:PrincipalIsAWSService": "true"}}}));
    policy.to_string()
}

fn key_policy_with_condition(condition: &str) -> String {
    let condition: serde_json::Value = serde_json::from_str(condition).unwrap();
    key_policy_with(&serde_json::json!({"Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*", "Condition": condition}))
}

fn key_policy_with(statement: &serde_json::Value) -> String {
    let mut policy: serde_json::Value = serde_json::from_str(&root_only_key_policy()).unwrap();
    policy["Statement"].as_array_mut().unwrap().push(statement.clone());
    policy.to_string()
}

/// Encrypts the account's topic with the key named `named`; DescribeKey answers `key`, and
/// GetKeyPolicy `policy`, asked by the name the core asks it by (the key ARN for an alias).
fn encrypt(f: &mut AccountFacts, named: &str, key: Observed<Key>, policy: Option<Observed<String>>) {
    if let Ok(Topic::Found { kms_master_key_id, .. }) = the_topic(f) {
        *kms_master_key_id = Some(named.into());
    }
    let asked = if named.starts_with("alias/") { KEY_ARN } else { named };
    f.keys.insert(named.into(), key);
    if let Some(policy) = policy {
        f.key_policies.insert(asked.into(), policy);
    }
}

fn set_topic_policy_text(f: &mut AccountFacts, text: Option<&str>) {
    if let Ok(Topic::Found { policy, .. }) = the_topic(f) {
        *policy = Some(text.unwrap_or(NO_POLICY).to_owned());
    }
}

/// Stands for GetTopicAttributes answering no `Policy` at all.
const NO_POLICY: &str = "<none>";

fn set_topic_policy(f: &mut AccountFacts, text: &str) {
    set_topic_policy_text(f, Some(text));
}

fn topic_policy_with(statements: serde_json::Value) -> String {
    serde_json::json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

fn ops_role_only_policy(account: &str) -> String {
    topic_policy_with(serde_json::json!([{"Sid": "OpsOnly", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{account}:role/ops")}, "Action": "sns:Publish", "Resource": topic_arn(account)}]))
}

/// The SNS guide's statement for alarms of one account.
fn account_topic_policy(topic: &str, account: &str) -> String {
    topic_policy_with(serde_json::json!([{"Sid": "AlarmsOfTheAccount", "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": "sns:Publish", "Resource": topic, "Condition": {"StringEquals": {"aws:SourceAccount": account}}}]))
}

/// SNS's default statement and one that admits every alarm of the organization.
fn org_topic_policy(topic: &str, owner: &str) -> String {
    let mut policy: serde_json::Value = serde_json::from_str(&default_topic_policy(topic, owner)).unwrap();
    policy["Statement"].as_array_mut().unwrap().push(serde_json::json!({"Sid": "OrganizationAlarms", "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": "sns:Publish", "Resource": topic, "Condition": {"StringEquals": {"aws:SourceOrgID": ORGANIZATION}}}));
    policy.to_string()
}

fn denying_topic_policy(topic: &str) -> String {
    let mut policy: serde_json::Value = serde_json::from_str(&account_topic_policy(topic, ACCOUNT)).unwrap();
    policy["Statement"].as_array_mut().unwrap().push(serde_json::json!({"Sid": "NoAlarms", "Effect": "Deny", "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": "SNS:*", "Resource": "*"}));
    policy.to_string()
}

fn topic_policy_with_condition(topic: &str, condition: &str) -> String {
    let condition: serde_json::Value = serde_json::from_str(condition).unwrap();
    topic_policy_with(serde_json::json!([{"Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": "sns:Publish", "Resource": topic, "Condition": condition}]))
}

/// Sets the policy of the account's own topic (`topic_arn(account)`).
fn set_policy_of(f: &mut AccountFacts, text: &str) {
    let arn = topic_arn(&f.account_id);
    if let Some(Ok(Topic::Found { policy, .. })) = f.topics.get_mut(&arn) {
        *policy = Some(text.to_owned());
    }
}

fn set_history(f: &mut AccountFacts, items: Vec<AlarmHistoryItem>) {
    f.histories.insert(alarm(ACCOUNT).name, Ok(items));
}

/// An `Action` item as CloudWatch writes it, `hours` after midnight.
fn notification(hours: u32, state: &str, topic: &str) -> AlarmHistoryItem {
    let (summary, error) = if state == "Failed" {
        (format!("Failed to execute action {topic}"), serde_json::json!("CloudWatch Alarms does not have authorization to access the SNS topic encryption key."))
    } else {
        (format!("Successfully executed action {topic}"), serde_json::Value::Null)
    };
    AlarmHistoryItem {
        alarm_name: alarm(ACCOUNT).name,
        kind: HistoryKind::Action,
        timestamp: Utc.with_ymd_and_hms(2026, 11, 20, hours, 0, 0).unwrap(),
        summary,
        data: serde_json::json!({"actionState": state, "stateUpdateTimestamp": 1_763_596_800_000_u64, "notificationResource": topic, "publishedMessage": null, "error": error}).to_string(),
    }
}

type Mutation = fn(&mut AccountFacts);

/// (what is wrong, mutation of a compliant account, expected reason)
#[test]
fn every_link_of_the_chain_has_its_reason() {
    let cases: Vec<(&str, Mutation, Reason)> = vec![
        ("nothing", |_| {}, Reason::Compliant),
        ("no trails at all", |f| f.trails = Ok(vec![]), Reason::NoMultiRegionTrail),
        ("only a single-region trail", |f| the_trail(f).multi_region = false, Reason::NoMultiRegionTrail),
        ("trail stopped", |f| {
            f.trail_status.insert(trail_arn(ACCOUNT, "main"), Ok(TrailStatus { is_logging: false, latest_cloudwatch_logs_delivery_error: None }));
        }, Reason::TrailNotLogging),
        ("read-only management events", |f| *selectors(f) = Ok(EventSelectors { basic: vec![basic("ReadOnly", true)], advanced: vec![] }), Reason::ManagementEventsNotCaptured),
        ("write-only management events", |f| *selectors(f) = Ok(EventSelectors { basic: vec![basic("WriteOnly", true)], advanced: vec![] }), Reason::ManagementEventsNotCaptured),
        ("management events excluded", |f| *selectors(f) = Ok(EventSelectors { basic: vec![basic("All", false)], advanced: vec![] }), Reason::ManagementEventsNotCaptured),
        ("read-only and write-only selectors together cover all", |f| {
            *selectors(f) = Ok(EventSelectors { basic: vec![basic("ReadOnly", true), basic("WriteOnly", true)], advanced: vec![] });
        }, Reason::Compliant),
        ("advanced selector for all management events", |f| {
            *selectors(f) = Ok(EventSelectors { basic: vec![], advanced: vec![advanced(&[("eventCategory", &["Management"])])] });
        }, Reason::Compliant),
        ("advanced selector for read-only management events", |f| {
            *selectors(f) = Ok(EventSelectors { basic: vec![], advanced: vec![advanced(&[("eventCategory", &["Management"]), ("readOnly", &["true"])])] });
        }, Reason::ManagementEventsNotCaptured),
        ("advanced selector for data events only", |f| {
            *selectors(f) = Ok(EventSelectors { basic: vec![], advanced: vec![advanced(&[("eventCategory", &["Data"]), ("resources.type", &["AWS::S3::Object"])])] });
        }, Reason::ManagementEventsNotCaptured),
        ("trail without a log group", |f| the_trail(f).log_group_arn = None, Reason::TrailNotSendingToCloudwatch),
        ("trail with an unreadable log group ARN", |f| the_trail(f).log_group_arn = Some("not-an-arn".into()), Reason::TrailNotSendingToCloudwatch),
        ("delivery to the log group failing", |f| {
            f.trail_status.insert(trail_arn(ACCOUNT, "main"), Ok(TrailStatus { is_logging: true, latest_cloudwatch_logs_delivery_error: Some("AccessDeniedException".into()) }));
        }, Reason::CloudwatchDeliveryFailing),
        ("no metric filters", |f| { f.metric_filters.insert(log_group(ACCOUNT), Ok(vec![])); }, Reason::NoMatchingMetricFilter),
        ("filter with && where || was meant", |f| the_filter(f).pattern = r#"{ ($.errorCode = "*UnauthorizedOperation") && ($.errorCode = "AccessDenied*") }"#.into(), Reason::NoMatchingMetricFilter),
        ("filter that does not parse", |f| the_filter(f).pattern = r#"{ ($.errorCode = "AccessDenied*" }"#.into(), Reason::NoMatchingMetricFilter),
        ("filter with clauses reordered and no quotes", |f| the_filter(f).pattern = "{$.errorCode=AccessDenied*||$.errorCode=*UnauthorizedOperation}".into(), Reason::Compliant),
        ("filter on a log group of the same name in another region", |f| {
            let filters = f.metric_filters.remove(&log_group(ACCOUNT)).unwrap();
            f.metric_filters.insert(log_group(ACCOUNT), Ok(vec![]));
            f.metric_filters.insert(LogGroupRef { region: "eu-west-1".into(), ..log_group(ACCOUNT) }, filters);
        }, Reason::NoMatchingMetricFilter),
        ("metric value 0", |f| the_filter(f).transformations[0].value = "0".into(), Reason::MetricFilterNeverCounts),
        ("metric value negative", |f| the_filter(f).transformations[0].value = "-1".into(), Reason::MetricFilterNeverCounts),
        ("metric value from a field", |f| the_filter(f).transformations[0].value = "$.errorCode".into(), Reason::MetricFilterNeverCounts),
        ("no alarms on the metric", |f| { f.alarms.insert(metric(ACCOUNT), Ok(vec![])); }, Reason::NoAlarmOnMetric),
        ("alarm on the same name in another namespace", |f| the_alarm(f).namespace = Some("Other".into()), Reason::NoAlarmOnMetric),
        ("alarm actions disabled", |f| the_alarm(f).actions_enabled = false, Reason::AlarmActionsDisabled),
        ("alarm with LessThanThreshold", |f| the_alarm(f).comparison_operator = Some("LessThanThreshold".into()), Reason::AlarmCannotFire),
        ("Maximum above the per-call value", |f| {
            let a = the_alarm(f);
            a.statistic = Some("Maximum".into());
            a.threshold = Some(5.0);
        }, Reason::AlarmCannotFire),
        ("Average with GreaterThan its own value", |f| {
            let a = the_alarm(f);
            a.statistic = Some("Average".into());
            a.comparison_operator = Some("GreaterThanThreshold".into());
        }, Reason::AlarmCannotFire),
        ("Average with GreaterThanOrEqual its value", |f| the_alarm(f).statistic = Some("Average".into()), Reason::Compliant),
        ("Sum with a high threshold still fires on a burst", |f| the_alarm(f).threshold = Some(50.0), Reason::Compliant),
        ("SampleCount", |f| the_alarm(f).statistic = Some("SampleCount".into()), Reason::Compliant),
        ("alarm names dimensions the filter does not publish", |f| the_alarm(f).dimensions = vec![Dimension { name: "Region".into(), value: REGION.into() }], Reason::AlarmCannotFire),
        ("alarm with no actions", |f| the_alarm(f).alarm_actions.clear(), Reason::NoAlarmNotification),
        ("alarm acting only through EC2 actions", |f| the_alarm(f).alarm_actions = vec!["arn:aws:automate:us-east-1:ec2:stop".into()], Reason::NoAlarmNotification),
        ("topic deleted", |f| *the_topic(f) = Ok(Topic::NotFound), Reason::SnsTopicNotFound),
        ("topic without subscriptions", |f| *the_topic(f) = Ok(Topic::Found { kms_master_key_id: None, policy: None, subscriptions: Ok(vec![]) }), Reason::NoConfirmedSubscription),
        ("topic with only a pending subscription", |f| {
            *the_topic(f) = Ok(Topic::Found { kms_master_key_id: None, policy: None, subscriptions: Ok(vec![Subscription { subscription_arn: "PendingConfirmation".into(), protocol: "email".into() }]) });
        }, Reason::NoConfirmedSubscription),
        ("topic encrypted with alias/aws/sns", |f| {
            *the_topic(f) = Ok(Topic::Found {
                kms_master_key_id: Some("alias/aws/sns".into()),
                policy: None,
                subscriptions: Ok(vec![Subscription { subscription_arn: format!("{}:1", topic_arn(ACCOUNT)), protocol: "https".into() }]),
            });
        }, Reason::SnsTopicUnpublishable),
        ("topic encrypted with a customer key CloudWatch may use", |f| encrypt(f, KEY_ARN, Ok(customer_key("Enabled")), Some(Ok(cloudwatch_key_policy()))), Reason::Compliant),
        ("topic encrypted with a customer key named by its alias", |f| encrypt(f, "alias/alarms", Ok(customer_key("Enabled")), Some(Ok(cloudwatch_key_policy()))), Reason::Compliant),
        ("topic encrypted with a customer key named by its bare id", |f| {
            encrypt(f, "1234abcd-12ab-34cd-56ef-1234567890ab", Ok(customer_key("Enabled")), Some(Ok(cloudwatch_key_policy())));
        }, Reason::Compliant),
        ("key policy that only delegates to the account's IAM", |f| encrypt(f, KEY_ARN, Ok(customer_key("Enabled")), Some(Ok(root_only_key_policy()))), Reason::SnsTopicUnpublishable),
        ("key policy that grants CloudWatch only kms:Decrypt", |f| {
            encrypt(f, KEY_ARN, Ok(customer_key("Enabled")), Some(Ok(key_policy_for_cloudwatch(&["kms:Decrypt"]))));
        }, Reason::SnsTopicUnpublishable),
        ("key policy that denies CloudWatch", |f| encrypt(f, KEY_ARN, Ok(customer_key("Enabled")), Some(Ok(denying_key_policy()))), Reason::SnsTopicUnpublishable),
        ("customer key disabled", |f| encrypt(f, KEY_ARN, Ok(customer_key("Disabled")), Some(Ok(cloudwatch_key_policy()))), Reason::SnsTopicUnpublishable),
        ("customer key pending deletion", |f| encrypt(f, KEY_ARN, Ok(customer_key("PendingDeletion")), Some(Ok(cloudwatch_key_policy()))), Reason::SnsTopicUnpublishable),
        ("key that does not exist", |f| encrypt(f, "alias/gone", Ok(Key::NotFound), None), Reason::SnsTopicUnpublishable),
        ("key ARN that resolves to the AWS-managed key", |f| {
            let mut key = customer_key("Enabled");
            if let Key::Found(m) = &mut key {
                m.manager = "AWS".into();
            }
            encrypt(f, KEY_ARN, Ok(key), Some(Ok(cloudwatch_key_policy())));
        }, Reason::SnsTopicUnpublishable),
        ("key description denied", |f| encrypt(f, KEY_ARN, Err(Unobserved::access_denied("kms:DescribeKey", "denied")), Some(Ok(cloudwatch_key_policy()))), Reason::AccessDenied),
        ("key policy denied", |f| encrypt(f, KEY_ARN, Ok(customer_key("Enabled")), Some(Err(Unobserved::access_denied("kms:GetKeyPolicy", "denied")))), Reason::AccessDenied),
        ("key policy with a condition orgwatch cannot judge", |f| {
            encrypt(f, KEY_ARN, Ok(customer_key("Enabled")), Some(Ok(key_policy_with_condition(r#"{"StringEquals": {"kms:ViaService": "sns.us-east-1.amazonaws.com"}}"#))));
        }, Reason::PolicyUndecidable),
        ("key of an account outside the organization", |f| {
            encrypt(f, "arn:aws:kms:us-east-1:777777777777:key/1234abcd", Ok(customer_key("Enabled")), Some(Ok(cloudwatch_key_policy())));
        }, Reason::OutsideOrganization),
        ("topic policy that admits only an operations role", |f| set_topic_policy(f, &ops_role_only_policy(ACCOUNT)), Reason::SnsTopicPolicyDeniesPublish),
        ("topic policy that admits CloudWatch for this account's alarms", |f| set_topic_policy(f, &account_topic_policy(&topic_arn(ACCOUNT), ACCOUNT)), Reason::Compliant),
        ("topic policy that denies CloudWatch", |f| set_topic_policy(f, &denying_topic_policy(&topic_arn(ACCOUNT))), Reason::SnsTopicPolicyDeniesPublish),
        ("topic policy that does not parse", |f| set_topic_policy(f, "{\"Statement\": ["), Reason::PolicyUndecidable),
        ("topic policy with an operator orgwatch cannot judge", |f| {
            set_topic_policy(f, &topic_policy_with_condition(&topic_arn(ACCOUNT), r#"{"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}"#));
        }, Reason::PolicyUndecidable),
        ("topic policy that admits the alarm by its ARN", |f| {
            let condition = format!(r#"{{"ArnLike": {{"aws:SourceArn": "arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:CIS-*"}}}}"#);
            set_topic_policy(f, &topic_policy_with_condition(&topic_arn(ACCOUNT), &condition));
        }, Reason::Compliant),
        ("topic policy that names aws:PrincipalOrgID, which an alarm's publish does not carry", |f| {
            set_topic_policy(f, &topic_policy_with_condition(&topic_arn(ACCOUNT), &format!(r#"{{"StringEquals": {{"aws:PrincipalOrgID": "{ORGANIZATION}"}}}}"#)));
        }, Reason::SnsTopicPolicyDeniesPublish),
        ("topic attributes without a policy", |f| set_topic_policy_text(f, None), Reason::SnsTopicPolicyDeniesPublish),
        ("latest notification failed", |f| set_history(f, vec![notification(2, "Failed", &topic_arn(ACCOUNT)), notification(1, "Succeeded", &topic_arn(ACCOUNT))]), Reason::AlarmActionFailed),
        ("a failure followed by a success", |f| set_history(f, vec![notification(2, "Succeeded", &topic_arn(ACCOUNT)), notification(1, "Failed", &topic_arn(ACCOUNT))]), Reason::Compliant),
        ("history out of order: the newest failure decides", |f| set_history(f, vec![notification(1, "Succeeded", &topic_arn(ACCOUNT)), notification(3, "Failed", &topic_arn(ACCOUNT))]), Reason::AlarmActionFailed),
        ("a failure to a topic the alarm no longer notifies", |f| set_history(f, vec![notification(2, "Failed", "arn:aws:sns:us-east-1:111122223333:old-topic")]), Reason::Compliant),
        ("history data unreadable, the summary names the failure", |f| {
            let mut item = notification(2, "Failed", &topic_arn(ACCOUNT));
            item.data = "not json".into();
            set_history(f, vec![item]);
        }, Reason::AlarmActionFailed),
        ("alarm history denied", |f| { f.histories.insert(alarm(ACCOUNT).name, Err(Unobserved::access_denied("cloudwatch:DescribeAlarmHistory", "denied"))); }, Reason::AccessDenied),
        ("trails access denied", |f| f.trails = Err(Unobserved::access_denied("cloudtrail:DescribeTrails", "not authorized")), Reason::AccessDenied),
        ("audit role refused", |f| f.role_error = Some("AccessDenied".into()), Reason::RoleAssumptionFailed),
        ("trail status throttled", |f| {
            f.trail_status.insert(trail_arn(ACCOUNT, "main"), Err(Unobserved::api_error("cloudtrail:GetTrailStatus", "ThrottlingException")));
        }, Reason::ApiError),
        ("event selectors denied", |f| *selectors(f) = Err(Unobserved::access_denied("cloudtrail:GetEventSelectors", "denied")), Reason::AccessDenied),
        ("metric filters failing", |f| { f.metric_filters.insert(log_group(ACCOUNT), Err(Unobserved::api_error("logs:DescribeMetricFilters", "503"))); }, Reason::ApiError),
        ("alarms denied", |f| { f.alarms.insert(metric(ACCOUNT), Err(Unobserved::access_denied("cloudwatch:DescribeAlarmsForMetric", "denied"))); }, Reason::AccessDenied),
        ("topic attributes denied", |f| *the_topic(f) = Err(Unobserved::access_denied("sns:GetTopicAttributes", "denied")), Reason::AccessDenied),
        ("subscriptions throttled", |f| {
            *the_topic(f) = Ok(Topic::Found { kms_master_key_id: None, policy: None, subscriptions: Err(Unobserved::api_error("sns:ListSubscriptionsByTopic", "Throttling")) });
        }, Reason::ApiError),
        ("a link never collected", |f| { f.topics.clear(); }, Reason::ApiError),
        ("subscriptions outside a plan", |f| {
            *the_topic(f) = Ok(Topic::Found { kms_master_key_id: None, policy: None, subscriptions: Err(Unobserved::not_in_plan("sns:ListSubscriptionsByTopic", "the plan manages no such topic")) });
        }, Reason::NotInPlan),
    ];
    for (what, mutate, expected) in cases {
        let mut facts = compliant(ACCOUNT);
        mutate(&mut facts);
        let finding = judge(facts);
        assert_eq!(finding.reason, expected, "{what}: {}", finding.message);
        assert_eq!(finding.status, expected.status(), "{what}");
        assert!(!finding.message.is_empty(), "{what}");
    }
}

#[test]
fn a_passing_finding_names_every_link_of_its_chain() {
    let finding = judge(compliant(ACCOUNT));
    let kinds: Vec<LinkKind> = finding.evidence.links.iter().map(|l| l.kind).collect();
    assert_eq!(
        kinds,
        vec![LinkKind::Trail, LinkKind::LogGroup, LinkKind::MetricFilter, LinkKind::Metric, LinkKind::Alarm, LinkKind::Topic, LinkKind::Subscription, LinkKind::TopicPolicy]
    );
    let policy = &finding.evidence.links[7];
    assert_eq!(policy.attribute("decision"), Some("allowed"));
    assert_eq!(policy.detail.as_deref(), Some("allowed by statement \"__default_statement_ID\""));
    assert_eq!(finding.evidence.links[0].id, trail_arn(ACCOUNT, "main"));
    assert_eq!(finding.evidence.links[5].id, topic_arn(ACCOUNT));
    assert_eq!(finding.evidence.chains_examined, 1);
}

#[test]
fn an_over_broad_filter_passes_with_a_note() {
    let mut facts = compliant(ACCOUNT);
    the_filter(&mut facts).pattern = controls::find(UNAUTHORIZED_API_CALLS).unwrap().published_patterns[1].pattern.clone();
    let finding = judge(facts);
    assert_eq!(finding.reason, Reason::Compliant);
    assert!(finding.evidence.notes.iter().any(|n| n.contains("over-broad")), "{:?}", finding.evidence.notes);
}

#[test]
fn any_holding_chain_passes_the_account() {
    let mut facts = compliant(ACCOUNT);
    let mut broken = trail(ACCOUNT, "aaa-broken");
    broken.log_group_arn = None;
    facts.trail_status.insert(broken.arn.clone(), Ok(TrailStatus { is_logging: true, latest_cloudwatch_logs_delivery_error: None }));
    facts.event_selectors.insert(broken.arn.clone(), Ok(EventSelectors::default()));
    facts.trails.as_mut().unwrap().insert(0, broken);
    // A second alarm on the metric that cannot fire does not spoil the good one.
    let mut bad_alarm = alarm(ACCOUNT);
    bad_alarm.arn.push_str("-bad");
    bad_alarm.actions_enabled = false;
    facts.alarms.get_mut(&metric(ACCOUNT)).unwrap().as_mut().unwrap().push(bad_alarm);
    let finding = judge(facts);
    assert_eq!(finding.reason, Reason::Compliant, "{}", finding.message);
    assert_eq!(finding.evidence.chains_examined, 3);
}

#[test]
fn when_no_chain_holds_the_furthest_one_is_reported() {
    let mut facts = compliant(ACCOUNT);
    // Trail "aaa" stops at the log group; trail "main" gets as far as the subscription.
    let mut early = trail(ACCOUNT, "aaa");
    early.log_group_arn = None;
    facts.trail_status.insert(early.arn.clone(), Ok(TrailStatus { is_logging: true, latest_cloudwatch_logs_delivery_error: None }));
    facts.event_selectors.insert(early.arn.clone(), Ok(EventSelectors::default()));
    facts.trails.as_mut().unwrap().insert(0, early);
    *the_topic(&mut facts) = Ok(Topic::Found { kms_master_key_id: None, policy: None, subscriptions: Ok(vec![]) });
    let finding = judge(facts);
    assert_eq!(finding.reason, Reason::NoConfirmedSubscription);
    assert_eq!(finding.evidence.links[0].id, trail_arn(ACCOUNT, "main"));
}

#[test]
fn ties_go_to_the_first_trail_by_arn() {
    let mut facts = compliant(ACCOUNT);
    let mut second = trail(ACCOUNT, "zzz");
    second.log_group_arn = None;
    let mut first = trail(ACCOUNT, "aaa");
    first.log_group_arn = None;
    for t in [&first, &second] {
        facts.trail_status.insert(t.arn.clone(), Ok(TrailStatus { is_logging: true, latest_cloudwatch_logs_delivery_error: None }));
        facts.event_selectors.insert(t.arn.clone(), Ok(EventSelectors::default()));
    }
    facts.trails = Ok(vec![second, first]);
    let finding = judge(facts);
    assert_eq!(finding.reason, Reason::TrailNotSendingToCloudwatch);
    assert_eq!(finding.evidence.links[0].id, trail_arn(ACCOUNT, "aaa"));
}

#[test]
fn an_unseen_link_is_an_error_even_when_another_chain_fails_further_on() {
    let mut facts = compliant(ACCOUNT);
    *the_topic(&mut facts) = Ok(Topic::NotFound);
    let other = trail(ACCOUNT, "second");
    facts.trail_status.insert(other.arn.clone(), Err(Unobserved::api_error("cloudtrail:GetTrailStatus", "ThrottlingException")));
    facts.trails.as_mut().unwrap().push(other);
    let finding = judge(facts);
    assert_eq!(finding.status, Status::Error);
    assert_eq!(finding.reason, Reason::ApiError);
}

fn member_with_org_trail(member: &str) -> AccountFacts {
    let mut org_trail = trail(MANAGEMENT, "org-trail");
    org_trail.organization_trail = true;
    org_trail.log_group_arn = Some(format!("arn:aws:logs:{REGION}:{MANAGEMENT}:log-group:CloudTrail/Default:*"));
    let mut facts = AccountFacts::empty(member);
    facts.trails = Ok(vec![org_trail]);
    facts
}

fn management_with_org_trail() -> AccountFacts {
    let mut facts = compliant(MANAGEMENT);
    let t = the_trail(&mut facts);
    t.arn = trail_arn(MANAGEMENT, "org-trail");
    t.name = "org-trail".into();
    t.organization_trail = true;
    let status = facts.trail_status.remove(&trail_arn(MANAGEMENT, "main")).unwrap();
    let selectors = facts.event_selectors.remove(&trail_arn(MANAGEMENT, "main")).unwrap();
    facts.trail_status.insert(trail_arn(MANAGEMENT, "org-trail"), status);
    facts.event_selectors.insert(trail_arn(MANAGEMENT, "org-trail"), selectors);
    facts
}

#[test]
fn a_member_is_judged_through_the_organization_trail_in_the_management_account() {
    let finding = judge_with(vec![member_with_org_trail(ACCOUNT), management_with_org_trail()], ACCOUNT, &[]);
    assert_eq!(finding.reason, Reason::Compliant, "{}", finding.message);
    assert!(finding.evidence.links.iter().any(|l| l.id == topic_arn(MANAGEMENT)));

    // The management account's alarm deleted: every member covered by it fails.
    let mut management = management_with_org_trail();
    management.alarms.insert(metric(MANAGEMENT), Ok(vec![]));
    let finding = judge_with(vec![member_with_org_trail(ACCOUNT), management], ACCOUNT, &[]);
    assert_eq!(finding.reason, Reason::NoAlarmOnMetric);
}

#[test]
fn an_organization_trail_whose_owner_cannot_be_seen_is_an_error() {
    let unreachable = AccountFacts::unreachable(MANAGEMENT, "AccessDenied: not authorized to perform sts:AssumeRole");
    let finding = judge_with(vec![member_with_org_trail(ACCOUNT), unreachable], ACCOUNT, &[]);
    assert_eq!(finding.reason, Reason::RoleAssumptionFailed);

    // Owned by an account outside the organization.
    let finding = judge_with(vec![member_with_org_trail(ACCOUNT)], ACCOUNT, &[]);
    assert_eq!(finding.reason, Reason::OutsideOrganization);
}

#[test]
fn an_unreachable_account_is_a_role_assumption_error() {
    let finding = judge(AccountFacts::unreachable(ACCOUNT, "AccessDenied"));
    assert_eq!((finding.status, finding.reason), (Status::Error, Reason::RoleAssumptionFailed));
}

#[test]
fn waivers_apply_until_they_expire() {
    let waiver = |expires: Option<&str>| Waiver {
        account_id: ACCOUNT.into(),
        control_id: UNAUTHORIZED_API_CALLS.into(),
        reason: "sandbox account, logs go to the SIEM".into(),
        expires: expires.map(|d| d.parse().unwrap()),
    };
    let broken = || {
        let mut f = compliant(ACCOUNT);
        f.trails = Ok(vec![]);
        f
    };
    let cases = [(None, Reason::Waived), (Some("2026-11-21"), Reason::Waived), (Some("2026-11-20"), Reason::NoMultiRegionTrail)];
    for (expires, expected) in cases {
        let finding = judge_with(vec![broken()], ACCOUNT, &[waiver(expires)]);
        assert_eq!(finding.reason, expected, "{expires:?}");
        if expected == Reason::NoMultiRegionTrail {
            assert!(finding.evidence.notes.iter().any(|n| n.contains("expired on 2026-11-20")), "{:?}", finding.evidence.notes);
        }
    }
    // A waiver for another account or control changes nothing.
    let mut other = waiver(None);
    other.account_id = "000000000000".into();
    assert_eq!(judge_with(vec![broken()], ACCOUNT, &[other]).reason, Reason::NoMultiRegionTrail);
}

#[test]
fn other_controls_are_judged_by_their_own_samples() {
    let mut facts = compliant(ACCOUNT);
    the_filter(&mut facts).pattern = controls::find("root-account-usage").unwrap().published_patterns[0].pattern.clone();
    let both = [controls::find("root-account-usage").unwrap(), controls::find(UNAUTHORIZED_API_CALLS).unwrap()];
    let findings = drive(&[facts], ACCOUNT, &both, &[]).findings;
    assert_eq!((findings[0].control_id.as_str(), findings[0].reason), ("root-account-usage", Reason::Compliant));
    assert_eq!((findings[1].control_id.as_str(), findings[1].reason), (UNAUTHORIZED_API_CALLS, Reason::NoMatchingMetricFilter));
}

// The fetch plan: what the core asks for, round by round.

/// The operations of each round, sorted, for comparing plans.
fn plan(driven: &Driven) -> Vec<Vec<&'static str>> {
    driven
        .rounds
        .iter()
        .map(|round| {
            let mut ops: Vec<&'static str> = round.iter().map(|n| n.request.operation()).collect();
            ops.sort_unstable();
            ops.dedup();
            ops
        })
        .collect()
}

/// An account with one detecting filter and alarm per control of the whole family.
fn compliant_family(account: &str) -> AccountFacts {
    let mut facts = compliant(account);
    let mut filters = Vec::new();
    let mut alarms = BTreeMap::new();
    for control in controls::all() {
        let name = format!("cis-{}", control.id);
        filters.push(MetricFilter {
            name: name.clone(),
            pattern: control.published_patterns[0].pattern.clone(),
            transformations: vec![MetricTransformation { metric_name: name.clone(), namespace: "CISBenchmark".into(), value: "1".into(), dimensions: vec![] }],
            ..MetricFilter::default()
        });
        let metric = MetricRef { name: name.clone(), ..metric(account) };
        let alarm = Alarm { name: name.clone(), arn: format!("arn:aws:cloudwatch:{REGION}:{account}:alarm:{name}"), metric_name: Some(name.clone()), ..alarm(account) };
        alarms.insert(metric, Ok(vec![alarm]));
        facts.histories.insert(name, Ok(vec![]));
    }
    facts.metric_filters.insert(log_group(account), Ok(filters));
    facts.alarms = alarms;
    facts
}

const TRAILS: &str = "cloudtrail:DescribeTrails";
const STATUS: &str = "cloudtrail:GetTrailStatus";
const SELECTORS: &str = "cloudtrail:GetEventSelectors";
const FILTERS: &str = "logs:DescribeMetricFilters";
const ALARMS: &str = "cloudwatch:DescribeAlarms";
const TOPIC: &str = "sns:GetTopicAttributes";
const SUBSCRIPTIONS: &str = "sns:ListSubscriptionsByTopic";
const DESCRIBE_KEY: &str = "kms:DescribeKey";
const KEY_POLICY: &str = "kms:GetKeyPolicy";
const HISTORY: &str = "cloudwatch:DescribeAlarmHistory";
const PARENTS: &str = "organizations:ListParents";

#[test]
fn independent_reads_are_asked_for_together_and_nothing_that_cannot_change_the_verdict() {
    let full_chain = vec![vec![TRAILS], vec![SELECTORS, STATUS, ALARMS, FILTERS], vec![TOPIC, SUBSCRIPTIONS], vec![HISTORY]];
    let to_topic = vec![vec![TRAILS], vec![SELECTORS, STATUS, ALARMS, FILTERS], vec![TOPIC, SUBSCRIPTIONS]];
    let key_chain = |key_round: Vec<Vec<&'static str>>| [to_topic.clone(), key_round, vec![vec![HISTORY]]].concat();
    let stopped = |f: &mut AccountFacts| {
        f.trail_status.insert(trail_arn(ACCOUNT, "main"), Ok(TrailStatus { is_logging: false, latest_cloudwatch_logs_delivery_error: None }));
    };
    type Case = (&'static str, fn(&mut AccountFacts), Vec<Vec<&'static str>>, Reason);
    let cases: Vec<Case> = vec![
        ("a compliant account", |_| {}, full_chain.clone(), Reason::Compliant),
        ("no trail: nothing after DescribeTrails", |f| f.trails = Ok(vec![]), vec![vec![TRAILS]], Reason::NoMultiRegionTrail),
        // The alarms depend on the log group alone, so they go out with its filters.
        ("a stopped trail: nothing after its status", stopped, vec![vec![TRAILS], vec![SELECTORS, STATUS, ALARMS, FILTERS]], Reason::TrailNotLogging),
        ("no detecting filter", |f| the_filter(f).pattern = "{ $.eventName = HeadBucket }".into(), vec![vec![TRAILS], vec![SELECTORS, STATUS, ALARMS, FILTERS]], Reason::NoMatchingMetricFilter),
        ("a filter that never counts", |f| the_filter(f).transformations[0].value = "0".into(), vec![vec![TRAILS], vec![SELECTORS, STATUS, ALARMS, FILTERS]], Reason::MetricFilterNeverCounts),
        ("alarm actions disabled: no topic is read", |f| the_alarm(f).actions_enabled = false, vec![vec![TRAILS], vec![SELECTORS, STATUS, ALARMS, FILTERS]], Reason::AlarmActionsDisabled),
        ("no trail delivery to CloudWatch: no filters are read", |f| the_trail(f).log_group_arn = None, vec![vec![TRAILS], vec![SELECTORS, STATUS]], Reason::TrailNotSendingToCloudwatch),
        ("a role refused: one read, one error", |f| f.role_error = Some("AccessDenied".into()), vec![vec![TRAILS]], Reason::RoleAssumptionFailed),
        ("a deleted topic still reads both in one round, and no history", |f| *the_topic(f) = Ok(Topic::NotFound), to_topic.clone(), Reason::SnsTopicNotFound),
        ("a topic policy that refuses: no history is read", |f| set_topic_policy(f, &ops_role_only_policy(ACCOUNT)), to_topic.clone(), Reason::SnsTopicPolicyDeniesPublish),
        ("a key named by ARN: its description and policy in one round", |f| {
            encrypt(f, KEY_ARN, Ok(customer_key("Enabled")), Some(Ok(cloudwatch_key_policy())));
        }, key_chain(vec![vec![DESCRIBE_KEY, KEY_POLICY]]), Reason::Compliant),
        ("a key named by alias: its description first", |f| {
            encrypt(f, "alias/alarms", Ok(customer_key("Enabled")), Some(Ok(cloudwatch_key_policy())));
        }, key_chain(vec![vec![DESCRIBE_KEY], vec![KEY_POLICY]]), Reason::Compliant),
        ("a disabled key: no history is read", |f| {
            encrypt(f, KEY_ARN, Ok(customer_key("Disabled")), Some(Ok(cloudwatch_key_policy())));
        }, [to_topic.clone(), vec![vec![DESCRIBE_KEY, KEY_POLICY]]].concat(), Reason::SnsTopicUnpublishable),
        ("the AWS-managed key by name: nothing is read about it", |f| encrypt(f, "alias/aws/sns", Ok(Key::NotFound), None), to_topic.clone(), Reason::SnsTopicUnpublishable),
    ];
    for (what, mutate, expected_plan, reason) in cases {
        let mut facts = compliant(ACCOUNT);
        mutate(&mut facts);
        let driven = drive(&[facts], ACCOUNT, &[controls::find(UNAUTHORIZED_API_CALLS).unwrap()], &[]);
        assert_eq!(plan(&driven), expected_plan, "{what}");
        assert_eq!(driven.findings[0].reason, reason, "{what}: {}", driven.findings[0].message);
    }
}

#[test]
fn the_whole_family_needs_no_more_rounds_than_one_control() {
    let family: Vec<&Control> = controls::all().iter().collect();
    let driven = drive(&[compliant_family(ACCOUNT)], ACCOUNT, &family, &[]);
    assert!(driven.findings.iter().all(|f| f.reason == Reason::Compliant), "{:?}", driven.findings.iter().map(|f| (&f.control_id, f.reason)).collect::<Vec<_>>());
    assert_eq!(plan(&driven), vec![vec![TRAILS], vec![SELECTORS, STATUS, ALARMS, FILTERS], vec![TOPIC, SUBSCRIPTIONS], vec![HISTORY]]);
    assert_eq!(driven.rounds[1].len(), 4, "one DescribeAlarms for every control's alarms");
    assert_eq!(driven.rounds[2].len(), 2, "the shared topic is read once for every control");
    assert_eq!(driven.rounds[3].len(), 1, "one page of the account's alarm history for every alarm");
    let requests: usize = driven.rounds.iter().map(Vec::len).sum();
    assert_eq!(requests, 1 + 4 + 2 + 1);
}

#[test]
fn the_alarms_are_asked_for_once_in_the_log_groups_account_and_region() {
    let mut facts = compliant(ACCOUNT);
    let filters = facts.metric_filters.get_mut(&log_group(ACCOUNT)).unwrap().as_mut().unwrap();
    let mut other = filters[0].clone();
    other.name = "HeadBuckets".into();
    other.pattern = "{ $.eventName = HeadBucket }".into();
    other.transformations[0].metric_name = "HeadBuckets".into();
    filters.push(other);
    let driven = drive(&[facts], ACCOUNT, &[controls::find(UNAUTHORIZED_API_CALLS).unwrap()], &[]);
    let alarms: Vec<Request> = driven.rounds.iter().flatten().map(|n| n.request.clone()).filter(|r| matches!(r, Request::Alarms { .. })).collect();
    assert_eq!(alarms, vec![Request::Alarms { account_id: ACCOUNT.into(), region: REGION.into() }]);
}

#[test]
fn a_passing_chain_asks_for_nothing_more() {
    // A second trail whose status is never answered does not hold the verdict back.
    let mut facts = compliant(ACCOUNT);
    let slow = trail(ACCOUNT, "zzz-slow");
    facts.trails.as_mut().unwrap().push(slow);
    let driven = drive(&[facts], ACCOUNT, &[controls::find(UNAUTHORIZED_API_CALLS).unwrap()], &[]);
    assert_eq!(driven.findings[0].reason, Reason::Compliant, "{}", driven.findings[0].message);
    assert_eq!(driven.rounds.len(), 4);
}

#[test]
fn a_waived_control_reads_nothing() {
    let waiver = Waiver { account_id: ACCOUNT.into(), control_id: UNAUTHORIZED_API_CALLS.into(), reason: "sandbox".into(), expires: None };
    let driven = drive(&[compliant(ACCOUNT)], ACCOUNT, &[controls::find(UNAUTHORIZED_API_CALLS).unwrap()], &[waiver]);
    assert!(driven.rounds.is_empty());
    assert_eq!(driven.findings[0].reason, Reason::Waived);
}

#[test]
fn links_owned_by_another_member_are_asked_of_that_member() {
    // The member's alarm notifies the security account's topic.
    let mut member = compliant(ACCOUNT);
    the_alarm(&mut member).alarm_actions = vec![topic_arn(SECURITY)];
    member.topics.clear();
    let mut security = compliant(SECURITY);
    set_policy_of(&mut security, &org_topic_policy(&topic_arn(SECURITY), SECURITY));
    let driven = drive(&[member.clone(), security.clone()], ACCOUNT, &[controls::find(UNAUTHORIZED_API_CALLS).unwrap()], &[]);
    let topic_round = &driven.rounds[2];
    assert!(topic_round.iter().all(|n| n.request.account_id() == SECURITY && n.shared), "{topic_round:?}");
    let finding = &driven.findings[0];
    assert_eq!(finding.reason, Reason::Compliant, "{}", finding.message);
    let accounts: Vec<(LinkKind, Option<&str>)> = finding.evidence.links.iter().map(|l| (l.kind, l.account_id.as_deref())).collect();
    assert_eq!(
        accounts,
        vec![
            (LinkKind::Trail, Some(ACCOUNT)),
            (LinkKind::LogGroup, Some(ACCOUNT)),
            (LinkKind::MetricFilter, Some(ACCOUNT)),
            (LinkKind::Metric, Some(ACCOUNT)),
            (LinkKind::Alarm, Some(ACCOUNT)),
            (LinkKind::Topic, Some(SECURITY)),
            (LinkKind::Subscription, Some(SECURITY)),
            (LinkKind::TopicPolicy, Some(SECURITY)),
        ]
    );
    assert_eq!(finding.evidence.links[7].detail.as_deref(), Some("allowed by statement \"OrganizationAlarms\""));
    let history = driven.rounds.last().unwrap();
    assert_eq!(history.iter().map(|n| (n.request.operation(), n.request.account_id())).collect::<Vec<_>>(), vec![(HISTORY, ACCOUNT)], "the alarm's history, in its own account");

    // Judged by the owner's subscriptions.
    *security.topics.get_mut(&topic_arn(SECURITY)).unwrap() = Ok(Topic::Found { kms_master_key_id: None, policy: None, subscriptions: Ok(vec![]) });
    assert_eq!(judge_with(vec![member.clone(), security], ACCOUNT, &[]).reason, Reason::NoConfirmedSubscription);

    // An owner whose role is refused is named.
    let finding = judge_with(vec![member.clone(), AccountFacts::unreachable(SECURITY, "AccessDenied: no")], ACCOUNT, &[]);
    assert_eq!(finding.reason, Reason::RoleAssumptionFailed);
    assert!(finding.message.contains(SECURITY), "{}", finding.message);

    // An owner outside the organization is not asked at all.
    let driven = drive(&[member], ACCOUNT, &[controls::find(UNAUTHORIZED_API_CALLS).unwrap()], &[]);
    assert_eq!(driven.findings[0].reason, Reason::OutsideOrganization, "{}", driven.findings[0].message);
    assert!(driven.rounds.iter().flatten().all(|n| n.request.account_id() == ACCOUNT));
}

#[test]
fn an_organization_trail_chain_is_asked_of_its_owner_and_marked_shared() {
    let driven = drive(&[member_with_org_trail(ACCOUNT), management_with_org_trail()], ACCOUNT, &[controls::find(UNAUTHORIZED_API_CALLS).unwrap()], &[]);
    assert_eq!(driven.findings[0].reason, Reason::Compliant);
    let (first, rest) = driven.rounds.split_first().unwrap();
    assert_eq!(first[0].request.account_id(), ACCOUNT, "the member's own DescribeTrails");
    assert!(rest.iter().flatten().all(|n| n.request.account_id() == MANAGEMENT && n.shared), "{rest:?}");
    // The management account judging its own organization trail marks the chain shared too.
    let driven = drive(&[management_with_org_trail()], MANAGEMENT, &[controls::find(UNAUTHORIZED_API_CALLS).unwrap()], &[]);
    assert!(driven.rounds[1..].iter().flatten().all(|n| n.shared));
    let driven = drive(&[compliant(ACCOUNT)], ACCOUNT, &[controls::find(UNAUTHORIZED_API_CALLS).unwrap()], &[]);
    assert!(driven.rounds[1].iter().all(|n| !n.shared), "an ordinary trail's chain is the account's own");
}

#[test]
fn a_scan_out_of_time_concludes_with_what_it_has() {
    let members: BTreeSet<String> = [ACCOUNT.to_owned()].into();
    let control = controls::find(UNAUTHORIZED_API_CALLS).unwrap();
    let audit = Audit { account_id: ACCOUNT, controls: &[control], scope: Scope { region: REGION, members: &members, members_complete: true, organization_id: Some(ORGANIZATION) }, waivers: &[], now: now(), detections: &DetectionCache::new(), advice: AdviceMode::Off };
    let timed_out = Unobserved::api_error("collection", "timed out after 60 s");
    let finding = audit.conclude(&Facts::new(), &timed_out).remove(0);
    assert_eq!(finding.reason, Reason::ApiError);
    assert!(finding.message.contains("timed out after 60 s"), "{}", finding.message);
    // Further along: the trail's chain is known up to the alarms.
    let facts = compliant(ACCOUNT);
    let mut known = Facts::new();
    let trails = Request::Trails { account_id: ACCOUNT.into(), region: REGION.into() };
    known.insert(trails.clone(), facts.answer(&trails).unwrap());
    for request in [
        Request::TrailStatus { account_id: ACCOUNT.into(), region: REGION.into(), trail_arn: trail_arn(ACCOUNT, "main") },
        Request::EventSelectors { account_id: ACCOUNT.into(), region: REGION.into(), trail_arn: trail_arn(ACCOUNT, "main") },
        Request::MetricFilters(log_group(ACCOUNT)),
    ] {
        known.insert(request.clone(), facts.answer(&request).unwrap());
    }
    let finding = audit.conclude(&known, &timed_out).remove(0);
    assert_eq!(finding.reason, Reason::ApiError);
    assert!(finding.message.contains("the alarms of account 111122223333 in us-east-1"), "{}", finding.message);
    assert_eq!(finding.evidence.links.last().map(|l| l.kind), Some(LinkKind::Metric));
}

#[test]
fn an_owner_not_listed_yet_is_waited_for_not_judged_outside_the_organization() {
    // The member's alarm notifies the security account's topic; the listing has not reached
    // the security account yet.
    let mut member = compliant(ACCOUNT);
    the_alarm(&mut member).alarm_actions = vec![topic_arn(SECURITY)];
    member.topics.clear();
    let mut security = compliant(SECURITY);
    set_policy_of(&mut security, &org_topic_policy(&topic_arn(SECURITY), SECURITY));
    let control = controls::find(UNAUTHORIZED_API_CALLS).unwrap();
    let detections = DetectionCache::new();
    let audit_with = |members: &BTreeSet<String>, complete: bool, facts: &Facts| {
        let audit = Audit { account_id: ACCOUNT, controls: &[control], scope: Scope { region: REGION, members, members_complete: complete, organization_id: Some(ORGANIZATION) }, waivers: &[], now: now(), detections: &detections, advice: AdviceMode::Off };
        (audit.step(facts), audit.conclude(facts, &Unobserved::api_error("collection", "timed out after 60 s")))
    };
    let listed_so_far: BTreeSet<String> = [ACCOUNT.to_owned()].into();
    let mut facts = Facts::new();
    let waited = loop {
        match audit_with(&listed_so_far, false, &facts).0 {
            Step::Done(findings) => panic!("judged before its topic's owner was listed: {findings:?}"),
            Step::Need(needs) if needs.is_empty() => break facts.clone(),
            Step::Need(needs) => {
                for need in needs {
                    assert_eq!(need.request.account_id(), ACCOUNT, "nothing is asked of an account not listed yet");
                    facts.insert(need.request.clone(), member.answer(&need.request).unwrap());
                }
            }
        }
    };
    // Out of time before the listing got there: unseen, not outside the organization.
    let (_, concluded) = audit_with(&listed_so_far, false, &waited);
    assert_eq!(concluded[0].reason, Reason::ApiError, "{}", concluded[0].message);
    // The whole organization listed without the owner: outside it.
    let (step, _) = audit_with(&listed_so_far, true, &waited);
    assert!(matches!(&step, Step::Done(f) if f[0].reason == Reason::OutsideOrganization), "{step:?}");
    // Once listed, the topic is asked of its owner and the account passes.
    let listed: BTreeSet<String> = [ACCOUNT.to_owned(), SECURITY.to_owned()].into();
    let mut facts = waited;
    loop {
        match audit_with(&listed, false, &facts).0 {
            Step::Done(findings) => {
                assert_eq!(findings[0].reason, Reason::Compliant, "{}", findings[0].message);
                break;
            }
            Step::Need(needs) => {
                assert!(!needs.is_empty());
                for need in needs {
                    let owner = if need.request.account_id() == SECURITY { &security } else { &member };
                    facts.insert(need.request.clone(), owner.answer(&need.request).unwrap());
                }
            }
        }
    }
}

#[test]
fn a_failing_finding_names_the_topics_the_account_was_seen_to_use() {
    let controls = [controls::find(UNAUTHORIZED_API_CALLS).unwrap(), controls::find("root-account-usage").unwrap()];
    let findings = drive(&[compliant(ACCOUNT)], ACCOUNT, &controls, &[]).findings;
    assert_eq!((findings[0].reason, findings[1].reason), (Reason::Compliant, Reason::NoMatchingMetricFilter));
    assert!(findings[0].evidence.working_topics.is_empty(), "a pass carries none");
    let topics = &findings[1].evidence.working_topics;
    assert_eq!(topics.len(), 1, "{topics:?}");
    assert_eq!((topics[0].arn.as_str(), topics[0].account_id.as_str(), topics[0].region.as_str()), (topic_arn(ACCOUNT).as_str(), ACCOUNT, REGION));
    assert_eq!(topics[0].notified_from, vec![ACCOUNT.to_owned()]);
    // Links name their region and what a fix needs by name.
    let trail = &findings[1].evidence.links[0];
    assert_eq!((trail.region.as_deref(), trail.attribute("name")), (Some(REGION), Some("main")));

    // An unsubscribed topic does not work.
    let mut unsubscribed = compliant(ACCOUNT);
    *the_topic(&mut unsubscribed) = Ok(Topic::Found { kms_master_key_id: None, policy: None, subscriptions: Ok(vec![]) });
    let findings = drive(&[unsubscribed], ACCOUNT, &controls, &[]).findings;
    assert!(findings[1].evidence.working_topics.is_empty(), "{:?}", findings[1].evidence.working_topics);
}

#[test]
fn an_error_finding_names_the_read_it_could_not_make() {
    let mut denied = compliant(ACCOUNT);
    denied.alarms.insert(metric(ACCOUNT), Err(Unobserved::access_denied("cloudwatch:DescribeAlarmsForMetric", "denied")));
    let finding = judge(denied);
    assert_eq!(finding.reason, Reason::AccessDenied);
    assert_eq!(finding.evidence.unseen, Some(crate::finding::UnseenRead { operation: "cloudwatch:DescribeAlarmsForMetric".into(), account_id: ACCOUNT.into() }));
    assert_eq!(judge(compliant(ACCOUNT)).evidence.unseen, None);
}

/// A member whose alarm notifies the security account's topic, and the security account.
fn member_and_central(central_policy: Option<String>) -> Vec<AccountFacts> {
    let mut member = compliant(ACCOUNT);
    the_alarm(&mut member).alarm_actions = vec![topic_arn(SECURITY)];
    member.topics.clear();
    let mut security = compliant(SECURITY);
    if let Some(policy) = central_policy {
        set_policy_of(&mut security, &policy);
    }
    vec![member, security]
}

#[test]
fn a_central_topic_behind_the_default_policy_refuses_other_accounts_alarms() {
    let finding = judge_with(member_and_central(None), ACCOUNT, &[]);
    assert_eq!(finding.reason, Reason::SnsTopicPolicyDeniesPublish, "{}", finding.message);
    assert!(finding.message.contains("No statement of topic"), "{}", finding.message);
    assert!(finding.message.contains("AWS:SourceOwner"), "says why the default statement does not serve: {}", finding.message);
    let policy = finding.evidence.links.last().unwrap();
    assert_eq!((policy.kind, policy.account_id.as_deref(), policy.attribute("decision")), (LinkKind::TopicPolicy, Some(SECURITY), Some("not-allowed")));
    assert!(policy.attribute("policy").is_some_and(|p| p.contains("__default_statement_ID")), "the policy as it stands, for the fix");

    // The security account's own alarms are admitted by the same policy.
    let mut own = compliant(SECURITY);
    own.account_id = SECURITY.into();
    assert_eq!(judge_with(vec![own], SECURITY, &[]).reason, Reason::Compliant);

    // Admitting the organization's alarms mends it.
    let finding = judge_with(member_and_central(Some(org_topic_policy(&topic_arn(SECURITY), SECURITY))), ACCOUNT, &[]);
    assert_eq!(finding.reason, Reason::Compliant, "{}", finding.message);
}

#[test]
fn a_topic_policy_that_admits_other_accounts_but_not_this_one_refuses_it() {
    let others = topic_policy_with(serde_json::json!([{"Sid": "SomeAccounts", "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": "sns:Publish", "Resource": topic_arn(SECURITY), "Condition": {"StringEquals": {"aws:SourceAccount": ["222233334444", "555566667777"]}}}]));
    let finding = judge_with(member_and_central(Some(others)), ACCOUNT, &[]);
    assert_eq!(finding.reason, Reason::SnsTopicPolicyDeniesPublish, "{}", finding.message);
}

#[test]
fn an_organization_wide_allow_with_a_deny_for_all_but_one_account_names_the_deny() {
    let mut policy: serde_json::Value = serde_json::from_str(&org_topic_policy(&topic_arn(SECURITY), SECURITY)).unwrap();
    policy["Statement"].as_array_mut().unwrap().push(serde_json::json!({"Sid": "OnlyTheChosen", "Effect": "Deny", "Principal": "*", "Action": "sns:Publish", "Resource": topic_arn(SECURITY), "Condition": {"StringNotEquals": {"aws:SourceAccount": "222233334444"}}}));
    let finding = judge_with(member_and_central(Some(policy.to_string())), ACCOUNT, &[]);
    assert_eq!(finding.reason, Reason::SnsTopicPolicyDeniesPublish, "{}", finding.message);
    assert!(finding.message.starts_with("Statement \"OnlyTheChosen\" of topic"), "{}", finding.message);
    let link = finding.evidence.links.last().unwrap();
    assert_eq!(link.attribute("decision"), Some("denied"));
    assert_eq!(link.attributes["statement"]["Sid"], "OnlyTheChosen");
}

#[test]
fn a_policy_on_the_accounts_path_in_the_organization_reads_the_path_and_judges_it() {
    let by_path = |pattern: &str| {
        topic_policy_with(serde_json::json!([{"Sid": "Workloads", "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": "sns:Publish", "Resource": topic_arn(SECURITY), "Condition": {"ForAnyValue:StringLike": {"aws:SourceOrgPaths": pattern}}}]))
    };
    let mut accounts = member_and_central(Some(by_path(&format!("{ORGANIZATION}/r-ab12/ou-ab12-workloads/*"))));
    accounts[0].org_path = Some(Ok(format!("{ORGANIZATION}/r-ab12/ou-ab12-workloads/ou-ab12-prod/")));
    let driven = drive(&accounts, ACCOUNT, &[controls::find(UNAUTHORIZED_API_CALLS).unwrap()], &[]);
    assert_eq!(driven.findings[0].reason, Reason::Compliant, "{}", driven.findings[0].message);
    let parents: Vec<&Need> = driven.rounds.iter().flatten().filter(|n| n.request.operation() == PARENTS).collect();
    assert_eq!(parents.len(), 1, "read once, and only because the policy names the key");
    assert_eq!(parents[0].request, Request::OrgPath { account_id: ACCOUNT.into() });

    accounts[0].org_path = Some(Ok(format!("{ORGANIZATION}/r-ab12/ou-ab12-sandbox/")));
    assert_eq!(judge_with(accounts.clone(), ACCOUNT, &[]).reason, Reason::SnsTopicPolicyDeniesPublish);

    // A policy that does not name the key reads no path.
    let driven = drive(&member_and_central(Some(org_topic_policy(&topic_arn(SECURITY), SECURITY))), ACCOUNT, &[controls::find(UNAUTHORIZED_API_CALLS).unwrap()], &[]);
    assert!(driven.rounds.iter().flatten().all(|n| n.request.operation() != PARENTS));

    // The path could not be read: an error naming the read, not a guess.
    accounts[0].org_path = Some(Err(Unobserved::access_denied(PARENTS, "not authorized")));
    let finding = judge_with(accounts, ACCOUNT, &[]);
    assert_eq!(finding.reason, Reason::AccessDenied, "{}", finding.message);
}

#[test]
fn a_policy_naming_the_organization_is_undecidable_where_its_id_is_not_known() {
    let accounts = member_and_central(Some(org_topic_policy(&topic_arn(SECURITY), SECURITY)));
    let members: BTreeSet<String> = accounts.iter().map(|a| a.account_id.clone()).collect();
    let control = controls::find(UNAUTHORIZED_API_CALLS).unwrap();
    let audit = Audit { account_id: ACCOUNT, controls: &[control], scope: Scope { region: REGION, members: &members, members_complete: true, organization_id: None }, waivers: &[], now: now(), detections: &DetectionCache::new(), advice: AdviceMode::Off };
    let mut facts = Facts::new();
    let findings = loop {
        match audit.step(&facts) {
            Step::Done(findings) => break findings,
            Step::Need(needs) => {
                for need in needs {
                    let owner = accounts.iter().find(|a| a.account_id == need.request.account_id()).unwrap();
                    facts.insert(need.request.clone(), owner.answer(&need.request).unwrap());
                }
            }
        }
    };
    assert_eq!(findings[0].reason, Reason::PolicyUndecidable, "{}", findings[0].message);
    assert!(findings[0].message.contains("OrganizationAlarms") && findings[0].message.contains("aws:SourceOrgID"), "names the statement and the key: {}", findings[0].message);
}

#[test]
fn a_failed_notification_names_the_error_and_when() {
    let mut facts = compliant(ACCOUNT);
    set_history(&mut facts, vec![notification(5, "Failed", &topic_arn(ACCOUNT))]);
    let finding = judge(facts);
    assert_eq!(finding.reason, Reason::AlarmActionFailed);
    assert!(finding.message.contains("2026-11-20T05:00:00Z") && finding.message.contains("does not have authorization"), "{}", finding.message);
    let link = finding.evidence.links.last().unwrap();
    assert_eq!((link.kind, link.attribute("action_state")), (LinkKind::AlarmHistory, Some("Failed")));
}

#[test]
fn a_central_topics_key_is_read_in_the_keys_own_account_and_shared() {
    let mut accounts = member_and_central(Some(org_topic_policy(&topic_arn(SECURITY), SECURITY)));
    let central_key = format!("arn:aws:kms:{REGION}:{SECURITY}:key/5678");
    if let Some(Ok(Topic::Found { kms_master_key_id, .. })) = accounts[1].topics.get_mut(&topic_arn(SECURITY)) {
        *kms_master_key_id = Some(central_key.clone());
    }
    let metadata = KeyMetadata { arn: central_key.clone(), key_id: "5678".into(), manager: "CUSTOMER".into(), state: "Enabled".into() };
    accounts[1].keys.insert(central_key.clone(), Ok(Key::Found(metadata)));
    accounts[1].key_policies.insert(central_key.clone(), Ok(cloudwatch_key_policy()));
    let driven = drive(&accounts, ACCOUNT, &[controls::find(UNAUTHORIZED_API_CALLS).unwrap()], &[]);
    assert_eq!(driven.findings[0].reason, Reason::Compliant, "{}", driven.findings[0].message);
    let key_reads: Vec<&Need> = driven.rounds.iter().flatten().filter(|n| n.request.operation().starts_with("kms:")).collect();
    assert_eq!(key_reads.len(), 2);
    assert!(key_reads.iter().all(|n| n.request.account_id() == SECURITY && n.shared), "{key_reads:?}");
    let kinds: Vec<LinkKind> = driven.findings[0].evidence.links.iter().map(|l| l.kind).collect();
    assert_eq!(kinds[kinds.len() - 3..], [LinkKind::TopicPolicy, LinkKind::KmsKey, LinkKind::KeyPolicy]);
}

mod advice;
mod alarms;
