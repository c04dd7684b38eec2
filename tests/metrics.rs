//! `/metrics` end to end: the daemon scans the emulator, and its exposition is parsed with
//! Prometheus's own parsers (the Python `prometheus-client` package's, for the text format and
//! for OpenMetrics) and its values checked against what the scan did.

use orgwatch_core::{Evidence, Finding, Reason};
use orgwatch_store::{AccountRecord, ScanStatus, Store};
use orgwatch_tests::{Emulator, describe, free_port, header, python};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A control id that needs every escape the text formats have.
const ODD_CONTROL: &str = "odd \"control\" \\ with\na newline";

/// (status, content type, body) of a GET on the daemon.
fn http_get(port: u16, path: &str, accept: Option<&str>) -> Option<(u16, String, String)> {
    let (status, head, body) = orgwatch_tests::http_get(port, path, accept)?;
    Some((status, header(&head, "content-type").unwrap_or_default().to_ascii_lowercase(), body))
}

/// Samples by (name, labels) as Prometheus's parser for `format` reads `text`.
fn parse(format: &str, text: &str) -> BTreeMap<(String, BTreeMap<String, String>), Option<f64>> {
    let mut child = std::process::Command::new(python())
        .arg(orgwatch_tests::repo_root().join("tests/emulator/parse_metrics.py"))
        .arg(format)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("parse_metrics.py");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "Prometheus's {format} parser refused /metrics: {}\n{text}", String::from_utf8_lossy(&output.stderr));
    let samples: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    samples
        .iter()
        .map(|s| {
            // A bucket's bound is a number: OpenMetrics writes 1.0 where the text format writes 1.
            let bound = |v: &str| v.parse::<f64>().ok().filter(|b| b.is_finite()).map_or_else(|| v.to_owned(), |b| b.to_string());
            let labels = s["labels"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), if k == "le" { bound(v.as_str().unwrap()) } else { v.as_str().unwrap().to_owned() })).collect();
            ((s["name"].as_str().unwrap().to_owned(), labels), s["value"].as_f64())
        })
        .collect()
}

/// The daemon of `config`, started, once `/healthz` on `port` says a scan has completed.
fn daemon_after_scan(emulator: &Emulator, config: &str, port: u16) -> Child {
    let daemon = emulator.orgwatch().args(["daemon", "--config", config]).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let health = http_get(port, "/healthz", None).and_then(|(_, _, body)| serde_json::from_str::<Value>(&body).ok());
        if health.as_ref().is_some_and(|h| h["last_scan_status"] == "completed") {
            return daemon;
        }
        assert!(Instant::now() < deadline, "no completed scan: {health:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Stops the daemon with SIGTERM and asserts it exits cleanly.
fn stop(mut daemon: Child) {
    let _ = std::process::Command::new("kill").args(["-TERM", &daemon.id().to_string()]).status();
    let exit = daemon.wait().unwrap();
    let mut log = String::new();
    daemon.stderr.take().unwrap().read_to_string(&mut log).unwrap();
    assert!(exit.success(), "{exit:?}\n{log}");
}

/// Runs `tests/emulator/{script} {file}` with `exposed` (what /metrics exposes) on its stdin: the
/// number of queries it checked, or its complaint.
fn check_queries(script: &str, file: &Path, exposed: &Value) -> Result<usize, String> {
    let mut check = std::process::Command::new(python())
        .arg(orgwatch_tests::repo_root().join("tests/emulator").join(script))
        .arg(file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    check.stdin.take().unwrap().write_all(exposed.to_string().as_bytes()).unwrap();
    let output = check.wait_with_output().unwrap();
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().parse().unwrap())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

#[tokio::test]
async fn metrics_parse_with_prometheus_and_count_what_the_scan_did() {
    let emulator = Emulator::start();
    let org = emulator.build(json!({"management": {"setup": "compliant"}, "accounts": [
        {"name": "steady", "setup": "compliant"},
        {"name": "drifting", "setup": "compliant"},
        {"name": "throttled", "setup": "compliant"},
        {"name": "denied", "setup": "compliant"},
        {"name": "flaky", "setup": "compliant"},
    ]}));
    let faults = |flaky: bool| {
        let mut rules = vec![
            json!({"account": org.id("throttled"), "service": "cloudtrail", "operation": "GetTrailStatus", "fault": "throttle"}),
            json!({"account": org.id("denied"), "service": "sns", "operation": "GetTopicAttributes", "fault": "access_denied"}),
        ];
        if flaky {
            // Throttled twice, then answered: the SDK's retries absorb it, and it counts as one call.
            rules.push(json!({"account": org.id("flaky"), "service": "cloudtrail", "operation": "DescribeTrails", "fault": "throttle", "times": 2}));
        }
        emulator.set_faults(Value::Array(rules));
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = emulator.write_config(dir.path(), "schedule = \"0 0 1 1 *\"\nrun_on_start = true", &format!("[http]\nlisten = \"127.0.0.1:{port}\""));
    let config = config.to_str().unwrap();
    let db = dir.path().join("orgwatch.db");

    // History before the daemon: a one-shot scan, then the drifting account loses its alarm.
    faults(false);
    let output = emulator.run(&["scan", "--config", config]);
    assert!(output.status.success(), "{}", describe(&output));
    emulator.build(json!({"changes": [{"account_id": org.id("drifting"), "setup": "no-alarm"}]}));
    faults(true);
    // A completed scan: a finding of a control id that needs escaping for a member, and one of
    // an account no longer in the organization (it leaves: not counted in orgwatch_accounts); then
    // a scan a crash left running (the daemon marks it abandoned).
    let store = Store::open(&db).await.unwrap();
    let extra = store.begin_scan(chrono::Utc::now()).await.unwrap();
    let record = |id: &str| AccountRecord { account_id: id.into(), account_name: id.into(), state: "ACTIVE".into() };
    store.record_accounts(extra, &[record(org.id("steady")), record("999999999999")]).await.unwrap();
    let failing = |account: &str, control: &str| Finding { account_id: account.into(), control_id: control.into(), status: Reason::NoAlarmOnMetric.status(), reason: Reason::NoAlarmOnMetric, message: "x".into(), evidence: Evidence::default() };
    store.record_findings(extra, &[failing(org.id("steady"), ODD_CONTROL), failing("999999999999", "unauthorized-api-calls")], chrono::Utc::now()).await.unwrap();
    store.finish_scan(extra, ScanStatus::Completed, None, chrono::Utc::now()).await.unwrap();
    store.begin_scan(chrono::Utc::now()).await.unwrap();
    store.close().await;

    let started = chrono::Utc::now().timestamp();
    let daemon = daemon_after_scan(&emulator, config, port);
    let (status, content_type, text) = http_get(port, "/metrics", None).unwrap();
    let (om_status, om_content_type, om_text) = http_get(port, "/metrics", Some("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")).unwrap();
    let flaky_throttles = emulator.faults()["rules"][2]["fired"].as_u64();
    stop(daemon);

    assert_eq!((status, content_type.as_str()), (200, "text/plain; version=0.0.4; charset=utf-8"));
    assert_eq!((om_status, om_content_type.as_str()), (200, "application/openmetrics-text; version=1.0.0; charset=utf-8"));
    let samples = parse("prometheus", &text);
    // Both formats say the same.
    assert_eq!(parse("openmetrics", &om_text), samples, "OpenMetrics:\n{om_text}\nPrometheus text:\n{text}");

    let value = |name: &str, labels: &[(&str, &str)]| -> f64 {
        let labels: BTreeMap<String, String> = labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        samples.get(&(name.to_owned(), labels.clone())).copied().flatten().unwrap_or_else(|| panic!("no sample {name} {labels:?} in\n{text}"))
    };
    // Every outcome, abandoned included.
    assert_eq!(value("orgwatch_scans_total", &[("outcome", "completed")]), 1.0);
    assert_eq!(value("orgwatch_scans_total", &[("outcome", "abandoned")]), 1.0);
    assert_eq!(value("orgwatch_scans_total", &[("outcome", "failed")]), 0.0);
    assert_eq!(value("orgwatch_scans_total", &[("outcome", "interrupted")]), 0.0);
    // The duration histogram.
    assert_eq!(value("orgwatch_scan_duration_seconds_count", &[("outcome", "completed")]), 1.0);
    assert_eq!(value("orgwatch_scan_duration_seconds_bucket", &[("outcome", "completed"), ("le", "+Inf")]), 1.0);
    assert_eq!(value("orgwatch_scan_duration_seconds_bucket", &[("outcome", "completed"), ("le", "14400")]), 1.0);
    let seconds = value("orgwatch_scan_duration_seconds_sum", &[("outcome", "completed")]);
    assert!(seconds > 0.0 && seconds < 120.0, "{seconds}");
    assert_eq!(value("orgwatch_last_scan_duration_seconds", &[]), seconds);
    assert_eq!(value("orgwatch_scan_duration_seconds_count", &[("outcome", "interrupted")]), 0.0);
    let finished = value("orgwatch_last_completed_scan_timestamp_seconds", &[]);
    assert!(finished >= started as f64 && finished <= chrono::Utc::now().timestamp() as f64, "{finished}");
    assert_eq!(value("orgwatch_last_scan_timestamp_seconds", &[]), finished);
    // Accounts by control and status: every status of the configured control, and a control id
    // from the data that round-trips through the escaping.
    let control = "unauthorized-api-calls";
    assert_eq!(value("orgwatch_accounts", &[("control", control), ("status", "PASS")]), 3.0, "management, steady, flaky");
    assert_eq!(value("orgwatch_accounts", &[("control", control), ("status", "FAIL")]), 1.0, "drifting, and not the account that left");
    assert_eq!(value("orgwatch_accounts", &[("control", control), ("status", "ERROR")]), 2.0, "throttled, denied");
    assert_eq!(value("orgwatch_accounts", &[("control", control), ("status", "NOT_APPLICABLE")]), 0.0);
    assert_eq!(value("orgwatch_accounts", &[("control", ODD_CONTROL), ("status", "FAIL")]), 1.0);
    // Noisy alarms: none of the emulated organization's alarms went to ALARM in the window.
    assert_eq!(value("orgwatch_noisy_alarms", &[("control", control)]), 0.0);
    // API calls, errors and throttles by service and operation; each call once, after retries.
    let api = |family: &str, service: &str, operation: &str| value(&format!("orgwatch_aws_api_{family}_total"), &[("service", service), ("operation", operation)]);
    assert_eq!(api("calls", "organizations", "DescribeOrganization"), 1.0);
    assert_eq!(api("calls", "organizations", "ListAccounts"), 1.0);
    assert_eq!(api("calls", "sts", "AssumeRole"), 6.0, "one role per account");
    assert_eq!(api("calls", "cloudtrail", "DescribeTrails"), 6.0);
    assert_eq!(flaky_throttles, Some(2), "the flaky account was throttled twice");
    assert_eq!(api("errors", "cloudtrail", "DescribeTrails"), 0.0, "retries absorbed the flaky throttles");
    assert_eq!(api("throttles", "cloudtrail", "DescribeTrails"), 0.0);
    assert_eq!(api("errors", "cloudtrail", "GetTrailStatus"), 1.0);
    assert_eq!(api("throttles", "cloudtrail", "GetTrailStatus"), 1.0);
    assert_eq!(api("errors", "sns", "GetTopicAttributes"), 1.0);
    assert_eq!(api("throttles", "sns", "GetTopicAttributes"), 0.0);
    assert_eq!(api("errors", "organizations", "ListAccounts"), 0.0);
    for family in ["calls", "errors", "throttles"] {
        let operations = samples.keys().filter(|(name, _)| *name == format!("orgwatch_aws_api_{family}_total")).count();
        assert_eq!(operations, orgwatch_aws::AUDIT_OPERATIONS.len(), "every operation has its {family} series");
    }
    // Drift events by kind: drifting regressed, the gone account left.
    assert_eq!(value("orgwatch_drift_events_total", &[("change", "REGRESSION")]), 1.0);
    assert_eq!(value("orgwatch_drift_events_total", &[("change", "LEFT_ORGANIZATION")]), 1.0);
    for change in ["NEW", "RECOVERY", "CHANGE"] {
        assert_eq!(value("orgwatch_drift_events_total", &[("change", change)]), 0.0, "{change}");
    }
    assert_eq!(value("orgwatch_build_info", &[("version", env!("CARGO_PKG_VERSION"))]), 1.0);

    // The operator's reference names every family, and its queries and alert rules parse and
    // name only metrics that exist.
    let doc = orgwatch_tests::repo_root().join("docs/METRICS.md");
    let reference = std::fs::read_to_string(&doc).unwrap();
    let families: std::collections::BTreeSet<&str> = text.lines().filter_map(|l| l.strip_prefix("# TYPE ")).filter_map(|l| l.split(' ').next()).collect();
    assert_eq!(families.len(), 12, "{families:?}");
    for family in &families {
        assert!(reference.contains(&format!("`{family}`")), "docs/METRICS.md does not describe {family}");
    }
    let names: std::collections::BTreeSet<&str> = samples.keys().map(|(name, _)| name.as_str()).collect();
    let checked = check_queries("check_promql.py", &doc, &json!(names)).unwrap_or_else(|e| panic!("docs/METRICS.md: {e}"));
    assert!(checked >= 20, "only {checked} expressions checked");
}

/// The panel titled `title`, among `panels` and the panels rows hold.
fn panel_mut<'a>(panels: &'a mut Value, title: &str) -> Option<&'a mut Value> {
    for panel in panels.as_array_mut()? {
        if panel["title"] == title {
            return Some(panel);
        }
        if let Some(found) = panel.get_mut("panels").and_then(|nested| panel_mut(nested, title)) {
            return Some(found);
        }
    }
    None
}

/// Every panel of a dashboard, rows' nested panels included.
fn all_panels(panels: &Value) -> Vec<&Value> {
    let mut all = Vec::new();
    for panel in panels.as_array().into_iter().flatten() {
        all.push(panel);
        all.extend(all_panels(&panel["panels"]));
    }
    all
}

/// deploy/grafana/orgwatch.json has the panels an operator looks for, each with a query, and
/// every query and template variable parses (PromQL, and Grafana's `label_values`) and selects
/// series that /metrics exposes after a scan of the emulator; a dashboard that names a metric,
/// label or value orgwatch does not expose, or holds a malformed query, is refused.
#[test]
fn grafana_dashboard_queries_parse_and_select_what_metrics_exposes() {
    let emulator = Emulator::start();
    emulator.build(json!({"management": {"setup": "compliant"}, "accounts": [
        {"name": "passing", "setup": "compliant"},
        {"name": "failing", "setup": "no-alarm"},
    ]}));
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = emulator.write_config(dir.path(), "schedule = \"0 0 1 1 *\"\nrun_on_start = true", &format!("[http]\nlisten = \"127.0.0.1:{port}\""));
    let daemon = daemon_after_scan(&emulator, config.to_str().unwrap(), port);
    let (status, _, text) = http_get(port, "/metrics", None).unwrap();
    stop(daemon);
    assert_eq!(status, 200);
    let samples = parse("prometheus", &text);
    assert!(samples.contains_key(&("orgwatch_accounts".to_owned(), [("control", "unauthorized-api-calls"), ("status", "FAIL")].map(|(k, v)| (k.to_owned(), v.to_owned())).into())), "{text}");
    let exposed = Value::Array(samples.keys().map(|(name, labels)| json!([name, labels])).collect());

    let path = orgwatch_tests::repo_root().join("deploy/grafana/orgwatch.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).expect("the dashboard is JSON");
    assert!(dashboard["schemaVersion"].as_u64().is_some_and(|v| v >= 39), "schemaVersion {}", dashboard["schemaVersion"]);
    let panels: Vec<&Value> = all_panels(&dashboard["panels"]).into_iter().filter(|p| p["type"] != "row").collect();
    let titles: Vec<&str> = panels.iter().map(|p| p["title"].as_str().expect("every panel has a title")).collect();
    let unique: std::collections::BTreeSet<&str> = titles.iter().copied().collect();
    assert_eq!(unique.len(), titles.len(), "panel titles repeat: {titles:?}");
    for title in ["Posture by control", "Scan duration", "AWS API errors and throttles", "Drift: regressions and recoveries", "Noisy alarms"] {
        assert!(unique.contains(title), "no panel {title:?} in {titles:?}");
    }
    let mut targets = 0;
    for panel in &panels {
        let queries = panel["targets"].as_array().map(Vec::as_slice).unwrap_or_default();
        assert!(!queries.is_empty(), "panel {:?} has no target", panel["title"]);
        for target in queries {
            assert!(target["expr"].as_str().is_some_and(|e| !e.trim().is_empty()), "panel {:?}: a target without expr: {target}", panel["title"]);
        }
        targets += queries.len();
    }
    let variables = dashboard["templating"]["list"].as_array().expect("template variables");
    let variable = |name: &str| variables.iter().find(|v| v["name"] == name).unwrap_or_else(|| panic!("no variable {name}"));
    assert_eq!((&variable("datasource")["type"], &variable("datasource")["query"]), (&json!("datasource"), &json!("prometheus")));
    assert_eq!(variable("control")["type"], "query");
    assert!(variable("control")["definition"].as_str().is_some_and(|d| d.starts_with("label_values(")), "{}", variable("control"));
    let query_variables = variables.iter().filter(|v| v["type"] == "query").count();

    let checked = check_queries("check_grafana.py", &path, &exposed).unwrap_or_else(|e| panic!("deploy/grafana/orgwatch.json: {e}"));
    assert_eq!(checked, targets + query_variables, "every target and query variable is checked");

    // The check refuses what a dashboard can get wrong.
    let tampered = |edit: &dyn Fn(&mut Value)| {
        let mut copy = dashboard.clone();
        edit(&mut copy);
        let file = dir.path().join("tampered.json");
        std::fs::write(&file, copy.to_string()).unwrap();
        check_queries("check_grafana.py", &file, &exposed).expect_err("a tampered dashboard passes the check")
    };
    let expr = |copy: &mut Value, title: &str, index: usize, edit: &dyn Fn(&str) -> String| {
        let target = &mut panel_mut(&mut copy["panels"], title).unwrap()["targets"][index]["expr"];
        *target = json!(edit(target.as_str().unwrap()));
    };
    let error = tampered(&|d| expr(d, "Scan duration", 0, &|_| "orgwatch_scan_seconds".into()));
    assert!(error.contains("names orgwatch_scan_seconds, which /metrics does not expose"), "{error}");
    let error = tampered(&|d| expr(d, "Scan duration", 1, &|e| e.trim_end_matches(')').into()));
    assert!(error.contains("does not parse"), "{error}");
    let error = tampered(&|d| expr(d, "Posture by control", 1, &|e| e.replace("status=\"FAIL\"", "status=\"FAILING\"")));
    assert!(error.contains("status='FAILING' matches no value of orgwatch_accounts"), "{error}");
    let error = tampered(&|d| expr(d, "Noisy alarms", 0, &|e| e.replace("$control", "$controls")));
    assert!(error.contains("uses $controls"), "{error}");
    let error = tampered(&|d| {
        let control = d["templating"]["list"].as_array_mut().unwrap().iter_mut().find(|v| v["name"] == "control").unwrap();
        control["definition"] = json!("label_values(orgwatch_controls, control)");
        control["query"]["query"] = control["definition"].clone();
    });
    assert!(error.contains("names orgwatch_controls, which /metrics does not expose"), "{error}");
}
