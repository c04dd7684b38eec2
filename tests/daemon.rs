//! The long-running side end to end: drift across scans, read-only SQL, and the daemon's
//! health, metrics and clean stop on SIGTERM.

use orgwatch_tests::{Emulator, describe, free_port, http_get, latest};
use serde_json::{Value, json};
use std::io::Read;
use std::time::{Duration, Instant};

#[tokio::test]
async fn drift_follows_an_account_that_regresses_and_recovers() {
    let emulator = Emulator::start();
    let org = emulator.build(json!({"management": {"setup": "compliant"}, "accounts": [{"name": "steady", "setup": "compliant"}, {"name": "drifting", "setup": "compliant"}]}));
    let dir = tempfile::tempdir().unwrap();
    let config = emulator.write_config(dir.path(), "", "");
    let config = config.to_str().unwrap();
    let scan = || {
        let output = emulator.run(&["scan", "--config", config]);
        assert!(output.status.success(), "{}", describe(&output));
    };
    scan();
    emulator.build(json!({"changes": [{"account_id": org.id("drifting"), "setup": "no-alarm"}]}));
    scan();
    emulator.build(json!({"changes": [{"account_id": org.id("drifting"), "setup": "compliant"}]}));
    scan();

    let output = emulator.run(&["drift", "--config", config, "--format", "json"]);
    assert!(output.status.success(), "{}", describe(&output));
    let events: Value = serde_json::from_slice(&output.stdout).unwrap();
    let drifting: Vec<(&str, &str, &str)> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["account_id"] == org.id("drifting"))
        .map(|e| (e["change"].as_str().unwrap(), e["status"].as_str().unwrap_or(""), e["reason"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(drifting, vec![("NEW", "PASS", "COMPLIANT"), ("REGRESSION", "FAIL", "NO_ALARM_ON_METRIC"), ("RECOVERY", "PASS", "COMPLIANT")]);
    let steady = events.as_array().unwrap().iter().filter(|e| e["account_id"] == org.id("steady")).count();
    assert_eq!(steady, 1, "an unchanged account drifts only once, when it is new");

    // History with SQL: answers, and refuses to change anything.
    let output = emulator.run(&["query", "--config", config, "--format", "csv", "SELECT scan_id, pass, fail FROM posture_by_scan ORDER BY scan_id"]);
    assert!(output.status.success(), "{}", describe(&output));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "scan_id,pass,fail\n1,3,0\n2,2,1\n3,3,0\n");
    let output = emulator.run(&["query", "--config", config, "DELETE FROM findings"]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("read-only"), "{}", describe(&output));
    let output = emulator.run(&["query", "--config", config, "SELECT COUNT(*) AS n FROM findings", "--format", "csv"]);
    assert_eq!(String::from_utf8_lossy(&output.stdout), "n\n9\n", "{}", describe(&output));
}

fn wait_for(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test]
async fn sigterm_during_a_scan_interrupts_it_cleanly_and_keeps_what_was_judged() {
    let emulator = Emulator::start();
    let accounts: Vec<Value> = (0..8).map(|i| json!({"name": format!("slow-{i}"), "setup": "compliant"})).collect();
    emulator.build(json!({"management": {"setup": "compliant"}, "accounts": accounts}));
    // Every account's first call is slow, so the scan is still running when the signal comes.
    emulator.set_faults(json!([{"service": "cloudtrail", "operation": "DescribeTrails", "fault": "none", "latency_ms": 1500}]));
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = emulator.write_config(
        dir.path(),
        "concurrency = 2\nschedule = \"0 0 1 1 *\"\nrun_on_start = true\ngrace_period_seconds = 1",
        &format!("[http]\nlisten = \"127.0.0.1:{port}\""),
    );
    let mut daemon = emulator.orgwatch().env("RUST_LOG", "info").args(["daemon", "--config", config.to_str().unwrap(), "--log-format", "json"]).stderr(std::process::Stdio::piped()).spawn().unwrap();

    wait_for("/healthz", Duration::from_secs(30), || http_get(port, "/healthz", None).is_some());
    let (status, _, body) = http_get(port, "/healthz", None).unwrap();
    assert_eq!(status, 200, "{body}");
    let health: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["scheduler_alive"], true);

    let db = dir.path().join("orgwatch.db");
    wait_for("two accounts judged", Duration::from_secs(60), || count_findings(&db) >= 2);
    let (status, _, metrics) = http_get(port, "/metrics", None).unwrap();
    assert_eq!(status, 200);
    assert!(metrics.contains("orgwatch_aws_api_calls_total{service=\"cloudtrail\",operation=\"DescribeTrails\"}"), "{metrics}");
    assert!(metrics.contains("orgwatch_scans_total{outcome=\"completed\"} 0"), "{metrics}");

    let kill = std::process::Command::new("kill").args(["-TERM", &daemon.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let started = Instant::now();
    let exit = loop {
        if let Some(status) = daemon.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the daemon did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut log = String::new();
    daemon.stderr.take().unwrap().read_to_string(&mut log).unwrap();
    assert!(exit.success(), "exit {exit:?}\n{log}");
    assert!(log.contains("SIGTERM received"), "{log}");
    assert!(!log.contains("testing"), "credentials must never reach the log");

    let store = orgwatch_store::Store::open_read_only(&db).await.unwrap();
    let scans = store.query("SELECT status FROM scans").await.unwrap();
    assert_eq!(scans.rows, vec![vec![json!("interrupted")]]);
    let judged = latest(&db).await;
    assert!(judged.len() >= 2 && judged.len() < 9, "judged {} of 9 accounts", judged.len());
    assert!(judged.values().all(|(status, _)| status == "PASS"), "{judged:?}");
    assert_eq!(store.integrity_check().await.unwrap(), "ok");
}

fn count_findings(db: &std::path::Path) -> usize {
    if !db.exists() {
        return 0;
    }
    let output = std::process::Command::new(orgwatch_tests::orgwatch_binary())
        .args(["query", "--format", "csv", "SELECT COUNT(*) FROM findings"])
        .env("ORGWATCH_CONFIG", db.parent().unwrap().join("orgwatch.toml"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).lines().nth(1).and_then(|l| l.trim().parse().ok()).unwrap_or(0)
}

#[tokio::test]
async fn sigterm_during_a_one_shot_scan_exits_0_with_the_scan_interrupted() {
    let emulator = Emulator::start();
    let accounts: Vec<Value> = (0..6).map(|i| json!({"name": format!("slow-{i}"), "setup": "compliant"})).collect();
    emulator.build(json!({"management": {"setup": "compliant"}, "accounts": accounts}));
    emulator.set_faults(json!([{"service": "cloudtrail", "operation": "DescribeTrails", "fault": "none", "latency_ms": 1500}]));
    let dir = tempfile::tempdir().unwrap();
    let config = emulator.write_config(dir.path(), "concurrency = 2\ngrace_period_seconds = 10", "");
    let db = dir.path().join("orgwatch.db");
    let scan = emulator.orgwatch().env("RUST_LOG", "info").args(["scan", "--config", config.to_str().unwrap()]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    wait_for("an account judged", Duration::from_secs(60), || count_findings(&db) >= 1);
    let kill = std::process::Command::new("kill").args(["-TERM", &scan.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let output = scan.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("interrupted"), "{stdout}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("SIGTERM received"), "{}", describe(&output));

    let store = orgwatch_store::Store::open_read_only(&db).await.unwrap();
    let scans = store.query("SELECT status FROM scans").await.unwrap();
    assert_eq!(scans.rows, vec![vec![json!("interrupted")]]);
    let judged = latest(&db).await;
    // The accounts in flight at the signal finish within the grace period; no other starts.
    assert!(judged.len() >= 2 && judged.len() < 7, "judged {} of 7 accounts", judged.len());
    assert!(judged.values().all(|(status, _)| status == "PASS"), "{judged:?}");
}

#[test]
fn an_error_prints_each_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    // A database path whose parent is a file: SQLite cannot open it.
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "not a directory").unwrap();
    let config = dir.path().join("orgwatch.toml");
    let db = blocker.join("orgwatch.db");
    std::fs::write(&config, format!("[aws]\nregion = \"us-east-1\"\n[organization]\naudit_role_name = \"OrgwatchAudit\"\n[store]\npath = \"{}\"\n", db.display())).unwrap();
    let output = std::process::Command::new(orgwatch_tests::orgwatch_binary()).args(["findings", "--config", config.to_str().unwrap()]).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    for db in [db, dir.path().to_path_buf()] {
        // A parent that is a file, then a path that is a directory: neither opens.
        std::fs::write(&config, format!("[aws]\nregion = \"us-east-1\"\n[organization]\naudit_role_name = \"OrgwatchAudit\"\n[store]\npath = \"{}\"\n", db.display())).unwrap();
        let output = std::process::Command::new(orgwatch_tests::orgwatch_binary()).args(["scan", "--config", config.to_str().unwrap()]).env("RUST_LOG", "off").output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
        assert!(stderr.starts_with("error: cannot open the database"), "{stderr}");
        let causes = stderr.matches("File exists").count() + stderr.matches("unable to open database file").count();
        assert_eq!(causes, 1, "the cause is printed once: {stderr}");
    }
}
