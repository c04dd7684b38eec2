//! Advice on passing chains: the rules (noise, baseline, suggested threshold) as tables, and
//! the walk that gathers it — one GetMetricData per account and region, the state changes from
//! the history page already read, the topic's delivery record, nothing for a failing chain.

use super::*;
use crate::evaluate::advice::{self, AdviceWindow, Change, Suggestion};
use crate::finding::{Advice, Delivery};

fn window() -> AdviceWindow {
    AdviceWindow::ending(now(), 7, 1.0)
}

fn period_start(i: i64) -> DateTime<Utc> {
    window().start + chrono::Duration::seconds(300 * i)
}

/// Every 5-minute period of the week at 3 to 8, one burst of 200 thirty hours ago.
fn noisy_values() -> MetricValues {
    let periods = 7 * 24 * 12;
    let burst = periods - 30 * 12;
    let (timestamps, values) = (0..periods).map(|i| (period_start(i), if i == burst { 200.0 } else { (3 + (i * 7) % 6) as f64 })).unzip();
    MetricValues { timestamps, values }
}

/// Three periods of the week at 1, nothing else.
fn quiet_values() -> MetricValues {
    MetricValues { timestamps: vec![period_start(100), period_start(900), period_start(1700)], values: vec![1.0; 3] }
}

fn state(at: DateTime<Utc>, from: &str, to: &str) -> AlarmHistoryItem {
    AlarmHistoryItem {
        alarm_name: alarm(ACCOUNT).name,
        kind: HistoryKind::StateUpdate,
        timestamp: at,
        summary: format!("Alarm updated from {from} to {to}"),
        data: serde_json::json!({"version": "1.0", "oldState": {"stateValue": from}, "newState": {"stateValue": to, "stateReason": "Threshold Crossed"}}).to_string(),
    }
}

/// `times` transitions to ALARM over the window, each back to OK ten minutes later.
fn flapping(times: i64) -> Vec<AlarmHistoryItem> {
    let step = (window().end - window().start).num_seconds() / (times + 1);
    (1..=times)
        .flat_map(|i| {
            let at = window().start + chrono::Duration::seconds(step * i);
            [state(at, "OK", "ALARM"), state(at + chrono::Duration::minutes(10), "ALARM", "OK")]
        })
        .collect()
}

fn the_query() -> MetricDataQuery {
    MetricDataQuery { namespace: "CISBenchmark".into(), metric_name: "UnauthorizedAPICalls".into(), dimensions: vec![], stat: "Sum".into(), period_seconds: 300 }
}

/// The compliant account, its alarm (Sum, 300 s × 1, >= 1) with these values and state changes.
fn measured(values: MetricValues, history: Vec<AlarmHistoryItem>) -> AccountFacts {
    let mut facts = compliant(ACCOUNT);
    let alarm = the_alarm(&mut facts);
    alarm.period = Some(300);
    alarm.evaluation_periods = Some(1);
    facts.metric_data.insert(the_query(), Ok(values));
    set_history(&mut facts, history);
    facts
}

fn deliveries(f: &mut AccountFacts, delivered: &[f64], failed: &[f64]) {
    let [d, x] = advice::delivery_queries(&topic_arn(ACCOUNT));
    let daily = |values: &[f64]| MetricValues { timestamps: (0..values.len() as i64).map(|i| window().start + chrono::Duration::days(i)).collect(), values: values.to_vec() };
    f.metric_data.insert(d, Ok(daily(delivered)));
    f.metric_data.insert(x, Ok(daily(failed)));
}

fn advised(accounts: Vec<AccountFacts>, mode: AdviceMode<'_>) -> Driven {
    let control = controls::find(UNAUTHORIZED_API_CALLS).unwrap();
    drive_advised(&accounts, ACCOUNT, &[control], &[], mode)
}

fn gathered(facts: AccountFacts) -> Driven {
    advised(vec![facts], AdviceMode::Gather(window()))
}

fn advice_of(finding: &Finding) -> &Advice {
    finding.evidence.advice.as_ref().unwrap_or_else(|| panic!("no advice on {finding:?}"))
}

/// The advice reads asked for: `cloudwatch:GetMetricData` (MetricData) or
/// `cloudwatch:DescribeAlarmHistory` (AlarmStates, not the history pages of the chain).
fn requests<'d>(driven: &'d Driven, operation: &str) -> Vec<&'d Request> {
    driven.rounds.iter().flatten().map(|n| &n.request).filter(|r| matches!(r, Request::MetricData { .. } | Request::AlarmStates { .. }) && r.operation() == operation).collect()
}

#[test]
fn a_noisy_alarm_passes_with_a_threshold_above_its_normal_periods_and_below_its_burst() {
    let driven = gathered(measured(noisy_values(), flapping(400)));
    let finding = &driven.findings[0];
    assert_eq!((finding.status, finding.reason), (Status::Pass, Reason::Compliant), "{finding:?}");
    let advice = advice_of(finding);
    assert_eq!(advice.times_in_alarm, Some(400));
    assert!(advice.noisy, "{advice:?}");
    let baseline = advice.baseline.unwrap();
    assert_eq!((baseline.periods, baseline.p50, baseline.p99, baseline.max), (2016, 6.0, 8.0, 200.0));
    assert_eq!(advice.suggested_threshold, Some(10.0));
    assert_eq!((advice.statistic.as_deref(), advice.period_seconds, advice.threshold), (Some("Sum"), Some(300), Some(1.0)));
    assert_eq!(advice.window_days, 7);
    // 400 times ten minutes.
    assert!((advice.hours_in_alarm.unwrap() - 400.0 / 6.0).abs() < 0.01, "{advice:?}");
    assert_eq!(advice.delivery, Some(Delivery { topic_arn: topic_arn(ACCOUNT), delivered: 0.0, failed: 0.0 }));
}

#[test]
fn one_get_metric_data_carries_the_alarms_metric_and_the_topics_record() {
    let driven = gathered(measured(noisy_values(), flapping(3)));
    let calls = requests(&driven, "cloudwatch:GetMetricData");
    assert_eq!(calls.len(), 1, "{calls:?}");
    let Request::MetricData { queries, start, end, .. } = calls[0] else { unreachable!() };
    let names: Vec<&str> = queries.iter().map(|q| q.metric_name.as_str()).collect();
    assert_eq!(names, ["NumberOfNotificationsDelivered", "NumberOfNotificationsFailed", "UnauthorizedAPICalls"]);
    assert_eq!((*start, *end), (window().start, window().end));
    // The state changes came on the page of every alarm's history, asked for with every kind.
    assert!(requests(&driven, "cloudwatch:DescribeAlarmHistory").is_empty(), "no AlarmStates read");
    let pages: Vec<&Request> = driven.rounds.iter().flatten().map(|n| &n.request).filter(|r| matches!(r, Request::AlarmHistory { .. })).collect();
    assert_eq!(pages, [&Request::AlarmHistory { account_id: ACCOUNT.into(), region: REGION.into(), alarm_name: None, every_kind: true }]);
}

#[test]
fn a_quiet_alarm_is_not_noisy_and_keeps_its_threshold() {
    let finding = gathered(measured(quiet_values(), flapping(3))).findings.remove(0);
    let advice = advice_of(&finding);
    assert_eq!(finding.status, Status::Pass);
    assert_eq!(advice.times_in_alarm, Some(3));
    assert!(!advice.noisy);
    assert_eq!(advice.suggested_threshold, None);
    assert_eq!(advice.baseline.map(|b| (b.periods, b.max)), Some((3, 1.0)));
}

#[test]
fn a_topic_whose_every_delivery_failed_fails_the_chain() {
    let mut facts = measured(quiet_values(), flapping(3));
    deliveries(&mut facts, &[], &[2.0, 1.0]);
    let finding = gathered(facts).findings.remove(0);
    assert_eq!((finding.status, finding.reason), (Status::Fail, Reason::SubscriberDeliveryFailing), "{finding:?}");
    let last = finding.evidence.links.last().unwrap();
    assert_eq!((last.kind, last.id.as_str()), (LinkKind::TopicDelivery, topic_arn(ACCOUNT).as_str()));
    assert!(finding.message.contains("failed to deliver 3 notification(s)"), "{}", finding.message);
    assert_eq!(advice_of(&finding).delivery.as_ref().map(|d| (d.delivered, d.failed)), Some((0.0, 3.0)));
}

#[test]
fn a_topic_that_delivered_passes_and_some_failures_are_noted() {
    let mut facts = measured(quiet_values(), flapping(3));
    deliveries(&mut facts, &[4.0], &[]);
    assert_eq!(gathered(facts).findings[0].status, Status::Pass);

    let mut facts = measured(quiet_values(), flapping(3));
    deliveries(&mut facts, &[4.0, 2.0], &[1.0]);
    let finding = gathered(facts).findings.remove(0);
    assert_eq!(finding.status, Status::Pass);
    assert!(finding.evidence.notes.iter().any(|n| n.contains("failed 1 of 7 deliveries")), "{:?}", finding.evidence.notes);
}

#[test]
fn a_failing_chain_reads_none_of_it() {
    let mut facts = measured(noisy_values(), flapping(400));
    let Ok(Topic::Found { subscriptions, .. }) = the_topic(&mut facts) else { unreachable!() };
    *subscriptions = Ok(vec![]);
    let driven = gathered(facts);
    assert_eq!(driven.findings[0].reason, Reason::NoConfirmedSubscription);
    assert!(driven.findings[0].evidence.advice.is_none());
    assert!(requests(&driven, "cloudwatch:GetMetricData").is_empty());
    assert!(requests(&driven, "cloudwatch:DescribeAlarmHistory").is_empty());
}

#[test]
fn a_scan_without_advice_reads_none_of_it() {
    let driven = advised(vec![measured(noisy_values(), flapping(400))], AdviceMode::Off);
    assert_eq!(driven.findings[0].status, Status::Pass);
    assert!(driven.findings[0].evidence.advice.is_none());
    assert!(requests(&driven, "cloudwatch:GetMetricData").is_empty());
    let pages: Vec<&Request> = driven.rounds.iter().flatten().map(|n| &n.request).filter(|r| matches!(r, Request::AlarmHistory { .. })).collect();
    assert_eq!(pages, [&Request::AlarmHistory { account_id: ACCOUNT.into(), region: REGION.into(), alarm_name: None, every_kind: false }]);
}

#[test]
fn advice_that_cannot_be_read_is_noted_and_the_chain_still_passes() {
    let mut facts = measured(noisy_values(), flapping(3));
    facts.metric_data.insert(the_query(), Err(Unobserved::access_denied("cloudwatch:GetMetricData", "not authorized")));
    let finding = gathered(facts).findings.remove(0);
    assert_eq!((finding.status, finding.reason), (Status::Pass, Reason::Compliant));
    let advice = advice_of(&finding);
    assert_eq!(advice.baseline, None);
    assert!(advice.notes.iter().any(|n| n.contains("not authorized")), "{:?}", advice.notes);
    assert!(advice.notes.iter().any(|n| n.contains("delivery record")), "{:?}", advice.notes);
}

#[test]
fn a_history_page_that_does_not_reach_back_asks_for_the_alarms_own_state_changes() {
    let mut facts = measured(noisy_values(), flapping(250));
    facts.history_truncated = true;
    let driven = gathered(facts);
    let states = requests(&driven, "cloudwatch:DescribeAlarmHistory");
    assert_eq!(
        states,
        [&Request::AlarmStates { account_id: ACCOUNT.into(), region: REGION.into(), alarm_name: alarm(ACCOUNT).name, start: window().start, end: window().end }]
    );
    assert_eq!(advice_of(&driven.findings[0]).times_in_alarm, Some(250));
}

#[test]
fn an_alarm_that_needs_several_datapoints_is_noted() {
    let mut facts = measured(noisy_values(), flapping(3));
    let alarm = the_alarm(&mut facts);
    alarm.evaluation_periods = Some(5);
    alarm.datapoints_to_alarm = Some(3);
    let finding = gathered(facts).findings.remove(0);
    assert!(advice_of(&finding).notes.iter().any(|n| n.contains("needs 3 of 5 datapoints of 300 s") && n.contains("shorter than 900 s")), "{:?}", advice_of(&finding).notes);
}

#[test]
fn a_scan_that_does_not_gather_carries_the_last_advice_of_the_same_chain() {
    let mut facts = measured(quiet_values(), flapping(3));
    deliveries(&mut facts, &[], &[5.0]);
    let earlier = advice_of(&gathered(facts).findings[0]).clone();
    let carried = BTreeMap::from([(UNAUTHORIZED_API_CALLS.to_owned(), earlier.clone())]);
    let driven = advised(vec![measured(quiet_values(), vec![])], AdviceMode::Carry(&carried));
    assert!(requests(&driven, "cloudwatch:GetMetricData").is_empty());
    assert_eq!(driven.findings[0].reason, Reason::SubscriberDeliveryFailing);
    assert_eq!(driven.findings[0].evidence.advice.as_ref(), Some(&earlier));

    // Another alarm now: the advice was about a chain that is gone.
    let other = BTreeMap::from([(UNAUTHORIZED_API_CALLS.to_owned(), Advice { alarm_arn: "arn:aws:cloudwatch:us-east-1:111122223333:alarm:old".into(), ..earlier })]);
    let driven = advised(vec![measured(quiet_values(), vec![])], AdviceMode::Carry(&other));
    assert_eq!(driven.findings[0].status, Status::Pass);
    assert!(driven.findings[0].evidence.advice.is_none());
}

#[test]
fn round_values_are_one_two_or_five_times_a_power_of_ten() {
    for (value, round) in [(0.0, 0.01), (0.5, 1.0), (1.0, 2.0), (1.5, 2.0), (2.0, 5.0), (7.0, 10.0), (8.0, 10.0), (10.0, 20.0), (99.0, 100.0), (150.0, 200.0), (4999.0, 5000.0)] {
        assert_eq!(advice::round_above(value), round, "above {value}");
    }
}

#[test]
fn the_baseline_is_the_nearest_rank_of_the_periods_with_data() {
    let values: Vec<f64> = (1..=100).map(f64::from).collect();
    let b = advice::baseline(&values).unwrap();
    assert_eq!((b.periods, b.p50, b.p99, b.max), (100, 50.0, 99.0, 100.0));
    let b = advice::baseline(&[7.0]).unwrap();
    assert_eq!((b.periods, b.p50, b.p99, b.max), (1, 7.0, 7.0, 7.0));
    assert_eq!(advice::baseline(&[]), None);
    assert_eq!(advice::baseline(&[f64::NAN]), None);
}

#[test]
fn the_suggestion_rule() {
    let normal = |n: usize, high: f64| -> Vec<f64> { (0..n).map(|i| if i % 2 == 0 { 3.0 } else { high }).collect() };
    let with_burst = |mut v: Vec<f64>, burst: f64| {
        v.push(burst);
        v
    };
    let ge = "GreaterThanOrEqualToThreshold";
    let cases: Vec<(&str, Vec<f64>, u64, f64, &str, Suggestion)> = vec![
        ("every period crosses 1: the round value above p99", with_burst(normal(2015, 8.0), 200.0), 2016, 1.0, ge, Suggestion::Threshold(10.0)),
        ("a strict comparison", with_burst(normal(2015, 8.0), 200.0), 2016, 1.0, "GreaterThanThreshold", Suggestion::Threshold(10.0)),
        ("p99 at a round value: the next one", with_burst(normal(2015, 10.0), 200.0), 2016, 1.0, ge, Suggestion::Threshold(20.0)),
        ("1% of the window's periods is allowed", vec![5.0; 20], 2016, 1.0, ge, Suggestion::Keep),
        ("more than 1% of the window's periods", vec![5.0; 21], 2016, 1.0, ge, Suggestion::NoRoom),
        ("no burst above the normal periods", normal(2016, 8.0), 2016, 1.0, ge, Suggestion::NoRoom),
        ("a threshold that already holds", with_burst(normal(2015, 8.0), 200.0), 2016, 50.0, ge, Suggestion::Keep),
        ("a burst equal to the suggestion still fires >=", with_burst(normal(2015, 8.0), 10.0), 2016, 1.0, ge, Suggestion::Threshold(10.0)),
        ("but not >", with_burst(normal(2015, 8.0), 10.0), 2016, 1.0, "GreaterThanThreshold", Suggestion::NoRoom),
    ];
    for (name, values, periods, threshold, operator, expected) in cases {
        assert_eq!(advice::suggest(&values, periods, threshold, operator), expected, "{name}");
    }
    assert!(matches!(advice::suggest(&[1.0], 10, 1.0, "LessThanThreshold"), Suggestion::Unjudged(_)));
    assert!(matches!(advice::suggest(&[], 10, 1.0, ge), Suggestion::Unjudged(_)));
}

#[test]
fn time_in_alarm_counts_transitions_and_clips_to_the_window() {
    let w = window();
    let at = |hours: i64| w.start + chrono::Duration::hours(hours);
    let change = |hours: i64, from: &str, to: &str| Change { at: at(hours), from: Some(from.into()), to: to.into() };
    let cases: Vec<(&str, Vec<Change>, (u32, f64))> = vec![
        ("none", vec![], (0, 0.0)),
        ("one hour", vec![change(1, "OK", "ALARM"), change(2, "ALARM", "OK")], (1, 1.0)),
        ("still in ALARM at the end", vec![change(7 * 24 - 3, "OK", "ALARM")], (1, 3.0)),
        ("in ALARM since before the window", vec![change(2, "ALARM", "OK")], (0, 2.0)),
        ("out of order", vec![change(6, "ALARM", "OK"), change(4, "INSUFFICIENT_DATA", "ALARM")], (1, 2.0)),
        ("before the window: not counted", vec![Change { at: w.start - chrono::Duration::hours(1), from: Some("OK".into()), to: "ALARM".into() }], (0, 0.0)),
        ("ALARM to ALARM is one", vec![change(1, "OK", "ALARM"), change(2, "ALARM", "ALARM"), change(3, "ALARM", "OK")], (1, 2.0)),
    ];
    for (name, changes, expected) in cases {
        assert_eq!(advice::time_in_alarm(&changes, &w), expected, "{name}");
    }
}

#[test]
fn a_state_change_is_read_from_its_data_or_its_summary() {
    let item = state(now(), "OK", "ALARM");
    assert_eq!(advice::change(&item), Some(Change { at: now(), from: Some("OK".into()), to: "ALARM".into() }));
    let summary_only = AlarmHistoryItem { data: "not json".into(), summary: "Alarm updated from ALARM to OK".into(), ..item.clone() };
    assert_eq!(advice::change(&summary_only).map(|c| c.to), Some("OK".into()));
    let action = AlarmHistoryItem { kind: HistoryKind::Action, ..item.clone() };
    assert_eq!(advice::change(&action), None);
    let unreadable = AlarmHistoryItem { data: "{}".into(), summary: "something else".into(), ..item };
    assert_eq!(advice::change(&unreadable), None);
}

#[test]
fn the_window_ends_on_the_minute_and_holds_at_most_thirty_days() {
    let at = Utc.with_ymd_and_hms(2026, 11, 21, 12, 34, 56).unwrap();
    let w = AdviceWindow::ending(at, 90, 1.0);
    assert_eq!(w.end, Utc.with_ymd_and_hms(2026, 11, 21, 12, 34, 0).unwrap());
    assert_eq!((w.days, w.end - w.start), (30, chrono::Duration::days(30)));
}
