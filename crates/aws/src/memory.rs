//! An in-memory organization implementing [`AwsReads`] with AWS's semantics, for tests and
//! benchmarks of the scan without any emulator, and a record of every call made to it.
//!
//! What it reproduces of AWS:
//! - `sts:AssumeRole` fails, naming the role ARN, for an account that is not in the organization
//!   or whose audit role is not assumable ([`MemoryAccount::assumable`]). An account's state does
//!   not matter to it.
//! - `DescribeTrails` shows the caller's own trails of that region and its multi-region trails,
//!   and, to a member account, the management account's organization trails (of that region or
//!   multi-region), as AWS shows organization trails to members. Only the owner can read a
//!   trail's status and selectors (others get `TrailNotFoundException`).
//! - `DescribeMetricFilters` looks the log group's (region, name) up in the *caller's* account,
//!   whatever account the request names, as AWS does; a log group that does not exist there is
//!   `ResourceNotFoundException`. So a read made with the wrong account's role visibly reads the
//!   wrong thing.
//! - `DescribeAlarms` answers the caller's metric and composite alarms in that region (sorted by
//!   name), [`ALARMS_PAGE`] a page, each page a call.
//! - SNS refuses a topic of another account (`AuthorizationError`, as the default topic policy
//!   does); a missing topic is `Topic::NotFound` for its attributes and a `NotFound` API error for
//!   its subscriptions. A topic's `Policy` is SNS's default policy
//!   ([`default_topic_policy`]) unless a test sets one ([`MemoryTopic::policy`],
//!   [`MemoryOrg::admit_organization_alarms`]).
//! - `DescribeKey` resolves an alias name, alias ARN, key id or key ARN among the keys of the
//!   *caller's* account in the request's region; an ARN of another account is
//!   `AccessDeniedException` (no key policy here admits another account), a key that does not
//!   exist `Key::NotFound`. `GetKeyPolicy` takes a key id or key ARN only, and refuses another
//!   account's key (`AccessDeniedException`): a key policy is read in the key's own account.
//! - `DescribeAlarmHistory` answers the caller's history items of that alarm in that region, or
//!   of every alarm there, newest first, [`ALARM_HISTORY_PAGE`] a page (each page a call), at
//!   most [`ALARM_HISTORY_PAGES`] pages of one alarm and one page of every alarm: its `Action`
//!   items ([`MemoryAccount::record_notification`]), or items of every kind (`StateUpdate` too,
//!   [`MemoryAccount::record_state_change`]) when asked. An alarm's state changes over a window
//!   (both ends included) are read the same way, at most [`ALARM_STATES_PAGES`] pages.
//! - `GetMetricData` aggregates the caller's datapoints of each query's metric in that region
//!   ([`MemoryAccount::put_metric_data`]; the same dimensions in any order are the same metric)
//!   per period from `StartTime` to `EndTime` (excluded), a period's timestamp its start,
//!   periods without datapoints left out, oldest first: `Sum`, `Average`, `SampleCount`,
//!   `Minimum`, `Maximum`, and percentiles answered as `Maximum`. A call is
//!   [`METRIC_DATA_QUERIES`] queries, a page each 100,800 values it answers; no query, no call.
//!   A period of 0 or less, another statistic, or a start not before the end is
//!   `InvalidParameterValue`.
//! - `ListParents` climbs from an account through its OUs ([`MemoryOrg::add_ou`],
//!   [`MemoryAccount::parent`]) to the root, one call a level, with the management account's
//!   identity; an account outside the organization is `ChildNotFoundException`.
//!
//! Every call sleeps [`MemoryOrg::with_latency`] with `tokio::time::sleep`, so tests run under
//! tokio's paused clock, and is recorded as a [`Call`].

use crate::errors::AwsError;
use crate::reads::{
    ALARM_HISTORY_PAGE, ALARM_HISTORY_PAGES, ALARM_STATES_PAGES, ALARMS_PAGE, AccountsPage, AwsReads, METRIC_DATA_PAGES, METRIC_DATA_QUERIES, ORG_PATH_DEPTH, OrgAccount, Organization,
};
use chrono::{DateTime, Utc};
use orgwatch_core::controls;
use orgwatch_core::facts::{
    Alarm, AlarmHistory, AlarmHistoryItem, Alarms, BasicEventSelector, CompositeAlarm, Dimension, EventSelectors, HistoryKind, Key, KeyMetadata, LogGroupRef, MetricDataQuery, MetricFilter,
    MetricTransformation, MetricValues, Observed, Subscription, Topic, Trail, TrailStatus, arn_account, default_topic_policy,
};
use orgwatch_core::Unobserved;
use orgwatch_core::remediate::grant;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant;

/// The audit role's name in the messages of a refused `AssumeRole`.
const ROLE_NAME: &str = "OrgwatchAudit";
/// The log group [`MemoryAccount::deploy_chain`]'s trail delivers to.
pub const LOG_GROUP: &str = "CloudTrail/Default";
/// The namespace of [`MemoryAccount::deploy_chain`]'s metrics.
pub const NAMESPACE: &str = "CISBenchmark";
/// The id of a [`MemoryOrg`]'s organization unless [`MemoryOrg::with_organization_id`] says
/// otherwise.
pub const ORGANIZATION_ID: &str = "o-a1b2c3d4e5";
/// The id of a [`MemoryOrg`]'s root.
pub const ROOT_ID: &str = "r-a1b2";

/// One call made to a [`MemoryOrg`].
#[derive(Clone, Debug)]
pub struct Call {
    /// Whose identity made it: the session's account for a chain read, the target account for
    /// `sts:AssumeRole`, the management account for an organization call.
    pub account_id: String,
    /// As IAM names it, e.g. `cloudtrail:GetTrailStatus`.
    pub operation: &'static str,
    /// The ARN or name read (a role, trail or topic ARN, a log group name, an alarm name, `*` for
    /// every alarm's history, the region for DescribeAlarms and GetMetricData); empty for calls
    /// that name nothing (DescribeTrails, the organization calls).
    pub target: String,
    pub started: Instant,
}

/// A metric of a [`MemoryAccount`], as CloudWatch tells metrics apart: its region, namespace,
/// name and dimensions.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct MetricKey {
    pub region: String,
    pub namespace: String,
    pub metric_name: String,
    /// Sorted by name, so the same dimensions named in another order are the same metric.
    pub dimensions: Vec<Dimension>,
}

impl MetricKey {
    pub fn new(region: &str, namespace: &str, metric_name: &str, dimensions: &[Dimension]) -> Self {
        let mut dimensions = dimensions.to_vec();
        dimensions.sort();
        MetricKey { region: region.to_owned(), namespace: namespace.to_owned(), metric_name: metric_name.to_owned(), dimensions }
    }
}

/// Datapoints of one `GetMetricData` page at most (AWS's 100,800).
const METRIC_DATA_PAGE_POINTS: usize = 100_800;

/// A statistic the in-memory organization computes.
#[derive(Clone, Copy)]
enum Statistic {
    Sum,
    Average,
    SampleCount,
    Minimum,
    Maximum,
}

impl Statistic {
    /// The five basic statistics by name. A percentile (`p99`, `p99.9`) is answered as the
    /// period's `Maximum`: never below the percentile, and the same when the period holds few
    /// values (for `p99`, fewer than a hundred). Other extended statistics (trimmed means,
    /// `PR(…)`, …) are not computed: `None`.
    fn parse(stat: &str) -> Option<Statistic> {
        Some(match stat {
            "Sum" => Statistic::Sum,
            "Average" => Statistic::Average,
            "SampleCount" => Statistic::SampleCount,
            "Minimum" => Statistic::Minimum,
            "Maximum" => Statistic::Maximum,
            _ if stat.strip_prefix('p').is_some_and(|p| p.parse::<f64>().is_ok_and(|p| (0.0..=100.0).contains(&p))) => Statistic::Maximum,
            _ => return None,
        })
    }

    /// The statistic of a period's values (never empty).
    fn of(self, values: &[f64]) -> f64 {
        match self {
            Statistic::Sum => values.iter().sum(),
            Statistic::Average => values.iter().sum::<f64>() / values.len() as f64,
            Statistic::SampleCount => values.len() as f64,
            Statistic::Minimum => values.iter().copied().fold(f64::INFINITY, f64::min),
            Statistic::Maximum => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// What GetMetricData answers for `query` from `datapoints`: the statistic of the datapoints in
/// each period of `period_seconds` from `start` (the period's timestamp is its start), up to
/// `end` (excluded), periods without datapoints left out, oldest first. `index` is the query's
/// place in the call, for the error.
fn aggregate(datapoints: &[(DateTime<Utc>, f64)], query: &MetricDataQuery, index: usize, start: DateTime<Utc>, end: DateTime<Utc>) -> Observed<MetricValues> {
    let invalid = |what: String| Unobserved::api_error("cloudwatch:GetMetricData", format!("InvalidParameterValue: {what}"));
    if query.period_seconds <= 0 {
        return Err(invalid(format!("The parameter MetricDataQueries.member.{}.MetricStat.Period must be greater than 0.", index + 1)));
    }
    let Some(statistic) = Statistic::parse(&query.stat) else {
        return Err(invalid(format!("The statistic {:?} of MetricDataQueries.member.{} is not one the in-memory organization computes.", query.stat, index + 1)));
    };
    let period = i64::from(query.period_seconds);
    let mut periods: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    for (time, value) in datapoints.iter().filter(|(time, _)| *time >= start && *time < end) {
        periods.entry((*time - start).num_seconds().div_euclid(period)).or_default().push(*value);
    }
    let (timestamps, values) = periods.into_iter().map(|(n, values)| (start + chrono::Duration::seconds(n * period), statistic.of(&values))).unzip();
    Ok(MetricValues { timestamps, values })
}

/// An SNS topic of a [`MemoryAccount`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MemoryTopic {
    pub kms_master_key_id: Option<String>,
    /// The access policy's text; `None` is the policy SNS gives a topic created without one
    /// ([`default_topic_policy`]).
    pub policy: Option<String>,
    pub subscriptions: Vec<Subscription>,
}

/// A KMS key of a [`MemoryAccount`]; [`MemoryAccount::add_key`] makes one.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryKey {
    pub region: String,
    pub key_id: String,
    /// The aliases that name it in its region, `alias/…`.
    pub aliases: Vec<String>,
    /// `KeyManager`: `CUSTOMER` or `AWS`.
    pub manager: String,
    /// `KeyState`: `Enabled`, `Disabled`, `PendingDeletion`, …
    pub state: String,
    /// The text of its `default` key policy.
    pub policy: String,
}

/// The key policy KMS gives a key created without one: the account's IAM decides, and no
/// service principal is admitted.
pub fn default_key_policy(account_id: &str) -> String {
    grant::default_key_policy("aws", account_id).to_string()
}

/// [`default_key_policy`] with the statement the SNS developer guide gives for alarms: CloudWatch
/// may use the key to publish to a topic it encrypts.
pub fn cloudwatch_key_policy(account_id: &str) -> String {
    let policy = grant::default_key_policy("aws", account_id);
    grant::merged(&policy, grant::key_statement()).unwrap_or(policy).to_string()
}

/// SNS's default policy of `topic_arn` with a statement that lets CloudWatch publish for the
/// alarms of every account of `organization_id` (`aws:SourceOrgID`), as a central topic needs.
pub fn organization_topic_policy(topic_arn: &str, organization_id: &str) -> String {
    let owner = arn_account(topic_arn).unwrap_or_default();
    let mut policy: serde_json::Value = serde_json::from_str(&default_topic_policy(topic_arn, owner)).expect("SNS's default policy is JSON");
    if let Some(statements) = policy.get_mut("Statement").and_then(serde_json::Value::as_array_mut) {
        statements.push(serde_json::json!({
            "Sid": "AllowOrganizationAlarms",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {"StringEquals": {"aws:SourceOrgID": organization_id}}
        }));
    }
    policy.to_string()
}

/// One account of a [`MemoryOrg`]: what its APIs answer. Build it with
/// [`MemoryAccount::deploy_chain`], [`MemoryAccount::add_topic`], [`MemoryAccount::add_key`],
/// [`MemoryAccount::record_notification`], [`MemoryAccount::record_state_change`] and
/// [`MemoryAccount::put_metric_data`], then break it by changing the fields.
#[derive(Clone, Debug)]
pub struct MemoryAccount {
    pub name: String,
    /// `ACTIVE` unless set otherwise; ListAccounts shows it.
    pub state: String,
    /// Whether the audit role can be assumed.
    pub assumable: bool,
    pub trails: Vec<Trail>,
    /// GetTrailStatus, by trail ARN; a trail of the account without an entry is not logging.
    pub trail_status: BTreeMap<String, TrailStatus>,
    /// GetEventSelectors, by trail ARN; a trail without an entry has never been given selectors.
    pub event_selectors: BTreeMap<String, EventSelectors>,
    /// The log groups that exist, by (region, log group name), with their metric filters.
    pub metric_filters: BTreeMap<(String, String), Vec<MetricFilter>>,
    /// (region, alarm).
    pub alarms: Vec<(String, Alarm)>,
    /// (region, composite alarm).
    pub composite_alarms: Vec<(String, CompositeAlarm)>,
    /// By topic ARN.
    pub topics: BTreeMap<String, MemoryTopic>,
    /// By key ARN.
    pub keys: BTreeMap<String, MemoryKey>,
    /// The items of each alarm's history (`Action`, `StateUpdate`), by (region, alarm name), in
    /// any order.
    pub alarm_history: BTreeMap<(String, String), Vec<AlarmHistoryItem>>,
    /// The datapoints of each metric ([`MemoryAccount::put_metric_data`]), in any order, by
    /// [`MetricKey`]: what GetMetricData aggregates. A metric not here has no data.
    pub metric_data: BTreeMap<MetricKey, Vec<(DateTime<Utc>, f64)>>,
    /// The OU the account is in ([`MemoryOrg::add_ou`]); `None` is the root.
    pub parent: Option<String>,
}


impl MemoryAccount {
    fn new(name: &str) -> Self {
        MemoryAccount {
            name: name.to_owned(),
            state: "ACTIVE".to_owned(),
            assumable: true,
            trails: Vec::new(),
            trail_status: BTreeMap::new(),
            event_selectors: BTreeMap::new(),
            metric_filters: BTreeMap::new(),
            alarms: Vec::new(),
            composite_alarms: Vec::new(),
            topics: BTreeMap::new(),
            keys: BTreeMap::new(),
            alarm_history: BTreeMap::new(),
            metric_data: BTreeMap::new(),
            parent: None,
        }
    }

    /// Deploys a compliant chain for `control_ids` in `account_id` (this account's id):
    /// a logging multi-region trail `main` homed in `region` with AWS's default selectors,
    /// delivering to the log group [`LOG_GROUP`]; per control, a metric filter named after the
    /// control with its first published pattern (metric [`orgwatch_core::controls::metric_name`] in [`NAMESPACE`], value
    /// `1`) and an alarm `<id>-alarm` (`Sum >= 1`, actions enabled) notifying `topic_arn`, or,
    /// when `None`, the account's own `security-alerts` topic, created with one confirmed email
    /// subscription. Deploying again replaces what has the same name.
    ///
    /// Panics on an unknown control id.
    pub fn deploy_chain(&mut self, account_id: &str, region: &str, control_ids: &[&str], topic_arn: Option<&str>, organization_trail: bool) -> &mut Self {
        let trail_arn = format!("arn:aws:cloudtrail:{region}:{account_id}:trail/main");
        self.trails.retain(|t| t.arn != trail_arn);
        self.trails.push(Trail {
            arn: trail_arn.clone(),
            name: "main".to_owned(),
            home_region: region.to_owned(),
            multi_region: true,
            organization_trail,
            log_group_arn: Some(format!("arn:aws:logs:{region}:{account_id}:log-group:{LOG_GROUP}:*")),
        });
        self.trail_status.insert(trail_arn.clone(), TrailStatus { is_logging: true, latest_cloudwatch_logs_delivery_error: None });
        self.event_selectors.insert(
            trail_arn,
            EventSelectors { basic: vec![BasicEventSelector { read_write_type: Some("All".to_owned()), include_management_events: Some(true) }], advanced: Vec::new() },
        );

        let topic_arn = match topic_arn {
            Some(arn) => arn.to_owned(),
            None => {
                let arn = format!("arn:aws:sns:{region}:{account_id}:security-alerts");
                if !self.topics.contains_key(&arn) {
                    self.add_topic(account_id, region, "security-alerts", true);
                }
                arn
            }
        };

        let filters = self.metric_filters.entry((region.to_owned(), LOG_GROUP.to_owned())).or_default();
        for id in control_ids {
            let control = controls::find(id).unwrap_or_else(|| panic!("unknown control {id:?}"));
            let pattern = control.published_patterns.first().unwrap_or_else(|| panic!("control {id:?} has no published pattern")).pattern.clone();
            let metric = orgwatch_core::controls::metric_name(id);
            filters.retain(|f| f.name != *id);
            filters.push(MetricFilter {
                name: (*id).to_owned(),
                pattern,
                transformations: vec![MetricTransformation { metric_name: metric.clone(), namespace: NAMESPACE.to_owned(), value: "1".to_owned(), dimensions: Vec::new() }],
                ..MetricFilter::default()
            });
            let alarm_name = format!("{id}-alarm");
            self.alarms.retain(|(r, a)| !(r == region && a.name == alarm_name));
            self.alarms.push((
                region.to_owned(),
                Alarm {
                    arn: format!("arn:aws:cloudwatch:{region}:{account_id}:alarm:{alarm_name}"),
                    name: alarm_name,
                    namespace: Some(NAMESPACE.to_owned()),
                    metric_name: Some(metric),
                    statistic: Some("Sum".to_owned()),
                    extended_statistic: None,
                    comparison_operator: Some("GreaterThanOrEqualToThreshold".to_owned()),
                    threshold: Some(1.0),
                    actions_enabled: true,
                    alarm_actions: vec![topic_arn.clone()],
                    period: Some(300),
                    evaluation_periods: Some(1),
                    treat_missing_data: Some("notBreaching".to_owned()),
                    ..Alarm::default()
                },
            ));
        }
        self
    }

    /// Creates (or replaces) the topic `name` of `account_id` (this account's id) in `region`
    /// with one email subscription, confirmed (a subscription ARN) or `PendingConfirmation`.
    /// Returns the topic's ARN.
    pub fn add_topic(&mut self, account_id: &str, region: &str, name: &str, confirmed: bool) -> String {
        let arn = format!("arn:aws:sns:{region}:{account_id}:{name}");
        let subscription_arn = if confirmed { format!("{arn}:0b7e6a52-4d1c-4f3e-9a8b-5c2d1e0f7a31") } else { "PendingConfirmation".to_owned() };
        let topic = MemoryTopic { kms_master_key_id: None, policy: None, subscriptions: vec![Subscription { subscription_arn, protocol: "email".to_owned() }] };
        self.topics.insert(arn.clone(), topic);
        arn
    }

    /// Creates (or replaces) the customer-managed, enabled key `key_id` of `account_id` (this
    /// account's id) in `region`, named also by `aliases` (`alias/…`), with KMS's default key
    /// policy ([`default_key_policy`]). Returns the key's ARN.
    pub fn add_key(&mut self, account_id: &str, region: &str, key_id: &str, aliases: &[&str]) -> String {
        let arn = format!("arn:aws:kms:{region}:{account_id}:key/{key_id}");
        let key = MemoryKey {
            region: region.to_owned(),
            key_id: key_id.to_owned(),
            aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
            manager: "CUSTOMER".to_owned(),
            state: "Enabled".to_owned(),
            policy: default_key_policy(account_id),
        };
        self.keys.insert(arn.clone(), key);
        arn
    }

    /// Adds an `Action` item to the history of alarm `alarm_name` in `region`, as CloudWatch
    /// writes one for a notification to `topic_arn` at `at`: succeeded, or failed with `error`.
    pub fn record_notification(&mut self, region: &str, alarm_name: &str, topic_arn: &str, at: DateTime<Utc>, error: Option<&str>) -> &mut Self {
        let (summary, mut data) = match error {
            None => (format!("Successfully executed action {topic_arn}"), serde_json::json!({"actionState": "Succeeded"})),
            Some(error) => (format!("Failed to execute action {topic_arn}"), serde_json::json!({"actionState": "Failed", "error": error})),
        };
        data["stateUpdateTimestamp"] = serde_json::json!(at.timestamp_millis());
        data["notificationResource"] = serde_json::json!(topic_arn);
        let item = AlarmHistoryItem { alarm_name: alarm_name.to_owned(), kind: HistoryKind::Action, timestamp: at, summary, data: data.to_string() };
        self.alarm_history.entry((region.to_owned(), alarm_name.to_owned())).or_default().push(item);
        self
    }

    /// Adds a `StateUpdate` item to the history of alarm `alarm_name` in `region`, as CloudWatch
    /// writes one when the alarm's state went from `from` to `to` (`OK`, `ALARM`,
    /// `INSUFFICIENT_DATA`) at `at`.
    pub fn record_state_change(&mut self, region: &str, alarm_name: &str, from: &str, to: &str, at: DateTime<Utc>) -> &mut Self {
        let data = serde_json::json!({"version": "1.0", "oldState": {"stateValue": from}, "newState": {"stateValue": to}});
        let summary = format!("Alarm updated from {from} to {to}");
        let item = AlarmHistoryItem { alarm_name: alarm_name.to_owned(), kind: HistoryKind::StateUpdate, timestamp: at, summary, data: data.to_string() };
        self.alarm_history.entry((region.to_owned(), alarm_name.to_owned())).or_default().push(item);
        self
    }

    /// Adds datapoints (time, value) of the metric `namespace`/`metric_name` with `dimensions`
    /// (in any order) in `region`, as `cloudwatch:PutMetricData` would: GetMetricData
    /// aggregates them per period.
    pub fn put_metric_data(&mut self, region: &str, namespace: &str, metric_name: &str, dimensions: &[Dimension], datapoints: &[(DateTime<Utc>, f64)]) -> &mut Self {
        let key = MetricKey::new(region, namespace, metric_name, dimensions);
        self.metric_data.entry(key).or_default().extend_from_slice(datapoints);
        self
    }
}

/// Accounts with a call in flight, and the most seen at once.
#[derive(Default)]
struct InFlight {
    calls_by_account: HashMap<String, usize>,
    max_accounts: usize,
}

/// Counts an account in flight until dropped (when the call's latency is over, or the call is
/// abandoned).
struct InFlightGuard<'a> {
    in_flight: &'a Mutex<InFlight>,
    account_id: String,
}

impl<'a> InFlightGuard<'a> {
    fn enter(in_flight: &'a Mutex<InFlight>, account_id: &str) -> Self {
        let mut state = lock(in_flight);
        *state.calls_by_account.entry(account_id.to_owned()).or_default() += 1;
        state.max_accounts = state.max_accounts.max(state.calls_by_account.len());
        InFlightGuard { in_flight, account_id: account_id.to_owned() }
    }
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        let mut state = lock(self.in_flight);
        if let Some(calls) = state.calls_by_account.get_mut(&self.account_id) {
            *calls -= 1;
            if *calls == 0 {
                state.calls_by_account.remove(&self.account_id);
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// See [`MemoryOrg::with_observer`].
type Observer = Box<dyn Fn(&Call) + Send + Sync>;

/// An in-memory organization; see the module documentation. Set it up, then share it as
/// `&MemoryOrg` between the scan's tasks; only the records change during a scan.
pub struct MemoryOrg {
    management_account_id: String,
    organization_id: String,
    accounts: BTreeMap<String, MemoryAccount>,
    /// Each OU's parent OU; `None` is the root.
    ous: BTreeMap<String, Option<String>>,
    latency: Duration,
    calls: Mutex<Vec<Call>>,
    in_flight: Mutex<InFlight>,
    /// Called with each call as it starts: lets a test act at a chosen point of a scan (send
    /// a shutdown, say) instead of at a chosen time.
    observer: Option<Observer>,
}

impl MemoryOrg {
    /// An organization whose only account is its management account, named `management`.
    pub fn new(management_account_id: &str) -> MemoryOrg {
        let mut accounts = BTreeMap::new();
        accounts.insert(management_account_id.to_owned(), MemoryAccount::new("management"));
        MemoryOrg {
            management_account_id: management_account_id.to_owned(),
            organization_id: ORGANIZATION_ID.to_owned(),
            accounts,
            ous: BTreeMap::new(),
            latency: Duration::ZERO,
            calls: Mutex::new(Vec::new()),
            in_flight: Mutex::new(InFlight::default()),
            observer: None,
        }
    }

    /// The organization's id is `id` (`o-…`).
    pub fn with_organization_id(mut self, id: &str) -> Self {
        self.organization_id = id.to_owned();
        self
    }

    pub fn organization_id(&self) -> &str {
        &self.organization_id
    }

    /// Adds the OU `id` (`ou-…`) under `parent` (an OU added before; `None` is the root). An
    /// account joins it by [`MemoryAccount::parent`]. Panics on an unknown parent.
    pub fn add_ou(&mut self, id: &str, parent: Option<&str>) -> &mut Self {
        if let Some(parent) = parent {
            assert!(self.ous.contains_key(parent), "OU {parent} is not in the organization");
        }
        self.ous.insert(id.to_owned(), parent.map(str::to_owned));
        self
    }

    /// Sets the policy of `topic_arn` to [`organization_topic_policy`]: CloudWatch may publish
    /// for every account's alarms. Panics if the topic does not exist.
    pub fn admit_organization_alarms(&mut self, topic_arn: &str) -> &mut Self {
        let policy = organization_topic_policy(topic_arn, &self.organization_id);
        let owner = arn_account(topic_arn).unwrap_or_default().to_owned();
        let topic = self.account_mut(&owner).topics.get_mut(topic_arn).unwrap_or_else(|| panic!("topic {topic_arn} does not exist"));
        topic.policy = Some(policy);
        self
    }

    /// Calls `observer` with every call as it starts.
    pub fn with_observer(mut self, observer: impl Fn(&Call) + Send + Sync + 'static) -> Self {
        self.observer = Some(Box::new(observer));
        self
    }

    /// Every call, organization calls included, takes `latency` (a `tokio::time::sleep`).
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Adds an ACTIVE account whose audit role can be assumed; adding an id again replaces it.
    pub fn add_account(&mut self, id: &str, name: &str) -> &mut MemoryAccount {
        self.accounts.insert(id.to_owned(), MemoryAccount::new(name));
        self.accounts.get_mut(id).expect("just inserted")
    }

    /// The account `id`; panics if it is not in the organization.
    pub fn account_mut(&mut self, id: &str) -> &mut MemoryAccount {
        self.accounts.get_mut(id).unwrap_or_else(|| panic!("account {id} is not in the organization"))
    }

    /// The account `id`, if it is in the organization.
    pub fn account(&self, id: &str) -> Option<&MemoryAccount> {
        self.accounts.get(id)
    }

    pub fn management_account_id(&self) -> &str {
        &self.management_account_id
    }

    /// Every call made so far, in the order they started.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.calls).clone()
    }

    /// How many calls of `operation` (IAM name) were made with `account_id`'s identity.
    pub fn call_count(&self, account_id: &str, operation: &str) -> usize {
        lock(&self.calls).iter().filter(|c| c.account_id == account_id && c.operation == operation).count()
    }

    /// The largest number of distinct accounts that had a call in flight at the same time,
    /// counting the session's account of a chain read and the target of an `AssumeRole` from
    /// the start of the call until its latency is over. Organization calls do not count.
    pub fn max_accounts_in_flight(&self) -> usize {
        lock(&self.in_flight).max_accounts
    }

    /// Records a call and spends the latency. An account call counts in flight meanwhile.
    async fn call(&self, account_id: &str, operation: &'static str, target: &str, account_call: bool) {
        let call = Call { account_id: account_id.to_owned(), operation, target: target.to_owned(), started: Instant::now() };
        if let Some(observer) = &self.observer {
            observer(&call);
        }
        lock(&self.calls).push(call);
        let guard = account_call.then(|| InFlightGuard::enter(&self.in_flight, account_id));
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        drop(guard);
    }

    /// The session's account. `assume_role` only makes sessions of accounts of the
    /// organization; a session made up by hand is refused like an invalid token.
    fn session_account(&self, session: &str, operation: &str) -> Result<&MemoryAccount, Unobserved> {
        self.accounts
            .get(session)
            .ok_or_else(|| Unobserved::access_denied(operation, "UnrecognizedClientException: The security token included in the request is invalid."))
    }

    fn owned_trail(&self, session: &str, operation: &str, trail_arn: &str) -> Result<&MemoryAccount, Unobserved> {
        let account = self.session_account(session, operation)?;
        if arn_account(trail_arn) == Some(session) && account.trails.iter().any(|t| t.arn == trail_arn) {
            Ok(account)
        } else {
            Err(Unobserved::api_error(operation, format!("TrailNotFoundException: Unknown trail: {trail_arn} for the user: {session}")))
        }
    }

    /// SNS's default topic policy: only the owner may read a topic.
    fn owned_topic(&self, session: &str, operation: &str, topic_arn: &str) -> Result<Option<&MemoryTopic>, Unobserved> {
        if arn_account(topic_arn) != Some(session) {
            let action = operation.strip_prefix("sns:").unwrap_or(operation);
            return Err(Unobserved::access_denied(
                operation,
                format!(
                    "AuthorizationError: User: arn:aws:sts::{session}:assumed-role/{ROLE_NAME}/orgwatch is not authorized to perform: \
                     SNS:{action} on resource: {topic_arn} because no resource-based policy allows the SNS:{action} action"
                ),
            ));
        }
        Ok(self.session_account(session, operation)?.topics.get(topic_arn))
    }

    /// The key `key_id` names among the session's own keys in `region`: an alias (`alias/…`, or
    /// its ARN) when `aliases` says so, else a key id or key ARN. An ARN of another account is
    /// refused; one of another region, or a name that resolves to nothing, is `None`.
    fn find_key(&self, session: &str, operation: &str, region: &str, key_id: &str, aliases: bool) -> Result<Option<(&String, &MemoryKey)>, Unobserved> {
        let account = self.session_account(session, operation)?;
        let (name_region, resource) = if key_id.starts_with("arn:") {
            let parts: Vec<&str> = key_id.splitn(6, ':').collect();
            let [_, _, service, name_region, owner, resource] = parts[..] else { return Ok(None) };
            if service != "kms" {
                return Ok(None);
            }
            if owner != session {
                let action = operation.strip_prefix("kms:").unwrap_or(operation);
                return Err(Unobserved::access_denied(
                    operation,
                    format!(
                        "AccessDeniedException: User: arn:aws:sts::{session}:assumed-role/{ROLE_NAME}/orgwatch is not authorized to perform: \
                         kms:{action} on resource: {key_id} because no resource-based policy allows the kms:{action} action"
                    ),
                ));
            }
            (name_region, resource.strip_prefix("key/").unwrap_or(resource))
        } else {
            (region, key_id)
        };
        if name_region != region {
            return Ok(None);
        }
        let by_alias = resource.starts_with("alias/");
        if by_alias && !aliases {
            return Ok(None);
        }
        Ok(account.keys.iter().find(|(_, key)| key.region == region && if by_alias { key.aliases.iter().any(|a| a == resource) } else { key.key_id == resource }))
    }
}

/// Accounts a page of `ListAccounts` holds, as AWS's largest page.
pub const ACCOUNTS_PAGE: usize = 20;

impl AwsReads for MemoryOrg {
    /// The account whose audit role was assumed.
    type Session = String;

    async fn describe_organization(&self) -> Result<Organization, AwsError> {
        self.call(&self.management_account_id, "organizations:DescribeOrganization", "", false).await;
        Ok(Organization { id: Some(self.organization_id.clone()), management_account_id: Some(self.management_account_id.clone()) })
    }

    /// Pages of [`ACCOUNTS_PAGE`] accounts in id order; the token is the last id of the page.
    async fn list_accounts_page(&self, next_token: Option<String>) -> Result<AccountsPage, AwsError> {
        self.call(&self.management_account_id, "organizations:ListAccounts", "", false).await;
        let after = next_token.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        let mut page: Vec<OrgAccount> = self
            .accounts
            .range::<str, _>((after, Bound::Unbounded))
            .take(ACCOUNTS_PAGE + 1)
            .map(|(id, a)| OrgAccount { id: id.clone(), name: a.name.clone(), state: a.state.clone() })
            .collect();
        let more = page.len() > ACCOUNTS_PAGE;
        page.truncate(ACCOUNTS_PAGE);
        let next_token = if more { page.last().map(|a| a.id.clone()) } else { None };
        Ok(AccountsPage { accounts: page, next_token })
    }

    async fn assume_role(&self, account_id: &str) -> Result<String, String> {
        let role_arn = format!("arn:aws:iam::{account_id}:role/{ROLE_NAME}");
        self.call(account_id, "sts:AssumeRole", &role_arn, true).await;
        match self.accounts.get(account_id) {
            Some(account) if account.assumable => Ok(account_id.to_owned()),
            _ => Err(format!(
                "{role_arn}: AccessDenied: User: arn:aws:sts::{}:assumed-role/orgwatch/orgwatch is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                self.management_account_id
            )),
        }
    }

    async fn describe_trails(&self, session: &String, region: &str) -> Observed<Vec<Trail>> {
        self.call(session, "cloudtrail:DescribeTrails", "", true).await;
        let visible = |t: &&Trail| t.multi_region || t.home_region == region;
        let mut trails: Vec<Trail> = self.session_account(session, "cloudtrail:DescribeTrails")?.trails.iter().filter(visible).cloned().collect();
        if *session != self.management_account_id
            && let Some(management) = self.accounts.get(&self.management_account_id)
        {
            trails.extend(management.trails.iter().filter(|t| t.organization_trail).filter(visible).cloned());
        }
        Ok(trails)
    }

    async fn get_trail_status(&self, session: &String, _region: &str, trail_arn: &str) -> Observed<TrailStatus> {
        self.call(session, "cloudtrail:GetTrailStatus", trail_arn, true).await;
        let account = self.owned_trail(session, "cloudtrail:GetTrailStatus", trail_arn)?;
        Ok(account.trail_status.get(trail_arn).cloned().unwrap_or_default())
    }

    async fn get_event_selectors(&self, session: &String, _region: &str, trail_arn: &str) -> Observed<EventSelectors> {
        self.call(session, "cloudtrail:GetEventSelectors", trail_arn, true).await;
        let account = self.owned_trail(session, "cloudtrail:GetEventSelectors", trail_arn)?;
        Ok(account.event_selectors.get(trail_arn).cloned().unwrap_or_default())
    }

    async fn describe_metric_filters(&self, session: &String, group: &LogGroupRef) -> Observed<Vec<MetricFilter>> {
        self.call(session, "logs:DescribeMetricFilters", &group.name, true).await;
        // The name is looked up in the caller's account, whatever account the request names.
        match self.session_account(session, "logs:DescribeMetricFilters")?.metric_filters.get(&(group.region.clone(), group.name.clone())) {
            Some(filters) => Ok(filters.clone()),
            None => Err(Unobserved::api_error("logs:DescribeMetricFilters", "ResourceNotFoundException: The specified log group does not exist.")),
        }
    }

    async fn describe_alarms(&self, session: &String, region: &str) -> Observed<Alarms> {
        let alarms = self.session_account(session, "cloudwatch:DescribeAlarms").map(|account| {
            let mut metric: Vec<Alarm> = account.alarms.iter().filter(|(r, _)| r == region).map(|(_, a)| a.clone()).collect();
            let mut composite: Vec<CompositeAlarm> = account.composite_alarms.iter().filter(|(r, _)| r == region).map(|(_, a)| a.clone()).collect();
            metric.sort_by(|a, b| a.name.cmp(&b.name));
            composite.sort_by(|a, b| a.name.cmp(&b.name));
            Alarms { metric, composite }
        });
        // One call a page, the first even when there is nothing to answer.
        let pages = alarms.as_ref().map_or(1, |a| (a.metric.len() + a.composite.len()).div_ceil(ALARMS_PAGE).max(1));
        for _ in 0..pages {
            self.call(session, "cloudwatch:DescribeAlarms", region, true).await;
        }
        alarms
    }

    async fn get_topic_attributes(&self, session: &String, _region: &str, topic_arn: &str) -> Observed<Topic> {
        self.call(session, "sns:GetTopicAttributes", topic_arn, true).await;
        Ok(match self.owned_topic(session, "sns:GetTopicAttributes", topic_arn)? {
            Some(topic) => Topic::Found {
                kms_master_key_id: topic.kms_master_key_id.clone(),
                policy: Some(topic.policy.clone().unwrap_or_else(|| default_topic_policy(topic_arn, session))),
            },
            None => Topic::NotFound,
        })
    }

    async fn list_subscriptions_by_topic(&self, session: &String, _region: &str, topic_arn: &str) -> Observed<Vec<Subscription>> {
        self.call(session, "sns:ListSubscriptionsByTopic", topic_arn, true).await;
        match self.owned_topic(session, "sns:ListSubscriptionsByTopic", topic_arn)? {
            Some(topic) => Ok(topic.subscriptions.clone()),
            None => Err(Unobserved::api_error("sns:ListSubscriptionsByTopic", "NotFound: Topic does not exist")),
        }
    }

    async fn describe_key(&self, session: &String, region: &str, key_id: &str) -> Observed<Key> {
        self.call(session, "kms:DescribeKey", key_id, true).await;
        Ok(match self.find_key(session, "kms:DescribeKey", region, key_id, true)? {
            Some((arn, key)) => {
                Key::Found(KeyMetadata { arn: arn.clone(), key_id: key.key_id.clone(), manager: key.manager.clone(), state: key.state.clone() })
            }
            None => Key::NotFound,
        })
    }

    async fn get_key_policy(&self, session: &String, region: &str, key_id: &str) -> Observed<String> {
        self.call(session, "kms:GetKeyPolicy", key_id, true).await;
        match self.find_key(session, "kms:GetKeyPolicy", region, key_id, false)? {
            Some((_, key)) => Ok(key.policy.clone()),
            None => Err(Unobserved::api_error("kms:GetKeyPolicy", format!("NotFoundException: Invalid keyId {key_id}"))),
        }
    }

    async fn describe_alarm_history(&self, session: &String, region: &str, alarm_name: Option<&str>, every_kind: bool) -> Observed<AlarmHistory> {
        let mut items = self.session_account(session, "cloudwatch:DescribeAlarmHistory").map(|account| {
            account
                .alarm_history
                .iter()
                .filter(|((r, name), _)| r == region && alarm_name.is_none_or(|n| n == name))
                .flat_map(|(_, items)| items.iter().filter(|i| every_kind || i.kind.is_action()).cloned())
                .collect::<Vec<_>>()
        });
        if let Ok(items) = &mut items {
            items.sort_by_key(|item| std::cmp::Reverse(item.timestamp));
        }
        let most = if alarm_name.is_some() { ALARM_HISTORY_PAGES } else { 1 };
        // One call a page, the first even when there is nothing to answer.
        let pages = items.as_ref().map_or(1, |items| items.len().div_ceil(ALARM_HISTORY_PAGE).clamp(1, most));
        for _ in 0..pages {
            self.call(session, "cloudwatch:DescribeAlarmHistory", alarm_name.unwrap_or("*"), true).await;
        }
        let mut items = items?;
        let complete = items.len() <= ALARM_HISTORY_PAGE * most;
        items.truncate(ALARM_HISTORY_PAGE * most);
        Ok(AlarmHistory { items, complete })
    }

    async fn describe_alarm_states(&self, session: &String, region: &str, alarm_name: &str, start: DateTime<Utc>, end: DateTime<Utc>) -> Observed<AlarmHistory> {
        let mut items = self.session_account(session, "cloudwatch:DescribeAlarmHistory").map(|account| {
            account
                .alarm_history
                .get(&(region.to_owned(), alarm_name.to_owned()))
                .map(|items| items.iter().filter(|i| i.kind == HistoryKind::StateUpdate && i.timestamp >= start && i.timestamp <= end).cloned().collect::<Vec<_>>())
                .unwrap_or_default()
        });
        if let Ok(items) = &mut items {
            items.sort_by_key(|item| std::cmp::Reverse(item.timestamp));
        }
        let pages = items.as_ref().map_or(1, |items| items.len().div_ceil(ALARM_HISTORY_PAGE).clamp(1, ALARM_STATES_PAGES));
        for _ in 0..pages {
            self.call(session, "cloudwatch:DescribeAlarmHistory", alarm_name, true).await;
        }
        let mut items = items?;
        let complete = items.len() <= ALARM_HISTORY_PAGE * ALARM_STATES_PAGES;
        items.truncate(ALARM_HISTORY_PAGE * ALARM_STATES_PAGES);
        Ok(AlarmHistory { items, complete })
    }

    async fn get_metric_data(&self, session: &String, region: &str, start: DateTime<Utc>, end: DateTime<Utc>, queries: &[MetricDataQuery]) -> Observed<Vec<MetricValues>> {
        let answer = self.session_account(session, "cloudwatch:GetMetricData").and_then(|account| {
            if start >= end {
                return Err(Unobserved::api_error("cloudwatch:GetMetricData", "InvalidParameterValue: The parameter StartTime must be less than the parameter EndTime."));
            }
            let no_data = Vec::new();
            let mut answer = Vec::with_capacity(queries.len());
            for batch in queries.chunks(METRIC_DATA_QUERIES) {
                for (index, query) in batch.iter().enumerate() {
                    let datapoints = account.metric_data.get(&MetricKey::new(region, &query.namespace, &query.metric_name, &query.dimensions)).unwrap_or(&no_data);
                    answer.push(aggregate(datapoints, query, index, start, end)?);
                }
            }
            Ok(answer)
        });
        // One call a page of each batch of queries; none for no query.
        let mut pages = Vec::new();
        match &answer {
            Ok(answer) => {
                for batch in answer.chunks(METRIC_DATA_QUERIES) {
                    pages.push(batch.iter().map(|v| v.values.len()).sum::<usize>().div_ceil(METRIC_DATA_PAGE_POINTS).max(1));
                }
            }
            Err(_) => pages.push(1),
        }
        for &batch_pages in &pages {
            for _ in 0..batch_pages.min(METRIC_DATA_PAGES) {
                self.call(session, "cloudwatch:GetMetricData", region, true).await;
            }
            if batch_pages > METRIC_DATA_PAGES {
                return Err(Unobserved::api_error("cloudwatch:GetMetricData", format!("more than {METRIC_DATA_PAGES} pages of values in {region}; orgwatch reads at most that many")));
            }
        }
        answer
    }

    async fn org_path(&self, account_id: &str) -> Observed<String> {
        let not_found = |child: &str| {
            Unobserved::api_error(
                "organizations:ListParents",
                format!("ChildNotFoundException: We can't find an organizational unit (OU) or AWS account with the ChildId {child} that you specified."),
            )
        };
        self.call(&self.management_account_id, "organizations:ListParents", account_id, false).await;
        let mut parent = self.accounts.get(account_id).ok_or_else(|| not_found(account_id))?.parent.clone();
        let mut ous = Vec::new();
        while let Some(ou) = parent {
            if 1 + ous.len() >= ORG_PATH_DEPTH {
                return Err(Unobserved::api_error("organizations:ListParents", format!("no root within {ORG_PATH_DEPTH} levels above account {account_id}")));
            }
            self.call(&self.management_account_id, "organizations:ListParents", &ou, false).await;
            parent = self.ous.get(&ou).ok_or_else(|| not_found(&ou))?.clone();
            ous.push(ou);
        }
        Ok(std::iter::once(self.organization_id.as_str()).chain([ROOT_ID]).chain(ous.iter().rev().map(String::as_str)).map(|id| format!("{id}/")).collect())
    }
}

#[cfg(test)]
mod tests;
