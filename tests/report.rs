//! The posture report and the daemon's pages, opened in a real browser (headless Chromium,
//! driven by tests/emulator/check_pages.py) after two scans of an emulated organization: the
//! failing accounts with their reasons, charts with drawn marks, an account's chain with the
//! broken link marked, a name holding `<script>` shown as text, no console error and no request
//! to another origin. Screenshots are kept in `target/artifacts/report/`.

use orgwatch_tests::{Emulator, describe, free_port, header, python, repo_root};
use serde_json::{Value, json};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn http(port: u16, path: &str) -> Option<(u16, String, String)> {
    orgwatch_tests::http_get(port, path, None)
}

const HOSTILE: &str = "<script>window.__orgwatch_pwned=1</script>";

fn artifacts() -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    target.join("artifacts").join("report")
}

#[tokio::test]
async fn the_report_and_the_daemons_pages_show_the_posture_in_a_browser() {
    let emulator = Emulator::start();
    let org = emulator.build(json!({
        "management": {"setup": "compliant"},
        "accounts": [
            {"name": "steady", "setup": "compliant"},
            {"name": "drifting", "setup": "compliant"},
            {"name": "refused-topic", "setup": "topic-policy-ops-role-only"},
            {"name": "unsubscribed", "setup": "no-subscription"},
            {"name": HOSTILE, "setup": "no-alarm"},
        ],
    }));
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = emulator.write_config(
        dir.path(),
        "run_on_start = false",
        &format!("[http]\nlisten = \"127.0.0.1:{port}\""),
    );
    let config = config.to_str().unwrap();
    let scan = || {
        let output = emulator.run(&["scan", "--config", config]);
        assert!(output.status.success(), "{}", describe(&output));
    };
    scan();
    emulator.build(json!({"changes": [{"account_id": org.id("drifting"), "setup": "no-alarm"}]}));
    scan();

    // The file: self-contained, its size and time on stderr.
    let output = emulator.run(&["report", "--config", config, "--since", "7d"]);
    assert!(output.status.success(), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("MiB rendered in"), "{stderr}");
    let html = String::from_utf8(output.stdout).unwrap();
    assert!(
        html.starts_with("<!DOCTYPE html>") && html.contains("Content-Security-Policy"),
        "{}",
        &html[..200.min(html.len())]
    );
    assert!(
        !html.contains(HOSTILE)
            && html.contains("&lt;script&gt;window.__orgwatch_pwned=1&lt;&#x2f;script&gt;"),
        "the name is escaped"
    );
    for foreign in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(!html.contains(foreign), "the file refers to {foreign}");
    }
    let file = dir.path().join("posture.html");
    std::fs::write(&file, &html).unwrap();

    let mut daemon = emulator
        .orgwatch()
        .args(["daemon", "--config", config])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while http(port, "/healthz").is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the daemon did not listen"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, head, body) = http(port, "/").unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(header(&head, "content-security-policy").is_some_and(|p| p.starts_with("default-src 'none'")), "{head}");
    assert!(
        !body.contains("<script"),
        "the daemon's pages need no script"
    );
    let (status, _, body) = http(port, &format!("/?q={}", org.id("unsubscribed"))).unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        body.matches("class=\"account-row\"").count(),
        1,
        "the search finds one account"
    );
    assert_eq!(http(port, "/accounts/999999999999").unwrap().0, 404);
    assert_eq!(http(port, "/accounts/..%2f..%2fetc").unwrap().0, 404);
    assert_eq!(http(port, "/?page=x").unwrap().0, 400);

    let spec = json!({
        "pages": [
            {"url": format!("file://{}", file.display()), "kind": "file"},
            {"url": format!("http://127.0.0.1:{port}/"), "kind": "index"},
            {"url": format!("http://127.0.0.1:{port}/accounts/{}", org.id("refused-topic")), "kind": "account"},
        ],
        "failing": {
            org.id("drifting"): "NO_ALARM_ON_METRIC",
            org.id("refused-topic"): "SNS_TOPIC_POLICY_DENIES_PUBLISH",
            org.id("unsubscribed"): "NO_CONFIRMED_SUBSCRIPTION",
            org.id(HOSTILE): "NO_ALARM_ON_METRIC",
        },
        "broken": {"account_id": org.id("refused-topic"), "kind": "topic-policy", "reason": "SNS_TOPIC_POLICY_DENIES_PUBLISH"},
        "hostile": {"account_id": org.id(HOSTILE), "name": HOSTILE},
        "scans": 2,
        "screenshots": artifacts(),
    });
    let mut checker = Command::new(python())
        .arg(repo_root().join("tests/emulator/check_pages.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the page checker runs");
    checker
        .stdin
        .take()
        .unwrap()
        .write_all(spec.to_string().as_bytes())
        .unwrap();
    let checked = checker.wait_with_output().unwrap();
    let _ = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status();
    let _ = daemon.wait();
    assert!(checked.status.success(), "{}", describe(&checked));
    let summary: Value = serde_json::from_slice(&checked.stdout).unwrap();
    let pages = summary.as_array().unwrap();
    assert_eq!(pages.len(), 3, "{summary}");
    assert_eq!(
        pages[0]["chain"],
        json!([
            "trail",
            "log-group",
            "metric-filter",
            "metric",
            "alarm",
            "topic",
            "subscription",
            "topic-policy"
        ]),
        "{summary}"
    );
    assert_eq!(
        pages[0]["charts"]["drift_chart"], true,
        "a regression was drawn: {summary}"
    );
    for page in pages {
        assert!(
            std::path::Path::new(page["screenshot"].as_str().unwrap()).exists(),
            "{page}"
        );
    }
}
