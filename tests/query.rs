//! `orgwatch query` end to end: the binary refuses, with exit code 2 and a message, every
//! statement SQLite does not report read-only, before it runs; no file is created and the
//! database file is left as it was. No emulator: the history is written with the store crate.

use orgwatch_core::{Evidence, Finding, Reason};
use orgwatch_store::{AccountRecord, ScanStatus, Store};
use orgwatch_tests::{describe, orgwatch_binary};
use std::path::Path;
use std::process::{Command, Output};

fn query(config: &Path, sql: &str) -> Output {
    Command::new(orgwatch_binary()).args(["query", "--config", config.to_str().unwrap(), "--format", "csv", sql]).env("RUST_LOG", "off").output().unwrap()
}

#[tokio::test]
async fn orgwatch_query_refuses_every_statement_that_could_write_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("orgwatch.db");
    let store = Store::open(&db).await.unwrap();
    let scan = store.begin_scan(chrono::Utc::now()).await.unwrap();
    store.record_accounts(scan, &[AccountRecord { account_id: "111111111111".into(), account_name: "one".into(), state: "ACTIVE".into() }]).await.unwrap();
    let finding = Finding {
        account_id: "111111111111".into(),
        control_id: "unauthorized-api-calls".into(),
        status: Reason::NoAlarmOnMetric.status(),
        reason: Reason::NoAlarmOnMetric,
        message: "no alarm".into(),
        evidence: Evidence::default(),
    };
    store.record_findings(scan, &[finding], chrono::Utc::now()).await.unwrap();
    store.finish_scan(scan, ScanStatus::Completed, None, chrono::Utc::now()).await.unwrap();
    store.close().await;
    let config = dir.path().join("orgwatch.toml");
    std::fs::write(&config, format!("[aws]\nregion = \"us-east-1\"\n[organization]\naudit_role_name = \"OrgwatchAudit\"\n[store]\npath = \"{}\"\n", db.display())).unwrap();

    let output = query(&config, "SELECT account_id, reason FROM latest_findings");
    assert!(output.status.success(), "{}", describe(&output));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "account_id,reason\n111111111111,NO_ALARM_ON_METRIC\n");
    let before = std::fs::read(&db).unwrap();
    let listing = || {
        let mut names: Vec<String> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    };
    let files_before = listing();

    let outside = tempfile::tempdir().unwrap();
    let target = |name: &str| outside.path().join(name).display().to_string();
    for (sql, expected) in [
        (format!("VACUUM INTO '{}'", target("copy.db")), "SQLite reports that this VACUUM statement can write"),
        (format!("ATTACH DATABASE '{}' AS other", target("attached.db")), "ATTACH opens another database file"),
        ("DETACH DATABASE main".to_owned(), "DETACH"),
        ("PRAGMA query_only = OFF".to_owned(), "PRAGMA query_only with a value (OFF) changes the connection or the file"),
        ("CREATE TEMP TABLE scratch AS SELECT * FROM findings".to_owned(), "temporary objects"),
        ("DELETE FROM findings".to_owned(), "read-only"),
        (format!("SELECT 1; VACUUM INTO '{}'", target("second.db")), "one statement at a time"),
    ] {
        let output = query(&config, &sql);
        assert_eq!(output.status.code(), Some(2), "{sql}: {}", describe(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.starts_with("error: the query was refused: ") && stderr.contains(expected), "{sql}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{sql}: the cause is printed once: {stderr}");
        assert!(output.stdout.is_empty(), "{sql}: {}", describe(&output));
    }
    let output = query(&config, "SELEKT 1");
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert!(String::from_utf8_lossy(&output.stderr).starts_with("error: the query is not valid SQL: near \"SELEKT\": syntax error"), "{}", describe(&output));

    assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none(), "a refused statement created a file");
    assert_eq!(listing(), files_before);
    assert!(std::fs::read(&db).unwrap() == before, "the database file changed");
    let output = query(&config, "SELECT COUNT(*) AS n FROM findings");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "n\n1\n", "{}", describe(&output));
}
