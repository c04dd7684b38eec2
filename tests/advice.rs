//! Advice on passing chains, end to end against the emulator (docs/ADVICE.md): the scan that
//! measures reads the alarm's metric and the topic's delivery record through CloudWatch's CBOR
//! protocol, a broken chain reads none of it, the next scan reads none either and carries the
//! advice, and `orgwatch tune` shows it.

use orgwatch_tests::{Emulator, counter, describe, latest};
use serde_json::{Value, json};

fn tune(emulator: &Emulator, config: &std::path::Path, extra: &[&str]) -> (Option<i32>, Value, String) {
    let mut args = vec!["tune", "--config", config.to_str().unwrap(), "--format", "json"];
    args.extend_from_slice(extra);
    let output = emulator.run(&args);
    let value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output.status.code(), value, describe(&output))
}

#[tokio::test]
async fn the_scan_that_measures_reads_each_passing_accounts_metrics_once_and_the_next_carries_them() {
    let emulator = Emulator::start();
    let org = emulator.build(json!({
        "management": {"setup": "compliant"},
        "accounts": [{"name": "passing", "setup": "compliant"}, {"name": "broken", "setup": "no-subscription"}],
    }));
    let rules: Vec<Value> = ["passing", "broken"].iter().flat_map(|name| ["GetMetricData", "DescribeAlarmHistory"].map(|op| counter(org.id(name), "monitoring", op))).collect();
    emulator.set_faults(Value::Array(rules));
    let dir = tempfile::tempdir().unwrap();
    let config = emulator.write_config(dir.path(), "concurrency = 4", "[advice]\nevery = \"24h\"\nwindow_days = 7\n");

    let output = emulator.run(&["scan", "--config", config.to_str().unwrap()]);
    assert!(output.status.success(), "{}", describe(&output));
    let found = latest(&dir.path().join("orgwatch.db")).await;
    assert_eq!(found[org.id("passing")], ("PASS".to_owned(), "COMPLIANT".to_owned()));
    assert_eq!(found[org.id("broken")], ("FAIL".to_owned(), "NO_CONFIRMED_SUBSCRIPTION".to_owned()));
    assert_eq!(emulator.fired(org.id("passing"), "GetMetricData"), 1);
    assert_eq!(emulator.fired(org.id("broken"), "GetMetricData"), 0, "a broken chain reads none of it");
    assert_eq!(emulator.fired(org.id("broken"), "DescribeAlarmHistory"), 0);
    let (_, evidence) = emulator.finding(&config, org.id("passing"));
    let advice = &evidence["advice"];
    assert_eq!(advice["window_days"], 7, "{evidence}");
    assert_eq!(advice["times_in_alarm"], 0, "{advice}");
    assert_eq!(advice["noisy"], false, "{advice}");
    assert_eq!(advice["delivery"]["failed"], 0.0, "the delivery record was read: {advice}");
    assert_eq!(advice["delivery"]["delivered"].to_string(), "0.0", "{advice}");
    // Every read answered; the quiet emulated metric had nothing to measure.
    assert_eq!(advice["notes"], json!(["its metric had no data in the window"]), "{advice}");
    assert!(advice.get("baseline").is_none(), "{advice}");

    let (code, all, text) = tune(&emulator, &config, &["--account", org.id("passing")]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(all[0]["alarm_arn"], advice["alarm_arn"], "{all}");
    assert_eq!((all[0]["suggested_threshold"].clone(), all[0]["apply"].clone()), (Value::Null, Value::Null), "{all}");

    // The next scan measures nothing and carries the advice on.
    let output = emulator.run(&["scan", "--config", config.to_str().unwrap()]);
    assert!(output.status.success(), "{}", describe(&output));
    assert_eq!(emulator.fired(org.id("passing"), "GetMetricData"), 1, "not read again");
    let (_, again) = emulator.finding(&config, org.id("passing"));
    assert_eq!(again["advice"], *advice);
}

#[tokio::test]
async fn a_noisy_alarm_gets_a_threshold_above_its_baseline_a_quiet_one_none_and_a_topic_that_delivers_nothing_fails() {
    let emulator = Emulator::start();
    let org = emulator.build(json!({
        "management": {"setup": "compliant"},
        "accounts": [
            {"name": "noisy", "setup": "compliant-noisy"},
            {"name": "quiet", "setup": "compliant-quiet"},
            {"name": "undelivered", "setup": "delivery-failing"},
            {"name": "delivered", "setup": "compliant-delivered"},
            {"name": "partial", "setup": "compliant-delivery-partial"},
        ],
    }));
    let dir = tempfile::tempdir().unwrap();
    let config = emulator.write_config(dir.path(), "concurrency = 4", "");
    let output = emulator.run(&["scan", "--config", config.to_str().unwrap()]);
    assert!(output.status.success(), "{}", describe(&output));
    let found = latest(&dir.path().join("orgwatch.db")).await;
    for (name, status, reason) in [("noisy", "PASS", "COMPLIANT"), ("quiet", "PASS", "COMPLIANT"), ("delivered", "PASS", "COMPLIANT"), ("partial", "PASS", "COMPLIANT"), ("undelivered", "FAIL", "SUBSCRIBER_DELIVERY_FAILING")] {
        assert_eq!(found[org.id(name)], (status.to_owned(), reason.to_owned()), "{name}");
    }

    let (code, all, text) = tune(&emulator, &config, &[]);
    assert_eq!(code, Some(0), "{text}");
    let entry = |name: &str| all.as_array().unwrap().iter().find(|e| e["account_id"] == org.id(name)).cloned().unwrap_or_else(|| panic!("no entry for {name}: {all}"));
    let noisy = entry("noisy");
    assert_eq!(noisy["noisy"], true, "{noisy}");
    assert!(noisy["times_in_alarm"].as_u64().unwrap() >= 300, "hundreds of times: {noisy}");
    let p99 = noisy["baseline"]["p99"].as_f64().unwrap();
    let suggested = noisy["suggested_threshold"].as_f64().unwrap_or_else(|| panic!("no suggestion: {noisy}"));
    assert!(suggested > p99 && suggested < 200.0, "suggested {suggested}, p99 {p99}: {noisy}");
    assert_eq!(noisy["baseline"]["max"].as_f64(), Some(200.0), "{noisy}");
    let apply = noisy["apply"].as_str().unwrap_or_else(|| panic!("no command: {noisy}"));
    assert!(apply.starts_with("aws cloudwatch put-metric-alarm ") && apply.contains(&format!("--threshold {suggested} ")) && apply.contains("--alarm-actions arn:aws:sns:"), "{apply}");
    let quiet = entry("quiet");
    assert_eq!((quiet["noisy"].clone(), quiet["suggested_threshold"].clone(), quiet["apply"].clone()), (json!(false), Value::Null, Value::Null), "{quiet}");
    assert_eq!(quiet["times_in_alarm"], 3, "{quiet}");
    assert!(entry("delivered")["delivery"]["delivered"].as_f64().unwrap() > 0.0);
    assert!(entry("partial")["delivery"]["failed"].as_f64().unwrap() > 0.0);
    // tune shows passing chains only.
    assert!(all.as_array().unwrap().iter().all(|e| e["account_id"] != org.id("undelivered")), "{all}");
    let (message, evidence) = emulator.finding(&config, org.id("undelivered"));
    assert_eq!(evidence["links"].as_array().unwrap().last().unwrap()["kind"], "topic-delivery", "{evidence}");
    assert!(message.contains("delivered none"), "{message}");
    let (_, partial) = emulator.finding(&config, org.id("partial"));
    assert!(partial["notes"].as_array().unwrap().iter().any(|n| n.as_str().unwrap().contains("deliveries to its subscribers")), "{partial}");
}

#[tokio::test]
async fn tune_says_why_it_has_nothing_to_show() {
    let emulator = Emulator::start();
    let dir = tempfile::tempdir().unwrap();
    let config = emulator.write_config(dir.path(), "", "");
    let (code, _, text) = tune(&emulator, &config, &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("no database at") && text.contains("orgwatch scan"), "{text}");
    let (code, _, text) = tune(&emulator, &config, &["--account", "12"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("is not a 12-digit account id"), "{text}");

    emulator.build(json!({"management": {"setup": "compliant"}, "accounts": [{"name": "off", "setup": "compliant"}]}));
    let off = emulator.write_config(dir.path(), "", "[advice]\nenabled = false\n");
    let output = emulator.run(&["scan", "--config", off.to_str().unwrap()]);
    assert!(output.status.success(), "{}", describe(&output));
    let (code, _, text) = tune(&emulator, &off, &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("no passing chain has been measured yet"), "{text}");
}

#[tokio::test]
async fn investigate_prints_the_queries_of_every_control_of_a_passing_family() {
    let emulator = Emulator::start();
    let listed = emulator.run(&["controls", "--format", "json"]);
    let controls: Value = serde_json::from_slice(&listed.stdout).unwrap_or_else(|_| panic!("{}", describe(&listed)));
    let ids: Vec<String> = controls.as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect();
    let org = emulator.build(json!({"controls": controls, "management": {"setup": "compliant", "family": true}, "accounts": []}));
    let dir = tempfile::tempdir().unwrap();
    let config = emulator.write_config(dir.path(), "", "");
    // Every control, not the template's one.
    let text = std::fs::read_to_string(&config).unwrap().replace("controls = [\"unauthorized-api-calls\"]\n", "");
    std::fs::write(&config, text).unwrap();
    let output = emulator.run(&["scan", "--config", config.to_str().unwrap()]);
    assert!(output.status.success(), "{}", describe(&output));
    let found = latest(&dir.path().join("orgwatch.db")).await;
    assert_eq!(found.get(&org.management).map(|f| f.0.as_str()), Some("PASS"), "{found:?}");

    let output = emulator.run(&["investigate", "--config", config.to_str().unwrap(), "--account", &org.management, "--since", "12h"]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    for id in &ids {
        assert!(text.contains(&format!("# ==== {id} ====")), "{id} missing:\n{text}");
    }
    assert_eq!(text.matches("aws logs start-query --region us-east-1 --log-group-name ").count(), 2 * ids.len(), "{text}");
    assert!(!text.contains("# No query"), "every published pattern renders:\n{text}");

    let output = emulator.run(&["investigate", "--config", config.to_str().unwrap(), "--account", "999999999999"]);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no passing chain"), "{}", describe(&output));
}
