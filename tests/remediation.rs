//! The proof of `orgwatch fix`: in one emulated organization, one broken account per FAIL
//! reason is scanned, the AWS CLI commands `orgwatch fix` prints for it are run with the real
//! AWS CLI (tests/emulator/requirements.txt) against the emulator with that account's
//! credentials, and a second scan finds every account PASS. The Terraform it prints for each
//! is parsed with python-hcl2.
//!
//! The last hops are proven too: a topic policy that admits no alarm (an own topic's, and a
//! central topic's left with SNS's default, mended by its owner), a key whose policy lacks
//! CloudWatch, a disabled key, a key pending deletion, and a notification that failed. For
//! the latter the fix ends with a test notification (`set-alarm-state`); the emulator records
//! no notification of its own, so the test records the success that notification makes on AWS
//! before the second scan.
//!
//! Left out of the proof:
//! - `CLOUDWATCH_DELIVERY_FAILING`: moto's GetTrailStatus never reports a CloudWatch Logs
//!   delivery error, so no emulated account can be broken that way.
//! - An organization trail's member in this same organization: the management account's
//!   organization trail covers every member, so mending its chain would turn every member to
//!   PASS and prove nothing about their own fixes. The second test proves it in an
//!   organization of its own.

use orgwatch_tests::{Emulator, Org, describe, latest, repo_root};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One broken account of the proof.
#[derive(Clone, Copy)]
struct Broken {
    name: &'static str,
    /// Its build_org.py setup.
    setup: &'static str,
    /// The FAIL reason it has.
    reason: &'static str,
    /// More options of its build_org.py entry, as a JSON object.
    options: &'static str,
    /// The account (by name) that owns the broken link, so whose credentials run the fix;
    /// none: the account itself.
    owner: Option<&'static str>,
    /// The fix ends with a test notification: record it as delivered before the second scan.
    notifies: bool,
    /// What the script must run, so that a PASS proves this fix and not another one.
    runs: &'static str,
}

const PLAIN: Broken = Broken { name: "", setup: "", reason: "", options: "{}", owner: None, notifies: false, runs: "" };

const BROKEN: &[Broken] = &[
    Broken { name: "no-trail", setup: "no-trail", reason: "NO_MULTI_REGION_TRAIL", ..PLAIN },
    Broken { name: "single-region", setup: "single-region-trail", reason: "NO_MULTI_REGION_TRAIL", ..PLAIN },
    Broken { name: "stopped", setup: "trail-not-logging", reason: "TRAIL_NOT_LOGGING", ..PLAIN },
    Broken { name: "read-only", setup: "read-only-events", reason: "MANAGEMENT_EVENTS_NOT_CAPTURED", ..PLAIN },
    Broken { name: "no-cloudwatch", setup: "no-cloudwatch", reason: "TRAIL_NOT_SENDING_TO_CLOUDWATCH", ..PLAIN },
    Broken { name: "no-filter", setup: "no-filter", reason: "NO_MATCHING_METRIC_FILTER", ..PLAIN },
    Broken { name: "and-filter", setup: "wrong-filter", reason: "NO_MATCHING_METRIC_FILTER", ..PLAIN },
    Broken { name: "other-region", setup: "filter-other-region", reason: "NO_MATCHING_METRIC_FILTER", ..PLAIN },
    Broken { name: "zero", setup: "filter-value-zero", reason: "METRIC_FILTER_NEVER_COUNTS", ..PLAIN },
    Broken { name: "no-alarm", setup: "no-alarm", reason: "NO_ALARM_ON_METRIC", ..PLAIN },
    Broken { name: "disabled", setup: "alarm-actions-disabled", reason: "ALARM_ACTIONS_DISABLED", ..PLAIN },
    Broken { name: "less-than", setup: "alarm-less-than", reason: "ALARM_CANNOT_FIRE", ..PLAIN },
    Broken { name: "no-sns", setup: "alarm-no-sns", reason: "NO_ALARM_NOTIFICATION", ..PLAIN },
    // The composite that notifies is mended; the alarm it serves keeps no actions of its own.
    Broken { name: "composite-and", setup: "composite-and", reason: "ALARM_CANNOT_FIRE", runs: "put-composite-alarm", ..PLAIN },
    Broken { name: "composite-disabled", setup: "composite-actions-disabled", reason: "ALARM_ACTIONS_DISABLED", runs: "put-composite-alarm", ..PLAIN },
    Broken { name: "deleted-topic", setup: "topic-deleted", reason: "SNS_TOPIC_NOT_FOUND", ..PLAIN },
    Broken { name: "no-subscriber", setup: "no-subscription", reason: "NO_CONFIRMED_SUBSCRIPTION", ..PLAIN },
    Broken { name: "aws-key", setup: "topic-aws-managed-key", reason: "SNS_TOPIC_UNPUBLISHABLE", runs: "aws kms create-key", ..PLAIN },
    Broken { name: "ops-only", setup: "topic-policy-ops-role-only", reason: "SNS_TOPIC_POLICY_DENIES_PUBLISH", runs: "--attribute-name Policy", ..PLAIN },
    Broken {
        name: "central-default",
        setup: "central-topic-default-policy",
        reason: "SNS_TOPIC_POLICY_DENIES_PUBLISH",
        options: r#"{"topic_account": "security"}"#,
        owner: Some("security"),
        runs: "--attribute-name Policy",
        ..PLAIN
    },
    Broken { name: "key-no-grant", setup: "cmk-no-grant", reason: "SNS_TOPIC_UNPUBLISHABLE", runs: "aws kms put-key-policy", ..PLAIN },
    Broken { name: "key-decrypt-only", setup: "cmk-decrypt-only", reason: "SNS_TOPIC_UNPUBLISHABLE", runs: "aws kms put-key-policy", ..PLAIN },
    Broken { name: "key-disabled", setup: "cmk-disabled", reason: "SNS_TOPIC_UNPUBLISHABLE", runs: "aws kms enable-key", ..PLAIN },
    Broken { name: "key-deleted", setup: "cmk-pending-deletion", reason: "SNS_TOPIC_UNPUBLISHABLE", runs: "aws kms cancel-key-deletion", ..PLAIN },
    // CloudWatch's own words for a key that refused it; the key's policy grants it now.
    Broken { name: "failed-key", setup: "alarm-action-failed", reason: "ALARM_ACTION_FAILED", options: r#"{"kms": "cmk-ok"}"#, notifies: true, ..PLAIN },
    Broken {
        name: "failed-publish",
        setup: "alarm-action-failed",
        reason: "ALARM_ACTION_FAILED",
        options: r#"{"history_error": "CloudWatch Alarms is not authorized to perform: SNS:Publish on the topic."}"#,
        notifies: true,
        ..PLAIN
    },
];

/// Accounts the broken ones need (a central topic's owner), PASS before and after.
const HELPERS: &[(&str, &str)] = &[("security", "compliant")];

/// The alarm build_org.py gives a single chain, and its topic.
const ALARM: &str = "CIS-3.1-UnauthorizedAPICalls";
const TOPIC: &str = "security-alerts";

impl Broken {
    fn entry(&self) -> Value {
        let mut entry: Value = serde_json::from_str(self.options).expect("options");
        entry["name"] = self.name.into();
        entry["setup"] = self.setup.into();
        entry
    }

    /// The account whose credentials run the fix.
    fn runner<'o>(&self, org: &'o Org) -> &'o str {
        org.id(self.owner.unwrap_or(self.name))
    }
}

/// Records a successful notification of the account's alarm to its topic, as CloudWatch does
/// when the fix's test notification is delivered (server.py's /_orgwatch/alarm-history).
fn record_delivery(emulator: &Emulator, account: &str) {
    let topic = format!("arn:aws:sns:us-east-1:{account}:{TOPIC}");
    let body = json!({"account": account, "region": "us-east-1", "alarm": ALARM, "items": [{"topic": topic, "state": "Succeeded"}]}).to_string();
    let port = emulator.endpoint().rsplit(':').next().unwrap_or_default().to_owned();
    let mut stream = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).expect("emulator control");
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30))).ok();
    write!(stream, "POST /_orgwatch/alarm-history HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()).expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    assert!(response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200"), "{response}");
}

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
    let helpers = HELPERS.iter().map(|(name, setup)| json!({"name": name, "setup": setup}));
    let accounts: Vec<_> = helpers.chain(BROKEN.iter().map(Broken::entry)).collect();
    let org: Org = emulator.build(json!({"region": "us-east-1", "management": {"setup": "compliant"}, "accounts": accounts}));
    let dir = tempfile::tempdir().unwrap();
    let config = emulator.write_config(dir.path(), "concurrency = 8", "");
    let config = config.to_str().unwrap();
    let db = dir.path().join("orgwatch.db");
    scan(&emulator, config);
    let before = latest(&db).await;
    for broken in BROKEN {
        assert_eq!(before[org.id(broken.name)], ("FAIL".to_owned(), broken.reason.to_owned()), "account {} ({})", broken.name, broken.setup);
    }
    for (name, setup) in HELPERS {
        assert_eq!(before[org.id(name)], ("PASS".to_owned(), "COMPLIANT".to_owned()), "account {name} ({setup})");
    }

    // The AWS CLI starts slowly: the accounts' scripts run side by side.
    let failures: Vec<String> = std::thread::scope(|scope| {
        let runs: Vec<_> = BROKEN
            .iter()
            .map(|broken| {
                let (emulator, org) = (&emulator, &org);
                scope.spawn(move || {
                    let Broken { name, setup, reason, .. } = broken;
                    let (account, runner) = (org.id(name), broken.runner(org));
                    let script = fix(emulator, config, account, "cli");
                    assert!(script.starts_with("#!/bin/sh\n") && script.contains(&format!("orgwatch_require_account {runner}")), "{name}:\n{script}");
                    let commands = script.replace(" \\\n", " ");
                    assert!(commands.lines().any(|l| !l.trim_start().starts_with('#') && l.contains(broken.runs)), "{name}: the fix does not run {:?}:\n{script}", broken.runs);
                    let output = run_script(emulator, runner, &script);
                    if output.status.success() && broken.notifies {
                        assert!(script.contains(&format!("aws cloudwatch set-alarm-state --region us-east-1 --alarm-name {ALARM} --state-value ALARM")), "{name}:\n{script}");
                        record_delivery(emulator, account);
                    }
                    (!output.status.success()).then(|| format!("{name} ({setup}, {reason}): the script failed\n{script}\n{}", describe(&output)))
                })
            })
            .collect();
        runs.into_iter().filter_map(|run| run.join().expect("a script run")).collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));

    let mut terraform = Vec::new();
    for broken in BROKEN {
        let (name, runner) = (broken.name, broken.runner(&org));
        let text = fix(&emulator, config, org.id(name), "terraform");
        let parts = modules(&text);
        assert_eq!(parts.len(), 1, "{name}: one module for the one account and region:\n{text}");
        assert!(parts[0].contains(&format!("allowed_account_ids = [\"{runner}\"]")), "{name}:\n{text}");
        terraform.extend(parts);
    }
    assert!(parse_hcl(&["resource \"aws_sns_topic\" {".to_owned()]).is_err(), "the parser refuses broken HCL");
    parse_hcl(&terraform).unwrap_or_else(|e| panic!("the Terraform does not parse: {e}\n{}", terraform.join("\n")));

    scan(&emulator, config);
    let after = latest(&db).await;
    let names = BROKEN.iter().map(|b| (b.name, b.reason)).chain(HELPERS.iter().map(|(name, _)| (*name, "COMPLIANT")));
    let still: Vec<String> = names.filter(|(name, _)| after[org.id(name)].0 != "PASS").map(|(name, reason)| format!("{name} (was {reason}): {:?}", after[org.id(name)])).collect();
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
