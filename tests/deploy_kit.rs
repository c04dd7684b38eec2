//! The deployment kit as operators use it: the IAM policies and CloudFormation templates of
//! `config/iam/` allow exactly the operations orgwatch calls, cfn-lint accepts the templates,
//! hadolint the Dockerfile, kubernetes-validate the Kubernetes manifests, and the image, the
//! manifests and the compose file run the daemon as deployed (listening where probes ask,
//! the database on the volume, non-root, read-only root filesystem).
//!
//! The tools are the test venv's (tests/emulator/requirements.txt, installed by scripts/test).

use orgwatch::config::{Config, EXTERNAL_ID_ENV};
use orgwatch_aws::{AUDIT_OPERATIONS, PUBLISH_OPERATION};
use orgwatch_core::request::{CHAIN_READS, ORGANIZATION_CHAIN_READS};
use orgwatch_tests::{python, repo_root};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

// ---------------------------------------------------------------- tools and files

/// A tool of the test venv, next to its Python.
fn venv_tool(name: &str) -> PathBuf {
    let tool = python().with_file_name(name);
    assert!(tool.exists(), "{} is missing: scripts/test installs tests/emulator/requirements.txt into the venv", tool.display());
    tool
}

/// Runs a venv tool; panics with its output unless it exits 0.
fn run_tool(name: &str, args: &[&str]) -> String {
    let output = Command::new(venv_tool(name)).args(args).current_dir(repo_root()).output().unwrap_or_else(|e| panic!("cannot run {name}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{name} {} failed ({}):\n{text}", args.join(" "), output.status);
    text
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo_root().join(path)).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

fn json_file(path: &str) -> Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"))
}

/// YAML files as JSON, read by tests/tools/yaml_json.py: `cfn` (one template) through
/// cfn-lint's decoder, `docs` as the list of the files' documents.
fn yaml(mode: &str, paths: &[PathBuf]) -> Value {
    let output = Command::new(python())
        .arg(repo_root().join("tests/tools/yaml_json.py"))
        .arg(mode)
        .args(paths)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the YAML reader: {e}"));
    assert!(output.status.success(), "{paths:?} do not read as YAML: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{paths:?}: {e}"))
}

fn template(path: &str) -> Value {
    yaml("cfn", &[repo_root().join(path)])
}

fn manifests(paths: &[String]) -> Vec<Value> {
    match yaml("docs", &paths.iter().map(|p| repo_root().join(p)).collect::<Vec<_>>()) {
        Value::Array(docs) => docs,
        other => panic!("{paths:?}: {other}"),
    }
}

fn files_in(dir: &str, extension: &str) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(repo_root().join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(extension))
        .map(|name| format!("{dir}/{name}"))
        .collect();
    files.sort();
    files
}

/// `value` at a `/`-separated path of object keys and array indexes; panics naming the path.
#[track_caller]
fn at<'a>(value: &'a Value, path: &str) -> &'a Value {
    value.pointer(&format!("/{path}")).unwrap_or_else(|| panic!("no {path} in {value}"))
}

fn text<'a>(value: &'a Value, path: &str) -> &'a str {
    at(value, path).as_str().unwrap_or_else(|| panic!("{path} is not a string"))
}

// ---------------------------------------------------------------- operations and actions

/// Whose credentials make a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    /// orgwatch's own identity: the organization (its listing, an account's path in it) and
    /// AssumeRole.
    Orgwatch,
    /// The audit role assumed in the account that owns what is read.
    AuditRole,
    /// orgwatch's own identity, only when `[notify] sns_topic_arn` is set.
    Notify,
}

/// The IAM action of an operation (the AWS crate names operations as IAM does:
/// `service-prefix:Operation`, with the IAM prefix of the SDK's service: `logs` for CloudWatch
/// Logs, `cloudwatch` for CloudWatch), and who calls it: the core's chain reads are the audit
/// role's (`CHAIN_READS`) or orgwatch's own (`ORGANIZATION_CHAIN_READS`, an account's path);
/// the organization's listing and AssumeRole are orgwatch's own; the publish is `[notify]`'s.
fn iam_action(operation: &str) -> (String, Caller) {
    let (prefix, name) = operation.split_once(':').unwrap_or_else(|| panic!("{operation:?} is not service:Operation"));
    assert!(!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()) && name.starts_with(|c: char| c.is_ascii_uppercase()), "{operation:?}");
    assert!(["organizations", "sts", "cloudtrail", "logs", "cloudwatch", "sns", "kms"].contains(&prefix), "{operation}: {prefix:?} is not an IAM service prefix this test knows");
    let caller = if operation == PUBLISH_OPERATION {
        Caller::Notify
    } else if CHAIN_READS.contains(&operation) {
        Caller::AuditRole
    } else if ORGANIZATION_CHAIN_READS.contains(&operation) {
        Caller::Orgwatch
    } else {
        match prefix {
            "organizations" | "sts" => Caller::Orgwatch,
            _ => panic!("{operation} is neither a chain read nor the organization's listing or AssumeRole; say who calls it"),
        }
    };
    (format!("{prefix}:{name}"), caller)
}

/// The IAM actions orgwatch needs, by caller.
fn needed(caller: Caller) -> BTreeSet<String> {
    AUDIT_OPERATIONS.iter().chain([&PUBLISH_OPERATION]).map(|op| iam_action(op)).filter(|(_, c)| *c == caller).map(|(action, _)| action).collect()
}

/// Every action a policy document (or a template) allows, outside trust policies. Walks
/// through `Fn::If` and the like, so both branches count; refuses `NotAction`, wildcards and
/// `Deny` (the kit only allows, exactly).
fn allowed_actions(value: &Value) -> BTreeSet<String> {
    fn walk(value: &Value, out: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                assert!(!map.contains_key("NotAction"), "NotAction in {value}");
                assert_ne!(map.get("Effect").and_then(Value::as_str), Some("Deny"), "{value}");
                for (key, v) in map {
                    match key.as_str() {
                        "AssumeRolePolicyDocument" => {}
                        "Action" => out.extend(strings(v)),
                        _ => walk(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(value, &mut out);
    for action in &out {
        assert!(!action.contains('*'), "wildcard action {action}");
    }
    out
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().map(|v| v.as_str().unwrap_or_else(|| panic!("{v} is not an action")).to_owned()).collect(),
        other => panic!("{other} is not an action list"),
    }
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[track_caller]
fn assert_same_actions(what: &str, allowed: BTreeSet<String>, needed: BTreeSet<String>) {
    let missing: Vec<_> = needed.difference(&allowed).collect();
    let extra: Vec<_> = allowed.difference(&needed).collect();
    assert!(missing.is_empty() && extra.is_empty(), "{what} is out of step with the operations orgwatch calls: missing {missing:?}, not called {extra:?}");
}

/// The audit role name orgwatch's example configuration uses.
fn example_audit_role_name() -> String {
    Config::parse(&read("config/orgwatch.example.toml")).expect("the example config").organization.audit_role_name
}

#[test]
fn every_operation_orgwatch_calls_maps_to_an_iam_action_and_a_caller() {
    let audit = needed(Caller::AuditRole);
    let orgwatch = needed(Caller::Orgwatch);
    assert_eq!(audit.len() + orgwatch.len() + needed(Caller::Notify).len(), AUDIT_OPERATIONS.len() + 1);
    assert!(orgwatch.contains("sts:AssumeRole") && orgwatch.contains("organizations:ListAccounts"), "{orgwatch:?}");
    assert_eq!(audit, CHAIN_READS.iter().map(|op| op.to_string()).collect::<BTreeSet<_>>(), "the audit role makes every chain read but an account's path");
    for read in ORGANIZATION_CHAIN_READS {
        assert!(orgwatch.contains(read), "{read} is made with orgwatch's own identity: {orgwatch:?}");
    }
    // Read-only toward audited accounts: the audit role only describes, gets and lists; and
    // orgwatch's own role only reads the organization, besides assuming the audit role.
    for action in audit.iter().chain(orgwatch.iter().filter(|a| *a != "sts:AssumeRole")) {
        let name = action.split(':').nth(1).unwrap_or_default();
        assert!(["Describe", "Get", "List"].iter().any(|verb| name.starts_with(verb)), "{action} is not a read");
    }
    assert_eq!(needed(Caller::Notify), set(&["sns:Publish"]));
}

#[test]
fn the_json_policies_allow_exactly_the_operations_orgwatch_calls() {
    assert_same_actions("config/iam/audit-role-policy.json", allowed_actions(&json_file("config/iam/audit-role-policy.json")), needed(Caller::AuditRole));
    let identity = json_file("config/iam/orgwatch-identity-policy.json");
    assert_same_actions("config/iam/orgwatch-identity-policy.json", allowed_actions(&identity), needed(Caller::Orgwatch));
    assert_same_actions("config/iam/orgwatch-notify-policy.json", allowed_actions(&json_file("config/iam/orgwatch-notify-policy.json")), needed(Caller::Notify));

    // orgwatch assumes the audit role by name, at the root path, in any account.
    let statements = at(&identity, "Statement").as_array().expect("statements");
    let assume = statements.iter().find(|s| strings(&s["Action"]).contains(&"sts:AssumeRole".to_owned())).expect("an AssumeRole statement");
    assert_eq!(assume["Resource"], format!("arn:aws:iam::*:role/{}", example_audit_role_name()));

    // The trust policy lets orgwatch do what it does, AssumeRole, and asks for the external ID.
    let trust = json_file("config/iam/audit-role-trust-policy.json");
    let statement = at(&trust, "Statement/0");
    assert_eq!(strings(&statement["Action"]), vec!["sts:AssumeRole"]);
    assert!(statement.pointer("/Condition/StringEquals/sts:ExternalId").is_some(), "{trust}");
}

#[test]
fn the_templates_allow_exactly_the_operations_orgwatch_calls() {
    let audit = template("config/iam/audit-role.yaml");
    assert_same_actions("config/iam/audit-role.yaml", allowed_actions(&audit), needed(Caller::AuditRole));
    assert_eq!(text(&audit, "Parameters/AuditRoleName/Default"), example_audit_role_name());
    assert_eq!(at(&audit, "Parameters/ExternalId/NoEcho"), true);
    let role = at(&audit, "Resources/AuditRole/Properties");
    assert_eq!(at(role, "RoleName"), &serde_json::json!({"Ref": "AuditRoleName"}));
    assert_eq!(text(role, "Path"), "/", "orgwatch assumes arn:aws:iam::<id>:role/<name>, at the root path");
    let trust = at(role, "AssumeRolePolicyDocument/Statement/0");
    assert_eq!(strings(&trust["Action"]), vec!["sts:AssumeRole"]);
    assert_eq!(at(trust, "Principal/AWS"), &serde_json::json!({"Ref": "OrgwatchRoleArn"}));
    assert_eq!(at(trust, "Condition/StringEquals/sts:ExternalId"), &serde_json::json!({"Ref": "ExternalId"}));

    let own = template("config/iam/orgwatch-role.yaml");
    let mut own_needed = needed(Caller::Orgwatch);
    own_needed.extend(needed(Caller::Notify));
    assert_same_actions("config/iam/orgwatch-role.yaml", allowed_actions(&own), own_needed);
    assert_eq!(text(&own, "Parameters/AuditRoleName/Default"), example_audit_role_name());
    let statements = at(&own, "Resources/OrgwatchRole/Properties/Policies/0/PolicyDocument/Statement").as_array().expect("statements");
    let assume = statements.iter().find(|s| s.get("Sid").and_then(Value::as_str) == Some("AssumeTheAuditRoleInEveryAccount")).expect("the AssumeRole statement");
    assert_eq!(assume["Resource"], serde_json::json!({"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${AuditRoleName}"}));
    // sns:Publish only when a notify topic is given, and only to it.
    let publish = statements.iter().find_map(|s| s.get("Fn::If")).expect("the conditional Publish statement");
    assert_eq!(publish[0], "PublishesDrift");
    assert_eq!(strings(&publish[1]["Action"]), vec![PUBLISH_OPERATION]);
    assert_eq!(publish[1]["Resource"], serde_json::json!({"Ref": "NotifyTopicArn"}));
    assert_eq!(publish[2], serde_json::json!({"Ref": "AWS::NoValue"}));
    assert_eq!(text(&own, "Outputs/RoleArn/Value/Fn::GetAtt/0"), "OrgwatchRole");
}

#[test]
fn the_stackset_deploys_the_audit_role_template_to_every_account_and_to_new_ones() {
    let stackset = template("config/iam/audit-role-stackset.yaml");
    let props = at(&stackset, "Resources/AuditRoleStackSet/Properties");
    assert_eq!(text(props, "PermissionModel"), "SERVICE_MANAGED");
    assert_eq!(at(props, "AutoDeployment/Enabled"), true);
    assert_eq!(at(props, "AutoDeployment/RetainStacksOnAccountRemoval"), false);
    assert!(strings(at(props, "Capabilities")).contains(&"CAPABILITY_NAMED_IAM".to_owned()));
    assert_eq!(at(props, "StackInstancesGroup/0/DeploymentTargets/OrganizationalUnitIds"), &serde_json::json!({"Ref": "OrganizationalUnitIds"}));

    // The body is exactly audit-role.yaml, so the drift check above covers what it deploys.
    let dir = tempfile::tempdir().expect("tempdir");
    let body = dir.path().join("body.yaml");
    std::fs::write(&body, text(props, "TemplateBody")).expect("write");
    let audit = template("config/iam/audit-role.yaml");
    assert!(yaml("cfn", &[body]) == audit, "the StackSet's TemplateBody differs from config/iam/audit-role.yaml: copy the file into it");

    // Every parameter of the body is passed through, with the same default.
    let passed: BTreeSet<&str> = at(props, "Parameters").as_array().expect("parameters").iter().map(|p| text(p, "ParameterKey")).collect();
    let declared: BTreeSet<&str> = at(&audit, "Parameters").as_object().expect("parameters").keys().map(String::as_str).collect();
    assert_eq!(passed, declared);
    for name in declared {
        assert_eq!(at(&stackset, &format!("Parameters/{name}")).get("Default"), at(&audit, &format!("Parameters/{name}")).get("Default"), "{name}");
    }
    for p in at(props, "Parameters").as_array().expect("parameters") {
        assert_eq!(p["ParameterValue"], serde_json::json!({"Ref": text(p, "ParameterKey")}));
    }
    assert_eq!(at(&stackset, "Parameters/ExternalId/NoEcho"), true);
}

#[test]
fn cfn_lint_accepts_the_templates() {
    let templates = files_in("config/iam", ".yaml");
    assert_eq!(templates.len(), 3, "{templates:?}");
    let args: Vec<&str> = templates.iter().map(String::as_str).collect();
    run_tool("cfn-lint", &args);
}

// ---------------------------------------------------------------- the image

#[test]
fn hadolint_accepts_the_dockerfile() {
    run_tool("hadolint", &["--no-color", "docker/Dockerfile"]);
}

/// The Dockerfile's instructions as (instruction, arguments), continuation lines joined.
fn dockerfile() -> Vec<(String, String)> {
    let text = read("docker/Dockerfile").replace("\\\n", " ");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (instruction, args) = l.split_once(' ').unwrap_or((l, ""));
            (instruction.to_uppercase(), args.trim().to_owned())
        })
        .collect()
}

#[test]
fn the_image_listens_on_every_interface_and_keeps_the_database_in_its_volume() {
    let config = Config::parse(&read("docker/orgwatch.toml")).expect("the image's config");
    assert_eq!(config.http_listen.map(|a| a.to_string()).as_deref(), Some("0.0.0.0:9417"));
    assert_eq!(config.http_probe_address().map(|a| a.to_string()).as_deref(), Some("127.0.0.1:9417"), "the HEALTHCHECK asks loopback");
    assert!(config.store.path.starts_with("/var/lib/orgwatch"), "{:?}", config.store.path);
    assert!(config.scan.schedule.is_some(), "the daemon needs a schedule");
    // Elsewhere the default stays: no listener unless configured, loopback in the example.
    assert!(read("config/orgwatch.example.toml").contains("listen = \"127.0.0.1:9417\""));

    // The last stage (the runtime image).
    let instructions = dockerfile();
    let last_from = instructions.iter().rposition(|(i, _)| i == "FROM").expect("FROM");
    let runtime = &instructions[last_from..];
    let has = |instruction: &str, args: &str| runtime.iter().any(|(i, a)| i == instruction && a == args);
    assert!(has("COPY", "docker/orgwatch.toml /etc/orgwatch/orgwatch.toml"), "{runtime:?}");
    assert!(has("ENV", "ORGWATCH_CONFIG=/etc/orgwatch/orgwatch.toml"), "{runtime:?}");
    assert!(has("VOLUME", "[\"/var/lib/orgwatch\"]"), "{runtime:?}");
    assert!(has("EXPOSE", "9417"), "{runtime:?}");
    assert!(has("USER", "10001:10001"), "a numeric user, for runAsNonRoot: {runtime:?}");
    assert!(has("CMD", "[\"daemon\"]"), "{runtime:?}");
    assert!(runtime.iter().any(|(i, a)| i == "HEALTHCHECK" && a.ends_with("CMD [\"orgwatch\", \"healthcheck\"]")), "{runtime:?}");
    // The build context leaves out what is built or installed locally.
    let ignored = read(".dockerignore");
    for entry in ["target", ".venv", ".git", "*.db"] {
        assert!(ignored.lines().any(|l| l.trim() == entry), ".dockerignore lacks {entry}");
    }
}

// ---------------------------------------------------------------- Kubernetes and compose

const KUBERNETES: &str = "deploy/kubernetes";

/// The resource files of deploy/kubernetes (the kustomization is not a resource).
fn kubernetes_files() -> Vec<String> {
    files_in(KUBERNETES, ".yaml").into_iter().filter(|f| !f.ends_with("/kustomization.yaml")).collect()
}

/// Every resource of deploy/kubernetes.
fn kubernetes_resources() -> Vec<Value> {
    manifests(&kubernetes_files())
}

#[track_caller]
fn resource(resources: &[Value], kind: &str) -> Value {
    let found: Vec<&Value> = resources.iter().filter(|d| d["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "one {kind} in {KUBERNETES}");
    found[0].clone()
}

#[test]
fn kubernetes_validate_accepts_the_manifests() {
    let files = kubernetes_files();
    assert!(files.len() >= 7, "{files:?}");
    // The oldest and the newest Kubernetes the manifests are meant for.
    for version in ["1.30.0", "1.37.0"] {
        let mut args = vec!["--strict", "-k", version];
        args.extend(files.iter().map(String::as_str));
        run_tool("kubernetes-validate", &args);
    }
    // The kustomization applies every resource but the CronJob, the daemon's alternative.
    let kustomization = &manifests(&[format!("{KUBERNETES}/kustomization.yaml")])[0];
    let listed: BTreeSet<String> = strings(&kustomization["resources"]).into_iter().map(|f| format!("{KUBERNETES}/{f}")).collect();
    let expected: BTreeSet<String> = files.into_iter().filter(|f| !f.ends_with("/cronjob.yaml")).collect();
    assert_eq!(listed, expected);
}

/// Checks a pod template: non-root, read-only root filesystem, no privilege escalation, no
/// capabilities, the config from the ConfigMap, the external ID from the Secret, the database
/// on the PVC. Returns the container.
fn assert_hardened_pod(resources: &[Value], what: &str, pod: &Value, args: &str, store_dir: &Path) -> Value {
    assert_eq!(at(pod, "securityContext/runAsNonRoot"), true, "{what}");
    assert_eq!(at(pod, "securityContext/runAsUser"), 10001, "{what}: the image's user");
    assert_eq!(text(pod, "securityContext/seccompProfile/type"), "RuntimeDefault", "{what}");
    assert_eq!(text(pod, "serviceAccountName"), "orgwatch", "{what}");
    assert!(at(pod, "terminationGracePeriodSeconds").as_u64().unwrap_or_default() > 30, "{what}: longer than [scan] grace_period_seconds");
    let containers = at(pod, "containers").as_array().expect("containers");
    assert_eq!(containers.len(), 1, "{what}");
    let c = containers[0].clone();
    assert_eq!(strings(&c["args"]), vec![args], "{what}");
    assert_eq!(at(&c, "securityContext/readOnlyRootFilesystem"), true, "{what}");
    assert_eq!(at(&c, "securityContext/allowPrivilegeEscalation"), false, "{what}");
    assert_eq!(strings(at(&c, "securityContext/capabilities/drop")), vec!["ALL"], "{what}");
    assert!(c.pointer("/securityContext/capabilities/add").is_none(), "{what}");
    assert_ne!(c.pointer("/securityContext/privileged"), Some(&Value::Bool(true)), "{what}");

    let env = at(&c, "env").as_array().expect("env");
    let var = |name: &str| env.iter().find(|e| e["name"] == name).unwrap_or_else(|| panic!("{what}: no {name}"));
    assert_eq!(text(var(EXTERNAL_ID_ENV), "valueFrom/secretKeyRef/name"), "orgwatch", "{what}");
    assert!(var(EXTERNAL_ID_ENV).get("value").is_none(), "{what}: the external ID is not written in the manifest");
    let config_path = text(var("ORGWATCH_CONFIG"), "value");

    let volumes = at(pod, "volumes").as_array().expect("volumes");
    let volume = |name: &str| volumes.iter().find(|v| v["name"] == name).unwrap_or_else(|| panic!("{what}: no volume {name}"));
    let mounts = at(&c, "volumeMounts").as_array().expect("mounts");
    let mount_of = |dir: &Path| mounts.iter().find(|m| Path::new(text(m, "mountPath")) == dir).unwrap_or_else(|| panic!("{what}: nothing mounted at {}", dir.display()));
    let config_mount = mount_of(Path::new(config_path).parent().expect("config dir"));
    assert_eq!(text(volume(text(config_mount, "name")), "configMap/name"), "orgwatch", "{what}");
    let data_mount = mount_of(store_dir);
    assert_eq!(text(volume(text(data_mount, "name")), "persistentVolumeClaim/claimName"), text(&resource(resources, "PersistentVolumeClaim"), "metadata/name"), "{what}");
    assert_ne!(data_mount.get("readOnly"), Some(&Value::Bool(true)), "{what}");
    c
}

/// The ConfigMap's orgwatch.toml, validated as orgwatch validates it.
fn configmap_config(resources: &[Value]) -> Config {
    let configmap = resource(resources, "ConfigMap");
    Config::parse_with_external_id(text(&configmap, "data/orgwatch.toml"), Some("from-the-secret".into())).expect("the ConfigMap's orgwatch.toml")
}

#[test]
fn the_deployment_runs_one_daemon_hardened_with_probes_on_healthz() {
    let resources = kubernetes_resources();
    let config = configmap_config(&resources);
    let listen = config.http_listen.expect("[http] listen");
    assert!(listen.ip().is_unspecified(), "probes come from the kubelet, not loopback: {listen}");
    let store_dir = config.store.path.parent().expect("store dir").to_path_buf();

    let deployment = resource(&resources, "Deployment");
    assert_eq!(at(&deployment, "spec/replicas"), 1, "SQLite has one writer");
    assert_eq!(text(&deployment, "spec/strategy/type"), "Recreate", "the old pod stops before the new one writes");
    let c = assert_hardened_pod(&resources, "Deployment", at(&deployment, "spec/template/spec"), "daemon", &store_dir);
    let port = at(&c, "ports").as_array().expect("ports").iter().find(|p| p["containerPort"] == listen.port()).expect("the listen port");
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(text(&c, &format!("{probe}/httpGet/path")), "/healthz");
        let probe_port = at(&c, &format!("{probe}/httpGet/port"));
        assert!(probe_port == &port["name"] || probe_port == listen.port(), "{probe} asks {probe_port}, orgwatch listens on {listen}");
    }
    let service = resource(&resources, "Service");
    assert_eq!(at(&service, "spec/selector"), at(&deployment, "spec/selector/matchLabels"));
    assert_eq!(at(&service, "spec/ports/0/targetPort"), &port["name"]);

    let account = resource(&resources, "ServiceAccount");
    assert!(text(&account, "metadata/annotations/eks.amazonaws.com~1role-arn").ends_with(":role/orgwatch"), "the IRSA example names orgwatch-role.yaml's default");
    assert_eq!(at(&account, "automountServiceAccountToken"), false);
    assert_eq!(at(&resource(&resources, "PersistentVolumeClaim"), "spec/accessModes"), &serde_json::json!(["ReadWriteOnce"]));
}

#[test]
fn the_cronjob_runs_one_scan_at_a_time_hardened() {
    let resources = kubernetes_resources();
    let config = configmap_config(&resources);
    let cronjob = resource(&resources, "CronJob");
    assert_eq!(text(&cronjob, "spec/concurrencyPolicy"), "Forbid", "scans never overlap on one database");
    assert!(config.scan.schedule.is_some());
    assert_eq!(text(&cronjob, "spec/schedule").split_whitespace().count(), 5);
    let pod = at(&cronjob, "spec/jobTemplate/spec/template/spec");
    assert_eq!(text(pod, "restartPolicy"), "Never");
    assert_hardened_pod(&resources, "CronJob", pod, "scan", config.store.path.parent().expect("store dir"));
}

#[test]
fn the_compose_file_runs_the_image_as_deployed() {
    let compose = &manifests(&["deploy/compose.yaml".to_owned()])[0];
    let service = at(compose, "services/orgwatch");
    assert_eq!(text(service, "build/dockerfile"), "docker/Dockerfile");
    assert_eq!(strings(at(service, "command")), vec!["daemon"]);
    assert_eq!(text(service, "user"), "10001:10001");
    assert_eq!(at(service, "read_only"), true);
    assert_eq!(strings(at(service, "cap_drop")), vec!["ALL"]);
    assert!(strings(at(service, "security_opt")).contains(&"no-new-privileges:true".to_owned()));
    // The image's own config: the volume holds its database, the port is its listener.
    let image_config = Config::parse(&read("docker/orgwatch.toml")).expect("the image's config");
    let store_dir = image_config.store.path.parent().expect("store dir").to_string_lossy().into_owned();
    assert!(strings(at(service, "volumes")).iter().any(|v| v.ends_with(&format!(":{store_dir}"))), "{service}");
    let port = image_config.http_listen.expect("listen").port();
    assert!(strings(at(service, "ports")).iter().any(|p| p.ends_with(&format!(":{port}:{port}"))), "{service}");
    assert_eq!(strings(at(service, "healthcheck/test")), vec!["CMD", "orgwatch", "healthcheck"]);
    let env = strings(at(service, "environment"));
    assert!(env.iter().any(|e| e.starts_with(&format!("{EXTERNAL_ID_ENV}=${{{EXTERNAL_ID_ENV}:?"))), "the external ID is required from the environment: {env:?}");
}
