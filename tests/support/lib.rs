//! Test support: the emulator (moto behind our adapter and fault layer) on a free loopback
//! port, organizations built in it, and the `orgwatch` binary run against it.
//!
//! The emulator's Python (also the one of the test tools, `python()`) comes from `ORGWATCH_PYTHON`, else the repository's `.venv`
//! (`scripts/test` creates it).

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// The test venv's Python; its directory holds the venv's tools (cfn-lint, hadolint, …).
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("ORGWATCH_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = repo_root().join(".venv/bin/python");
    assert!(venv.exists(), "no emulator venv at {}: run scripts/test, which installs it", venv.display());
    venv
}

/// The `orgwatch` binary cargo built next to this test.
pub fn orgwatch_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_default();
    let binary = dir.join("orgwatch");
    assert!(binary.exists(), "{} is missing: build the workspace first", binary.display());
    binary
}

/// A running emulator; stopped when dropped.
pub struct Emulator {
    child: Child,
    pub port: u16,
}

/// The ids of a built organization.
#[derive(Clone, Debug)]
pub struct Org {
    pub management: String,
    pub accounts: BTreeMap<String, String>,
}

impl Org {
    pub fn id(&self, name: &str) -> &str {
        self.accounts.get(name).map(String::as_str).unwrap_or_else(|| panic!("no account named {name}"))
    }
}

impl Emulator {
    pub fn start() -> Emulator {
        let script = repo_root().join("tests/emulator/server.py");
        let mut child = Command::new(python())
            .arg(&script)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the emulator: {e}"));
        let stdout = child.stdout.take().expect("emulator stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("emulator output");
        let port = line.trim().strip_prefix("READY ").and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("emulator did not start: {line:?}"));
        Emulator { child, port }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Runs the organization builder with a spec (see tests/emulator/build_org.py).
    pub fn build(&self, spec: Value) -> Org {
        let mut child = Command::new(python())
            .arg(repo_root().join("tests/emulator/build_org.py"))
            .arg("--endpoint")
            .arg(self.endpoint())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("build_org.py");
        child.stdin.take().expect("stdin").write_all(spec.to_string().as_bytes()).expect("spec");
        let output = child.wait_with_output().expect("build_org.py output");
        assert!(output.status.success(), "build_org.py failed: {}", String::from_utf8_lossy(&output.stderr));
        let result: Value = serde_json::from_slice(&output.stdout).expect("build_org.py JSON");
        Org {
            management: result["management"].as_str().unwrap_or_default().to_owned(),
            accounts: result["accounts"].as_object().map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect()).unwrap_or_default(),
        }
    }

    /// Replaces the fault layer's rules; returns its answer (the rules with their counts).
    pub fn set_faults(&self, rules: Value) -> Value {
        self.control("POST", &serde_json::json!({ "rules": rules }).to_string())
    }

    pub fn faults(&self) -> Value {
        self.control("GET", "")
    }

    fn control(&self, method: &str, body: &str) -> Value {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("emulator control");
        stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
        write!(stream, "{method} /_orgwatch/faults HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()).expect("request");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("response");
        let json = response.split("\r\n\r\n").nth(1).unwrap_or("{}");
        serde_json::from_str(json).unwrap_or_else(|e| panic!("bad control answer {response:?}: {e}"))
    }

    /// A configuration for this emulator, with `extra` TOML appended to `[scan]`.
    pub fn write_config(&self, dir: &Path, scan_extra: &str, tail: &str) -> PathBuf {
        let path = dir.join("orgwatch.toml");
        let text = format!(
            "[aws]\nregion = \"us-east-1\"\nmax_attempts = 4\nattempt_timeout_seconds = 10\noperation_timeout_seconds = 30\n\n\
             [organization]\naudit_role_name = \"OrgwatchAudit\"\n\n\
             [scan]\ncontrols = [\"unauthorized-api-calls\"]\n{scan_extra}\n\n\
             [store]\npath = \"{}\"\n\n{tail}\n",
            dir.join("orgwatch.db").display()
        );
        std::fs::write(&path, text).expect("config");
        path
    }

    /// A command running `orgwatch` against this emulator, never against real AWS.
    pub fn orgwatch(&self) -> Command {
        let mut command = Command::new(orgwatch_binary());
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_ENDPOINT_URL", self.endpoint())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("RUST_LOG", "warn");
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.orgwatch().args(args).output().expect("orgwatch runs")
    }

    /// How many calls the fault layer's rules for `account` and `operation` matched.
    pub fn fired(&self, account: &str, operation: &str) -> u64 {
        let rules = self.faults();
        rules["rules"].as_array().map_or(0, |rules| rules.iter().filter(|r| r["account"] == account && r["operation"] == operation).map(|r| r["fired"].as_u64().unwrap_or(0)).sum())
    }

    /// The latest finding of `account` (`orgwatch findings --format json`): its message and its
    /// evidence.
    pub fn finding(&self, config: &Path, account: &str) -> (String, Value) {
        let output = self.run(&["findings", "--config", config.to_str().expect("a UTF-8 path"), "--account", account, "--format", "json"]);
        assert!(output.status.success(), "{}", describe(&output));
        let rows: Value = serde_json::from_slice(&output.stdout).expect("findings as JSON");
        let evidence = match &rows[0]["evidence"] {
            Value::String(text) => serde_json::from_str(text).expect("evidence as JSON"),
            other => other.clone(),
        };
        (rows[0]["message"].as_str().unwrap_or_default().to_owned(), evidence)
    }
}

/// A fault-layer rule that changes nothing and counts the calls it matches ([`Emulator::fired`]).
pub fn counter(account: &str, service: &str, operation: &str) -> Value {
    serde_json::json!({"account": account, "service": service, "operation": operation, "fault": "none"})
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Text of a command's output, for assertion messages.
pub fn describe(output: &Output) -> String {
    format!("exit {:?}\nstdout:\n{}\nstderr:\n{}", output.status.code(), String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// The latest (status, reason) by account id, read with the store crate.
pub async fn latest(db: &Path) -> BTreeMap<String, (String, String)> {
    let store = orgwatch_store::Store::open_read_only(db).await.expect("database");
    let table = store.latest_findings(None, None).await.expect("latest findings");
    table
        .rows
        .into_iter()
        .map(|row| (row[0].as_str().unwrap_or_default().to_owned(), (row[3].as_str().unwrap_or_default().to_owned(), row[4].as_str().unwrap_or_default().to_owned())))
        .collect()
}

/// A free port on loopback, for a daemon's `[http] listen`.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("its address").port()
}

/// `GET path` on loopback `port` (with `Accept: accept` when given): (status, head, body), or
/// `None` while nothing answers.
pub fn http_get(port: u16, path: &str, accept: Option<&str>) -> Option<(u16, String, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let accept = accept.map(|a| format!("Accept: {a}\r\n")).unwrap_or_default();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{accept}\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, head.to_owned(), body.to_owned()))
}

/// A header's value in a response's head, by its name in any case.
pub fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|l| l.split_once(':').filter(|(n, _)| n.trim().eq_ignore_ascii_case(name)).map(|(_, v)| v.trim().to_owned()))
}
