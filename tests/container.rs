//! The image as deployed: `docker/Dockerfile` built as a user builds it, and run as
//! `deploy/compose.yaml` and `deploy/kubernetes/` run it, against the emulated organization.
//!
//! - The engine: the Docker daemon DOCKER_HOST or /var/run/docker.sock names, else a private
//!   dockerd started for this test and stopped after (tests/container/engine.sh; Debian's
//!   docker.io is installed when missing, as root). Its data root, so its images and build
//!   layers, stays in `<target>/container` (or `$ORGWATCH_CONTAINER_CACHE`).
//! - The FROM images are made locally when the daemon lacks them, never pulled:
//!   `debian:bookworm-slim` from debootstrap, `rust:1.95-bookworm` as the official image lays
//!   it out, with this host's toolchain (tests/container/rust.Dockerfile).
//! - The run: the compose service's user, read-only root filesystem, dropped capabilities,
//!   no-new-privileges, tmpfs and named volume (checked against the Kubernetes Deployment's),
//!   the image's own configuration, its port published on the host's loopback. The container
//!   has its own network, as a pod has; the emulator on the host's loopback is relayed onto
//!   the container's (tests/container/relay.py), so the image's 0.0.0.0 listener opens on no
//!   interface of the host.
//!
//! Part of `scripts/test`. A cold run (no layer cache) builds the release binary in the image;
//! the daemon runs niced, so the rest of the suite goes first. `scripts/container-test` runs this
//! test alone.

use orgwatch::config::{Config, EXTERNAL_ID_ENV};
use orgwatch_tests::{Emulator, describe, python, repo_root};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- the deployment files

/// The documents of YAML files as JSON, read by tests/tools/yaml_json.py (as tests/deploy_kit.rs
/// reads them).
fn yaml_docs(paths: &[PathBuf]) -> Vec<Value> {
    let output = Command::new(python()).arg(repo_root().join("tests/tools/yaml_json.py")).arg("docs").args(paths).output().expect("the YAML reader");
    assert!(output.status.success(), "{paths:?} do not read as YAML: {}", String::from_utf8_lossy(&output.stderr));
    match serde_json::from_slice(&output.stdout).expect("JSON") {
        Value::Array(docs) => docs,
        other => panic!("{paths:?}: {other}"),
    }
}

#[track_caller]
fn at<'a>(value: &'a Value, path: &str) -> &'a Value {
    value.pointer(&format!("/{path}")).unwrap_or_else(|| panic!("no {path} in {value}"))
}

#[track_caller]
fn text<'a>(value: &'a Value, path: &str) -> &'a str {
    at(value, path).as_str().unwrap_or_else(|| panic!("{path} is not a string in {value}"))
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().map(|v| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())).collect(),
        other => panic!("{other} is not a list"),
    }
}

/// `60s`, `1m30s`, `90` (compose durations, as far as the file uses them) in seconds.
fn compose_seconds(text: &str) -> u64 {
    let (mut total, mut number) = (0, String::new());
    for c in text.chars() {
        match c {
            '0'..='9' => number.push(c),
            'h' | 'm' | 's' => {
                let n: u64 = number.parse().unwrap_or_else(|_| panic!("duration {text:?}"));
                total += n * match c {
                    'h' => 3600,
                    'm' => 60,
                    _ => 1,
                };
                number.clear();
            }
            _ => panic!("duration {text:?}"),
        }
    }
    total + number.parse::<u64>().unwrap_or(0)
}

/// What deploy/compose.yaml and the Kubernetes Deployment ask of the daemon's container; where
/// both say it, they must agree.
#[derive(Debug)]
struct Deployed {
    image: String,
    dockerfile: String,
    context: PathBuf,
    command: Vec<String>,
    user: String,
    read_only: bool,
    cap_drop: Vec<String>,
    security_opt: Vec<String>,
    tmpfs: Vec<String>,
    /// The named volume's mount point in the container.
    data_dir: PathBuf,
    /// The container port the compose file publishes, and the host address it publishes it on.
    port: u16,
    publish_ip: String,
    /// The port and path the Kubernetes probes ask.
    probe_port: u16,
    probe_path: String,
    /// The compose file's health check.
    healthcheck: Vec<String>,
    healthcheck_timeout: u64,
    /// The shortest grace period either gives on stop.
    grace: Duration,
    config_env: String,
    environment: Vec<String>,
}

fn deployed() -> Deployed {
    let compose = &yaml_docs(&[repo_root().join("deploy/compose.yaml")])[0];
    let service = at(compose, "services/orgwatch");
    let dir = repo_root().join("deploy/kubernetes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).expect("deploy/kubernetes").filter_map(|e| Some(e.ok()?.path())).filter(|p| p.extension().is_some_and(|x| x == "yaml") && !p.ends_with("kustomization.yaml")).collect();
    files.sort();
    let resources = yaml_docs(&files);
    let deployment = resources.iter().find(|d| d["kind"] == "Deployment").expect("a Deployment in deploy/kubernetes");
    let pod = at(deployment, "spec/template/spec");
    let container = &at(pod, "containers").as_array().expect("containers")[0];

    // The user, the root filesystem, the capabilities: compose's, as Kubernetes asks them.
    let user = text(service, "user").to_owned();
    let k8s_user = format!("{}:{}", at(pod, "securityContext/runAsUser"), at(pod, "securityContext/runAsGroup"));
    assert_eq!(user, k8s_user, "deploy/compose.yaml's user and the Deployment's runAsUser:runAsGroup");
    let read_only = at(service, "read_only") == true;
    assert_eq!(read_only, at(container, "securityContext/readOnlyRootFilesystem") == true, "read_only and readOnlyRootFilesystem");
    let cap_drop = strings(at(service, "cap_drop"));
    assert_eq!(cap_drop, strings(at(container, "securityContext/capabilities/drop")), "cap_drop and capabilities.drop");
    let security_opt = strings(at(service, "security_opt"));
    if at(container, "securityContext/allowPrivilegeEscalation") == false {
        assert!(security_opt.contains(&"no-new-privileges:true".to_owned()), "allowPrivilegeEscalation: false is no-new-privileges: {security_opt:?}");
    }
    assert_eq!(strings(at(service, "command")), strings(at(container, "args")), "the compose command and the Deployment's args");

    // The volume: compose's named volume and the Deployment's PVC mount, at one path.
    let volume = strings(at(service, "volumes")).into_iter().find(|v| !v.starts_with('/') && !v.starts_with('.')).expect("a named volume in deploy/compose.yaml");
    let data_dir = PathBuf::from(volume.split(':').nth(1).expect("volume:path"));
    let volumes = at(pod, "volumes").as_array().expect("volumes");
    let pvc = volumes.iter().find(|v| v.get("persistentVolumeClaim").is_some()).expect("a PVC volume");
    let mounts = at(container, "volumeMounts").as_array().expect("mounts");
    let pvc_mount = mounts.iter().find(|m| m["name"] == pvc["name"]).expect("the PVC's mount");
    assert_eq!(Path::new(text(pvc_mount, "mountPath")), data_dir, "the compose volume and the Deployment's PVC mount");

    // The port: compose publishes it, Kubernetes probes it (by name or number).
    let ports = strings(at(service, "ports"));
    assert_eq!(ports.len(), 1, "{ports:?}");
    let parts: Vec<&str> = ports[0].split(':').collect();
    assert_eq!(parts.len(), 3, "ip:host:container, {:?}", ports[0]);
    let port: u16 = parts[2].parse().expect("the container port");
    let probe = at(container, "livenessProbe/httpGet");
    let probe_port = match at(probe, "port") {
        Value::Number(n) => n.as_u64().expect("a port") as u16,
        Value::String(name) => {
            let named = at(container, "ports").as_array().expect("ports").iter().find(|p| &p["name"] == name).unwrap_or_else(|| panic!("no port named {name}"));
            at(named, "containerPort").as_u64().expect("containerPort") as u16
        }
        other => panic!("probe port {other}"),
    };
    assert_eq!(at(container, "readinessProbe/httpGet"), probe, "the readiness probe asks what the liveness probe asks");

    let grace = compose_seconds(text(service, "stop_grace_period")).min(at(pod, "terminationGracePeriodSeconds").as_u64().expect("terminationGracePeriodSeconds"));
    let env = at(container, "env").as_array().expect("env");
    let config_env = text(env.iter().find(|e| e["name"] == "ORGWATCH_CONFIG").expect("ORGWATCH_CONFIG in the Deployment"), "value").to_owned();
    let k8s_image = text(container, "image");
    assert_eq!(text(service, "image"), k8s_image, "the image compose builds is the one the Deployment runs");

    Deployed {
        image: k8s_image.to_owned(),
        dockerfile: text(service, "build/dockerfile").to_owned(),
        context: repo_root().join("deploy").join(text(service, "build/context")).canonicalize().expect("the build context"),
        command: strings(at(service, "command")),
        user,
        read_only,
        cap_drop,
        security_opt,
        tmpfs: service.get("tmpfs").map(strings).unwrap_or_default(),
        data_dir,
        port,
        publish_ip: parts[0].to_owned(),
        probe_port,
        probe_path: text(probe, "path").to_owned(),
        healthcheck: strings(at(service, "healthcheck/test")),
        healthcheck_timeout: compose_seconds(text(service, "healthcheck/timeout")),
        grace: Duration::from_secs(grace),
        config_env,
        environment: strings(at(service, "environment")).into_iter().map(|e| e.split('=').next().unwrap_or_default().to_owned()).collect(),
    }
}

// ---------------------------------------------------------------- the engine

/// Where the engine keeps its state: `$ORGWATCH_CONTAINER_CACHE`, else `container/` in the
/// target directory this test was built in.
fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ORGWATCH_CONTAINER_CACHE") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("the test's path");
    // <target>/<profile>/deps/container-<hash>
    exe.ancestors().nth(3).expect("the target directory").join("container")
}

fn engine_script() -> PathBuf {
    repo_root().join("tests/container/engine.sh")
}

/// Step timings, printed as they come and at the end.
#[derive(Default)]
struct Timings(Vec<(String, f64)>);

impl Timings {
    fn add(&mut self, step: &str, seconds: f64) {
        eprintln!("timing: {step} {seconds:.1}");
        self.0.push((step.to_owned(), seconds));
    }
    fn since(&mut self, step: &str, start: Instant) {
        self.add(step, start.elapsed().as_secs_f64());
    }
    /// engine.sh's "timing: STEP SECONDS" lines.
    fn add_from_log(&mut self, log: &str) {
        for line in log.lines() {
            if let Some((step, seconds)) = line.strip_prefix("timing: ").and_then(|l| l.rsplit_once(' ')) {
                self.0.push((step.to_owned(), seconds.parse().unwrap_or(f64::NAN)));
            }
        }
    }
}

/// A Docker daemon to talk to; the private one `up` started is stopped when dropped.
struct Engine {
    host: String,
    started: bool,
    _lock: std::fs::File,
}

impl Engine {
    fn script(args: &[&str]) -> Command {
        let mut command = Command::new(engine_script());
        command.args(args).env("ORGWATCH_CONTAINER_CACHE", cache_dir());
        command
    }

    fn up(timings: &mut Timings) -> Engine {
        std::fs::create_dir_all(cache_dir()).expect("the cache directory");
        // One run at a time per cache: a second would share, then stop, this one's daemon.
        let lock = std::fs::File::create(cache_dir().join("lock")).expect("the lock file");
        lock.lock().expect("the cache's lock");
        let start = Instant::now();
        let output = Engine::script(&["up"]).stderr(Stdio::piped()).output().expect("engine.sh up");
        let log = String::from_utf8_lossy(&output.stderr);
        eprint!("{log}");
        assert!(output.status.success(), "no container engine: {}", describe(&output));
        timings.add_from_log(&log);
        timings.since("engine-up", start);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let value = |key: &str| stdout.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix('=')).unwrap_or_else(|| panic!("engine.sh up said no {key}: {stdout}")).to_owned();
        Engine { host: value("DOCKER_HOST"), started: value("STARTED") == "1", _lock: lock }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("docker");
        command.args(args).env("DOCKER_HOST", &self.host).env("DOCKER_BUILDKIT", "0");
        command
    }

    fn output(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap_or_else(|e| panic!("docker {args:?}: {e}"))
    }

    /// `docker ARGS`, which must exit 0; its stdout, trimmed.
    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let output = self.output(args);
        assert!(output.status.success(), "docker {}: {}", args.join(" "), describe(&output));
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    fn inspect(&self, what: &str) -> Value {
        let text = self.ok(&["inspect", what]);
        serde_json::from_str::<Value>(&text).expect("docker inspect's JSON")[0].clone()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if self.started {
            let _ = Engine::script(&["down"]).status();
        }
    }
}

/// The test's containers, volume and relay, removed when dropped (a failed run leaves none).
struct Resources<'a> {
    engine: &'a Engine,
    containers: Vec<String>,
    volumes: Vec<String>,
    relay: Option<Child>,
}

impl Drop for Resources<'_> {
    fn drop(&mut self) {
        if let Some(mut relay) = self.relay.take() {
            let _ = relay.kill();
            let _ = relay.wait();
        }
        for c in self.containers.iter().rev() {
            let _ = self.engine.output(&["rm", "-f", "-v", c]);
        }
        for v in &self.volumes {
            let _ = self.engine.output(&["volume", "rm", "-f", v]);
        }
    }
}

// ---------------------------------------------------------------- HTTP and metrics

fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, response.split_once("\r\n\r\n")?.1.to_owned()))
}

/// Samples by name and labels, as Prometheus's text-format parser reads them
/// (tests/emulator/parse_metrics.py, as tests/metrics.rs parses them).
fn parse_metrics(text: &str) -> BTreeMap<(String, BTreeMap<String, String>), Option<f64>> {
    let mut child = Command::new(python()).arg(repo_root().join("tests/emulator/parse_metrics.py")).arg("prometheus").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("parse_metrics.py");
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("metrics to the parser");
    let output = child.wait_with_output().expect("the parser's output");
    assert!(output.status.success(), "Prometheus's parser refused /metrics: {}\n{text}", String::from_utf8_lossy(&output.stderr));
    let samples: Vec<Value> = serde_json::from_slice(&output.stdout).expect("samples");
    samples
        .iter()
        .map(|s| {
            let labels = s["labels"].as_object().expect("labels").iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect();
            ((s["name"].as_str().expect("name").to_owned(), labels), s["value"].as_f64())
        })
        .collect()
}

fn sample(samples: &BTreeMap<(String, BTreeMap<String, String>), Option<f64>>, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let labels: BTreeMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    samples.get(&(name.to_owned(), labels)).copied().flatten()
}

#[track_caller]
fn wait_for<T>(what: &str, timeout: Duration, mut ready: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = ready() {
            return value;
        }
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

// ---------------------------------------------------------------- the test

const SECRET_KEY: &str = "container-test-secret-access-key";
const EXTERNAL_ID: &str = "container-test-external-id";

#[tokio::test]
async fn the_image_runs_as_deployed() {
    let mut timings = Timings::default();
    let total = Instant::now();
    let deployed = deployed();
    eprintln!("as deployed: {deployed:?}");
    assert_eq!(deployed.publish_ip, "127.0.0.1", "deploy/compose.yaml publishes on the host's loopback only");
    let engine = Engine::up(&mut timings);

    // ---- the image, built from the Dockerfile as it is, its FROM images made here
    let dockerfile = deployed.context.join(&deployed.dockerfile);
    let start = Instant::now();
    let output = Engine::script(&["bases", dockerfile.to_str().expect("a UTF-8 path")]).env("DOCKER_HOST", &engine.host).stderr(Stdio::piped()).output().expect("engine.sh bases");
    let log = String::from_utf8_lossy(&output.stderr);
    eprint!("{log}");
    assert!(output.status.success(), "the FROM images: {}", describe(&output));
    timings.add_from_log(&log);
    timings.since("base-images", start);

    let start = Instant::now();
    let build_log = cache_dir().join("build.log");
    let log_file = std::fs::File::create(&build_log).expect("build.log");
    // The build runs in the daemon's processes, niced when engine.sh started the daemon.
    let status = Command::new("docker")
        .args(["build", "-f"])
        .arg(&dockerfile)
        .args(["-t", &deployed.image])
        .arg(&deployed.context)
        .env("DOCKER_HOST", &engine.host)
        .env("DOCKER_BUILDKIT", "0")
        .stdout(log_file.try_clone().expect("log"))
        .stderr(log_file)
        .status()
        .expect("docker build");
    let log = std::fs::read_to_string(&build_log).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(60).collect::<Vec<_>>().into_iter().rev().collect();
    assert!(status.success(), "docker build failed ({}):\n{}", build_log.display(), tail.join("\n"));
    let cached = log.matches("Using cache").count();
    timings.since("image-build", start);
    eprintln!("docker build: {cached} steps from the layer cache (log: {})", build_log.display());
    let image = engine.inspect(&deployed.image);
    let size = image["Size"].as_u64().expect("the image's size");
    eprintln!("image {}: {:.1} MB", deployed.image, size as f64 / 1e6);
    timings.add("image-size-MB", size as f64 / 1e6);

    // ---- the image is what the deployment files expect of it
    let config = &image["Config"];
    assert_eq!(text(config, "User"), deployed.user, "the image's USER and the deployed user");
    let image_env: Vec<String> = strings(at(config, "Env"));
    assert!(image_env.contains(&format!("ORGWATCH_CONFIG={}", deployed.config_env)), "the Deployment's ORGWATCH_CONFIG is the image's: {image_env:?}");
    let baked = engine.ok(&["run", "--rm", "--network", "none", "--entrypoint", "cat", &deployed.image, &deployed.config_env]);
    let baked = Config::parse(&baked).expect("the image's own configuration");
    let listen = baked.http_listen.expect("[http] listen in the image's configuration");
    assert!(listen.ip().is_unspecified(), "a published port and the kubelet's probes come from outside the container: {listen}");
    assert_eq!(listen.port(), deployed.port, "the image listens on the port deploy/compose.yaml publishes");
    assert_eq!(listen.port(), deployed.probe_port, "the image listens on the port the probes ask");
    assert!(at(config, "ExposedPorts").get(format!("{}/tcp", listen.port())).is_some(), "EXPOSE {}: {config}", listen.port());
    assert_eq!(baked.store.path.parent(), Some(deployed.data_dir.as_path()), "the database is in the deployed volume");
    assert!(at(config, "Volumes").get(deployed.data_dir.to_str().expect("UTF-8")).is_some(), "VOLUME {}: {config}", deployed.data_dir.display());
    assert_eq!(strings(at(config, "Healthcheck/Test")), deployed.healthcheck, "deploy/compose.yaml's health check is the image's HEALTHCHECK");
    assert!(baked.scan.grace_period < deployed.grace, "[scan] grace_period {:?} fits in the stop grace period {:?}", baked.scan.grace_period, deployed.grace);
    for var in [EXTERNAL_ID_ENV, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
        assert!(deployed.environment.iter().any(|e| e == var), "deploy/compose.yaml passes {var}: {:?}", deployed.environment);
    }

    // ---- the emulated organization, reachable on the container's loopback
    let emulator = Emulator::start();
    let members = ["app-1", "app-2", "app-3"];
    let accounts: Vec<Value> = members.iter().map(|name| json!({"name": name, "setup": "compliant"})).collect();
    let org = emulator.build(json!({"management": {"setup": "compliant"}, "accounts": accounts}));
    let judged_accounts = 1 + org.accounts.len();

    let tag = format!("orgwatch-test-{}", std::process::id());
    let (net, daemon, volume) = (format!("{tag}-net"), format!("{tag}-daemon"), format!("{tag}-data"));
    let mut resources = Resources { engine: &engine, containers: vec![], volumes: vec![volume.clone()], relay: None };
    // The hardening as deployed, for every container of the image.
    let mut hardening: Vec<String> = vec!["--user".into(), deployed.user.clone()];
    if deployed.read_only {
        hardening.push("--read-only".into());
    }
    for cap in &deployed.cap_drop {
        hardening.extend(["--cap-drop".into(), cap.clone()]);
    }
    for opt in &deployed.security_opt {
        hardening.extend(["--security-opt".into(), opt.clone()]);
    }
    for tmpfs in &deployed.tmpfs {
        hardening.extend(["--tmpfs".into(), tmpfs.clone()]);
    }
    let args = |list: &[&str]| -> Vec<String> { list.iter().map(|s| s.to_string()).collect() };

    // The network namespace of the daemon, as a pod's: its port published on the host's loopback.
    let mut run = args(&["run", "-d", "--name", &net, "--network", "bridge", "-p"]);
    run.push(format!("{}::{}", deployed.publish_ip, deployed.port));
    run.extend(hardening.clone());
    run.extend(args(&["--entrypoint", "sleep", &deployed.image, "infinity"]));
    engine.ok(&run.iter().map(String::as_str).collect::<Vec<_>>());
    resources.containers.push(net.clone());
    let published = engine.ok(&["port", &net, &format!("{}/tcp", deployed.port)]);
    let host_port: u16 = published.lines().find_map(|l| l.strip_prefix("127.0.0.1:")).and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("published on loopback: {published:?}"));
    let pid = engine.inspect(&net)["State"]["Pid"].as_u64().filter(|&p| p > 0).expect("the network holder's pid").to_string();
    let mut relay = Command::new(python()).arg(repo_root().join("tests/container/relay.py")).arg(&pid).arg(emulator.port.to_string()).stdout(Stdio::piped()).spawn().expect("relay.py");
    let mut ready = String::new();
    BufReader::new(relay.stdout.take().expect("relay stdout")).read_line(&mut ready).expect("relay output");
    resources.relay = Some(relay);
    assert_eq!(ready.trim(), "READY", "the emulator relayed into the container's network");

    // ---- the daemon, as deployed, with the image's own configuration
    let mut run = args(&["run", "-d", "--name", &daemon, "--network"]);
    run.push(format!("container:{net}"));
    run.extend(hardening.clone());
    run.push("-v".into());
    run.push(format!("{volume}:{}", deployed.data_dir.display()));
    // The image's health check command, asked every second instead of every minute.
    run.extend(args(&["--health-interval", "1s", "--health-start-period", "0s", "--health-timeout"]));
    run.push(format!("{}s", deployed.healthcheck_timeout));
    for (key, value) in [
        (EXTERNAL_ID_ENV, EXTERNAL_ID.to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
        ("AWS_ENDPOINT_URL", emulator.endpoint()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
    ] {
        run.push("-e".into());
        run.push(format!("{key}={value}"));
    }
    run.push(deployed.image.clone());
    run.extend(deployed.command.clone());
    let start = Instant::now();
    engine.ok(&run.iter().map(String::as_str).collect::<Vec<_>>());
    resources.containers.push(daemon.clone());

    let logs = || {
        let output = engine.output(&["logs", &daemon]);
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
    };
    let healthz = || http_get(host_port, &deployed.probe_path).and_then(|(status, body)| Some((status, serde_json::from_str::<Value>(&body).ok()?)));
    let health = wait_for("a completed scan on /healthz", Duration::from_secs(300), || {
        if engine.inspect(&daemon)["State"]["Running"] != true {
            panic!("the daemon stopped: {}\n{}", engine.inspect(&daemon)["State"], logs());
        }
        healthz().filter(|(_, h)| h["last_scan_status"] == "completed")
    });
    timings.since("first-scan", start);
    assert_eq!(health.0, 200, "{health:?}");
    assert_eq!(health.1["scheduler_alive"], true, "{health:?}");

    // The HEALTHCHECK's own command, in the container; and Docker's verdict of it.
    assert_eq!(deployed.healthcheck.first().map(String::as_str), Some("CMD"), "{:?}", deployed.healthcheck);
    let mut exec = vec!["exec", daemon.as_str()];
    exec.extend(deployed.healthcheck[1..].iter().map(String::as_str));
    let check = engine.output(&exec);
    assert!(check.status.success() && String::from_utf8_lossy(&check.stdout).starts_with("healthy"), "HEALTHCHECK {:?}: {}", deployed.healthcheck, describe(&check));
    wait_for("Docker's health check to pass", Duration::from_secs(60), || (engine.inspect(&daemon)["State"]["Health"]["Status"] == "healthy").then_some(()));

    // /metrics, as Prometheus parses it.
    let (status, metrics) = http_get(host_port, "/metrics").expect("/metrics");
    assert_eq!(status, 200, "{metrics}");
    let samples = parse_metrics(&metrics);
    assert_eq!(sample(&samples, "orgwatch_scans_total", &[("outcome", "completed")]), Some(1.0), "{metrics}");
    assert_eq!(sample(&samples, "orgwatch_build_info", &[("version", env!("CARGO_PKG_VERSION"))]), Some(1.0), "{metrics}");

    // The process: the deployed user, no capability, no new privileges, a read-only root.
    let process = engine.ok(&["exec", &daemon, "cat", "/proc/1/status"]);
    let field = |name: &str| process.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':')).map(str::trim).unwrap_or_else(|| panic!("no {name} in {process}")).to_owned();
    let (uid, gid) = deployed.user.split_once(':').expect("uid:gid");
    assert_eq!(field("Uid").split_whitespace().collect::<Vec<_>>(), vec![uid; 4], "{process}");
    assert_eq!(field("Gid").split_whitespace().collect::<Vec<_>>(), vec![gid; 4], "{process}");
    if deployed.cap_drop.contains(&"ALL".to_owned()) {
        for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
            assert_eq!(u64::from_str_radix(&field(set), 16), Ok(0), "{set}: {process}");
        }
    }
    if deployed.security_opt.contains(&"no-new-privileges:true".to_owned()) {
        assert_eq!(field("NoNewPrivs"), "1", "{process}");
    }
    let host_config = &engine.inspect(&daemon)["HostConfig"];
    assert_eq!(host_config["ReadonlyRootfs"], deployed.read_only, "{host_config}");
    if deployed.read_only {
        // Even uid 0 in the container cannot write the root filesystem: it is read-only.
        let write = engine.output(&["exec", "--user", "0", &daemon, "touch", "/etc/orgwatch/written"]);
        assert!(!write.status.success() && String::from_utf8_lossy(&write.stderr).contains("Read-only file system"), "{}", describe(&write));
    }

    // The database on the named volume, owned by the deployed user.
    let mountpoint = PathBuf::from(engine.ok(&["volume", "inspect", "-f", "{{.Mountpoint}}", &volume]));
    let file_name = baked.store.path.file_name().expect("the database's file name");
    for path in [mountpoint.clone(), mountpoint.join(file_name)] {
        let meta = std::fs::metadata(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(format!("{}:{}", meta.uid(), meta.gid()), deployed.user, "{} belongs to the deployed user", path.display());
    }

    // `orgwatch query` from a second container on the same volume, as deployed, no network.
    let query = |sql: &str| -> String {
        let mut run = args(&["run", "--rm", "--network", "none"]);
        run.extend(hardening.clone());
        run.push("-v".into());
        run.push(format!("{volume}:{}", deployed.data_dir.display()));
        run.extend(args(&[&deployed.image, "query", "--format", "csv", sql]));
        engine.ok(&run.iter().map(String::as_str).collect::<Vec<_>>())
    };
    assert_eq!(query("SELECT id, status, accounts_total FROM scans ORDER BY id"), format!("id,status,accounts_total\n1,completed,{judged_accounts}"));
    let judged = query("SELECT COUNT(DISTINCT account_id) AS n FROM findings WHERE scan_id = 1");
    assert_eq!(judged, format!("n\n{judged_accounts}"), "every account judged");

    // ---- SIGTERM between scans: a clean exit, well within the grace period
    let grace = deployed.grace.as_secs().to_string();
    let start = Instant::now();
    engine.ok(&["stop", "-t", &grace, &daemon]);
    let stopped = start.elapsed();
    timings.since("stop-idle", start);
    let state = &engine.inspect(&daemon)["State"];
    assert_eq!(state["ExitCode"], 0, "{state}\n{}", logs());
    assert!(stopped < deployed.grace, "stopped in {stopped:?}");

    // ---- SIGTERM during a scan: accounts in flight finish, the scan ends interrupted (or
    // completed), never left running
    emulator.set_faults(json!([{"service": "cloudtrail", "operation": "DescribeTrails", "fault": "none", "latency_ms": 8000}]));
    engine.ok(&["start", &daemon]);
    wait_for("the second scan running", Duration::from_secs(120), || {
        (query("SELECT status FROM scans WHERE id = 2") == "status\nrunning").then_some(())
    });
    let start = Instant::now();
    engine.ok(&["stop", "-t", &grace, &daemon]);
    let stopped = start.elapsed();
    timings.since("stop-during-scan", start);
    let state = &engine.inspect(&daemon)["State"];
    let log = logs();
    assert_eq!(state["ExitCode"], 0, "{state}\n{log}");
    assert!(stopped < deployed.grace, "stopped in {stopped:?}, the grace period is {:?}", deployed.grace);
    assert!(stopped <= baked.scan.grace_period + Duration::from_secs(10), "stopped in {stopped:?}: in-flight accounts get [scan] grace_period {:?}", baked.scan.grace_period);
    let scans = query("SELECT id, status FROM scans ORDER BY id");
    let mut lines = scans.lines().skip(1);
    assert_eq!(lines.next(), Some("1,completed"), "{scans}");
    let second = lines.next().unwrap_or_default();
    assert!(second == "2,interrupted" || second == "2,completed", "{scans}");
    assert_eq!(lines.next(), None, "{scans}");

    // ---- the logs: JSON lines, the signal noted, no secret
    assert!(log.contains("SIGTERM received"), "{log}");
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let entry: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
        assert!(entry.get("level").is_some() || entry.get("fields").is_some(), "{line}");
    }
    assert!(!log.contains(SECRET_KEY) && !log.contains(EXTERNAL_ID), "credentials never reach the log:\n{log}");

    drop(resources);
    timings.since("total-test", total);
    eprintln!("timings (seconds):");
    for (step, seconds) in &timings.0 {
        eprintln!("  {step:<32} {seconds:>8.1}");
    }
}
