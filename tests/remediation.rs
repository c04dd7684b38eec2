//! The proof of `orgwatch fix`: in one emulated organization, one broken account per FAIL
//! reason is scanned, the AWS CLI commands `orgwatch fix` prints for it are run with the real
//! AWS CLI (tests/emulator/requirements.txt) against the emulator with that account's
//! credentials, and a second scan finds every account PASS. The Terraform it prints for each
//! is parsed with python-hcl2.
//!
//! Left out of the proof:
//! - `CLOUDWATCH_DELIVERY_FAILING`: moto's GetTrailStatus never reports a CloudWatch Logs
//!   delivery error, so no emulated account can be broken that way.
//! - An organization trail's member in this same organization: the management account's
//!   organization trail covers every member, so mending its chain would turn every member to
//!   PASS and prove nothing about their own fixes. The second test proves it in an
//!   organization of its own.

use orgwatch_tests::{Emulator, Org, describe, latest, repo_root};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// (account name, emulator setup, the FAIL reason it has)
const BROKEN: &[(&str, &str, &str)] = &[
    ("no-trail", "no-trail", "NO_MULTI_REGION_TRAIL"),
    ("single-region", "single-region-trail", "NO_MULTI_REGION_TRAIL"),
    ("stopped", "trail-not-logging", "TRAIL_NOT_LOGGING"),
    ("read-only", "read-only-events", "MANAGEMENT_EVENTS_NOT_CAPTURED"),
    ("no-cloudwatch", "no-cloudwatch", "TRAIL_NOT_SENDING_TO_CLOUDWATCH"),
    ("no-filter", "no-filter", "NO_MATCHING_METRIC_FILTER"),
    ("and-filter", "wrong-filter", "NO_MATCHING_METRIC_FILTER"),
    ("other-region", "filter-other-region", "NO_MATCHING_METRIC_FILTER"),
    ("zero", "filter-value-zero", "METRIC_FILTER_NEVER_COUNTS"),
    ("no-alarm", "no-alarm", "NO_ALARM_ON_METRIC"),
    ("disabled", "alarm-actions-disabled", "ALARM_ACTIONS_DISABLED"),
    ("less-than", "alarm-less-than", "ALARM_CANNOT_FIRE"),
    ("no-sns", "alarm-no-sns", "NO_ALARM_NOTIFICATION"),
    ("deleted-topic", "topic-deleted", "SNS_TOPIC_NOT_FOUND"),
    ("no-subscriber", "no-subscription", "NO_CONFIRMED_SUBSCRIPTION"),
    ("aws-key", "topic-aws-managed-key", "SNS_TOPIC_UNPUBLISHABLE"),
];

/// The directory of the venv's executables (`aws`, `python`).
fn venv_bin() -> PathBuf {
    let python = std::env::var_os("ORGWATCH_PYTHON").map(PathBuf::from).unwrap_or_else(|| repo_root().join(".venv/bin/python"));
    python.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// A command of the venv's AWS CLI against the emulator, never against real AWS.
fn aws_env(emulator: &Emulator, command: &mut Command) {
    let path = format!("{}:{}", venv_bin().display(), std::env::var("PATH").unwrap_or_default());
    command
        .env_clear()
        .env("PATH", path)
        .env("AWS_ENDPOINT_URL", emulator.endpoint())
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true");
}

/// Credentials of `account`, through OrganizationAccountAccessRole as build_org.py assumes it.
fn credentials(emulator: &Emulator, account: &str) -> [String; 3] {
    let mut command = Command::new(venv_bin().join("aws"));
    aws_env(emulator, &mut command);
    let output = command
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .args(["sts", "assume-role", "--role-arn", &format!("arn:aws:iam::{account}:role/OrganizationAccountAccessRole"), "--role-session-name", "fix"])
        .args(["--query", "Credentials.[AccessKeyId,SecretAccessKey,SessionToken]", "--output", "text"])
        .output()
        .expect("aws sts assume-role");
    assert!(output.status.success(), "{}", describe(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    let mut parts = text.split_whitespace().map(str::to_owned);
    [parts.next().unwrap_or_default(), parts.next().unwrap_or_default(), parts.next().unwrap_or_default()]
}

/// Runs a script `orgwatch fix` printed with the credentials of `account`.
fn run_script(emulator: &Emulator, account: &str, script: &str) -> std::process::Output {
    let [key, secret, token] = credentials(emulator, account);
    let mut command = Command::new("sh");
    aws_env(emulator, &mut command);
    let mut child = command
        .env("AWS_ACCESS_KEY_ID", key)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_SESSION_TOKEN", token)
        .env("ORGWATCH_NOTIFY_EMAIL", "security@example.com")
        .arg("-s")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), script.as_bytes()).expect("script");
    child.wait_with_output().expect("sh output")
}

/// Parses Terraform modules with python-hcl2 (one process for all); the errors of those that do
/// not parse.
fn parse_hcl(modules: &[String]) -> Result<(), String> {
    const PARSE: &str = "import json, sys, hcl2\nerrors = []\nfor i, text in enumerate(json.load(sys.stdin)):\n    try:\n        hcl2.loads(text)\n    except Exception as e:\n        errors.append(f'module {i}: {e}')\nsys.exit('\\n'.join(errors) or None)";
    let text = serde_json::to_string(modules).unwrap_or_default();
    let mut child = Command::new(venv_bin().join("python"))
        .args(["-c", PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), text.as_bytes()).expect("terraform");
    let output = child.wait_with_output().expect("python output");
    if output.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&output.stderr).into_owned()) }
}

/// The modules of `fix --format terraform`, split at their headers.
fn modules(text: &str) -> Vec<String> {
    text.split("# ==== module for account ").skip(1).map(|m| m.split_once('\n').map(|(_, body)| body.to_owned()).unwrap_or_default()).collect()
}

fn fix(emulator: &Emulator, config: &str, account: &str, format: &str) -> String {
    let output = emulator.run(&["fix", "--config", config, "--account", account, "--format", format]);
    assert!(output.status.success(), "{}", describe(&output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn scan(emulator: &Emulator, config: &str) {
    let output = emulator.run(&["scan", "--config", config]);
    assert!(output.status.success(), "{}", describe(&output));
}

#[tokio::test]
async fn the_printed_cli_fix_turns_every_broken_account_to_pass() {
    let emulator = Emulator::start();
    let accounts: Vec<_> = BROKEN.iter().map(|(name, setup, _)| json!({"name": name, "setup": setup})).collect();
    let org: Org = emulator.build(json!({"region": "us-east-1", "management": {"setup": "compliant"}, "accounts": accounts}));
    let dir = tempfile::tempdir().unwrap();
    let config = emulator.write_config(dir.path(), "concurrency = 8", "");
    let config = config.to_str().unwrap();
    let db = dir.path().join("orgwatch.db");
    scan(&emulator, config);
    let before = latest(&db).await;
    for (name, setup, reason) in BROKEN {
        assert_eq!(before[org.id(name)], ("FAIL".to_owned(), (*reason).to_owned()), "account {name} ({setup})");
    }

    // The AWS CLI starts slowly: the accounts' scripts run side by side.
    let failures: Vec<String> = std::thread::scope(|scope| {
        let runs: Vec<_> = BROKEN
            .iter()
            .map(|(name, setup, reason)| {
                let (emulator, org) = (&emulator, &org);
                scope.spawn(move || {
                    let account = org.id(name);
                    let script = fix(emulator, config, account, "cli");
                    assert!(script.starts_with("#!/bin/sh\n") && script.contains(&format!("orgwatch_require_account {account}")), "{name}:\n{script}");
                    let output = run_script(emulator, account, &script);
                    (!output.status.success()).then(|| format!("{name} ({setup}, {reason}): the script failed\n{script}\n{}", describe(&output)))
                })
            })
            .collect();
        runs.into_iter().filter_map(|run| run.join().expect("a script run")).collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));

    let mut terraform = Vec::new();
    for (name, _, _) in BROKEN {
        let account = org.id(name);
        let text = fix(&emulator, config, account, "terraform");
        let parts = modules(&text);
        assert_eq!(parts.len(), 1, "{name}: one module for the one account and region:\n{text}");
        assert!(parts[0].contains(&format!("allowed_account_ids = [\"{account}\"]")), "{name}:\n{text}");
        terraform.extend(parts);
    }
    assert!(parse_hcl(&["resource \"aws_sns_topic\" {".to_owned()]).is_err(), "the parser refuses broken HCL");
    parse_hcl(&terraform).unwrap_or_else(|e| panic!("the Terraform does not parse: {e}\n{}", terraform.join("\n")));

    scan(&emulator, config);
    let after = latest(&db).await;
    let still: Vec<String> = BROKEN.iter().filter(|(name, ..)| after[org.id(name)].0 != "PASS").map(|(name, _, reason)| format!("{name} (was {reason}): {:?}", after[org.id(name)])).collect();
    assert!(still.is_empty(), "not PASS after the fix: {still:?}");
    assert_eq!(after[&org.management], ("PASS".to_owned(), "COMPLIANT".to_owned()));

    // A passing account gets nothing to run.
    let script = fix(&emulator, config, &org.management, "cli");
    assert!(script.contains("Nothing to run.") && !script.lines().any(|l| l.starts_with("aws ")), "{script}");
}

#[tokio::test]
async fn an_organization_trail_members_fix_goes_to_the_management_account() {
    let emulator = Emulator::start();
    let org = emulator.build(json!({"region": "us-east-1", "management": {"setup": "org-trail-no-alarm"}, "accounts": [{"name": "covered", "setup": "no-trail"}]}));
    let dir = tempfile::tempdir().unwrap();
    let config = emulator.write_config(dir.path(), "", "");
    let config = config.to_str().unwrap();
    let db = dir.path().join("orgwatch.db");
    scan(&emulator, config);
    let member = org.id("covered");
    assert_eq!(latest(&db).await[member], ("FAIL".to_owned(), "NO_ALARM_ON_METRIC".to_owned()));

    let script = fix(&emulator, config, member, "cli");
    assert!(script.contains(&format!("orgwatch_require_account {}", org.management)), "{script}");
    assert!(script.contains(&format!("belongs to account {}", org.management)) && script.contains("organization trail"), "{script}");
    // Run with the member's own credentials it stops before changing anything.
    let refused = run_script(&emulator, member, &script);
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains(&format!("for account {}", org.management)), "{}", describe(&refused));
    let output = run_script(&emulator, &org.management, &script);
    assert!(output.status.success(), "{script}\n{}", describe(&output));

    scan(&emulator, config);
    let after = latest(&db).await;
    assert_eq!(after[member], ("PASS".to_owned(), "COMPLIANT".to_owned()));
    assert_eq!(after[&org.management], ("PASS".to_owned(), "COMPLIANT".to_owned()));
}

#[test]
fn fix_says_clearly_when_there_is_nothing_to_work_from() {
    let emulator = Emulator::start();
    let org = emulator.build(json!({"management": {"setup": "compliant"}, "accounts": []}));
    let dir = tempfile::tempdir().unwrap();
    let config = emulator.write_config(dir.path(), "", "");
    let config = config.to_str().unwrap();
    let cases: &[(&[&str], i32, &str)] = &[
        (&["--account", &org.management], 1, "no database at"),
        (&["--account", "12345"], 2, "is not a 12-digit account id"),
        (&["--account", &org.management, "--control", "nope"], 2, "unknown control"),
    ];
    for (args, code, message) in cases {
        let output = emulator.run(&[&["fix", "--config", config], *args].concat());
        assert_eq!(output.status.code(), Some(*code), "{args:?}: {}", describe(&output));
        assert!(String::from_utf8_lossy(&output.stderr).contains(message), "{args:?}: {}", describe(&output));
    }
    scan(&emulator, config);
    let output = emulator.run(&["fix", "--config", config, "--account", "111122223333"]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("account 111122223333 is not in the database"), "{}", describe(&output));
    let output = emulator.run(&["fix", "--config", config, "--account", &org.management, "--control", "root-account-usage"]);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("has no findings for control root-account-usage yet"), "{}", describe(&output));
}
