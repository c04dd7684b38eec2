//! The HTTP server: one handler that tells the protocol and the operation from the request,
//! the caller's account from its SigV4 access key, counts the call, waits the latency, maybe
//! throttles, and answers from the organization.

use crate::org::{AlarmShape, Filters, Kind, LOG_GROUP, NAMESPACE, Organization, REGION, TOPIC_NAME, TopicShape, profile};
use crate::wire::{self, Cbor, Reply, xml_escape};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::serve::ListenerExt;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How the server answers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerSettings {
    /// Added before every answer (`tokio::time::sleep`, no thread blocked).
    pub latency: Duration,
    /// Answer every Nth call (counted over all calls) with a throttling error, which the SDK
    /// retries. `None` or `Some(0)`: never.
    pub throttle_every: Option<u32>,
}

/// The operations served, as IAM names them (the names of `orgwatch_aws::AUDIT_OPERATIONS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    DescribeOrganization,
    ListAccounts,
    AssumeRole,
    DescribeTrails,
    GetTrailStatus,
    GetEventSelectors,
    DescribeMetricFilters,
    DescribeAlarmsForMetric,
    GetTopicAttributes,
    ListSubscriptionsByTopic,
}

const OPS: [(Op, &str); 10] = [
    (Op::DescribeOrganization, "organizations:DescribeOrganization"),
    (Op::ListAccounts, "organizations:ListAccounts"),
    (Op::AssumeRole, "sts:AssumeRole"),
    (Op::DescribeTrails, "cloudtrail:DescribeTrails"),
    (Op::GetTrailStatus, "cloudtrail:GetTrailStatus"),
    (Op::GetEventSelectors, "cloudtrail:GetEventSelectors"),
    (Op::DescribeMetricFilters, "logs:DescribeMetricFilters"),
    (Op::DescribeAlarmsForMetric, "cloudwatch:DescribeAlarmsForMetric"),
    (Op::GetTopicAttributes, "sns:GetTopicAttributes"),
    (Op::ListSubscriptionsByTopic, "sns:ListSubscriptionsByTopic"),
];

fn op_of(iam: &str) -> Option<Op> {
    OPS.iter().find(|(_, name)| *name == iam).map(|(op, _)| *op)
}

fn op_index(op: Op) -> usize {
    OPS.iter().position(|(o, _)| *o == op).unwrap_or(0)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Protocol {
    Json,
    Query,
    Cbor,
}

const CBOR_PREFIX: &str = "/service/GraniteServiceVersion20100801/operation/";
const STS_XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
const SNS_XMLNS: &str = "http://sns.amazonaws.com/doc/2010-03-31/";
/// A fixed instant (2026-11-01T00:00:00Z) for the timestamps of answers, so they are the same
/// from run to run.
const EPOCH: i64 = 1_793_491_200;
/// Accounts per ListAccounts page, as AWS.
const PAGE: usize = 20;

/// Calls by operation and by account, lock-free on the known paths.
struct Counters {
    total: AtomicU64,
    throttled: AtomicU64,
    by_op: [AtomicU64; OPS.len()],
    by_account: Vec<AtomicU64>,
    /// Calls of operations not served, by `service:Operation`.
    other_ops: Mutex<BTreeMap<String, u64>>,
    /// AssumeRole into accounts outside the organization, by id.
    strangers: Mutex<BTreeMap<String, u64>>,
}

impl Counters {
    fn new(accounts: usize) -> Self {
        Counters {
            total: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            by_op: std::array::from_fn(|_| AtomicU64::new(0)),
            by_account: (0..accounts).map(|_| AtomicU64::new(0)).collect(),
            other_ops: Mutex::new(BTreeMap::new()),
            strangers: Mutex::new(BTreeMap::new()),
        }
    }

    fn reset(&self) {
        self.total.store(0, Ordering::Relaxed);
        self.throttled.store(0, Ordering::Relaxed);
        self.by_op.iter().chain(&self.by_account).for_each(|c| c.store(0, Ordering::Relaxed));
        lock(&self.other_ops).clear();
        lock(&self.strangers).clear();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whose call it is for the counters.
enum Counted<'a> {
    Account(usize),
    Stranger(&'a str),
}

struct Shared {
    org: Organization,
    /// TCP connections accepted.
    connections: AtomicU64,
    settings: ServerSettings,
    counters: Counters,
    request_seq: AtomicU64,
    organization_id: String,
    /// DescribeMetricFilters answers, by [`Filters`] variant: they name no account.
    filters_counting: Bytes,
    filters_zero: Bytes,
    filters_empty: Bytes,
}

/// A running synthetic organization on `127.0.0.1`.
pub struct Server {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds `127.0.0.1:0` and serves `org` on the current tokio runtime (a spawned task).
    pub async fn start(org: Organization, settings: ServerSettings) -> std::io::Result<Server> {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
        let listener = socket.listen(4096)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(org, settings));
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let counting = shared.clone();
        let listener = listener.tap_io(move |stream| {
            counting.connections.fetch_add(1, Ordering::Relaxed);
            let _ = stream.set_nodelay(true);
        });
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                eprintln!("synthetic organization server stopped: {e}");
            }
        });
        Ok(Server { shared, addr, stop: Some(stop), task: Some(task) })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn organization(&self) -> &Organization {
        &self.shared.org
    }

    /// Calls by operation as IAM names them (`cloudtrail:GetTrailStatus`), throttled calls
    /// included; operations that were not called are left out.
    pub fn calls_by_operation(&self) -> BTreeMap<String, u64> {
        let c = &self.shared.counters;
        let mut out: BTreeMap<String, u64> =
            OPS.iter().zip(&c.by_op).map(|((_, name), n)| ((*name).to_owned(), n.load(Ordering::Relaxed))).filter(|(_, n)| *n > 0).collect();
        for (name, n) in lock(&c.other_ops).iter() {
            *out.entry(name.clone()).or_insert(0) += n;
        }
        out
    }

    /// Calls by the account whose identity made them: the target account for AssumeRole, the
    /// management account for `organizations:*`. Accounts without calls are left out.
    pub fn calls_by_account(&self) -> BTreeMap<String, u64> {
        let c = &self.shared.counters;
        let mut out: BTreeMap<String, u64> = c
            .by_account
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                let n = n.load(Ordering::Relaxed);
                (n > 0).then(|| (self.shared.org.id_of(i), n))
            })
            .collect();
        for (id, n) in lock(&c.strangers).iter() {
            *out.entry(id.clone()).or_insert(0) += n;
        }
        out
    }

    /// Every call received, throttled ones included.
    pub fn total_calls(&self) -> u64 {
        self.shared.counters.total.load(Ordering::Relaxed)
    }

    /// The calls answered with a throttling error.
    pub fn throttled_calls(&self) -> u64 {
        self.shared.counters.throttled.load(Ordering::Relaxed)
    }

    /// TCP connections accepted so far (not reset by [`Server::reset_counts`]).
    pub fn connections_accepted(&self) -> u64 {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// Sets every call counter back to zero.
    pub fn reset_counts(&self) {
        self.shared.counters.reset();
    }

    /// Stops accepting, lets the answers in flight finish (closing idle keep-alive
    /// connections), and waits for the server task (at most five seconds).
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut task).await.is_err()
        {
            task.abort();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The account, region and service of a SigV4 `Authorization` header's credential scope.
fn credential(headers: &HeaderMap) -> (&str, &str, &str) {
    let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return ("", "", "");
    };
    let Some(start) = auth.find("Credential=") else {
        return ("", "", "");
    };
    let scope = &auth[start + "Credential=".len()..];
    let scope = scope.split([',', ' ']).next().unwrap_or("");
    let mut parts = scope.split('/');
    let key = parts.next().unwrap_or("");
    let _date = parts.next();
    let region = parts.next().unwrap_or("");
    let service = parts.next().unwrap_or("");
    (key, region, service)
}

/// Form parameters of an awsQuery request.
struct Form(Vec<(String, String)>);

impl Form {
    fn parse(body: &[u8]) -> Form {
        Form(form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

async fn handle(State(shared): State<Arc<Shared>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Reply {
    shared.answer(uri.path(), &headers, &body).await
}

/// The account an access key acts in: keys from our AssumeRole encode it (`ASIA` + the
/// 12-digit id + 4 characters); any other key is orgwatch's own and acts in the management
/// account.
fn caller_of(org: &Organization, key: &str) -> usize {
    if key.len() == 20 && key.starts_with("ASIA") {
        return org.index_of(&key[4..16]).unwrap_or(0);
    }
    0
}

fn json_body(body: &[u8]) -> Value {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Value::Object(Default::default());
    }
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

/// The parts of an SNS topic ARN: (region, account, name).
fn topic_parts(arn: &str) -> Option<(&str, &str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (_, _, service, region, account, name) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    (service == "sns").then_some((region, account, name))
}

impl Shared {
    fn new(org: Organization, settings: ServerSettings) -> Shared {
        let render_filters = |value: Option<&str>| -> Bytes {
            let filters: Vec<Value> = match value {
                None => Vec::new(),
                Some(value) => org
                    .deployed
                    .iter()
                    .map(|d| {
                        json!({
                            "filterName": d.id,
                            "filterPattern": d.pattern,
                            "metricTransformations": [{ "metricName": d.metric, "metricNamespace": NAMESPACE, "metricValue": value }],
                            "creationTime": EPOCH * 1000,
                            "logGroupName": LOG_GROUP,
                            "applyOnTransformedLogs": false
                        })
                    })
                    .collect(),
            };
            Bytes::from(json!({ "metricFilters": filters }).to_string())
        };
        let organization_id = format!("o-{:010x}", (crate::org::mix(org.spec().seed, u64::MAX) >> 24) & 0xff_ffff_ffff);
        Shared {
            connections: AtomicU64::new(0),
            counters: Counters::new(org.len()),
            request_seq: AtomicU64::new(0),
            organization_id,
            filters_counting: render_filters(Some("1")),
            filters_zero: render_filters(Some("0")),
            filters_empty: render_filters(None),
            org,
            settings,
        }
    }

    fn request_id(&self) -> String {
        let n = self.request_seq.fetch_add(1, Ordering::Relaxed);
        format!("5e7a0c1d-{:04x}-4{:03x}-8000-{:012x}", (n >> 48) & 0xffff, (n >> 36) & 0xfff, n & 0xffff_ffff_ffff)
    }

    fn count(&self, iam: &str, who: Counted<'_>) -> u64 {
        let c = &self.counters;
        let n = c.total.fetch_add(1, Ordering::Relaxed) + 1;
        match op_of(iam) {
            Some(op) => {
                c.by_op[op_index(op)].fetch_add(1, Ordering::Relaxed);
            }
            None => *lock(&c.other_ops).entry(iam.to_owned()).or_insert(0) += 1,
        }
        match who {
            Counted::Account(i) => {
                if let Some(a) = c.by_account.get(i) {
                    a.fetch_add(1, Ordering::Relaxed);
                }
            }
            Counted::Stranger(id) => *lock(&c.strangers).entry(id.to_owned()).or_insert(0) += 1,
        }
        n
    }

    async fn answer(&self, path: &str, headers: &HeaderMap, body: &[u8]) -> Reply {
        let request_id = self.request_id();
        let (key, scope_region, scope_service) = credential(headers);
        let caller = caller_of(&self.org, key);

        // The protocol, the IAM service name and the operation.
        let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok());
        let mut form = None;
        let (protocol, service, operation): (Protocol, &str, String) = if let Some(op) = path.strip_prefix(CBOR_PREFIX) {
            (Protocol::Cbor, "cloudwatch", op.to_owned())
        } else if let Some(target) = target {
            let (prefix, op) = target.rsplit_once('.').unwrap_or(("", target));
            let service = match prefix {
                "CloudTrail_20131101" | "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101" => "cloudtrail",
                "Logs_20140328" => "logs",
                "AWSOrganizationsV20161128" => "organizations",
                _ => scope_service,
            };
            (Protocol::Json, service, op.to_owned())
        } else {
            let parsed = Form::parse(body);
            let action = parsed.get("Action").unwrap_or("").to_owned();
            form = Some(parsed);
            // An unsigned request (curl by hand) names no service: tell it by the action.
            let service = match (scope_service, action.as_str()) {
                ("monitoring", _) => "cloudwatch",
                ("", "AssumeRole") => "sts",
                ("", "GetTopicAttributes" | "ListSubscriptionsByTopic") => "sns",
                (service, _) => service,
            };
            (Protocol::Query, service, action)
        };
        let iam = format!("{service}:{operation}");
        let op = op_of(&iam);

        // Whose call it is: the target of an AssumeRole, the management account for the
        // organization, the caller otherwise.
        let role_arn = form.as_ref().and_then(|f| f.get("RoleArn")).unwrap_or("").to_owned();
        let role_account = role_arn.split(':').nth(4).unwrap_or("");
        let who = match op {
            Some(Op::AssumeRole) => match self.org.index_of(role_account) {
                Some(i) => Counted::Account(i),
                None if role_account.is_empty() => Counted::Account(caller),
                None => Counted::Stranger(role_account),
            },
            Some(Op::DescribeOrganization | Op::ListAccounts) => Counted::Account(0),
            _ => Counted::Account(caller),
        };
        let n = self.count(&iam, who);

        let throttle = self.settings.throttle_every.is_some_and(|every| every > 0 && n.is_multiple_of(u64::from(every)));
        if !self.settings.latency.is_zero() {
            tokio::time::sleep(self.settings.latency).await;
        }
        if throttle {
            self.counters.throttled.fetch_add(1, Ordering::Relaxed);
            return match protocol {
                Protocol::Json if service == "organizations" => wire::json_error(
                    StatusCode::BAD_REQUEST,
                    &request_id,
                    "TooManyRequestsException",
                    "AWS Organizations can't complete your request because another request is already in progress. Try again later.",
                ),
                Protocol::Json => wire::json_error(StatusCode::BAD_REQUEST, &request_id, "ThrottlingException", "Rate exceeded"),
                Protocol::Query => wire::query_error(StatusCode::BAD_REQUEST, &request_id, xmlns(service), "Throttling", "Rate exceeded"),
                Protocol::Cbor => wire::cbor_error(StatusCode::BAD_REQUEST, &request_id, "Throttling", "Rate exceeded"),
            };
        }

        let Some(op) = op else {
            let message = format!("The operation {operation} is not served by the synthetic organization.");
            return match protocol {
                Protocol::Json => wire::json_error(StatusCode::BAD_REQUEST, &request_id, "UnknownOperationException", &message),
                Protocol::Query => wire::query_error(StatusCode::BAD_REQUEST, &request_id, xmlns(service), "InvalidAction", &message),
                Protocol::Cbor => wire::cbor_error(StatusCode::BAD_REQUEST, &request_id, "UnknownOperationException", &message),
            };
        };
        let form = form.unwrap_or(Form(Vec::new()));
        match op {
            Op::DescribeOrganization => self.describe_organization(&request_id),
            Op::ListAccounts => self.list_accounts(&request_id, caller, &json_body(body)),
            Op::AssumeRole => self.assume_role(&request_id, caller, &role_arn, &form),
            Op::DescribeTrails => self.describe_trails(&request_id, caller, scope_region, &json_body(body)),
            Op::GetTrailStatus => self.get_trail_status(&request_id, caller, &json_body(body)),
            Op::GetEventSelectors => self.get_event_selectors(&request_id, caller, &json_body(body)),
            Op::DescribeMetricFilters => self.describe_metric_filters(&request_id, caller, &json_body(body)),
            Op::DescribeAlarmsForMetric => self.describe_alarms_for_metric(&request_id, caller, body),
            Op::GetTopicAttributes => self.get_topic_attributes(&request_id, caller, form.get("TopicArn").unwrap_or("")),
            Op::ListSubscriptionsByTopic => self.list_subscriptions_by_topic(&request_id, caller, form.get("TopicArn").unwrap_or("")),
        }
    }

    // ---- Organizations -------------------------------------------------------------------

    fn account_arn(&self, index: usize) -> String {
        format!("arn:aws:organizations::{}:account/{}/{}", self.org.management_account_id(), self.organization_id, self.org.id_of(index))
    }

    fn describe_organization(&self, request_id: &str) -> Reply {
        let management = self.org.management_account_id();
        let body = json!({
            "Organization": {
                "Id": self.organization_id,
                "Arn": format!("arn:aws:organizations::{management}:organization/{}", self.organization_id),
                "FeatureSet": "ALL",
                "MasterAccountArn": self.account_arn(0),
                "MasterAccountId": management,
                "MasterAccountEmail": format!("aws+{management}@example.com"),
                "AvailablePolicyTypes": [{ "Type": "SERVICE_CONTROL_POLICY", "Status": "ENABLED" }]
            }
        });
        wire::json_ok(request_id, body.to_string().into_bytes())
    }

    fn list_accounts(&self, request_id: &str, caller: usize, request: &Value) -> Reply {
        if caller != 0 {
            return wire::json_error(StatusCode::BAD_REQUEST, request_id, "AccessDeniedException", "You don't have permissions to access this resource.");
        }
        let start = match request.get("NextToken").and_then(Value::as_str) {
            None => 0,
            Some(token) => match token.strip_prefix("synthetic-page:").and_then(|n| n.parse::<usize>().ok()).filter(|n| *n < self.org.len()) {
                Some(n) => n,
                None => return wire::json_error(StatusCode::BAD_REQUEST, request_id, "InvalidInputException", "You provided an invalid value for NextToken."),
            },
        };
        let page = request.get("MaxResults").and_then(Value::as_u64).map_or(PAGE, |m| (m as usize).clamp(1, PAGE));
        let end = (start + page).min(self.org.len());
        let accounts: Vec<Value> = (start..end)
            .map(|i| {
                let id = self.org.id_of(i);
                json!({
                    "Id": id,
                    "Arn": self.account_arn(i),
                    "Email": format!("aws+{id}@example.com"),
                    "Name": self.org.name_of(i),
                    "Status": "ACTIVE",
                    "State": "ACTIVE",
                    "JoinedMethod": if i == 0 { "INVITED" } else { "CREATED" },
                    "JoinedTimestamp": EPOCH - 86_400 * (1 + (i as i64 % 900)),
                })
            })
            .collect();
        let mut body = json!({ "Accounts": accounts });
        if end < self.org.len() {
            body["NextToken"] = Value::String(format!("synthetic-page:{end}"));
        }
        wire::json_ok(request_id, body.to_string().into_bytes())
    }

    // ---- STS -----------------------------------------------------------------------------

    fn principal(&self, caller: usize) -> String {
        if caller == 0 {
            format!("arn:aws:iam::{}:user/orgwatch", self.org.management_account_id())
        } else {
            format!("arn:aws:sts::{}:assumed-role/audit/orgwatch", self.org.id_of(caller))
        }
    }

    fn assume_role(&self, request_id: &str, caller: usize, role_arn: &str, form: &Form) -> Reply {
        let parts: Vec<&str> = role_arn.splitn(6, ':').collect();
        let role_name = parts.get(5).and_then(|r| r.strip_prefix("role/")).unwrap_or("");
        if parts.len() != 6 || parts[0] != "arn" || parts[2] != "iam" || parts[4].len() != 12 || role_name.is_empty() {
            return wire::query_error(StatusCode::BAD_REQUEST, request_id, STS_XMLNS, "ValidationError", &format!("{role_arn} is invalid"));
        }
        let target = match self.org.index_of(parts[4]) {
            Some(i) if self.org.kind_at(i) != Kind::Refused => i,
            _ => {
                let message = format!("User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}", self.principal(caller));
                return wire::query_error(StatusCode::FORBIDDEN, request_id, STS_XMLNS, "AccessDenied", &message);
            }
        };
        let session = form.get("RoleSessionName").unwrap_or("session");
        let seconds = form.get("DurationSeconds").and_then(|s| s.parse::<i64>().ok()).unwrap_or(3600).clamp(900, 43_200);
        let expiration = (chrono::Utc::now() + chrono::Duration::seconds(seconds)).format("%Y-%m-%dT%H:%M:%SZ");
        let id = self.org.id_of(target);
        let salt = self.request_seq.load(Ordering::Relaxed);
        let key = format!("ASIA{id}{:04X}", salt & 0xffff);
        let body = format!(
            "<AssumeRoleResponse xmlns=\"{STS_XMLNS}\"><AssumeRoleResult>\
             <AssumedRoleUser><AssumedRoleId>AROA{id}SYNTH:{session}</AssumedRoleId><Arn>arn:aws:sts::{id}:assumed-role/{role}/{session}</Arn></AssumedRoleUser>\
             <Credentials><AccessKeyId>{key}</AccessKeyId><SecretAccessKey>synthetic/{id}/{salt:016x}</SecretAccessKey>\
             <SessionToken>IQoJb3JpZ2luX2VjESYNTHETIC{id}{salt:016x}</SessionToken><Expiration>{expiration}</Expiration></Credentials>\
             </AssumeRoleResult><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></AssumeRoleResponse>",
            session = xml_escape(session),
            role = xml_escape(role_name),
        );
        wire::xml_ok(request_id, body)
    }

    // ---- CloudTrail ----------------------------------------------------------------------

    fn trail_name(&self, owner: usize) -> &'static str {
        if profile(self.org.kind_at(owner)).organization_trail { "organization-trail" } else { "main" }
    }

    fn trail_arn(&self, owner: usize) -> String {
        format!("arn:aws:cloudtrail:{REGION}:{}:trail/{}", self.org.id_of(owner), self.trail_name(owner))
    }

    fn trail_json(&self, owner: usize) -> Value {
        let p = profile(self.org.kind_at(owner));
        let id = self.org.id_of(owner);
        let mut trail = json!({
            "Name": self.trail_name(owner),
            "S3BucketName": format!("aws-cloudtrail-logs-{id}"),
            "IncludeGlobalServiceEvents": true,
            "IsMultiRegionTrail": true,
            "HomeRegion": REGION,
            "TrailARN": self.trail_arn(owner),
            "LogFileValidationEnabled": true,
            "HasCustomEventSelectors": p.read_only_selector,
            "HasInsightSelectors": false,
            "IsOrganizationTrail": p.organization_trail,
        });
        if p.to_cloudwatch {
            trail["CloudWatchLogsLogGroupArn"] = Value::String(format!("arn:aws:logs:{REGION}:{id}:log-group:{LOG_GROUP}:*"));
            trail["CloudWatchLogsRoleArn"] = Value::String(format!("arn:aws:iam::{id}:role/CloudTrail_CloudWatchLogs_Role"));
        }
        trail
    }

    fn describe_trails(&self, request_id: &str, caller: usize, region: &str, request: &Value) -> Reply {
        let p = profile(self.org.kind_at(caller));
        let shadow = request.get("includeShadowTrails").and_then(Value::as_bool).unwrap_or(true);
        let mut trails = Vec::new();
        // A multi-region trail homed elsewhere is a shadow trail in this region.
        if p.trail && (shadow || region.is_empty() || region == REGION) {
            trails.push(self.trail_json(caller));
        }
        // The organization trail, to the members it covers: always a shadow trail to them.
        if p.covered && caller != 0 && shadow {
            trails.push(self.trail_json(0));
        }
        if let Some(names) = request.get("trailNameList").and_then(Value::as_array).filter(|n| !n.is_empty()) {
            trails.retain(|t| names.iter().any(|n| n == &t["Name"] || n == &t["TrailARN"]));
        }
        wire::json_ok(request_id, json!({ "trailList": trails }).to_string().into_bytes())
    }

    /// Only the owner reads a trail's status and selectors.
    #[allow(clippy::result_large_err)] // the reply is made once per call, never stored
    fn own_trail(&self, request_id: &str, caller: usize, name: &str) -> Result<String, Reply> {
        let p = profile(self.org.kind_at(caller));
        let arn = self.trail_arn(caller);
        if p.trail && (name == arn || name == self.trail_name(caller)) {
            Ok(arn)
        } else {
            let message = format!("Unknown trail: {name} for the user: {}", self.org.id_of(caller));
            Err(wire::json_error(StatusCode::BAD_REQUEST, request_id, "TrailNotFoundException", &message))
        }
    }

    fn get_trail_status(&self, request_id: &str, caller: usize, request: &Value) -> Reply {
        let name = request.get("Name").and_then(Value::as_str).unwrap_or("");
        if let Err(reply) = self.own_trail(request_id, caller, name) {
            return reply;
        }
        let p = profile(self.org.kind_at(caller));
        let mut status = json!({
            "IsLogging": p.logging,
            "LatestDeliveryTime": EPOCH - 120,
            "LatestDeliveryAttemptTime": "2026-10-31T23:58:00Z",
            "LatestDeliveryAttemptSucceeded": "2026-10-31T23:58:00Z",
            "TimeLoggingStarted": "2026-01-05T09:00:00Z",
        });
        if p.logging {
            status["StartLoggingTime"] = json!(EPOCH - 300 * 86_400);
        } else {
            status["StopLoggingTime"] = json!(EPOCH - 3 * 86_400);
            status["TimeLoggingStopped"] = json!("2026-10-29T00:00:00Z");
        }
        if p.to_cloudwatch {
            status["LatestCloudWatchLogsDeliveryTime"] = json!(EPOCH - if p.delivery_error { 9 * 86_400 } else { 60 });
        }
        if p.delivery_error {
            status["LatestCloudWatchLogsDeliveryError"] = json!("AccessDeniedException: CloudTrail cannot assume role CloudTrail_CloudWatchLogs_Role");
        }
        wire::json_ok(request_id, status.to_string().into_bytes())
    }

    fn get_event_selectors(&self, request_id: &str, caller: usize, request: &Value) -> Reply {
        let name = request.get("TrailName").and_then(Value::as_str).unwrap_or("");
        let arn = match self.own_trail(request_id, caller, name) {
            Ok(arn) => arn,
            Err(reply) => return reply,
        };
        let p = profile(self.org.kind_at(caller));
        let body = json!({
            "TrailARN": arn,
            "EventSelectors": [{
                "ReadWriteType": if p.read_only_selector { "ReadOnly" } else { "All" },
                "IncludeManagementEvents": true,
                "DataResources": [],
                "ExcludeManagementEventSources": []
            }]
        });
        wire::json_ok(request_id, body.to_string().into_bytes())
    }

    // ---- CloudWatch Logs -----------------------------------------------------------------

    fn describe_metric_filters(&self, request_id: &str, caller: usize, request: &Value) -> Reply {
        // The log group is looked up in the caller's account, whatever the request names.
        let p = profile(self.org.kind_at(caller));
        let has_group = p.trail && p.to_cloudwatch;
        let body = match request.get("logGroupName").and_then(Value::as_str) {
            Some(name) if name != LOG_GROUP || !has_group => {
                return wire::json_error(StatusCode::BAD_REQUEST, request_id, "ResourceNotFoundException", "The specified log group does not exist.");
            }
            _ if !has_group => &self.filters_empty,
            _ => match p.filters {
                Filters::Counting => &self.filters_counting,
                Filters::Zero => &self.filters_zero,
                Filters::Empty => &self.filters_empty,
            },
        };
        wire::json_ok(request_id, body.clone())
    }

    // ---- CloudWatch ----------------------------------------------------------------------

    fn describe_alarms_for_metric(&self, request_id: &str, caller: usize, body: &[u8]) -> Reply {
        let Some(members) = wire::cbor_text_members(body, &["MetricName", "Namespace"]) else {
            return wire::cbor_error(StatusCode::BAD_REQUEST, request_id, "SerializationException", "The request body is not a CBOR map.");
        };
        let member = |name: &str| members.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str());
        let p = profile(self.org.kind_at(caller));
        let control = match (member("Namespace"), member("MetricName")) {
            (Some(NAMESPACE), Some(metric)) if p.trail && p.to_cloudwatch && p.alarm != AlarmShape::Absent => self.org.by_metric.get(metric).copied(),
            _ => None,
        };
        let mut e = Cbor::new();
        e.map(1).text("MetricAlarms");
        let Some(control) = control else {
            e.array(0);
            return wire::cbor_ok(request_id, e.finish());
        };
        let deployed = &self.org.deployed[control];
        let id = self.org.id_of(caller);
        let topic_owner = if p.central_topic { self.org.id_of(self.org.security_index()) } else { id.clone() };
        let topic = format!("arn:aws:sns:{REGION}:{topic_owner}:{TOPIC_NAME}");
        let name = format!("{}-alarm", deployed.id);
        let operator = if p.alarm == AlarmShape::LessThan { "LessThanThreshold" } else { "GreaterThanOrEqualToThreshold" };
        e.array(1).map(22);
        e.text("AlarmName").text(&name);
        e.text("AlarmArn").text(&format!("arn:aws:cloudwatch:{REGION}:{id}:alarm:{name}"));
        e.text("AlarmDescription").text(&format!("CIS: {}", deployed.id));
        e.text("AlarmConfigurationUpdatedTimestamp").timestamp((EPOCH - 200 * 86_400) as f64);
        e.text("ActionsEnabled").boolean(p.alarm != AlarmShape::ActionsDisabled);
        e.text("OKActions").array(0);
        if p.alarm == AlarmShape::NoActions {
            e.text("AlarmActions").array(0);
        } else {
            e.text("AlarmActions").array(1).text(&topic);
        }
        e.text("InsufficientDataActions").array(0);
        e.text("StateValue").text("OK");
        e.text("StateReason").text("Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as [NonBreaching].");
        e.text("StateUpdatedTimestamp").timestamp((EPOCH - 3_600) as f64);
        e.text("MetricName").text(&deployed.metric);
        e.text("Namespace").text(NAMESPACE);
        e.text("Statistic").text("Sum");
        e.text("Dimensions").array(0);
        e.text("Period").int(300);
        e.text("EvaluationPeriods").int(1);
        e.text("DatapointsToAlarm").int(1);
        e.text("Threshold").double(1.0);
        e.text("ComparisonOperator").text(operator);
        e.text("TreatMissingData").text("notBreaching");
        e.text("StateTransitionedTimestamp").timestamp((EPOCH - 3_600) as f64);
        wire::cbor_ok(request_id, e.finish())
    }

    // ---- SNS -----------------------------------------------------------------------------

    /// The caller's own topic named by `arn`, or the reply refusing it (another account's
    /// topic: AuthorizationError, as the default topic policy) or saying it does not exist.
    #[allow(clippy::result_large_err)] // as own_trail
    fn own_topic(&self, request_id: &str, caller: usize, arn: &str, action: &str) -> Result<TopicShape, Reply> {
        let Some((region, account, name)) = topic_parts(arn) else {
            return Err(wire::query_error(StatusCode::BAD_REQUEST, request_id, SNS_XMLNS, "InvalidParameter", "Invalid parameter: TopicArn"));
        };
        if account != self.org.id_of(caller) {
            let message = format!(
                "User: {} is not authorized to perform: SNS:{action} on resource: {arn} because no resource-based policy allows the SNS:{action} action",
                self.principal(caller)
            );
            return Err(wire::query_error(StatusCode::FORBIDDEN, request_id, SNS_XMLNS, "AuthorizationError", &message));
        }
        match profile(self.org.kind_at(caller)).topic {
            shape if shape != TopicShape::Absent && region == REGION && name == TOPIC_NAME => Ok(shape),
            _ => Err(wire::query_error(StatusCode::NOT_FOUND, request_id, SNS_XMLNS, "NotFound", "Topic does not exist")),
        }
    }

    fn get_topic_attributes(&self, request_id: &str, caller: usize, arn: &str) -> Reply {
        let shape = match self.own_topic(request_id, caller, arn, "GetTopicAttributes") {
            Ok(shape) => shape,
            Err(reply) => return reply,
        };
        let id = self.org.id_of(caller);
        let (confirmed, pending) = match shape {
            TopicShape::Confirmed { subscriptions } => (subscriptions, 0),
            TopicShape::Pending => (0, 1),
            _ => (1, 0),
        };
        let policy = format!(
            r#"{{"Version":"2008-10-17","Id":"__default_policy_ID","Statement":[{{"Sid":"__default_statement_ID","Effect":"Allow","Principal":{{"AWS":"*"}},"Action":["SNS:GetTopicAttributes","SNS:SetTopicAttributes","SNS:AddPermission","SNS:RemovePermission","SNS:DeleteTopic","SNS:Subscribe","SNS:ListSubscriptionsByTopic","SNS:Publish"],"Resource":"{arn}","Condition":{{"StringEquals":{{"AWS:SourceOwner":"{id}"}}}}}},{{"Sid":"AllowCloudWatchAlarms","Effect":"Allow","Principal":{{"Service":"cloudwatch.amazonaws.com"}},"Action":"SNS:Publish","Resource":"{arn}"}}]}}"#
        );
        let mut entries = vec![
            ("Policy", policy),
            ("Owner", id.clone()),
            ("SubscriptionsPending", pending.to_string()),
            ("TopicArn", arn.to_owned()),
            ("SubscriptionsConfirmed", confirmed.to_string()),
            ("DisplayName", "Security alerts".to_owned()),
            ("SubscriptionsDeleted", "0".to_owned()),
        ];
        if shape == TopicShape::AwsManagedKey {
            entries.push(("KmsMasterKeyId", "alias/aws/sns".to_owned()));
        }
        let mut body = format!("<GetTopicAttributesResponse xmlns=\"{SNS_XMLNS}\"><GetTopicAttributesResult><Attributes>");
        for (key, value) in entries {
            body.push_str(&format!("<entry><key>{key}</key><value>{}</value></entry>", xml_escape(&value)));
        }
        body.push_str(&format!(
            "</Attributes></GetTopicAttributesResult><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></GetTopicAttributesResponse>"
        ));
        wire::xml_ok(request_id, body)
    }

    fn list_subscriptions_by_topic(&self, request_id: &str, caller: usize, arn: &str) -> Reply {
        let shape = match self.own_topic(request_id, caller, arn, "ListSubscriptionsByTopic") {
            Ok(shape) => shape,
            Err(reply) => return reply,
        };
        let id = self.org.id_of(caller);
        let subscription = |n: u64, protocol: &str, endpoint: &str, confirmed: bool| {
            let r = crate::org::mix(self.org.spec().seed ^ caller as u64, n);
            let arn_or_pending = if confirmed {
                format!("{arn}:{:08x}-{:04x}-4{:03x}-9{:03x}-{:012x}", r >> 32, (r >> 16) & 0xffff, r & 0xfff, (r >> 4) & 0xfff, r & 0xffff_ffff_ffff)
            } else {
                "PendingConfirmation".to_owned()
            };
            format!(
                "<member><TopicArn>{arn}</TopicArn><Protocol>{protocol}</Protocol><SubscriptionArn>{arn_or_pending}</SubscriptionArn><Owner>{id}</Owner><Endpoint>{}</Endpoint></member>",
                xml_escape(endpoint)
            )
        };
        let members = match shape {
            TopicShape::Confirmed { subscriptions } => (0..u64::from(subscriptions))
                .map(|n| {
                    if n == 0 {
                        subscription(n, "email", &format!("secops+{id}@example.com"), true)
                    } else {
                        subscription(n, "https", "https://events.pagerduty.com/integration/synthetic/enqueue", true)
                    }
                })
                .collect::<String>(),
            TopicShape::Pending => subscription(0, "email", &format!("secops+{id}@example.com"), false),
            TopicShape::AwsManagedKey | TopicShape::Absent => subscription(0, "email", &format!("secops+{id}@example.com"), true),
        };
        let body = format!(
            "<ListSubscriptionsByTopicResponse xmlns=\"{SNS_XMLNS}\"><ListSubscriptionsByTopicResult><Subscriptions>{members}</Subscriptions></ListSubscriptionsByTopicResult>\
             <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></ListSubscriptionsByTopicResponse>"
        );
        wire::xml_ok(request_id, body)
    }
}

fn xmlns(service: &str) -> &'static str {
    if service == "sts" { STS_XMLNS } else { SNS_XMLNS }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_credential_scope_is_read_from_the_authorization_header() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=ASIA300000000001AB12/20261122/us-east-1/cloudtrail/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc"
                .parse()
                .unwrap(),
        );
        assert_eq!(credential(&headers), ("ASIA300000000001AB12", "us-east-1", "cloudtrail"));
        assert_eq!(credential(&HeaderMap::new()), ("", "", ""));
    }

    #[test]
    fn assumed_keys_map_back_to_their_account_and_other_keys_to_the_management_account() {
        let org = Organization::generate(&crate::OrgSpec { accounts: 50, family: false, seed: 2 });
        let member = org.account_ids()[7].clone();
        assert_eq!(caller_of(&org, &format!("ASIA{member}00FF")), 7);
        assert_eq!(caller_of(&org, "AKIAIOSFODNN7EXAMPLE"), 0);
        assert_eq!(caller_of(&org, "ASIA999999999999ABCD"), 0);
        assert_eq!(caller_of(&org, "testing"), 0);
    }

    #[test]
    fn topic_arns_are_split() {
        assert_eq!(topic_parts("arn:aws:sns:us-east-1:111122223333:alerts"), Some(("us-east-1", "111122223333", "alerts")));
        assert_eq!(topic_parts("arn:aws:sqs:us-east-1:111122223333:q"), None);
        assert_eq!(topic_parts("nonsense"), None);
    }
}
