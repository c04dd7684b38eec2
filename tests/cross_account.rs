//! Links owned by another account, end to end against the emulator: members covered by the
//! management account's organization trail, and alarms that notify a central security
//! account's topic, each read with the owner's audit role and once per scan.

use orgwatch_tests::{Emulator, counter, describe, latest};
use serde_json::{Value, json};

/// The evidence of an account's latest finding.
fn evidence(emulator: &Emulator, config: &str, account: &str) -> Value {
    emulator.finding(std::path::Path::new(config), account).1
}

#[tokio::test]
async fn alarms_notifying_a_central_topic_are_judged_by_its_subscriptions_read_through_its_owner() {
    let emulator = Emulator::start();
    let org = emulator.build(json!({
        "management": {"setup": "compliant"},
        "accounts": [
            {"name": "security", "setup": "compliant"},
            {"name": "security-unsubscribed", "setup": "no-subscription"},
            {"name": "app-1", "setup": "compliant", "topic_account": "security"},
            {"name": "app-2", "setup": "compliant", "topic_account": "security"},
            {"name": "app-3", "setup": "compliant", "topic_account": "security"},
            {"name": "app-unsubscribed", "setup": "compliant", "topic_account": "security-unsubscribed"},
        ],
    }));
    let security = org.id("security");
    emulator.set_faults(json!([counter(security, "sns", "GetTopicAttributes"), counter(security, "sns", "ListSubscriptionsByTopic")]));
    let dir = tempfile::tempdir().unwrap();
    let config = emulator.write_config(dir.path(), "concurrency = 4", "");
    let config = config.to_str().unwrap();
    let output = emulator.run(&["scan", "--config", config]);
    assert!(output.status.success(), "{}", describe(&output));
    let found = latest(&dir.path().join("orgwatch.db")).await;
    let pass = ("PASS".to_owned(), "COMPLIANT".to_owned());
    for name in ["app-1", "app-2", "app-3", "security"] {
        assert_eq!(found[org.id(name)], pass, "{name}");
    }
    let unsubscribed = ("FAIL".to_owned(), "NO_CONFIRMED_SUBSCRIPTION".to_owned());
    assert_eq!(found[org.id("app-unsubscribed")], unsubscribed);
    assert_eq!(found[org.id("security-unsubscribed")], unsubscribed);

    // Read once in this scan, by its owner, for the four accounts that need it.
    for operation in ["GetTopicAttributes", "ListSubscriptionsByTopic"] {
        assert_eq!(emulator.fired(security, operation), 1, "{operation} in the security account");
    }
    // The evidence names the account of each link.
    let evidence = evidence(&emulator, config, org.id("app-1"));
    let links = evidence["links"].as_array().unwrap();
    let account_of = |kind: &str| links.iter().find(|l| l["kind"] == kind).map(|l| l["account_id"].clone()).unwrap_or_default();
    assert_eq!(account_of("topic"), security, "{links:?}");
    assert_eq!(account_of("subscription"), security, "{links:?}");
    assert_eq!(account_of("alarm"), org.id("app-1"), "{links:?}");
}

#[tokio::test]
async fn members_covered_only_by_the_organization_trail_are_judged_through_it() {
    let emulator = Emulator::start();
    let org = emulator.build(json!({
        "management": {"setup": "compliant-org-trail"},
        "accounts": [
            {"name": "covered-1", "setup": "no-trail"},
            {"name": "covered-2", "setup": "no-trail"},
            {"name": "covered-3", "setup": "no-trail"},
            {"name": "own-chain", "setup": "compliant"},
        ],
    }));
    let m = org.management.clone();
    let mut counters: Vec<Value> = ["GetTrailStatus", "GetEventSelectors"].iter().map(|op| counter(&m, "cloudtrail", op)).collect();
    counters.push(counter(&m, "logs", "DescribeMetricFilters"));
    counters.push(counter(&m, "monitoring", "DescribeAlarms"));
    counters.push(counter(&m, "sns", "GetTopicAttributes"));
    counters.push(counter(&m, "sns", "ListSubscriptionsByTopic"));
    emulator.set_faults(Value::Array(counters));
    let dir = tempfile::tempdir().unwrap();
    let config = emulator.write_config(dir.path(), "concurrency = 4", "");
    let config = config.to_str().unwrap();
    let scan = || {
        let output = emulator.run(&["scan", "--config", config]);
        assert!(output.status.success(), "{}", describe(&output));
    };
    scan();
    let db = dir.path().join("orgwatch.db");
    let found = latest(&db).await;
    assert_eq!(found.len(), 5);
    for (account, verdict) in &found {
        assert_eq!(verdict, &("PASS".to_owned(), "COMPLIANT".to_owned()), "{account}");
    }
    // The management account's chain was read once for itself and the three members.
    for operation in ["GetTrailStatus", "GetEventSelectors", "DescribeMetricFilters", "DescribeAlarms", "GetTopicAttributes", "ListSubscriptionsByTopic"] {
        assert_eq!(emulator.fired(&m, operation), 1, "{operation} in the management account");
    }
    let evidence = evidence(&emulator, config, org.id("covered-1"));
    let links = evidence["links"].as_array().unwrap();
    assert_eq!(links.first().map(|l| l["detail"].clone()), Some(json!("multi-region organization trail")), "{links:?}");
    assert!(links.iter().all(|l| l["account_id"] == m.as_str()), "every link lives in the management account: {links:?}");

    // The organization trail's chain broken in the management account: every covered member fails.
    emulator.build(json!({"changes": [{"account_id": m, "setup": "org-trail-no-alarm"}]}));
    scan();
    let found = latest(&db).await;
    for name in ["covered-1", "covered-2", "covered-3"] {
        assert_eq!(found[org.id(name)], ("FAIL".to_owned(), "NO_ALARM_ON_METRIC".to_owned()), "{name}");
    }
    assert_eq!(found[org.id("own-chain")], ("PASS".to_owned(), "COMPLIANT".to_owned()), "its own chain holds");

    // The management account's audit role refused: the covered members' findings name it.
    emulator.set_faults(json!([{"account": m, "service": "sts", "operation": "AssumeRole", "fault": "access_denied"}]));
    scan();
    let output = emulator.run(&["findings", "--config", config, "--account", org.id("covered-2"), "--format", "json"]);
    let rows: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(rows[0]["reason"], "ROLE_ASSUMPTION_FAILED", "{rows}");
    assert!(rows[0]["message"].as_str().unwrap().contains(&m), "{rows}");
}
