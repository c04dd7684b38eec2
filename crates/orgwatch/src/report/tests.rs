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
