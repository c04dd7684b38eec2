//! Shared by the end-to-end tests: orgwatch's real scan (`orgwatch::scan::run_scan` with the
//! real SDK reads) against a synthetic organization, and the findings it stored.
//!
//! `SdkReads::new` loads the standard AWS environment and has no endpoint parameter, so the
//! endpoint and dummy credentials go through the process environment. Each test binary holds
//! one test function, so nothing else in the process reads the environment while it changes.

#![allow(dead_code)]

use orgwatch::config::Config;
use orgwatch::scan::{ScanReport, run_scan, sdk_settings};
use orgwatch::schedule::SystemClock;
use orgwatch_aws::SdkReads;
use orgwatch_store::Store;
use orgwatch_synthetic::{ADVICE_WINDOW_DAYS, AdviceScan, Organization, Server};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// Points the standard AWS environment at `endpoint`, with dummy keys and no profile files.
pub fn point_sdk_at(endpoint: &str) {
    let vars = [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", "AKIASYNTHETICBASE000"),
        ("AWS_SECRET_ACCESS_KEY", "synthetic"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_CONFIG_FILE", "/dev/null"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    for (key, value) in vars {
        // SAFETY: each test binary runs a single test function, and this is called between
        // scans, when no thread of the process reads the environment (the SDK reads it only in
        // `SdkReads::new`, on this thread, after this returns).
        unsafe { std::env::set_var(key, value) };
    }
    // SAFETY: as above.
    unsafe { std::env::remove_var("AWS_SESSION_TOKEN") };
}

/// A configuration judging `controls`, `concurrency` accounts at a time, storing in `db`, with
/// advice on over [`ADVICE_WINDOW_DAYS`] (a scan into a fresh database gathers it).
pub fn config(db: &Path, controls: &[&str], concurrency: usize) -> Config {
    let list = controls.iter().map(|c| format!("{c:?}")).collect::<Vec<_>>().join(", ");
    Config::parse(&format!(
        "[aws]\nregion = \"us-east-1\"\nmax_attempts = 8\nattempt_timeout_seconds = 30\noperation_timeout_seconds = 120\n\
         [organization]\naudit_role_name = \"OrgwatchAudit\"\n\
         [scan]\ncontrols = [{list}]\nconcurrency = {concurrency}\naccount_timeout_seconds = 600\n\
         [store]\npath = \"{}\"\n\
         [advice]\nenabled = true\nevery = \"1d\"\nwindow_days = {ADVICE_WINDOW_DAYS}\n",
        db.display()
    ))
    .expect("test configuration")
}

pub struct Scanned {
    pub report: ScanReport,
    /// The whole run: building the SDK reads, the scan, reading the findings back.
    pub elapsed: Duration,
    /// (account, control) → (status, reason).
    pub findings: BTreeMap<(String, String), (String, String)>,
}

/// Runs orgwatch's scan against `server` with the real SDK and returns what it stored.
pub async fn scan(server: &Server, concurrency: usize) -> Scanned {
    let dir = tempfile::tempdir().expect("temporary directory");
    let controls = server.organization().controls();
    let config = config(&dir.path().join("orgwatch.db"), &controls, concurrency);
    point_sdk_at(&server.endpoint());
    let started = Instant::now();
    let reads = SdkReads::new(sdk_settings(&config)).await;
    let store = Store::open(&config.store.path).await.expect("store");
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let report = run_scan(&reads, &store, &config, &SystemClock, shutdown).await.expect("scan");
    let table = store.latest_findings(None, None).await.expect("findings");
    let column = |name: &str| table.columns.iter().position(|c| c == name).unwrap_or_else(|| panic!("no column {name}"));
    let (account, control, status, reason) = (column("account_id"), column("control_id"), column("status"), column("reason"));
    let text = |row: &Vec<serde_json::Value>, i: usize| row[i].as_str().unwrap_or_default().to_owned();
    let findings = table.rows.iter().map(|row| ((text(row, account), text(row, control)), (text(row, status), text(row, reason)))).collect();
    store.close().await;
    Scanned { report, elapsed: started.elapsed(), findings }
}

/// Every (account, control) whose finding is not the expected one on a scan that does `scan`
/// with advice, with both.
pub fn mismatches(org: &Organization, findings: &BTreeMap<(String, String), (String, String)>, scan: AdviceScan) -> Vec<String> {
    let mut wrong = Vec::new();
    for account in org.account_ids() {
        for control in org.controls() {
            let expected = org.expected(&account, control, scan).expect("expected finding");
            let kind = org.kind(&account).map(|k| k.label()).unwrap_or_default();
            match findings.get(&(account.clone(), control.to_owned())) {
                Some((status, reason)) if (status.as_str(), reason.as_str()) == expected => {}
                Some(found) => wrong.push(format!("{account} ({kind}) {control}: found {found:?}, expected {expected:?}")),
                None => wrong.push(format!("{account} ({kind}) {control}: no finding, expected {expected:?}")),
            }
        }
    }
    let extra = findings.len().saturating_sub(org.len() * org.controls().len());
    if extra > 0 {
        wrong.push(format!("{extra} findings more than accounts × controls"));
    }
    wrong
}

/// A multi-threaded runtime like orgwatch's own.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime")
}
