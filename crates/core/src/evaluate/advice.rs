//! Advice on a passing chain: is its alarm one people will still read, and did its topic's last
//! notifications reach anyone? Measured on the scans that gather it (at most once per
//! `[advice] every`), over a window of days, and never a reason to change a passing status but
//! one: a topic whose every delivery in the window failed, which nobody received.
//!
//! What is read, all in the audited chain's own accounts, with the audit role:
//! - the alarm's metric per alarm period, with the alarm's own statistic (`GetMetricData`, one
//!   call serving every alarmed metric of an account and region);
//! - the notifying alarm's state changes (`DescribeAlarmHistory`, `StateUpdate`), from the page
//!   of every alarm's history the chain reads anyway when it reaches back far enough, else from
//!   the alarm's own history over the window;
//! - the topic's `AWS/SNS` `NumberOfNotificationsDelivered` and `NumberOfNotificationsFailed`, in
//!   the topic owner's account and region, riding in the same batched `GetMetricData` there.
//!
//! The rules (table-tested in `tests/advice.rs`):
//! - **Noisy**: the notifying alarm went to ALARM more than `noisy_per_day` times a day on
//!   average over the window.
//! - **Baseline**: over the periods that had data, the count and the nearest-rank p50, p99 and
//!   maximum of the per-period values.
//! - **Suggested threshold**, for alarms that fire above their threshold
//!   (`GreaterThanThreshold`, `GreaterThanOrEqualToThreshold`): none when at most 1% of the
//!   window's periods crossed the current threshold. Otherwise the smallest round value (1, 2 or
//!   5 times a power of ten) above the baseline's p99 with which at most 1% of the window's
//!   periods would have crossed, provided the window's largest period still crosses it, so a
//!   burst of that size still fires; none, with a note, when no round value fits in between.

use super::notify::TopicAt;
use super::{Link, Notifier, Walk};
use crate::facts::{Alarm, AlarmHistory, AlarmHistoryItem, Dimension, HistoryKind, MetricDataQuery, MetricValues, Unobserved};
use crate::finding::{Advice, Baseline, Delivery, EvidenceLink, LinkKind, Reason};
use crate::request::{Answer, Request};
use chrono::{DateTime, Duration, DurationRound, SecondsFormat, Utc};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

/// The longest window: CloudWatch keeps an alarm's history 30 days.
pub const MAX_WINDOW_DAYS: u32 = 30;

/// The share of the window's periods a suggested threshold may be crossed in.
pub const CROSSING_SHARE: f64 = 0.01;

/// The period of the topic's delivery metrics: one sum a day.
const DELIVERY_PERIOD: i32 = 86_400;

/// What is measured, from when to when.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdviceWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub days: u32,
    /// Transitions to ALARM a day above which an alarm is noisy.
    pub noisy_per_day: f64,
}

impl AdviceWindow {
    /// The `days` (1 to [`MAX_WINDOW_DAYS`]) before `at`, truncated to the minute so that every
    /// account of a scan asks for the same window.
    pub fn ending(at: DateTime<Utc>, days: u32, noisy_per_day: f64) -> AdviceWindow {
        let end = at.duration_trunc(Duration::minutes(1)).unwrap_or(at);
        let days = days.clamp(1, MAX_WINDOW_DAYS);
        AdviceWindow { start: end - Duration::days(i64::from(days)), end, days, noisy_per_day }
    }

    fn seconds(&self) -> i64 {
        (self.end - self.start).num_seconds().max(1)
    }
}

/// Whether a scan gathers advice, carries the last advice measured, or neither.
#[derive(Clone, Copy, Debug, Default)]
pub enum AdviceMode<'a> {
    #[default]
    Off,
    /// Measure over this window.
    Gather(AdviceWindow),
    /// The account's advice last measured, by control id: kept on a finding whose chain still
    /// runs through the same alarm and topic, and the delivery verdict with it.
    Carry(&'a BTreeMap<String, Advice>),
}

impl AdviceMode<'_> {
    pub fn gathers(&self) -> bool {
        matches!(self, AdviceMode::Gather(_))
    }
}

/// The metric queries the controls of one step want, per account and region, so that one
/// `GetMetricData` serves them all.
#[derive(Default)]
pub(super) struct Wants {
    by_place: RefCell<BTreeMap<(String, String), (BTreeSet<MetricDataQuery>, bool)>>,
}

impl Wants {
    fn want(&self, account_id: &str, region: &str, query: MetricDataQuery, shared: bool) {
        let mut wants = self.by_place.borrow_mut();
        let entry = wants.entry((account_id.to_owned(), region.to_owned())).or_default();
        entry.0.insert(query);
        entry.1 |= shared;
    }

    /// One request per account and region, with the `shared` hint.
    pub(super) fn requests(self, window: Option<AdviceWindow>) -> Vec<(Request, bool)> {
        let Some(window) = window else { return Vec::new() };
        self.by_place
            .into_inner()
            .into_iter()
            .map(|((account_id, region), (queries, shared))| {
                (Request::MetricData { account_id, region, start: window.start, end: window.end, queries: queries.into_iter().collect() }, shared)
            })
            .collect()
    }
}

/// The query of a metric alarm's own metric and statistic, per its period; why not, for a
/// metric-math alarm or one whose answer lacks them.
pub fn alarm_query(alarm: &Alarm) -> Result<MetricDataQuery, String> {
    if !alarm.metrics.is_empty() {
        return Err(format!("alarm {:?} is on metric math, whose values orgwatch does not recompute, so its baseline was not measured", alarm.name));
    }
    let (Some(namespace), Some(metric_name)) = (&alarm.namespace, &alarm.metric_name) else {
        return Err(format!("DescribeAlarms gave alarm {:?} no metric, so its baseline was not measured", alarm.name));
    };
    let Some(stat) = alarm.statistic.clone().or_else(|| alarm.extended_statistic.clone()) else {
        return Err(format!("DescribeAlarms gave alarm {:?} no statistic, so its baseline was not measured", alarm.name));
    };
    let Some(period_seconds) = alarm.period.filter(|p| *p > 0) else {
        return Err(format!("DescribeAlarms gave alarm {:?} no period, so its baseline was not measured", alarm.name));
    };
    Ok(MetricDataQuery { namespace: namespace.clone(), metric_name: metric_name.clone(), dimensions: alarm.dimensions.clone(), stat, period_seconds })
}

/// SNS's own record of the topic's deliveries: (delivered, failed), daily sums.
pub fn delivery_queries(topic_arn: &str) -> [MetricDataQuery; 2] {
    let name = topic_arn.rsplit(':').next().unwrap_or(topic_arn).to_owned();
    let query = |metric: &str| MetricDataQuery {
        namespace: "AWS/SNS".into(),
        metric_name: metric.into(),
        dimensions: vec![Dimension { name: "TopicName".into(), value: name.clone() }],
        stat: "Sum".into(),
        period_seconds: DELIVERY_PERIOD,
    };
    [query("NumberOfNotificationsDelivered"), query("NumberOfNotificationsFailed")]
}

/// A state change of an alarm, from a `StateUpdate` item.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub at: DateTime<Utc>,
    pub from: Option<String>,
    pub to: String,
}

/// The change a `StateUpdate` item records: `HistoryData`'s `oldState`/`newState`
/// `stateValue`, else its summary ("Alarm updated from OK to ALARM"). Items of other kinds, or
/// that say neither, are none.
pub fn change(item: &AlarmHistoryItem) -> Option<Change> {
    if item.kind != HistoryKind::StateUpdate {
        return None;
    }
    let data: Option<serde_json::Value> = serde_json::from_str(&item.data).ok();
    let state = |which: &str| data.as_ref().and_then(|d| d.get(which)).and_then(|s| s.get("stateValue")).and_then(serde_json::Value::as_str).map(str::to_owned);
    let (from, to) = match (state("oldState"), state("newState")) {
        (from, Some(to)) => (from, to),
        (_, None) => {
            let rest = item.summary.strip_prefix("Alarm updated from ")?;
            let (from, to) = rest.split_once(" to ")?;
            (Some(from.trim().to_owned()), to.trim().to_owned())
        }
    };
    Some(Change { at: item.timestamp, from, to })
}

/// Transitions to ALARM within the window, and the hours spent in ALARM there (clipped to it).
pub fn time_in_alarm(changes: &[Change], window: &AdviceWindow) -> (u32, f64) {
    let mut inside: Vec<&Change> = changes.iter().filter(|c| c.at >= window.start && c.at <= window.end).collect();
    inside.sort_by_key(|c| c.at);
    let alarm = |state: &str| state == "ALARM";
    let mut since = match inside.first() {
        Some(first) if first.from.as_deref().is_some_and(alarm) => Some(window.start),
        _ => None,
    };
    let (mut times, mut seconds) = (0u32, 0i64);
    for change in inside {
        match (since, alarm(&change.to)) {
            (None, true) => {
                times += 1;
                since = Some(change.at);
            }
            (Some(from), false) => {
                seconds += (change.at - from).num_seconds();
                since = None;
            }
            _ => {}
        }
    }
    if let Some(from) = since {
        seconds += (window.end - from).num_seconds();
    }
    (times, seconds as f64 / 3600.0)
}

/// The nearest-rank `share` percentile of sorted values.
fn nearest_rank(sorted: &[f64], share: f64) -> f64 {
    let rank = ((share * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The baseline of per-period values (finite ones; none without any).
pub fn baseline(values: &[f64]) -> Option<Baseline> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    Some(Baseline { periods: sorted.len() as u32, p50: nearest_rank(&sorted, 0.5), p99: nearest_rank(&sorted, 0.99), max: sorted[sorted.len() - 1] })
}

/// What the rule of the module documentation says of a threshold.
#[derive(Clone, Debug, PartialEq)]
pub enum Suggestion {
    /// At most 1% of the window's periods crossed the current threshold.
    Keep,
    Threshold(f64),
    /// No round value lies above the normal periods and below the largest burst.
    NoRoom,
    /// Not measured: no data, or an operator that does not fire above its threshold.
    Unjudged(String),
}

fn crosses(value: f64, threshold: f64, operator: &str) -> bool {
    match operator {
        "GreaterThanThreshold" => value > threshold,
        _ => value >= threshold,
    }
}

/// The smallest value 1, 2 or 5 × 10^k (k ≥ -2) above `value`.
pub fn round_above(value: f64) -> f64 {
    for k in -2..=300 {
        for m in [1.0, 2.0, 5.0] {
            let candidate = if k < 0 { m / 10f64.powi(-k) } else { m * 10f64.powi(k) };
            if candidate > value {
                return candidate;
            }
        }
    }
    f64::MAX
}

/// The rule of the module documentation, over the values of periods with data and the number
/// of periods the window holds.
pub fn suggest(values: &[f64], periods_in_window: u64, threshold: f64, operator: &str) -> Suggestion {
    if !matches!(operator, "GreaterThanThreshold" | "GreaterThanOrEqualToThreshold") {
        return Suggestion::Unjudged(format!("its comparison {operator} does not fire above the threshold, so no threshold is suggested"));
    }
    let Some(baseline) = baseline(values) else { return Suggestion::Unjudged("its metric had no data in the window".into()) };
    let periods = periods_in_window.max(values.len() as u64).max(1) as f64;
    let share = |t: f64| values.iter().filter(|v| crosses(**v, t, operator)).count() as f64 / periods;
    if share(threshold) <= CROSSING_SHARE {
        return Suggestion::Keep;
    }
    let mut candidate = round_above(baseline.p99.max(threshold));
    // Above the nearest-rank p99 at most 1% of the periods with data cross; checked all the same.
    while share(candidate) > CROSSING_SHARE && candidate < f64::MAX {
        candidate = round_above(candidate);
    }
    if crosses(baseline.max, candidate, operator) { Suggestion::Threshold(candidate) } else { Suggestion::NoRoom }
}

/// The advice on one alarm from what was measured (every part optional).
pub fn judge_alarm(advice: &mut Advice, watching: &Alarm, window: &AdviceWindow, changes: Option<&[Change]>, values: Option<&MetricValues>) {
    if let Some(changes) = changes {
        let (times, hours) = time_in_alarm(changes, window);
        advice.times_in_alarm = Some(times);
        advice.hours_in_alarm = Some((hours * 100.0).round() / 100.0);
        advice.noisy = f64::from(times) / f64::from(window.days.max(1)) > window.noisy_per_day;
    }
    let datapoints = watching.datapoints_to_alarm.or(watching.evaluation_periods).unwrap_or(1);
    if datapoints > 1 {
        let period = watching.period.unwrap_or(60);
        let evaluated = watching.evaluation_periods.unwrap_or(datapoints);
        advice.notes.push(format!(
            "alarm {:?} needs {datapoints} of {evaluated} datapoints of {period} s to breach: a burst of denied calls shorter than {} s does not fire it",
            watching.name,
            i64::from(datapoints) * i64::from(period)
        ));
    }
    let Some(values) = values else { return };
    advice.baseline = baseline(&values.values);
    let (Some(threshold), Some(operator)) = (watching.threshold, watching.comparison_operator.as_deref()) else { return };
    let period = i64::from(watching.period.unwrap_or(300).max(1));
    let periods_in_window = (window.seconds() / period).max(1) as u64;
    match suggest(&values.values, periods_in_window, threshold, operator) {
        Suggestion::Keep => {}
        Suggestion::Threshold(value) => advice.suggested_threshold = Some(value),
        Suggestion::NoRoom => advice.notes.push(format!(
            "more than 1% of the window's periods crossed threshold {threshold}, but no round threshold above the normal periods (p99 {}) stays below the largest burst ({}), so none is suggested",
            advice.baseline.map_or(0.0, |b| b.p99),
            advice.baseline.map_or(0.0, |b| b.max)
        )),
        Suggestion::Unjudged(why) => advice.notes.push(why),
    }
}

/// A read of advice: known, asked for, or not to be had (noted).
enum Read<'f, T> {
    Known(&'f T),
    Waiting,
    Missing(String),
}

impl<'f> Walk<'_, 'f> {
    /// The chain holds up to the topic's record of the alarm's notifications: with advice to
    /// gather or carry, measure it and judge the topic's deliveries; else it passes.
    pub(super) fn advise(&mut self, alarm: Notifier<'_>, alarm_account: &str, region: &str, topic: TopicAt<'_>, page: &'f AlarmHistory, delivered: String) {
        if self.pending {
            return;
        }
        // One passing chain is chosen, the first: the others pass without advice.
        if std::mem::replace(&mut self.advised, true) {
            return self.end(Link::Complete, Reason::Compliant, delivered);
        }
        let window = match self.audit.advice {
            AdviceMode::Off => return self.end(Link::Complete, Reason::Compliant, delivered),
            AdviceMode::Carry(carried) => {
                let same = |a: &&Advice| a.notifier_arn == alarm.arn && a.topic_arn == topic.arn && self.watching.is_some_and(|w| w.arn == a.alarm_arn);
                return match carried.get(self.control.id).filter(same) {
                    Some(advice) => self.finish(advice.clone(), topic, delivered),
                    None => self.end(Link::Complete, Reason::Compliant, delivered),
                };
            }
            AdviceMode::Gather(window) => window,
        };
        let Some(watching) = self.watching else { return self.end(Link::Complete, Reason::Compliant, delivered) };
        let mut advice = Advice {
            alarm_arn: watching.arn.clone(),
            alarm_name: watching.name.clone(),
            account_id: alarm_account.to_owned(),
            region: region.to_owned(),
            notifier_arn: alarm.arn.to_owned(),
            topic_arn: topic.arn.to_owned(),
            measured_at: window.end,
            statistic: watching.statistic.clone().or_else(|| watching.extended_statistic.clone()),
            period_seconds: watching.period,
            evaluation_periods: watching.evaluation_periods,
            datapoints_to_alarm: watching.datapoints_to_alarm,
            threshold: watching.threshold,
            comparison_operator: watching.comparison_operator.clone(),
            namespace: watching.namespace.clone(),
            metric_name: watching.metric_name.clone(),
            dimensions: watching.dimensions.clone(),
            alarm_actions: watching.alarm_actions.clone(),
            treat_missing_data: watching.treat_missing_data.clone(),
            window_days: window.days,
            ..Advice::default()
        };
        let mut waiting = false;

        // The notifying alarm's state changes: the page every alarm's history came on, when it
        // reaches back past the window's start; else the alarm's own over the window.
        let items: Option<(&'f [AlarmHistoryItem], bool)> = if reaches_back(page, window.start) {
            Some((&page.items, true))
        } else {
            let request = Request::AlarmStates { account_id: alarm_account.to_owned(), region: region.to_owned(), alarm_name: alarm.name.to_owned(), start: window.start, end: window.end };
            match self.advice_read(request, |a| as_variant!(a, Answer::AlarmHistory)) {
                Read::Known(history) => Some((&history.items, history.complete)),
                Read::Waiting => {
                    waiting = true;
                    None
                }
                Read::Missing(why) => {
                    advice.notes.push(format!("the state changes of {} {:?} were not read: {why}", alarm.title().to_ascii_lowercase(), alarm.name));
                    None
                }
            }
        };
        let changes: Option<Vec<Change>> = items.map(|(items, complete)| {
            if !complete {
                advice.notes.push(format!("only the newest {} history items of {:?} were read: it may have gone to ALARM more often", items.len(), alarm.name));
            }
            items.iter().filter(|i| i.alarm_name == alarm.name).filter_map(change).collect()
        });

        // The metric's values per alarm period.
        let values = match alarm_query(watching) {
            Ok(query) => match self.metric_values(alarm_account, region, &window, query) {
                Read::Known(values) => Some(values),
                Read::Waiting => {
                    waiting = true;
                    None
                }
                Read::Missing(why) => {
                    advice.notes.push(format!("the values of alarm {:?}'s metric were not read: {why}", watching.name));
                    None
                }
            },
            Err(why) => {
                advice.notes.push(why);
                None
            }
        };

        // The topic's delivery record, in its owner's account and region.
        let [delivered_query, failed_query] = delivery_queries(topic.arn);
        let sums = [delivered_query, failed_query].map(|query| match self.metric_values(topic.owner, topic.region, &window, query) {
            Read::Known(values) => Ok(values.values.iter().filter(|v| v.is_finite()).fold(0.0, |sum, v| sum + v)),
            Read::Waiting => Err(None),
            Read::Missing(why) => Err(Some(why)),
        });
        match sums {
            [Ok(delivered), Ok(failed)] => advice.delivery = Some(Delivery { topic_arn: topic.arn.to_owned(), delivered, failed }),
            [a, b] => {
                let why = [a, b].into_iter().find_map(|r| match r {
                    Err(Some(why)) => Some(why),
                    _ => None,
                });
                match why {
                    Some(why) => advice.notes.push(format!("the delivery record of topic {} was not read: {why}", topic.arn)),
                    None => waiting = true,
                }
            }
        }

        if waiting && self.missing.is_none() {
            self.advice_pending = true;
            return;
        }
        judge_alarm(&mut advice, watching, &window, changes.as_deref(), values);
        self.finish(advice, topic, delivered);
    }

    /// Ends the chain with its advice: a FAIL when every delivery of the topic failed, else a pass.
    fn finish(&mut self, advice: Advice, topic: TopicAt<'_>, delivered: String) {
        let record = advice.delivery.clone().filter(|d| d.topic_arn == topic.arn);
        let since = (advice.measured_at - Duration::days(i64::from(advice.window_days))).to_rfc3339_opts(SecondsFormat::Secs, true);
        let until = advice.measured_at.to_rfc3339_opts(SecondsFormat::Secs, true);
        match record {
            Some(Delivery { delivered: ok, failed, .. }) if failed > 0.0 && ok <= 0.0 => {
                let link = EvidenceLink::with_detail(LinkKind::TopicDelivery, topic.arn, format!("{failed} failed, none delivered, {since} to {until}"))
                    .in_account(topic.owner)
                    .in_region(topic.region)
                    .with("delivered", 0.0)
                    .with("failed", failed)
                    .with("since", since.as_str())
                    .with("until", until.as_str());
                let message = format!(
                    "Topic {} failed to deliver {failed} notification(s) to its subscribers from {since} to {until} and delivered none (AWS/SNS NumberOfNotificationsFailed, NumberOfNotificationsDelivered): nobody received the alarm's notifications.",
                    topic.arn
                );
                self.with(link, |walk| walk.end(Link::SubscriberDelivery, Reason::SubscriberDeliveryFailing, message));
            }
            Some(Delivery { delivered: ok, failed, .. }) if failed > 0.0 => {
                self.notes.push(format!("topic {} failed {failed} of {} deliveries to its subscribers from {since} to {until}", topic.arn, failed + ok));
                self.end(Link::Complete, Reason::Compliant, delivered);
                self.notes.pop();
            }
            _ => self.end(Link::Complete, Reason::Compliant, delivered),
        }
        if !self.pending
            && let Some(path) = self.out.last_mut()
        {
            path.advice = Some(advice);
        }
    }

    /// An advice read through the walk's facts: never a reason to end the path.
    fn advice_read<T>(&mut self, request: Request, pick: impl FnOnce(&'f Answer) -> Option<&'f T>) -> Read<'f, T> {
        match self.facts.get(&request) {
            None => match self.missing {
                Some(unobserved) => Read::Missing(unobserved.message.clone()),
                None => {
                    *self.needs.entry(request).or_insert(false) |= self.shared;
                    Read::Waiting
                }
            },
            Some(Err(unobserved)) => Read::Missing(failure(unobserved)),
            Some(Ok(answer)) => match pick(answer) {
                Some(value) => Read::Known(value),
                None => Read::Missing(format!("{} was answered with something else", request.operation())),
            },
        }
    }

    /// A query's values, from any `GetMetricData` answer of the account, region and window that
    /// holds it; else wanted in the step's batch for that account and region.
    fn metric_values(&mut self, account_id: &str, region: &str, window: &AdviceWindow, query: MetricDataQuery) -> Read<'f, MetricValues> {
        for (request, answer) in self.facts.iter() {
            let Request::MetricData { account_id: a, region: r, start, end, queries } = request else { continue };
            if a != account_id || r != region || *start != window.start || *end != window.end {
                continue;
            }
            let Some(index) = queries.iter().position(|q| *q == query) else { continue };
            return match answer {
                Ok(Answer::MetricData(all)) => match all.get(index) {
                    Some(values) => Read::Known(values),
                    None => Read::Missing("GetMetricData gave no result for it".into()),
                },
                Ok(_) => Read::Missing("GetMetricData was answered with something else".into()),
                Err(unobserved) => Read::Missing(failure(unobserved)),
            };
        }
        if let Some(unobserved) = self.missing {
            return Read::Missing(unobserved.message.clone());
        }
        let shared = self.shared || account_id != self.audit.account_id;
        self.wants.want(account_id, region, query, shared);
        Read::Waiting
    }
}

fn failure(unobserved: &Unobserved) -> String {
    format!("{} failed: {}", unobserved.operation, unobserved.message)
}

/// Whether a newest-first history page holds every item since `start`.
fn reaches_back(page: &AlarmHistory, start: DateTime<Utc>) -> bool {
    page.complete || page.items.iter().map(|i| i.timestamp).min().is_some_and(|oldest| oldest <= start)
}
