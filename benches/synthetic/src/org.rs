//! The generated organization: which account is what, derived from [`OrgSpec`] alone.
//!
//! An account is one byte ([`Kind`]); everything its APIs answer is derived from its id and its
//! kind when asked (see `profile`), so ten thousand accounts cost ten kilobytes.

use std::collections::BTreeMap;

/// The management account's id.
pub const MANAGEMENT_ACCOUNT_ID: &str = "100000000000";
const MANAGEMENT_NUMBER: u64 = 100_000_000_000;
/// Member ids are `first + j * STRIDE` (a prime), `first` drawn from the seed.
const STRIDE: u64 = 7_919;
/// The region of every trail, log group, alarm and topic.
pub const REGION: &str = "us-east-1";
/// The log group every trail delivers to.
pub const LOG_GROUP: &str = "CloudTrail/Default";
/// The namespace of every metric.
pub const NAMESPACE: &str = "CISBenchmark";
/// The name of every account's own topic and of the security account's central topic.
pub const TOPIC_NAME: &str = "security-alerts";
/// The security account's second central topic, left with SNS's default topic policy.
pub const LEGACY_TOPIC_NAME: &str = "security-alerts-legacy";
/// The alias of every customer-managed key a topic is encrypted with (one key per account).
pub const KEY_ALIAS: &str = "alias/security-alerts";
/// Items DescribeAlarmHistory answers a page at most, as orgwatch asks (`MaxRecords`).
pub const HISTORY_PAGE: usize = 100;
/// Action items in the history of a [`History::Recovered`] alarm: more than a page.
pub const RECOVERED_ITEMS: usize = 130;
/// The days the advice scans of the benchmark measure over (`[advice] window_days`, orgwatch's
/// default); what [`Kind::advice_reads`] counts against.
pub const ADVICE_WINDOW_DAYS: u32 = 7;
/// Organizations smaller than this have no broken or refused accounts.
pub const MIN_ACCOUNTS_WITH_BREAKS: usize = 100;
/// Alarms DescribeAlarms answers a page at most, as orgwatch asks (`MaxRecords`).
pub const ALARMS_PAGE: usize = 100;
/// Unrelated metric alarms of a [`Kind::ManyAlarms`] account (`filler-0001`…, on
/// `Synthetic/Filler0001`…), so that DescribeAlarms takes more than one page.
pub const FILLER_ALARMS: usize = 250;
/// The namespace of the alarms that watch no control's metric.
pub const OTHER_NAMESPACE: &str = "Synthetic";
/// The metric alarm a [`Kind::Composite`] account's composites combine with each control's
/// alarm: `Synthetic/OtherSignal`, `Sum >= 1`, no actions.
pub const OTHER_SIGNAL_ALARM: &str = "other-signal";
/// The metric of [`OTHER_SIGNAL_ALARM`] (and the one a [`MathShape::OtherMetric`] alarm's
/// expression returns).
pub const OTHER_METRIC: &str = "OtherSignal";

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgSpec {
    /// Accounts in total, the management account included (at least 1).
    pub accounts: usize,
    /// Deploy every CIS monitoring control (`orgwatch_core::controls::all()`), or only
    /// `unauthorized-api-calls`.
    pub family: bool,
    pub seed: u64,
}

impl Default for OrgSpec {
    fn default() -> Self {
        OrgSpec { accounts: 200, family: false, seed: 1 }
    }
}

/// How a broken account's chain is broken; the same break applies to the chain of every
/// deployed control, so every control of the account fails for the same reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Break {
    /// No trail at all, and not covered by the organization trail.
    NoMultiRegionTrail,
    /// The trail's `IsLogging` is false.
    TrailNotLogging,
    /// One basic event selector, `ReadOnly`.
    ManagementEventsNotCaptured,
    /// The trail has no `CloudWatchLogsLogGroupArn`.
    TrailNotSendingToCloudwatch,
    /// `LatestCloudWatchLogsDeliveryError` is set.
    CloudwatchDeliveryFailing,
    /// The log group exists and has no metric filters.
    NoMatchingMetricFilter,
    /// The filters publish the value `0`.
    MetricFilterNeverCounts,
    /// No alarm on the metrics.
    NoAlarmOnMetric,
    /// `ActionsEnabled` false.
    AlarmActionsDisabled,
    /// `LessThanThreshold`.
    AlarmCannotFire,
    /// No alarm actions.
    NoAlarmNotification,
    /// The alarms notify the account's `security-alerts` topic, which does not exist.
    SnsTopicNotFound,
    /// The topic's one subscription is `PendingConfirmation`.
    NoConfirmedSubscription,
    /// The topic is encrypted with `alias/aws/sns`.
    SnsTopicUnpublishable,
    /// The alarms notify the security account's [`LEGACY_TOPIC_NAME`] topic, whose policy is
    /// SNS's default one: it admits only the security account's own alarms.
    TopicPolicyDeniesPublish,
    /// The topic is encrypted with a customer-managed key whose policy is only the account-root
    /// delegation (nothing for CloudWatch), named by its alias ARN.
    KeyPolicyDeniesCloudwatchByAlias,
    /// As [`Break::KeyPolicyDeniesCloudwatchByAlias`], the key named by its key ARN.
    KeyPolicyDeniesCloudwatchByArn,
    /// The latest notification to the topic in the alarms' history failed.
    AlarmActionFailed,
    /// The chain holds, and the topic's `AWS/SNS` delivery record shows only failed deliveries
    /// to its subscribers (`NumberOfNotificationsFailed` > 0, `NumberOfNotificationsDelivered`
    /// 0): `SUBSCRIBER_DELIVERY_FAILING` on a scan with advice (gathered, or carried from the
    /// scan that gathered it), `PASS` without.
    SubscriberDeliveryFailing,
}

impl Break {
    pub const ALL: [Break; 19] = [
        Break::NoMultiRegionTrail,
        Break::TrailNotLogging,
        Break::ManagementEventsNotCaptured,
        Break::TrailNotSendingToCloudwatch,
        Break::CloudwatchDeliveryFailing,
        Break::NoMatchingMetricFilter,
        Break::MetricFilterNeverCounts,
        Break::NoAlarmOnMetric,
        Break::AlarmActionsDisabled,
        Break::AlarmCannotFire,
        Break::NoAlarmNotification,
        Break::SnsTopicNotFound,
        Break::NoConfirmedSubscription,
        Break::SnsTopicUnpublishable,
        Break::TopicPolicyDeniesPublish,
        Break::KeyPolicyDeniesCloudwatchByAlias,
        Break::KeyPolicyDeniesCloudwatchByArn,
        Break::AlarmActionFailed,
        Break::SubscriberDeliveryFailing,
    ];

    /// The reason code orgwatch must report, as the contract spells it.
    pub fn reason(self) -> &'static str {
        match self {
            Break::NoMultiRegionTrail => "NO_MULTI_REGION_TRAIL",
            Break::TrailNotLogging => "TRAIL_NOT_LOGGING",
            Break::ManagementEventsNotCaptured => "MANAGEMENT_EVENTS_NOT_CAPTURED",
            Break::TrailNotSendingToCloudwatch => "TRAIL_NOT_SENDING_TO_CLOUDWATCH",
            Break::CloudwatchDeliveryFailing => "CLOUDWATCH_DELIVERY_FAILING",
            Break::NoMatchingMetricFilter => "NO_MATCHING_METRIC_FILTER",
            Break::MetricFilterNeverCounts => "METRIC_FILTER_NEVER_COUNTS",
            Break::NoAlarmOnMetric => "NO_ALARM_ON_METRIC",
            Break::AlarmActionsDisabled => "ALARM_ACTIONS_DISABLED",
            Break::AlarmCannotFire => "ALARM_CANNOT_FIRE",
            Break::NoAlarmNotification => "NO_ALARM_NOTIFICATION",
            Break::SnsTopicNotFound => "SNS_TOPIC_NOT_FOUND",
            Break::NoConfirmedSubscription => "NO_CONFIRMED_SUBSCRIPTION",
            Break::SnsTopicUnpublishable | Break::KeyPolicyDeniesCloudwatchByAlias | Break::KeyPolicyDeniesCloudwatchByArn => "SNS_TOPIC_UNPUBLISHABLE",
            Break::TopicPolicyDeniesPublish => "SNS_TOPIC_POLICY_DENIES_PUBLISH",
            Break::AlarmActionFailed => "ALARM_ACTION_FAILED",
            Break::SubscriberDeliveryFailing => "SUBSCRIBER_DELIVERY_FAILING",
        }
    }

    /// The reason, told apart from the other breaks with the same reason:
    /// `SNS_TOPIC_UNPUBLISHABLE`, `SNS_TOPIC_UNPUBLISHABLE:key-policy-by-alias`, …
    pub fn label(self) -> String {
        match self {
            Break::KeyPolicyDeniesCloudwatchByAlias => format!("{}:key-policy-by-alias", self.reason()),
            Break::KeyPolicyDeniesCloudwatchByArn => format!("{}:key-policy-by-arn", self.reason()),
            b => b.reason().to_owned(),
        }
    }
}

/// What a scan does with advice (`[advice]`), which decides what it reads and one verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AdviceScan {
    /// `[advice] enabled = false`: no advice read or carried.
    Off,
    /// The scan gathers advice (due: none gathered within `[advice] every`): the account-wide
    /// history page of every kind, one `GetMetricData` per account and region, and the
    /// notifying alarm's own state changes when that page does not reach back to the window's
    /// start.
    Gathers,
    /// A scan after one that gathered, within `every`: it reads what [`AdviceScan::Off`] reads
    /// and carries the advice last measured, the delivery verdict with it.
    Carries,
}

impl AdviceScan {
    /// A short label, for reports.
    pub fn label(self) -> &'static str {
        match self {
            AdviceScan::Off => "off",
            AdviceScan::Gathers => "advice",
            AdviceScan::Carries => "next",
        }
    }
}

/// How a topic names its customer-managed key (`KmsMasterKeyId`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyNaming {
    /// By alias name ([`KEY_ALIAS`]): DescribeKey says which key it is.
    Alias,
    /// By key ARN: the key's description and its policy can be read together.
    KeyArn,
}

/// What the history of a compliant account's alarms records of their notifications.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum History {
    /// The latest notification to the topic succeeded; a newer one to a retired topic failed.
    Succeeded,
    /// A run of failed notifications to the topic, then the latest succeeded; more items than
    /// a page ([`RECOVERED_ITEMS`]).
    Recovered,
}

/// How a [`Kind::Composite`] account's alarms reach its topic: each control's metric alarm has
/// its actions enabled and no `AlarmActions`, a metric alarm [`OTHER_SIGNAL_ALARM`] watches
/// another metric, and a composite alarm `<control>-composite` combines the two.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CompositeShape {
    /// `ALARM("<control>-alarm") OR ALARM("other-signal")`, notifying the account's topic: PASS.
    Or,
    /// As [`CompositeShape::Or`], the composite without actions; a second composite
    /// `<control>-pager`, `ALARM("arn:aws:cloudwatch:…:alarm:<control>-composite")` (by ARN),
    /// notifies: PASS.
    Nested,
    /// `ALARM("<control>-alarm") AND ALARM("other-signal")`, notifying: `ALARM_CANNOT_FIRE`.
    And,
    /// As [`CompositeShape::Or`], the composite's `ActionsEnabled` false:
    /// `ALARM_ACTIONS_DISABLED`.
    ActionsDisabled,
}

/// How a [`Kind::MetricMath`] account's alarm per control reads the control's metric: no
/// `MetricName`, `Namespace` or `Statistic` of its own, `Metrics` = query `m1` (`MetricStat` on
/// the control's metric, period 300, `Sum`, `ReturnData` false) and an expression `e1` that
/// returns data; `GreaterThanOrEqualToThreshold` 1, notifying the account's topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MathShape {
    /// `e1` = `FILL(m1, 0)`: PASS.
    Fill,
    /// A query `m2` on `Synthetic/OtherSignal`, `e1` = `FILL(m2, 0)`: the alarm does not watch
    /// the control's metric, `NO_ALARM_ON_METRIC`.
    OtherMetric,
}

/// What an account is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// The management account: the organization trail and its compliant chain, its own topic.
    Management,
    /// The security account: its own compliant chain and the central `security-alerts` topic
    /// (two confirmed subscriptions) that the [`Kind::CentralTopic`] members' alarms notify.
    Security,
    /// Its own multi-region trail and whole chain, its own unencrypted topic with SNS's default
    /// policy, no alarm history.
    Compliant,
    /// As [`Kind::Compliant`], its topic encrypted with a customer-managed key whose policy
    /// grants CloudWatch `kms:Decrypt` and `kms:GenerateDataKey*`.
    Encrypted(KeyNaming),
    /// As [`Kind::Compliant`], with a history of its alarms' notifications.
    Notified(History),
    /// As [`Kind::Compliant`], the alarm per control notifying through composite alarms.
    Composite(CompositeShape),
    /// As [`Kind::Compliant`], the alarm per control a metric-math alarm.
    MetricMath(MathShape),
    /// As [`Kind::Compliant`], with [`FILLER_ALARMS`] unrelated metric alarms more: DescribeAlarms
    /// takes several pages.
    ManyAlarms,
    /// Its own trail, filters and alarms; the alarms notify the security account's topic.
    CentralTopic,
    /// No trail of its own: the organization trail covers it (its chain lives in the
    /// management account).
    Covered,
    /// Its own chain, broken at one link.
    Broken(Break),
    /// Its audit role cannot be assumed (`sts:AssumeRole` answers AccessDenied).
    Refused,
}

impl Kind {
    /// A short label, for reports: `compliant`, `broken:TRAIL_NOT_LOGGING`, …
    pub fn label(self) -> String {
        match self {
            Kind::Management => "management".into(),
            Kind::Security => "security".into(),
            Kind::Compliant => "compliant".into(),
            Kind::Encrypted(KeyNaming::Alias) => "encrypted:alias".into(),
            Kind::Encrypted(KeyNaming::KeyArn) => "encrypted:key-arn".into(),
            Kind::Notified(History::Succeeded) => "notified:succeeded".into(),
            Kind::Notified(History::Recovered) => "notified:recovered".into(),
            Kind::Composite(CompositeShape::Or) => "composite:or".into(),
            Kind::Composite(CompositeShape::Nested) => "composite:nested".into(),
            Kind::Composite(CompositeShape::And) => "composite:and".into(),
            Kind::Composite(CompositeShape::ActionsDisabled) => "composite:actions-disabled".into(),
            Kind::MetricMath(MathShape::Fill) => "metric-math:fill".into(),
            Kind::MetricMath(MathShape::OtherMetric) => "metric-math:other-metric".into(),
            Kind::ManyAlarms => "many-alarms".into(),
            Kind::CentralTopic => "central-topic".into(),
            Kind::Covered => "covered".into(),
            Kind::Broken(b) => format!("broken:{}", b.label()),
            Kind::Refused => "refused".into(),
        }
    }

    /// The (status, reason) orgwatch must reach for every deployed control on a scan that does
    /// `scan` with advice: the one verdict advice changes is
    /// [`Break::SubscriberDeliveryFailing`]'s, which passes without it.
    pub fn expected(self, scan: AdviceScan) -> (&'static str, &'static str) {
        match self {
            Kind::Broken(Break::SubscriberDeliveryFailing) if scan == AdviceScan::Off => ("PASS", "COMPLIANT"),
            Kind::Management
            | Kind::Security
            | Kind::Compliant
            | Kind::Encrypted(_)
            | Kind::Notified(_)
            | Kind::Composite(CompositeShape::Or | CompositeShape::Nested)
            | Kind::MetricMath(MathShape::Fill)
            | Kind::ManyAlarms
            | Kind::CentralTopic
            | Kind::Covered => ("PASS", "COMPLIANT"),
            Kind::Composite(CompositeShape::And) => ("FAIL", "ALARM_CANNOT_FIRE"),
            Kind::Composite(CompositeShape::ActionsDisabled) => ("FAIL", "ALARM_ACTIONS_DISABLED"),
            Kind::MetricMath(MathShape::OtherMetric) => ("FAIL", "NO_ALARM_ON_METRIC"),
            Kind::Broken(b) => ("FAIL", b.reason()),
            Kind::Refused => ("ERROR", "ROLE_ASSUMPTION_FAILED"),
        }
    }

    /// Compliant with a chain and a topic of its own: [`Kind::Compliant`], [`Kind::Encrypted`],
    /// [`Kind::Notified`], and the passing alarm variants ([`CompositeShape::Or`] and
    /// [`CompositeShape::Nested`], [`MathShape::Fill`], [`Kind::ManyAlarms`]). The benchmark's
    /// "calls per compliant account" are theirs.
    pub fn is_compliant_on_its_own(self) -> bool {
        matches!(
            self,
            Kind::Compliant
                | Kind::Encrypted(_)
                | Kind::Notified(_)
                | Kind::Composite(CompositeShape::Or | CompositeShape::Nested)
                | Kind::MetricMath(MathShape::Fill)
                | Kind::ManyAlarms
        )
    }

    /// The metric and composite alarms the account has in [`REGION`] with `controls` deployed
    /// controls (what DescribeAlarms answers with both `AlarmTypes`): one per control (none
    /// where the chain has no alarm), [`OTHER_SIGNAL_ALARM`] and one composite per control (two
    /// nested) for [`Kind::Composite`], [`FILLER_ALARMS`] more for [`Kind::ManyAlarms`].
    pub fn alarm_count(self, controls: usize) -> usize {
        let p = profile(self);
        if !(p.trail && p.to_cloudwatch) {
            return 0;
        }
        let per_control = match p.alarm {
            AlarmShape::Absent => 0,
            AlarmShape::Composite(CompositeShape::Nested) => 3,
            AlarmShape::Composite(_) => 2,
            _ => 1,
        };
        let other_signal = usize::from(matches!(p.alarm, AlarmShape::Composite(_)));
        controls * per_control + other_signal + usize::from(p.fillers)
    }

    /// The pages of DescribeAlarms orgwatch reads in the account ([`ALARMS_PAGE`] alarms a page,
    /// one page even when there are none), one after the other.
    pub fn alarm_pages(self, controls: usize) -> usize {
        self.alarm_count(controls).div_ceil(ALARMS_PAGE).max(1)
    }

    /// The DescribeAlarmHistory reads of a chain that otherwise holds, as (dependent rounds,
    /// calls): the account-wide page ([`HISTORY_PAGE`] items, every alarm's merged newest
    /// first; `Action` items only, or every kind on a scan that gathers advice), then, only when
    /// that page was truncated and holds no item of an alarm's notification to its topic, that
    /// alarm's own `Action` history (every page, at most [`HISTORY_OWN_PAGES`]), the alarms' own
    /// reads side by side.
    ///
    /// Every alarm of an account has the same history (`timeline`), so the merged history is
    /// item rank by item rank, the alarms of one rank in control order (the server breaks the
    /// ties of equal timestamps so): alarm `c`'s newest notification to the topic, at rank `k`
    /// of its own history, is item `k × controls + c` of the merged one.
    pub fn history_reads(self, controls: usize, scan: AdviceScan) -> (u32, u64) {
        let p = profile(self);
        let alarms = if p.alarm == AlarmShape::Absent { 0 } else { controls };
        let every = timeline(p.history);
        let actions = every.iter().filter(|e| e.what.is_action()).count();
        let items: Vec<&Entry> = every.iter().filter(|e| scan == AdviceScan::Gathers || e.what.is_action()).collect();
        if alarms * items.len() <= HISTORY_PAGE {
            return (1, 1);
        }
        let first_to_topic = items.iter().position(|e| matches!(e.what, What::Notified(_)));
        let lacking = (0..alarms).filter(|c| first_to_topic.is_none_or(|k| k * alarms + c >= HISTORY_PAGE)).count() as u64;
        let own_pages = actions.div_ceil(HISTORY_PAGE).clamp(1, HISTORY_OWN_PAGES) as u64;
        if lacking == 0 { (1, 1) } else { (1 + own_pages as u32, 1 + lacking * own_pages) }
    }

    /// Whether the chain holds up to the advice: the passing kinds, and
    /// [`Break::SubscriberDeliveryFailing`], whose verdict the advice makes.
    fn advised(self) -> bool {
        matches!(
            self,
            Kind::Management
                | Kind::Security
                | Kind::Compliant
                | Kind::Encrypted(_)
                | Kind::Notified(_)
                | Kind::Composite(CompositeShape::Or | CompositeShape::Nested)
                | Kind::MetricMath(MathShape::Fill)
                | Kind::ManyAlarms
                | Kind::CentralTopic
                | Kind::Covered
                | Kind::Broken(Break::SubscriberDeliveryFailing)
        )
    }

    /// The reads of advice the account makes with its own role, as (dependent rounds, calls),
    /// on a scan that gathers it (none on the others): for a chain that holds, one round after
    /// the history page with one `GetMetricData` (every alarmed metric of the account and
    /// region, and its own topic's `AWS/SNS` delivery metrics; a central topic's ride in the
    /// security account's, shared) and, side by side, when the every-kind page is truncated and
    /// does not reach back [`ADVICE_WINDOW_DAYS`], each notifying alarm's own `StateUpdate`
    /// history over the window ([`HISTORY_PAGE`] a page, the pages one after the other). A
    /// covered member's chain is the management account's, read once for all.
    pub fn advice_reads(self, controls: usize, scan: AdviceScan) -> (u32, u64) {
        if scan != AdviceScan::Gathers || !self.advised() || self == Kind::Covered {
            return (0, 0);
        }
        let p = profile(self);
        let alarms = if p.alarm == AlarmShape::Absent { 0 } else { controls };
        let every = timeline(p.history);
        let window = i64::from(ADVICE_WINDOW_DAYS) * 86_400;
        let total = alarms * every.len();
        // The page's oldest items are those of rank (HISTORY_PAGE - 1) / alarms.
        let reaches_back = total <= HISTORY_PAGE || every.get((HISTORY_PAGE - 1) / alarms.max(1)).is_some_and(|e| e.ago >= window);
        if reaches_back {
            return (1, 1);
        }
        let changes = every.iter().filter(|e| matches!(e.what, What::State { .. }) && e.ago <= window).count();
        let pages = changes.div_ceil(HISTORY_PAGE).clamp(1, HISTORY_STATES_PAGES) as u64;
        (pages as u32, 1 + alarms as u64 * pages)
    }

    /// The dependent rounds of calls, each waiting one latency, that judging such an account
    /// takes after it is listed, with `controls` deployed controls: AssumeRole; DescribeTrails;
    /// the trail's status and selectors with the log group's filters and the account's alarms
    /// (DescribeAlarms goes out with the filters, to the log group's account and region; each
    /// page after the first waits one latency more, [`Kind::alarm_pages`]); the topic's
    /// attributes and subscriptions; the key (its description and policy together when the
    /// topic names it by key ARN, one after the other by alias); the account's alarm history
    /// ([`Kind::history_reads`]), read only for a chain that otherwise holds. A chain stops at
    /// its first broken link: a reason at the trail, the filters or the alarm ends in the third
    /// round (which still waits for every page of the alarms asked for in it), one at the
    /// topic in the fourth. A read shared by many accounts (the organization trail's chain, the
    /// central topics and their key) is waited for once in a scan, so it costs the accounts
    /// that share it no round of their own. The controls share every read: the whole family
    /// takes the rounds of one control.
    ///
    /// On a scan that gathers advice, a chain that holds takes the rounds of
    /// [`Kind::advice_reads`] more, the history page read with every kind of item.
    pub fn dependent_waves(self, controls: usize, scan: AdviceScan) -> u32 {
        let to_alarms = 3 + (self.alarm_pages(controls) as u32 - 1);
        let to_topic = to_alarms + 1;
        let history = self.history_reads(controls, scan).0;
        self.advice_reads(controls, scan).0
            + match self {
            Kind::Refused => 1,
            Kind::Covered => 2,
            Kind::Management
            | Kind::Compliant
            | Kind::Notified(_)
            | Kind::Composite(CompositeShape::Or | CompositeShape::Nested)
            | Kind::MetricMath(MathShape::Fill)
            | Kind::ManyAlarms => to_topic + history,
            Kind::Security | Kind::Encrypted(KeyNaming::KeyArn) => to_topic + 1 + history,
            Kind::Encrypted(KeyNaming::Alias) => to_topic + 2 + history,
            // The central topic and its key are shared: the alarm's history follows the alarms.
            Kind::CentralTopic => to_alarms + history,
            Kind::Composite(CompositeShape::And | CompositeShape::ActionsDisabled) | Kind::MetricMath(MathShape::OtherMetric) => to_alarms,
            Kind::Broken(b) => match b {
                Break::NoMultiRegionTrail => 2,
                // No log group: neither filters nor alarms are asked for.
                Break::TrailNotSendingToCloudwatch => 3,
                Break::TrailNotLogging | Break::ManagementEventsNotCaptured | Break::CloudwatchDeliveryFailing | Break::NoMatchingMetricFilter | Break::MetricFilterNeverCounts => to_alarms,
                Break::NoAlarmOnMetric | Break::AlarmActionsDisabled | Break::AlarmCannotFire | Break::NoAlarmNotification => to_alarms,
                // The legacy topic is shared: its policy is judged as soon as the alarms are known.
                Break::TopicPolicyDeniesPublish => to_alarms,
                Break::SnsTopicNotFound | Break::NoConfirmedSubscription | Break::SnsTopicUnpublishable => to_topic,
                Break::KeyPolicyDeniesCloudwatchByArn => to_topic + 1,
                Break::KeyPolicyDeniesCloudwatchByAlias => to_topic + 2,
                Break::AlarmActionFailed | Break::SubscriberDeliveryFailing => to_topic + history,
            },
        }
    }

    /// The calls judging such an account makes with its own role for `controls` deployed
    /// controls, in the rounds of [`Kind::dependent_waves`]: one DescribeAlarms per page, the
    /// topic read once for every control, the history as [`Kind::history_reads`] says. `None`
    /// for the management and the security accounts, whose counts also hold the reads other
    /// accounts share (the organization trail's chain, the central topics). On a scan that
    /// gathers advice, the calls of [`Kind::advice_reads`] more.
    pub fn expected_calls(self, controls: usize, scan: AdviceScan) -> Option<u64> {
        // AssumeRole, DescribeTrails, GetTrailStatus, GetEventSelectors, DescribeMetricFilters.
        let to_filters = 5;
        let to_alarms = to_filters + self.alarm_pages(controls) as u64;
        // GetTopicAttributes, ListSubscriptionsByTopic.
        let to_topic = to_alarms + 2;
        let history = self.history_reads(controls, scan).1;
        let advice = self.advice_reads(controls, scan).1;
        Some(advice
            + match self {
            Kind::Management | Kind::Security => return None,
            Kind::Refused => 1,
            Kind::Covered => 2,
            Kind::Compliant
            | Kind::Notified(_)
            | Kind::Composite(CompositeShape::Or | CompositeShape::Nested)
            | Kind::MetricMath(MathShape::Fill)
            | Kind::ManyAlarms => to_topic + history,
            // DescribeKey, GetKeyPolicy.
            Kind::Encrypted(_) => to_topic + 2 + history,
            // The central topic is read with the security account's role.
            Kind::CentralTopic => to_alarms + history,
            Kind::Composite(CompositeShape::And | CompositeShape::ActionsDisabled) | Kind::MetricMath(MathShape::OtherMetric) => to_alarms,
            Kind::Broken(b) => match b {
                Break::NoMultiRegionTrail => 2,
                Break::TrailNotSendingToCloudwatch => 4,
                Break::TrailNotLogging | Break::ManagementEventsNotCaptured | Break::CloudwatchDeliveryFailing | Break::NoMatchingMetricFilter | Break::MetricFilterNeverCounts => to_alarms,
                Break::NoAlarmOnMetric | Break::AlarmActionsDisabled | Break::AlarmCannotFire | Break::NoAlarmNotification => to_alarms,
                Break::TopicPolicyDeniesPublish => to_alarms,
                Break::SnsTopicNotFound | Break::NoConfirmedSubscription | Break::SnsTopicUnpublishable => to_topic,
                Break::KeyPolicyDeniesCloudwatchByAlias | Break::KeyPolicyDeniesCloudwatchByArn => to_topic + 2,
                Break::AlarmActionFailed | Break::SubscriberDeliveryFailing => to_topic + history,
            },
        })
    }
}

/// Action items in the history of a [`History::Succeeded`] alarm.
pub(crate) const HISTORY_ITEMS_SUCCEEDED: usize = 4;
/// Action items in the history of a [`Break::AlarmActionFailed`] alarm.
pub(crate) const HISTORY_ITEMS_FAILED: usize = 3;
/// Pages of one alarm's own history orgwatch reads at most.
pub const HISTORY_OWN_PAGES: usize = 10;
/// Pages of one alarm's own state changes over the advice window orgwatch reads at most.
pub const HISTORY_STATES_PAGES: usize = 50;
/// How long after a notification its alarm went back to OK, in seconds.
const BACK_TO_OK: i64 = 900;

/// The error CloudWatch records of a notification to a topic removed since.
pub(crate) const RETIRED_ERROR: &str = "Resource not found: the SNS topic does not exist";
/// Of a notification SNS throttled.
pub(crate) const THROTTLED_ERROR: &str = "Failed to publish to SNS topic: Throttling: Rate exceeded";
/// Of a notification the topic's policy refused.
pub(crate) const DENIED_ERROR: &str = "Failed to publish to SNS topic: AuthorizationError: CloudWatch Alarms is not authorized to perform SNS:Publish on the topic";

/// What one item of an alarm's history records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum What {
    /// An `Action`: a notification to the alarm's topic, failed with this error or succeeded.
    Notified(Option<&'static str>),
    /// An `Action`: a notification to a topic since removed from the alarm, which failed
    /// ([`RETIRED_ERROR`]).
    Retired,
    /// A `StateUpdate` from one state to another.
    State { from: &'static str, to: &'static str },
}

impl What {
    pub(crate) fn is_action(self) -> bool {
        !matches!(self, What::State { .. })
    }
}

/// One item of an alarm's history, `ago` seconds before the server's anchor (when it started).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub ago: i64,
    pub what: What,
}

/// The history of every control's alarm of an account with `record`, newest first, every
/// timestamp distinct. Each notification is an `Action` at the time of a `StateUpdate` from
/// OK to ALARM (one second before it), and the alarm went back to OK [`BACK_TO_OK`] seconds
/// after: [`Record::Succeeded`], notifications 2, 9 and 12 days ago, the newest one also to a
/// retired topic (failed); [`Record::Recovered`], the latest an hour ago succeeded, after
/// [`RECOVERED_ITEMS`] − 1 that failed (throttled) every two hours before it, back ~11 days,
/// so that an account-wide page holds a few hours of it; [`Record::Failed`], the latest six
/// hours ago failed (refused), after two that succeeded 3 and 10 days ago.
pub(crate) fn timeline(record: Record) -> Vec<Entry> {
    let (hour, day) = (3_600, 86_400);
    let notifications: Vec<(i64, Option<&'static str>)> = match record {
        Record::None => Vec::new(),
        Record::Succeeded => vec![(2 * day, None), (9 * day, None), (12 * day, None)],
        Record::Recovered => std::iter::once((hour, None)).chain((1..RECOVERED_ITEMS as i64).map(|k| (hour + k * 2 * hour, Some(THROTTLED_ERROR)))).collect(),
        Record::Failed => vec![(6 * hour, Some(DENIED_ERROR)), (3 * day, None), (10 * day, None)],
    };
    let mut entries = Vec::with_capacity(notifications.len() * 3 + 1);
    for (n, (ago, error)) in notifications.into_iter().enumerate() {
        entries.push(Entry { ago: ago - BACK_TO_OK, what: What::State { from: "ALARM", to: "OK" } });
        if record == Record::Succeeded && n == 0 {
            entries.push(Entry { ago: ago - 1, what: What::Retired });
        }
        entries.push(Entry { ago, what: What::Notified(error) });
        entries.push(Entry { ago: ago + 1, what: What::State { from: "OK", to: "ALARM" } });
    }
    debug_assert_eq!(
        entries.iter().filter(|e| e.what.is_action()).count(),
        match record {
            Record::None => 0,
            Record::Succeeded => HISTORY_ITEMS_SUCCEEDED,
            Record::Recovered => RECOVERED_ITEMS,
            Record::Failed => HISTORY_ITEMS_FAILED,
        }
    );
    entries
}


/// One deployed control: its id, metric name and first published pattern.
#[derive(Clone, Debug)]
pub(crate) struct Deployed {
    pub id: &'static str,
    pub metric: String,
    pub pattern: String,
}

/// A generated organization; see the crate documentation for its composition.
#[derive(Clone, Debug)]
pub struct Organization {
    spec: OrgSpec,
    /// The id of member 0; member `j` is `first + j * STRIDE`.
    first_member: u64,
    /// Index 0 is the management account, index `j + 1` member `j`.
    kinds: Vec<Kind>,
    security: usize,
    pub(crate) deployed: Vec<Deployed>,
}

/// SplitMix64: a small, good, seedable generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A well-mixed 64-bit value of two inputs.
pub(crate) fn mix(a: u64, b: u64) -> u64 {
    Rng(a ^ b.wrapping_mul(0xA24B_AED4_963E_E407)).next()
}

/// The kinds whose alarms are not one plain metric alarm per control, ~1% each from
/// [`MIN_ACCOUNTS_WITH_BREAKS`] accounts.
pub const ALARM_VARIANTS: [Kind; 7] = [
    Kind::Composite(CompositeShape::Or),
    Kind::Composite(CompositeShape::Nested),
    Kind::Composite(CompositeShape::And),
    Kind::Composite(CompositeShape::ActionsDisabled),
    Kind::MetricMath(MathShape::Fill),
    Kind::MetricMath(MathShape::OtherMetric),
    Kind::ManyAlarms,
];

/// How many accounts of each kind an organization of `accounts` has, in a fixed order.
fn composition(accounts: usize) -> Vec<(Kind, usize)> {
    let accounts = accounts.max(1);
    let mut counts = vec![(Kind::Management, 1)];
    if accounts == 1 {
        return counts;
    }
    counts.push((Kind::Security, 1));
    let mut left = accounts - 2;
    if accounts >= MIN_ACCOUNTS_WITH_BREAKS {
        let each = (accounts / 100).max(1);
        for b in Break::ALL {
            counts.push((Kind::Broken(b), each));
        }
        counts.push((Kind::Refused, each));
        let compliant_variants =
            [Kind::Encrypted(KeyNaming::Alias), Kind::Encrypted(KeyNaming::KeyArn), Kind::Notified(History::Succeeded), Kind::Notified(History::Recovered)];
        for kind in compliant_variants.into_iter().chain(ALARM_VARIANTS) {
            counts.push((kind, each));
        }
        left -= (Break::ALL.len() + 1 + compliant_variants.len() + ALARM_VARIANTS.len()) * each;
    }
    let covered = (accounts * 10 / 100).min(left);
    left -= covered;
    let central = (accounts * 15 / 100).min(left);
    left -= central;
    counts.push((Kind::Covered, covered));
    counts.push((Kind::CentralTopic, central));
    counts.push((Kind::Compliant, left));
    counts
}

const ENVIRONMENTS: &[&str] = &["prod", "staging", "dev", "sandbox", "shared"];
const TEAMS: &[&str] = &["payments", "identity", "search", "data", "ml", "web", "mobile", "billing", "platform", "network", "analytics", "support"];

impl Organization {
    /// Generates the organization of `spec`, the same for the same spec.
    pub fn generate(spec: &OrgSpec) -> Organization {
        let accounts = spec.accounts.max(1);
        let mut rng = Rng(spec.seed ^ 0x6F72_6777_6174_6368);
        let first_member = 200_000_000_000 + (rng.next() % 10_000_000) * 1_000;
        let mut members: Vec<Kind> = composition(accounts).into_iter().skip(1).flat_map(|(kind, n)| std::iter::repeat_n(kind, n)).collect();
        for i in (1..members.len()).rev() {
            let j = rng.below(i + 1);
            members.swap(i, j);
        }
        let mut kinds = Vec::with_capacity(accounts);
        kinds.push(Kind::Management);
        kinds.extend(members);
        let security = kinds.iter().position(|k| *k == Kind::Security).unwrap_or(0);

        let ids: Vec<&'static str> =
            if spec.family { orgwatch_core::controls::all().iter().map(|c| c.id).collect() } else { vec![orgwatch_core::controls::UNAUTHORIZED_API_CALLS] };
        let deployed: Vec<Deployed> = ids
            .into_iter()
            .map(|id| {
                let control = orgwatch_core::controls::find(id).unwrap_or_else(|| panic!("unknown control {id}"));
                let pattern = control.published_patterns.first().unwrap_or_else(|| panic!("control {id} has no published pattern")).pattern.clone();
                Deployed { id, metric: orgwatch_core::controls::metric_name(id), pattern }
            })
            .collect();
        Organization { spec: spec.clone(), first_member, kinds, security, deployed }
    }

    pub fn spec(&self) -> &OrgSpec {
        &self.spec
    }

    pub fn management_account_id(&self) -> &str {
        MANAGEMENT_ACCOUNT_ID
    }

    /// The organization's id (`o-` and ten hexadecimal digits), as DescribeOrganization answers
    /// it and the central topic's policy names it (`aws:SourceOrgID`).
    pub fn organization_id(&self) -> String {
        format!("o-{:010x}", (mix(self.spec.seed, u64::MAX) >> 24) & 0xff_ffff_ffff)
    }

    /// The security account (the central topic's owner); the management account in an
    /// organization of one.
    pub fn security_account_id(&self) -> String {
        self.id_of(self.security)
    }

    /// Every account id, in ascending order (the management account first).
    pub fn account_ids(&self) -> Vec<String> {
        (0..self.kinds.len()).map(|i| self.id_of(i)).collect()
    }

    /// How many accounts there are.
    pub fn len(&self) -> usize {
        self.kinds.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    /// The control ids deployed (and to be judged), in benchmark order.
    pub fn controls(&self) -> Vec<&'static str> {
        self.deployed.iter().map(|d| d.id).collect()
    }

    /// What the account is, if it is one of the organization's.
    pub fn kind(&self, account_id: &str) -> Option<Kind> {
        self.index_of(account_id).map(|i| self.kinds[i])
    }

    /// How many accounts of each kind, by [`Kind::label`].
    pub fn composition(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for kind in &self.kinds {
            *counts.entry(kind.label()).or_insert(0) += 1;
        }
        counts
    }

    /// The finding orgwatch must reach for (account, control id) on a scan that does `scan`
    /// with advice: (status, reason) as the contract spells them. `None` for an account outside
    /// the organization or a control that is not deployed.
    pub fn expected(&self, account_id: &str, control_id: &str, scan: AdviceScan) -> Option<(&'static str, &'static str)> {
        if !self.deployed.iter().any(|d| d.id == control_id) {
            return None;
        }
        self.kind(account_id).map(|k| k.expected(scan))
    }

    /// The account's name as ListAccounts shows it.
    pub fn account_name(&self, account_id: &str) -> Option<String> {
        self.index_of(account_id).map(|i| self.name_of(i))
    }

    pub(crate) fn id_of(&self, index: usize) -> String {
        if index == 0 { MANAGEMENT_ACCOUNT_ID.to_owned() } else { format!("{:012}", self.first_member + (index as u64 - 1) * STRIDE) }
    }

    pub(crate) fn kind_at(&self, index: usize) -> Kind {
        self.kinds[index]
    }

    pub(crate) fn security_index(&self) -> usize {
        self.security
    }

    pub(crate) fn name_of(&self, index: usize) -> String {
        match self.kinds[index] {
            Kind::Management => "management".to_owned(),
            Kind::Security => "security".to_owned(),
            _ => {
                let r = mix(self.spec.seed, index as u64);
                let env = ENVIRONMENTS[(r % ENVIRONMENTS.len() as u64) as usize];
                let team = TEAMS[((r >> 16) % TEAMS.len() as u64) as usize];
                format!("{env}-{team}-{index:05}")
            }
        }
    }

    /// The same organization at drift epoch `epoch`, for repeated scans with a changing
    /// history: epoch 0 is the organization itself; at epoch `e > 0`, a window of ~1% of the
    /// compliant members (at least one), moving by its own width each epoch, is broken with
    /// the `e % 18`th of [`Break::ALL`] but [`Break::SubscriberDeliveryFailing`] (whose FAIL
    /// comes from advice, which the scans after the first carry from the first, where those
    /// accounts were compliant). Between consecutive epochs the accounts of the old window
    /// recover and those of the new one regress, so every scan after the first has drift.
    pub fn at_epoch(&self, epoch: u64) -> Organization {
        let mut org = self.clone();
        if epoch == 0 {
            return org;
        }
        let compliant: Vec<usize> = (1..self.kinds.len()).filter(|&i| self.kinds[i] == Kind::Compliant).collect();
        if compliant.is_empty() {
            return org;
        }
        let width = (compliant.len() / 100).max(1);
        let start = (epoch as usize).wrapping_mul(width) % compliant.len();
        let drifts: Vec<Break> = Break::ALL.into_iter().filter(|b| *b != Break::SubscriberDeliveryFailing).collect();
        let broken = Kind::Broken(drifts[(epoch % drifts.len() as u64) as usize]);
        for k in 0..width {
            org.kinds[compliant[(start + k) % compliant.len()]] = broken;
        }
        org
    }

    /// The index of a 12-digit account id, if it is one of the organization's.
    pub(crate) fn index_of(&self, account_id: &str) -> Option<usize> {
        if account_id.len() != 12 || !account_id.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let number: u64 = account_id.parse().ok()?;
        if number == MANAGEMENT_NUMBER {
            return Some(0);
        }
        let offset = number.checked_sub(self.first_member)?;
        if offset % STRIDE != 0 {
            return None;
        }
        let index = usize::try_from(offset / STRIDE).ok()? + 1;
        (index < self.kinds.len()).then_some(index)
    }
}

/// The filters on an account's log group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Filters {
    /// One per deployed control, value `1`.
    Counting,
    /// One per deployed control, value `0`.
    Zero,
    /// The log group exists, without filters.
    Empty,
}

/// The alarm per deployed control (`<id>-alarm`) and what goes with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AlarmShape {
    Absent,
    Normal,
    ActionsDisabled,
    LessThan,
    NoActions,
    /// Actions enabled, no `AlarmActions`; [`OTHER_SIGNAL_ALARM`] and the composites above.
    Composite(CompositeShape),
    /// A metric-math alarm (`Metrics`), notifying.
    Math(MathShape),
}

/// A topic's subscriptions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TopicShape {
    Absent,
    Confirmed { subscriptions: u8 },
    Pending,
}

/// What a topic is encrypted with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encryption {
    None,
    /// `alias/aws/sns`.
    AwsManaged,
    /// The account's customer-managed key, named as `named` says (`alias_arn`: by alias ARN
    /// rather than alias name); its policy grants CloudWatch or is only the root delegation.
    Customer { named: KeyNaming, alias_arn: bool, grants_cloudwatch: bool },
}

/// A topic's access policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TopicPolicy {
    /// SNS's default policy: the owner's principals only (`AWS:SourceOwner`).
    Default,
    /// SNS's default statement, and CloudWatch's publish for alarms of the organization
    /// (`aws:SourceOrgID`).
    Organization,
}

/// Which topic the alarms notify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Notifies {
    Own,
    /// The security account's [`TOPIC_NAME`].
    Central,
    /// The security account's [`LEGACY_TOPIC_NAME`].
    Legacy,
}

/// What the alarms' history records of their notifications to the topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Record {
    None,
    Succeeded,
    Recovered,
    Failed,
}

/// One topic as GetTopicAttributes and ListSubscriptionsByTopic show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TopicSpec {
    pub subscriptions: TopicShape,
    pub encryption: Encryption,
    pub policy: TopicPolicy,
}

/// What an account's APIs answer, derived from its kind.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Profile {
    /// Has a multi-region trail of its own (the organization trail for the management account).
    pub trail: bool,
    pub organization_trail: bool,
    /// Sees the management account's organization trail.
    pub covered: bool,
    pub logging: bool,
    pub read_only_selector: bool,
    /// The trail names a log group, which exists.
    pub to_cloudwatch: bool,
    pub delivery_error: bool,
    pub filters: Filters,
    pub alarm: AlarmShape,
    pub notifies: Notifies,
    /// The account's own [`TOPIC_NAME`] topic.
    pub topic: TopicShape,
    pub encryption: Encryption,
    pub policy: TopicPolicy,
    pub history: Record,
    /// Unrelated metric alarms ([`FILLER_ALARMS`]).
    pub fillers: u16,
    /// Every delivery of the account's own topic to its subscribers fails
    /// ([`Break::SubscriberDeliveryFailing`]).
    pub delivery_failing: bool,
}

const COMPLIANT: Profile = Profile {
    trail: true,
    organization_trail: false,
    covered: false,
    logging: true,
    read_only_selector: false,
    to_cloudwatch: true,
    delivery_error: false,
    filters: Filters::Counting,
    alarm: AlarmShape::Normal,
    notifies: Notifies::Own,
    topic: TopicShape::Confirmed { subscriptions: 1 },
    encryption: Encryption::None,
    policy: TopicPolicy::Default,
    history: Record::None,
    fillers: 0,
    delivery_failing: false,
};

const NOTHING: Profile = Profile {
    trail: false,
    organization_trail: false,
    covered: false,
    logging: false,
    read_only_selector: false,
    to_cloudwatch: false,
    delivery_error: false,
    filters: Filters::Empty,
    alarm: AlarmShape::Absent,
    notifies: Notifies::Own,
    topic: TopicShape::Absent,
    encryption: Encryption::None,
    policy: TopicPolicy::Default,
    history: Record::None,
    fillers: 0,
    delivery_failing: false,
};

const fn customer_key(named: KeyNaming, alias_arn: bool, grants_cloudwatch: bool) -> Encryption {
    Encryption::Customer { named, alias_arn, grants_cloudwatch }
}

pub(crate) fn profile(kind: Kind) -> Profile {
    match kind {
        Kind::Management => Profile { organization_trail: true, ..COMPLIANT },
        // The central topic: two subscriptions, the organization's alarms admitted, encrypted
        // with the security account's key (by key ARN) that grants CloudWatch.
        Kind::Security => Profile {
            topic: TopicShape::Confirmed { subscriptions: 2 },
            encryption: customer_key(KeyNaming::KeyArn, false, true),
            policy: TopicPolicy::Organization,
            ..COMPLIANT
        },
        // A refused account is set up like a compliant one; nobody gets to see it.
        Kind::Compliant | Kind::Refused => COMPLIANT,
        Kind::Encrypted(named) => Profile { encryption: customer_key(named, false, true), ..COMPLIANT },
        Kind::Notified(History::Succeeded) => Profile { history: Record::Succeeded, ..COMPLIANT },
        Kind::Notified(History::Recovered) => Profile { history: Record::Recovered, ..COMPLIANT },
        Kind::Composite(shape) => Profile { alarm: AlarmShape::Composite(shape), ..COMPLIANT },
        Kind::MetricMath(shape) => Profile { alarm: AlarmShape::Math(shape), ..COMPLIANT },
        Kind::ManyAlarms => Profile { fillers: FILLER_ALARMS as u16, ..COMPLIANT },
        Kind::CentralTopic => Profile { notifies: Notifies::Central, topic: TopicShape::Absent, ..COMPLIANT },
        Kind::Covered => Profile { covered: true, ..NOTHING },
        Kind::Broken(b) => match b {
            Break::NoMultiRegionTrail => NOTHING,
            Break::TrailNotLogging => Profile { logging: false, ..COMPLIANT },
            Break::ManagementEventsNotCaptured => Profile { read_only_selector: true, ..COMPLIANT },
            Break::TrailNotSendingToCloudwatch => Profile { to_cloudwatch: false, filters: Filters::Empty, alarm: AlarmShape::Absent, ..COMPLIANT },
            Break::CloudwatchDeliveryFailing => Profile { delivery_error: true, ..COMPLIANT },
            Break::NoMatchingMetricFilter => Profile { filters: Filters::Empty, alarm: AlarmShape::Absent, ..COMPLIANT },
            Break::MetricFilterNeverCounts => Profile { filters: Filters::Zero, ..COMPLIANT },
            Break::NoAlarmOnMetric => Profile { alarm: AlarmShape::Absent, ..COMPLIANT },
            Break::AlarmActionsDisabled => Profile { alarm: AlarmShape::ActionsDisabled, ..COMPLIANT },
            Break::AlarmCannotFire => Profile { alarm: AlarmShape::LessThan, ..COMPLIANT },
            Break::NoAlarmNotification => Profile { alarm: AlarmShape::NoActions, ..COMPLIANT },
            Break::SnsTopicNotFound => Profile { topic: TopicShape::Absent, ..COMPLIANT },
            Break::NoConfirmedSubscription => Profile { topic: TopicShape::Pending, ..COMPLIANT },
            Break::SnsTopicUnpublishable => Profile { encryption: Encryption::AwsManaged, ..COMPLIANT },
            Break::TopicPolicyDeniesPublish => Profile { notifies: Notifies::Legacy, topic: TopicShape::Absent, ..COMPLIANT },
            Break::KeyPolicyDeniesCloudwatchByAlias => Profile { encryption: customer_key(KeyNaming::Alias, true, false), ..COMPLIANT },
            Break::KeyPolicyDeniesCloudwatchByArn => Profile { encryption: customer_key(KeyNaming::KeyArn, false, false), ..COMPLIANT },
            Break::AlarmActionFailed => Profile { history: Record::Failed, ..COMPLIANT },
            Break::SubscriberDeliveryFailing => Profile { delivery_failing: true, ..COMPLIANT },
        },
    }
}

/// The topic `name` of an account, if it has one: its own [`TOPIC_NAME`], and for the security
/// account the [`LEGACY_TOPIC_NAME`] too (one confirmed subscription, SNS's default policy,
/// unencrypted).
pub(crate) fn topic_of(kind: Kind, name: &str) -> Option<TopicSpec> {
    let p = profile(kind);
    match name {
        TOPIC_NAME if p.topic != TopicShape::Absent => Some(TopicSpec { subscriptions: p.topic, encryption: p.encryption, policy: p.policy }),
        LEGACY_TOPIC_NAME if kind == Kind::Security => {
            Some(TopicSpec { subscriptions: TopicShape::Confirmed { subscriptions: 1 }, encryption: Encryption::None, policy: TopicPolicy::Default })
        }
        _ => None,
    }
}

/// The customer-managed key of an account, if it has one: (grants CloudWatch). Every topic
/// encrypted with a customer-managed key uses its own account's one key.
pub(crate) fn key_of(kind: Kind) -> Option<bool> {
    match profile(kind).encryption {
        Encryption::Customer { grants_cloudwatch, .. } => Some(grants_cloudwatch),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_ids_are_twelve_unique_digits() {
        let spec = OrgSpec { accounts: 1_000, family: true, seed: 7 };
        let (a, b) = (Organization::generate(&spec), Organization::generate(&spec));
        assert_eq!(a.account_ids(), b.account_ids());
        for id in a.account_ids() {
            assert_eq!(a.kind(&id), b.kind(&id));
            assert_eq!(a.account_name(&id), b.account_name(&id));
            assert_eq!(a.expected(&id, "unauthorized-api-calls", AdviceScan::Gathers), b.expected(&id, "unauthorized-api-calls", AdviceScan::Gathers));
        }
        let ids = a.account_ids();
        assert_eq!(ids.len(), 1_000);
        assert!(ids.iter().all(|id| id.len() == 12 && id.bytes().all(|c| c.is_ascii_digit())));
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "ascending and unique");
        assert_eq!(ids[0], MANAGEMENT_ACCOUNT_ID);
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(a.index_of(id), Some(i));
        }
        assert_eq!(a.index_of("999999999999"), None);
        assert_eq!(a.index_of("12345"), None);

        let other = Organization::generate(&OrgSpec { seed: 8, ..spec.clone() });
        assert_ne!(other.account_ids(), ids, "another seed, other ids");
        assert_eq!(other.composition(), a.composition(), "same shares");
    }

    #[test]
    fn every_kind_is_present_from_two_hundred_accounts_in_the_intended_shares() {
        for accounts in [200, 201, 999, 2_000, 10_000] {
            let org = Organization::generate(&OrgSpec { accounts, family: false, seed: accounts as u64 });
            let counts = org.composition();
            assert_eq!(counts.values().sum::<usize>(), accounts);
            assert_eq!(counts["management"], 1);
            assert_eq!(counts["security"], 1);
            let each = (accounts / 100).max(1);
            for b in Break::ALL {
                let n = counts.get(&Kind::Broken(b).label()).copied().unwrap_or(0);
                assert_eq!(n, each, "{accounts}: {b:?}");
            }
            for variant in ["encrypted:alias", "encrypted:key-arn", "notified:succeeded", "notified:recovered"] {
                assert_eq!(counts[variant], each, "{accounts}: {variant}");
            }
            for variant in ALARM_VARIANTS {
                assert_eq!(counts[&variant.label()], each, "{accounts}: {variant:?}");
            }
            assert_eq!(counts["refused"], accounts / 100);
            assert_eq!(counts["covered"], accounts / 10);
            assert_eq!(counts["central-topic"], accounts * 15 / 100);
            let on_their_own = org.account_ids().iter().filter(|id| org.kind(id).is_some_and(Kind::is_compliant_on_its_own)).count() as f64 / accounts as f64;
            assert!((0.50..0.56).contains(&on_their_own), "{accounts}: {on_their_own}");
            let passing = org.account_ids().iter().filter(|id| org.expected(id, "unauthorized-api-calls", AdviceScan::Gathers) == Some(("PASS", "COMPLIANT"))).count();
            assert!((0.76..0.80).contains(&(passing as f64 / accounts as f64)), "{accounts}: {passing}");
            let without_advice = org.account_ids().iter().filter(|id| org.expected(id, "unauthorized-api-calls", AdviceScan::Off) == Some(("PASS", "COMPLIANT"))).count();
            assert_eq!(without_advice - passing, each, "{accounts}: the delivery failures pass without advice");
        }
    }

    #[test]
    fn each_epoch_breaks_a_moving_window_of_compliant_members() {
        let org = Organization::generate(&OrgSpec { accounts: 1_000, family: false, seed: 9 });
        assert_eq!(org.at_epoch(0).kinds, org.kinds);
        let compliant = org.composition()["compliant"];
        let (one, two) = (org.at_epoch(1), org.at_epoch(2));
        let changed = |o: &Organization| (0..o.len()).filter(|&i| o.kinds[i] != org.kinds[i]).collect::<Vec<_>>();
        let (a, b) = (changed(&one), changed(&two));
        assert_eq!(a.len(), (compliant / 100).max(1));
        assert_eq!(b.len(), a.len());
        assert!(a.iter().all(|i| !b.contains(i)), "the window moves on: {a:?} {b:?}");
        assert!(a.iter().all(|&i| org.kinds[i] == Kind::Compliant && one.kinds[i] == Kind::Broken(Break::ALL[1])));
        assert!(b.iter().all(|&i| two.kinds[i] == Kind::Broken(Break::ALL[2])));
        assert_eq!(one.account_ids(), org.account_ids(), "the same accounts");
        for epoch in 1..=40 {
            let drifted = org.at_epoch(epoch);
            let moved = (0..org.len()).filter(|&i| drifted.kinds[i] != org.kinds[i]);
            assert!(moved.clone().all(|i| drifted.kinds[i] != Kind::Broken(Break::SubscriberDeliveryFailing)), "epoch {epoch}: its FAIL comes from advice the next scans carry");
            assert_eq!(moved.count(), a.len(), "epoch {epoch}");
        }
        assert_eq!(one.security_account_id(), org.security_account_id());
    }

    #[test]
    fn a_compliant_chain_takes_five_waves_and_nine_calls_for_one_control_or_fifteen_and_the_others_follow_their_links() {
        for n in [1, 15] {
            let waves = |kind: Kind| kind.dependent_waves(n, AdviceScan::Off);
            let calls = |kind: Kind| kind.expected_calls(n, AdviceScan::Off);
            assert_eq!(waves(Kind::Compliant), 5, "{n}");
            assert_eq!(calls(Kind::Compliant), Some(9), "{n}: one DescribeAlarms, the topic once, one page of history");
            assert_eq!(waves(Kind::Management), 5);
            assert_eq!(waves(Kind::Security), 6, "its own key, by key ARN");
            assert_eq!(waves(Kind::Encrypted(KeyNaming::KeyArn)), 6, "description and policy in one round");
            assert_eq!(waves(Kind::Encrypted(KeyNaming::Alias)), 7, "the policy after the description");
            assert_eq!(calls(Kind::Encrypted(KeyNaming::Alias)), Some(11));
            for history in [History::Succeeded, History::Recovered] {
                // The account-wide page holds every alarm's newest notification to the topic.
                assert_eq!(Kind::Notified(history).history_reads(n, AdviceScan::Off), (1, 1), "{n}: {history:?}");
                assert_eq!((waves(Kind::Notified(history)), calls(Kind::Notified(history))), (5, Some(9)), "{n}: {history:?}");
            }
            assert_eq!(calls(Kind::CentralTopic), Some(7), "the topic and its key with the security account's role");
            assert_eq!(waves(Kind::CentralTopic), 4);
            assert_eq!((waves(Kind::Broken(Break::AlarmActionFailed)), calls(Kind::Broken(Break::AlarmActionFailed))), (5, Some(9)));
            assert_eq!(waves(Kind::Broken(Break::KeyPolicyDeniesCloudwatchByAlias)), 6);
            assert_eq!(waves(Kind::Broken(Break::KeyPolicyDeniesCloudwatchByArn)), 5);
            for b in [Break::SnsTopicNotFound, Break::NoConfirmedSubscription, Break::SnsTopicUnpublishable] {
                assert_eq!((waves(Kind::Broken(b)), calls(Kind::Broken(b))), (4, Some(8)), "{b:?}");
            }
            // Reasons at the trail, the filters and the alarm end in the third round.
            for b in [
                Break::TrailNotLogging,
                Break::ManagementEventsNotCaptured,
                Break::CloudwatchDeliveryFailing,
                Break::NoMatchingMetricFilter,
                Break::MetricFilterNeverCounts,
                Break::NoAlarmOnMetric,
                Break::AlarmActionsDisabled,
                Break::AlarmCannotFire,
                Break::NoAlarmNotification,
                Break::TopicPolicyDeniesPublish,
            ] {
                assert_eq!((waves(Kind::Broken(b)), calls(Kind::Broken(b))), (3, Some(6)), "{b:?}");
            }
            assert_eq!((waves(Kind::Broken(Break::TrailNotSendingToCloudwatch)), calls(Kind::Broken(Break::TrailNotSendingToCloudwatch))), (3, Some(4)), "no log group, no alarms");
            assert_eq!((waves(Kind::Broken(Break::NoMultiRegionTrail)), calls(Kind::Broken(Break::NoMultiRegionTrail))), (2, Some(2)));
            assert_eq!((waves(Kind::Refused), calls(Kind::Refused)), (1, Some(1)));
            assert_eq!((waves(Kind::Covered), calls(Kind::Covered)), (2, Some(2)));
            assert_eq!(calls(Kind::Security), None);
            // The alarm variants: the composites come in the same DescribeAlarms.
            for kind in [Kind::Composite(CompositeShape::Or), Kind::Composite(CompositeShape::Nested), Kind::MetricMath(MathShape::Fill)] {
                assert_eq!((waves(kind), calls(kind)), (5, Some(9)), "{n}: {kind:?}");
                assert_eq!(kind.alarm_pages(n), 1);
            }
            for kind in [Kind::Composite(CompositeShape::And), Kind::Composite(CompositeShape::ActionsDisabled), Kind::MetricMath(MathShape::OtherMetric)] {
                assert_eq!((waves(kind), calls(kind)), (3, Some(6)), "{n}: {kind:?}");
            }
            assert_eq!(Kind::Composite(CompositeShape::Nested).alarm_count(n), 3 * n + 1);
            assert_eq!(Kind::ManyAlarms.alarm_count(n), FILLER_ALARMS + n);
            assert_eq!(Kind::ManyAlarms.alarm_pages(n), 3, "{n}");
            assert_eq!((waves(Kind::ManyAlarms), calls(Kind::ManyAlarms)), (7, Some(11)), "{n}: two more pages, one after the other");
        }
        assert_eq!(Kind::Compliant.alarm_count(15), 15);
        assert_eq!(Kind::Broken(Break::NoAlarmOnMetric).alarm_count(15), 0);
        assert_eq!(Kind::Broken(Break::NoAlarmOnMetric).alarm_pages(15), 1, "an empty page is still read");
        // An account whose first page of history lacks some alarm's notification reads that
        // alarm's own history: 130 items of 2 alarms on one page of 100 hold both newest items
        // (ranks 0); with 101 alarms of a history whose rank 1 is the first to the topic, not.
        assert_eq!(Kind::Notified(History::Recovered).history_reads(2, AdviceScan::Off), (1, 1));
        assert_eq!(Kind::Notified(History::Succeeded).history_reads(51, AdviceScan::Off), (2, 1 + 2), "alarms 49 and 50 at items 100 and 101");
        // Compliant accounts cost at most ten calls for CIS 3.1 on average, and for the family.
        for controls in [1, 15] {
            let org = Organization::generate(&OrgSpec { accounts: 10_000, family: false, seed: 7 });
            let own: Vec<u64> = org.account_ids().iter().filter_map(|id| org.kind(id)).filter(|k| k.is_compliant_on_its_own()).filter_map(|k| k.expected_calls(controls, AdviceScan::Off)).collect();
            let mean = own.iter().sum::<u64>() as f64 / own.len() as f64;
            assert!(mean <= 10.0, "{controls}: {mean}");
        }
    }

    #[test]
    fn a_scan_that_gathers_advice_adds_one_get_metric_data_to_a_passing_chain_and_a_noisy_alarm_reads_its_state_changes() {
        let passing_on_their_own = [
            Kind::Compliant,
            Kind::Encrypted(KeyNaming::Alias),
            Kind::Encrypted(KeyNaming::KeyArn),
            Kind::Notified(History::Succeeded),
            Kind::Composite(CompositeShape::Or),
            Kind::Composite(CompositeShape::Nested),
            Kind::MetricMath(MathShape::Fill),
            Kind::ManyAlarms,
            Kind::CentralTopic,
            Kind::Broken(Break::SubscriberDeliveryFailing),
        ];
        let not_advised: Vec<Kind> = Break::ALL
            .into_iter()
            .filter(|b| *b != Break::SubscriberDeliveryFailing)
            .map(Kind::Broken)
            .chain([Kind::Refused, Kind::Covered, Kind::Composite(CompositeShape::And), Kind::Composite(CompositeShape::ActionsDisabled), Kind::MetricMath(MathShape::OtherMetric)])
            .collect();
        for n in [1, 15] {
            let reads = |kind: Kind, scan: AdviceScan| (kind.dependent_waves(n, scan), kind.expected_calls(n, scan));
            for kind in passing_on_their_own.iter().chain(&not_advised).chain(&[Kind::Management, Kind::Security, Kind::Notified(History::Recovered)]) {
                assert_eq!(reads(*kind, AdviceScan::Carries), reads(*kind, AdviceScan::Off), "{n}: {kind:?}: a scan that carries advice reads none of it");
            }
            for kind in passing_on_their_own {
                let (waves, calls) = reads(kind, AdviceScan::Off);
                assert_eq!(reads(kind, AdviceScan::Gathers), (waves + 1, calls.map(|c| c + 1)), "{n}: {kind:?}: one GetMetricData, one round more");
                assert_eq!(kind.history_reads(n, AdviceScan::Gathers), kind.history_reads(n, AdviceScan::Off), "{n}: {kind:?}: the every-kind page is still one call");
            }
            assert_eq!((Kind::Management.dependent_waves(n, AdviceScan::Gathers), Kind::Security.dependent_waves(n, AdviceScan::Gathers)), (6, 7));
            for kind in &not_advised {
                assert_eq!(kind.advice_reads(n, AdviceScan::Gathers), (0, 0), "{n}: {kind:?}");
                assert_eq!(reads(*kind, AdviceScan::Gathers), reads(*kind, AdviceScan::Off), "{n}: {kind:?}: a chain that does not pass reads none of it");
            }
            // Its latest failed notification is on the every-kind page as on the Action one.
            assert_eq!(Kind::Broken(Break::AlarmActionFailed).history_reads(n, AdviceScan::Gathers), (1, 1), "{n}");
            // Two hours between notifications: the account's page holds a few hours of them, so
            // each alarm's own state changes over the week are read, 168 of them, two pages.
            let recovered = Kind::Notified(History::Recovered);
            assert_eq!(recovered.history_reads(n, AdviceScan::Gathers), (1, 1), "{n}");
            assert_eq!(recovered.advice_reads(n, AdviceScan::Gathers), (2, 1 + 2 * n as u64), "{n}");
            assert_eq!(reads(recovered, AdviceScan::Gathers), (5 + 2, Some(9 + 1 + 2 * n as u64)), "{n}");
        }
        // Over the compliant accounts of 10,000: one call more, and the noisy alarms' pages.
        let org = Organization::generate(&OrgSpec { accounts: 10_000, family: false, seed: 7 });
        let own: Vec<Kind> = org.account_ids().iter().filter_map(|id| org.kind(id)).filter(|k| k.is_compliant_on_its_own()).collect();
        let recovered = own.iter().filter(|k| **k == Kind::Notified(History::Recovered)).count() as f64;
        for controls in [1u64, 15] {
            let mean = |scan: AdviceScan| own.iter().filter_map(|k| k.expected_calls(controls as usize, scan)).sum::<u64>() as f64 / own.len() as f64;
            let rise = mean(AdviceScan::Gathers) - mean(AdviceScan::Off);
            let noisy = recovered * 2.0 * controls as f64 / own.len() as f64;
            assert!((rise - (1.0 + noisy)).abs() < 1e-9, "{controls}: {rise}");
            assert_eq!(mean(AdviceScan::Carries), mean(AdviceScan::Off), "{controls}");
        }
    }

    #[test]
    fn an_alarm_history_is_its_notifications_between_state_changes_newest_first() {
        for record in [Record::None, Record::Succeeded, Record::Recovered, Record::Failed] {
            let items = timeline(record);
            assert!(items.windows(2).all(|w| w[0].ago < w[1].ago), "{record:?}: newest first, every timestamp its own");
            assert!(items.iter().all(|e| e.ago > 0), "{record:?}: before the anchor");
            let notifications: Vec<usize> = (0..items.len()).filter(|&i| matches!(items[i].what, What::Notified(_))).collect();
            for &i in &notifications {
                assert_eq!(items.get(i + 1), Some(&Entry { ago: items[i].ago + 1, what: What::State { from: "OK", to: "ALARM" } }), "{record:?}: fired by a change to ALARM");
            }
            assert_eq!(items.iter().filter(|e| matches!(e.what, What::State { .. })).count(), 2 * notifications.len(), "{record:?}: and back to OK");
        }
        let week = i64::from(ADVICE_WINDOW_DAYS) * 86_400;
        let recovered = timeline(Record::Recovered);
        assert_eq!(recovered.iter().filter(|e| !e.what.is_action() && e.ago <= week).count(), 168, "84 notifications within the week");
        assert_eq!(recovered.iter().filter(|e| e.what.is_action()).count(), RECOVERED_ITEMS);
        assert_eq!(timeline(Record::Failed)[1].what, What::Notified(Some(DENIED_ERROR)), "the latest failed");
        assert_eq!(timeline(Record::Succeeded)[1].what, What::Retired, "the newest went elsewhere");
    }

    #[test]
    fn topics_keys_and_policies_follow_the_kind() {
        assert_eq!(topic_of(Kind::Compliant, TOPIC_NAME).map(|t| (t.policy, t.encryption)), Some((TopicPolicy::Default, Encryption::None)));
        let central = topic_of(Kind::Security, TOPIC_NAME).unwrap();
        assert_eq!(central.policy, TopicPolicy::Organization);
        assert!(matches!(central.encryption, Encryption::Customer { named: KeyNaming::KeyArn, grants_cloudwatch: true, .. }));
        let legacy = topic_of(Kind::Security, LEGACY_TOPIC_NAME).unwrap();
        assert_eq!((legacy.policy, legacy.encryption), (TopicPolicy::Default, Encryption::None));
        assert_eq!(topic_of(Kind::Compliant, LEGACY_TOPIC_NAME), None);
        assert_eq!(topic_of(Kind::CentralTopic, TOPIC_NAME), None);
        assert_eq!(topic_of(Kind::Broken(Break::TopicPolicyDeniesPublish), TOPIC_NAME), None);
        assert_eq!(key_of(Kind::Encrypted(KeyNaming::Alias)), Some(true));
        assert_eq!(key_of(Kind::Broken(Break::KeyPolicyDeniesCloudwatchByArn)), Some(false));
        assert_eq!(key_of(Kind::Broken(Break::SnsTopicUnpublishable)), None, "alias/aws/sns is AWS's");
        assert_eq!(key_of(Kind::Compliant), None);
    }

    #[test]
    fn small_organizations_are_all_compliant() {
        for accounts in [0, 1, 2, 3, 50] {
            let org = Organization::generate(&OrgSpec { accounts, family: false, seed: 1 });
            assert_eq!(org.len(), accounts.max(1));
            for id in org.account_ids() {
                assert_eq!(org.expected(&id, "unauthorized-api-calls", AdviceScan::Gathers), Some(("PASS", "COMPLIANT")), "{accounts}: {id}");
            }
        }
    }

    #[test]
    fn expectations_follow_the_kind_and_the_deployed_controls() {
        let single = Organization::generate(&OrgSpec { accounts: 300, family: false, seed: 3 });
        let family = Organization::generate(&OrgSpec { accounts: 300, family: true, seed: 3 });
        assert_eq!(single.controls(), vec!["unauthorized-api-calls"]);
        assert_eq!(family.controls(), orgwatch_core::controls::all().iter().map(|c| c.id).collect::<Vec<_>>());
        assert_eq!(family.controls().len(), 15);
        let refused = single.account_ids().into_iter().find(|id| single.kind(id) == Some(Kind::Refused)).unwrap();
        assert_eq!(single.expected(&refused, "unauthorized-api-calls", AdviceScan::Gathers), Some(("ERROR", "ROLE_ASSUMPTION_FAILED")));
        assert_eq!(single.expected(&refused, "root-account-usage", AdviceScan::Gathers), None, "not deployed");
        assert_eq!(family.expected(&refused, "root-account-usage", AdviceScan::Gathers), Some(("ERROR", "ROLE_ASSUMPTION_FAILED")));
        let broken = single.account_ids().into_iter().find(|id| single.kind(id) == Some(Kind::Broken(Break::AlarmCannotFire))).unwrap();
        assert_eq!(single.expected(&broken, "unauthorized-api-calls", AdviceScan::Gathers), Some(("FAIL", "ALARM_CANNOT_FIRE")));
        let of = |kind: Kind| single.account_ids().into_iter().find(|id| single.kind(id) == Some(kind)).unwrap();
        for (kind, expected) in [
            (Kind::Broken(Break::TopicPolicyDeniesPublish), ("FAIL", "SNS_TOPIC_POLICY_DENIES_PUBLISH")),
            (Kind::Broken(Break::KeyPolicyDeniesCloudwatchByAlias), ("FAIL", "SNS_TOPIC_UNPUBLISHABLE")),
            (Kind::Broken(Break::KeyPolicyDeniesCloudwatchByArn), ("FAIL", "SNS_TOPIC_UNPUBLISHABLE")),
            (Kind::Broken(Break::AlarmActionFailed), ("FAIL", "ALARM_ACTION_FAILED")),
            (Kind::Broken(Break::SubscriberDeliveryFailing), ("FAIL", "SUBSCRIBER_DELIVERY_FAILING")),
            (Kind::Encrypted(KeyNaming::Alias), ("PASS", "COMPLIANT")),
            (Kind::Encrypted(KeyNaming::KeyArn), ("PASS", "COMPLIANT")),
            (Kind::Notified(History::Succeeded), ("PASS", "COMPLIANT")),
            (Kind::Notified(History::Recovered), ("PASS", "COMPLIANT")),
            (Kind::Composite(CompositeShape::Or), ("PASS", "COMPLIANT")),
            (Kind::Composite(CompositeShape::Nested), ("PASS", "COMPLIANT")),
            (Kind::Composite(CompositeShape::And), ("FAIL", "ALARM_CANNOT_FIRE")),
            (Kind::Composite(CompositeShape::ActionsDisabled), ("FAIL", "ALARM_ACTIONS_DISABLED")),
            (Kind::MetricMath(MathShape::Fill), ("PASS", "COMPLIANT")),
            (Kind::MetricMath(MathShape::OtherMetric), ("FAIL", "NO_ALARM_ON_METRIC")),
            (Kind::ManyAlarms, ("PASS", "COMPLIANT")),
        ] {
            assert_eq!(single.expected(&of(kind), "unauthorized-api-calls", AdviceScan::Gathers), Some(expected), "{kind:?}");
        }
        let undelivered = of(Kind::Broken(Break::SubscriberDeliveryFailing));
        assert_eq!(single.expected(&undelivered, "unauthorized-api-calls", AdviceScan::Carries), Some(("FAIL", "SUBSCRIBER_DELIVERY_FAILING")), "the carried advice keeps it");
        assert_eq!(single.expected(&undelivered, "unauthorized-api-calls", AdviceScan::Off), Some(("PASS", "COMPLIANT")), "nothing reads the deliveries");
        assert_eq!(single.expected(&of(Kind::Compliant), "unauthorized-api-calls", AdviceScan::Off), Some(("PASS", "COMPLIANT")));
        assert_eq!(single.expected("999999999999", "unauthorized-api-calls", AdviceScan::Gathers), None);
        assert_eq!(single.expected(MANAGEMENT_ACCOUNT_ID, "unauthorized-api-calls", AdviceScan::Gathers), Some(("PASS", "COMPLIANT")));
    }
}
