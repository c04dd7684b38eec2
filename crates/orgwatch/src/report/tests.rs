use super::*;
use orgwatch_core::finding::{EvidenceLink, UnseenRead};
use orgwatch_store::{ControlPosture, DriftCount, ScanPosture};

const ACCOUNT: &str = "111122223333";

fn stored(status: &str, reason: &str, links: &[(LinkKind, &str)]) -> StoredLatest {
    let evidence = Evidence {
        links: links
            .iter()
            .map(|(k, owner)| {
                EvidenceLink::new(*k, format!("{}-id", k.as_str())).in_account(*owner)
            })
            .collect(),
        ..Evidence::default()
    };
    StoredLatest {
        account_id: ACCOUNT.into(),
        control_id: "unauthorized-api-calls".into(),
        status: status.into(),
        reason: reason.into(),
        message: "a message".into(),
        evidence: Some(serde_json::to_string(&evidence).unwrap()),
        observed_at: "2026-12-03T00:00:00Z".into(),
    }
}

fn broken(view: &FindingView) -> Vec<&'static str> {
    view.links
        .iter()
        .flatten()
        .filter(|l| l.broken)
        .map(|l| l.kind)
        .collect()
}

#[test]
fn the_link_a_reason_blames_is_marked_or_named_missing() {
    use LinkKind as K;
    let upto_metric = [
        (K::Trail, ACCOUNT),
        (K::LogGroup, ACCOUNT),
        (K::MetricFilter, ACCOUNT),
        (K::Metric, ACCOUNT),
    ];
    let upto_alarm = [&upto_metric[..], &[(K::Alarm, ACCOUNT)]].concat();
    let with_topic = [
        &upto_alarm[..],
        &[
            (K::Topic, "999988887777"),
            (K::Subscription, "999988887777"),
            (K::TopicPolicy, "999988887777"),
        ],
    ]
    .concat();
    let with_key = [
        &with_topic[..],
        &[(K::KmsKey, "999988887777"), (K::KeyPolicy, "999988887777")],
    ]
    .concat();
    let composite = [&upto_alarm[..], &[(K::CompositeAlarm, ACCOUNT)]].concat();
    // (status, reason, links, marked, missing)
    let cases: Vec<(&str, &str, &[(LinkKind, &str)], Vec<&str>, Option<&str>)> = vec![
        ("PASS", "COMPLIANT", &with_topic, vec![], None),
        (
            "FAIL",
            "NO_ALARM_ON_METRIC",
            &upto_metric,
            vec![],
            Some("Alarm"),
        ),
        (
            "FAIL",
            "NO_MULTI_REGION_TRAIL",
            &[],
            vec![],
            Some("CloudTrail trail"),
        ),
        (
            "FAIL",
            "TRAIL_NOT_LOGGING",
            &upto_metric[..1],
            vec!["trail"],
            None,
        ),
        (
            "FAIL",
            "ALARM_CANNOT_FIRE",
            &upto_alarm,
            vec!["alarm"],
            None,
        ),
        (
            "FAIL",
            "ALARM_CANNOT_FIRE",
            &composite,
            vec!["composite-alarm"],
            None,
        ),
        (
            "FAIL",
            "SNS_TOPIC_POLICY_DENIES_PUBLISH",
            &with_topic,
            vec!["topic-policy"],
            None,
        ),
        (
            "FAIL",
            "SNS_TOPIC_UNPUBLISHABLE",
            &with_key,
            vec!["key-policy"],
            None,
        ),
        (
            "FAIL",
            "SNS_TOPIC_UNPUBLISHABLE",
            &with_topic,
            vec!["topic"],
            None,
        ),
        ("ERROR", "API_ERROR", &upto_alarm, vec![], None),
        (
            "FAIL",
            "A_REASON_FROM_ANOTHER_VERSION",
            &upto_alarm,
            vec![],
            None,
        ),
    ];
    for (status, reason, links, marked, missing) in cases {
        let view = finding_view(&stored(status, reason, links));
        assert_eq!(broken(&view), marked, "{reason} over {links:?}");
        assert_eq!(view.missing, missing, "{reason} over {links:?}");
        assert_eq!(view.links.as_ref().map(Vec::len), Some(links.len()));
    }
    let view = finding_view(&stored(
        "FAIL",
        "SNS_TOPIC_POLICY_DENIES_PUBLISH",
        &with_topic,
    ));
    let elsewhere: Vec<&str> = view
        .links
        .iter()
        .flatten()
        .filter(|l| l.elsewhere)
        .map(|l| l.kind)
        .collect();
    assert_eq!(
        elsewhere,
        ["topic", "subscription", "topic-policy"],
        "the central account's links are another account's"
    );
}

#[test]
fn a_finding_without_readable_evidence_is_drawn_without_a_chain() {
    let mut passing = stored("PASS", "COMPLIANT", &[]);
    passing.evidence = None;
    assert!(finding_view(&passing).links.is_none());
    let mut garbled = stored("FAIL", "TRAIL_NOT_LOGGING", &[]);
    garbled.evidence = Some("{not json".into());
    let view = finding_view(&garbled);
    assert!(view.links.is_none() && view.missing.is_none());
    let mut unseen = stored("ERROR", "ACCESS_DENIED", &[]);
    let evidence = Evidence {
        unseen: Some(UnseenRead {
            operation: "cloudwatch:DescribeAlarms".into(),
            account_id: ACCOUNT.into(),
        }),
        ..Evidence::default()
    };
    unseen.evidence = Some(serde_json::to_string(&evidence).unwrap());
    assert_eq!(
        finding_view(&unseen).unseen.as_deref(),
        Some("cloudwatch:DescribeAlarms in account 111122223333")
    );
}

#[test]
fn every_template_parses_and_every_value_an_account_wrote_is_escaped() {
    let env = environment();
    for name in [
        "layout.html",
        "macros.html",
        "overview.html",
        "file.html",
        "index.html",
        "account.html",
    ] {
        env.get_template(name)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let hostile = "<img src=x onerror=alert(1)>\"'&";
    let mut finding = stored(
        "FAIL",
        "NO_MATCHING_METRIC_FILTER",
        &[(LinkKind::Trail, ACCOUNT), (LinkKind::LogGroup, ACCOUNT)],
    );
    finding.message = format!("pattern {hostile}");
    let mut view = finding_view(&finding);
    if let Some(links) = view.links.as_mut() {
        links[1].id = hostile.into();
        links[1].detail = Some(hostile.into());
    }
    let page = env
        .get_template("account.html")
        .unwrap()
        .render(context! { generated_at => "now", account_id => ACCOUNT, account_name => hostile, findings => Value::from_serialize([&view]) })
        .unwrap();
    assert!(!page.contains("<img"), "{page}");
    assert_eq!(
        page.matches("&lt;img src=x onerror=alert(1)&gt;&quot;&#x27;&amp;")
            .count(),
        5,
        "name (title and heading), message (twice) and link id; {page}"
    );
    assert!(
        page.contains("data-kind=\"missing\"")
            && page.contains("<span class=\"kind\">Metric filter</span>"),
        "{page}"
    );
}

#[test]
fn the_charts_draw_a_bar_per_status_a_point_per_scan_and_control_and_a_bar_per_change() {
    let posture = vec![
        ControlPosture {
            control_id: "a".into(),
            pass: 3,
            fail: 1,
            error: 0,
            not_applicable: 0,
        },
        ControlPosture {
            control_id: "b".into(),
            pass: 0,
            fail: 2,
            error: 1,
            not_applicable: 1,
        },
    ];
    let svg = charts::posture_now(&posture).unwrap();
    assert!(svg.starts_with("<svg"), "{svg}");
    let bars = |svg: &str, fill: &str| svg.matches(&format!("fill=\"{fill}\"")).count();
    assert_eq!(
        (
            bars(&svg, "#2E7D32"),
            bars(&svg, "#C62828"),
            bars(&svg, "#EF6C00"),
            bars(&svg, "#9E9E9E")
        ),
        (1, 2, 1, 1),
        "{svg}"
    );

    let history: Vec<ScanPosture> = (1..=3)
        .flat_map(|scan| {
            ["a", "b"].map(|c| ScanPosture {
                scan_id: scan,
                started_at: format!("2026-12-0{scan}T00:00:00Z"),
                control_id: c.into(),
                pass: scan,
                total: 4,
            })
        })
        .collect();
    let svg = charts::posture_over_time(&history, &["a".into(), "b".into()]).unwrap();
    assert_eq!(svg.matches("<circle").count(), 6, "{svg}");
    assert!(svg.matches("<polyline").count() >= 2, "{svg}");
    assert!(
        svg.contains("2026-12-01 00:00") && svg.contains("2026-12-03 00:00"),
        "the scans' dates label the axis"
    );

    let drift = vec![
        DriftCount {
            scan_id: 3,
            detected_at: "2026-12-03T00:00:00Z".into(),
            regressions: 2,
            recoveries: 0,
        },
        DriftCount {
            scan_id: 2,
            detected_at: "2026-12-02T00:00:00Z".into(),
            regressions: 1,
            recoveries: 3,
        },
    ];
    let svg = charts::drift(&drift).unwrap();
    assert_eq!(
        (bars(&svg, "#2E7D32"), bars(&svg, "#C62828")),
        (1, 2),
        "{svg}"
    );
    // One scan, nothing else: still a chart, no panic.
    assert!(
        charts::posture_over_time(&history[..1], &["a".into()])
            .unwrap()
            .contains("<circle")
    );
    assert!(charts::posture_now(&[]).is_ok());
}

#[test]
fn the_file_draws_each_cause_once_and_lists_the_other_controls_it_breaks() {
    use LinkKind as K;
    let chain = [(K::Trail, ACCOUNT), (K::LogGroup, ACCOUNT), (K::MetricFilter, ACCOUNT), (K::Metric, ACCOUNT), (K::Alarm, ACCOUNT), (K::Topic, "999988887777"), (K::TopicPolicy, "999988887777")];
    let finding = |control: &str, status: &str, reason: &str, alarm: &str| {
        let mut f = stored(status, reason, &chain);
        f.control_id = control.into();
        f.message = format!("{reason} of {control}");
        let mut view = finding_view(&f);
        if let Some(link) = view.links.as_mut().and_then(|links| links.iter_mut().find(|l| l.kind == "alarm")) {
            link.id = alarm.into();
        }
        view
    };
    let findings = vec![
        finding("c1", "FAIL", "SNS_TOPIC_POLICY_DENIES_PUBLISH", "alarm-c1"),
        finding("c2", "FAIL", "ALARM_ACTIONS_DISABLED", "alarm-c2"),
        finding("c3", "FAIL", "SNS_TOPIC_POLICY_DENIES_PUBLISH", "alarm-c3"),
        finding("c4", "FAIL", "ALARM_ACTIONS_DISABLED", "alarm-c4"),
        finding("c5", "PASS", "COMPLIANT", "alarm-c5"),
        finding("c6", "PASS", "COMPLIANT", "alarm-c6"),
        finding("c7", "FAIL", "NO_CONFIRMED_SUBSCRIPTION", "alarm-c7"),
        finding("c8", "ERROR", "SNS_TOPIC_POLICY_DENIES_PUBLISH", "alarm-c8"),
    ];
    let groups = grouped(findings);
    let shape: Vec<(&str, Vec<(&str, bool)>)> = groups.iter().map(|g| (g.control_id.as_str(), g.also.iter().map(|o| (o.control_id.as_str(), o.same_link)).collect())).collect();
    assert_eq!(
        shape,
        vec![
            // The same topic policy refuses both: one drawing, c3 at the very same link.
            ("c1", vec![("c3", true)]),
            // Each alarm's actions are off: c2's chain drawn, c4 listed, at its own alarm.
            ("c2", vec![("c4", false)]),
            // Passing findings are never folded; another reason or status is its own cause.
            ("c5", vec![]),
            ("c6", vec![]),
            ("c7", vec![]),
            ("c8", vec![]),
        ]
    );
    assert_eq!(groups[1].also[0].message, "ALARM_ACTIONS_DISABLED of c4", "a listed control keeps its own message");

    let drawn = |group: &FindingView| -> String {
        let macros = environment().get_template("macros.html").unwrap();
        let captured = macros.render_captured(context! {}).unwrap();
        captured.state().call_macro("finding", &[Value::from_serialize(group)]).unwrap()
    };
    let page = drawn(&groups[1]);
    assert_eq!(page.matches("<ol class=\"chain\"").count(), 1, "{page}");
    assert!(page.contains("<strong>c2</strong> and 1 more"), "{page}");
    assert!(page.contains("Also ALARM_ACTIONS_DISABLED at their own alarm, in chains like the one above"), "{page}");
    assert!(page.contains("<li data-control=\"c4\"><strong>c4</strong>: ALARM_ACTIONS_DISABLED of c4</li>"), "{page}");
    let shared = drawn(&groups[0]);
    assert!(shared.contains("Also SNS_TOPIC_POLICY_DENIES_PUBLISH at the same topic policy ("), "{shared}");
    assert!(shared.contains("orgwatch findings --account 111122223333"), "{shared}");
}

#[tokio::test]
async fn the_daemons_index_reads_again_only_when_the_database_changed_and_searches_literally() {
    use orgwatch_core::{Evidence, Finding};
    use orgwatch_store::{AccountRecord, ScanStatus};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orgwatch.db");
    let store = Store::open(&path).await.unwrap();
    let t = |minute: i64| DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z").unwrap().with_timezone(&Utc) + chrono::Duration::minutes(minute);
    let scan = |names: &'static [(&'static str, &'static str, Reason)], minute: i64| {
        let store = &store;
        async move {
            let id = store.begin_scan(t(minute)).await.unwrap();
            let records: Vec<AccountRecord> = names.iter().map(|(id, name, _)| AccountRecord { account_id: (*id).into(), account_name: (*name).into(), state: "ACTIVE".into() }).collect();
            store.record_accounts(id, &records).await.unwrap();
            let findings: Vec<Finding> = names.iter().map(|(id, _, reason)| Finding { account_id: (*id).into(), control_id: "unauthorized-api-calls".into(), status: reason.status(), reason: *reason, message: "m".into(), evidence: Evidence::default() }).collect();
            store.record_findings(id, &findings, t(minute)).await.unwrap();
            store.finish_scan(id, ScanStatus::Completed, None, t(minute)).await.unwrap();
        }
    };
    scan(&[("111111111111", "prod_eu", Reason::Compliant), ("222222222222", "prodXeu", Reason::NoAlarmOnMetric), ("333333333333", "100% dev", Reason::TrailNotLogging)], 0).await;
    let cache = PageCache::default();
    let since = t(-60);
    let rows = |page: &str| -> Vec<String> { page.split("class=\"account-row\" data-account=\"").skip(1).map(|r| r[..12].to_owned()).collect() };
    let index = |search: Option<&'static str>| {
        let (store, cache) = (&store, &cache);
        async move { super::index(store, cache, since, t(90), search, 1).await.unwrap() }
    };
    let first = index(None).await;
    assert_eq!(rows(&first), ["111111111111", "222222222222", "333333333333"]);
    assert!(first.contains("Latest completed scan #1,"), "{first}");
    // `_` and `%` are the characters typed, not wildcards; the case does not matter.
    assert_eq!(rows(&index(Some("prod_")).await), ["111111111111"]);
    assert_eq!(rows(&index(Some("0% D")).await), ["333333333333"]);
    assert_eq!(rows(&index(Some("PROD")).await), ["111111111111", "222222222222"]);
    assert_eq!(rows(&index(Some("2222")).await), ["222222222222"]);

    // The next scan drops one account and breaks another: the next request reads it.
    scan(&[("111111111111", "prod_eu", Reason::NoAlarmOnMetric), ("222222222222", "prodXeu", Reason::NoAlarmOnMetric)], 30).await;
    let page = index(None).await;
    assert_eq!(rows(&page), ["111111111111", "222222222222"], "{page}");
    assert!(page.contains("Latest completed scan #2,"), "the overview is the second scan's: {page}");
    assert!(index(None).await.contains("Latest completed scan #2,"), "and is kept");
}
