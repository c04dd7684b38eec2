//! The HTTP server: one handler that tells the protocol and the operation from the request,
//! the caller's account from its SigV4 access key, counts the call, waits the latency, maybe
//! throttles, and answers from the organization.

use crate::org::{
    ALARMS_PAGE, AlarmShape, CompositeShape, Encryption, Filters, HISTORY_PAGE, KEY_ALIAS, KeyNaming, Kind, LEGACY_TOPIC_NAME, LOG_GROUP, MathShape, NAMESPACE, Notifies,
    OTHER_METRIC, OTHER_NAMESPACE, OTHER_SIGNAL_ALARM, Organization, Profile, REGION, RETIRED_ERROR, Record, TOPIC_NAME, TopicPolicy, TopicShape, TopicSpec, What, key_of, mix,
    profile, timeline, topic_of,
};
use crate::wire::{self, Cbor, Member, Reply, xml_escape};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::serve::ListenerExt;
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
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
    DescribeAlarms,
    GetTopicAttributes,
    ListSubscriptionsByTopic,
    DescribeKey,
    GetKeyPolicy,
    DescribeAlarmHistory,
    GetMetricData,
}

const OPS: [(Op, &str); 14] = [
    (Op::DescribeOrganization, "organizations:DescribeOrganization"),
    (Op::ListAccounts, "organizations:ListAccounts"),
    (Op::AssumeRole, "sts:AssumeRole"),
    (Op::DescribeTrails, "cloudtrail:DescribeTrails"),
    (Op::GetTrailStatus, "cloudtrail:GetTrailStatus"),
    (Op::GetEventSelectors, "cloudtrail:GetEventSelectors"),
    (Op::DescribeMetricFilters, "logs:DescribeMetricFilters"),
    (Op::DescribeAlarms, "cloudwatch:DescribeAlarms"),
    (Op::GetTopicAttributes, "sns:GetTopicAttributes"),
    (Op::ListSubscriptionsByTopic, "sns:ListSubscriptionsByTopic"),
    (Op::DescribeKey, "kms:DescribeKey"),
    (Op::GetKeyPolicy, "kms:GetKeyPolicy"),
    (Op::DescribeAlarmHistory, "cloudwatch:DescribeAlarmHistory"),
    (Op::GetMetricData, "cloudwatch:GetMetricData"),
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
/// Alarms DescribeAlarms answers a page when `MaxRecords` is not given, as AWS.
const ALARMS_DEFAULT_PAGE: usize = 50;
/// Queries of one GetMetricData call at most, as AWS.
const METRIC_QUERIES: usize = 500;
/// Datapoints of one GetMetricData answer at most, as AWS's page (this server does not page).
const METRIC_DATAPOINTS: usize = 100_800;
/// How far back before the anchor the synthetic metrics have data.
const METRIC_DAYS: i64 = 31;
/// The window CloudWatch's per-account quota is counted in.
const CLOUDWATCH_WINDOW: Duration = Duration::from_secs(1);

/// One account's CloudWatch calls that arrived in the last [`CLOUDWATCH_WINDOW`], and the most
/// that ever arrived within one.
#[derive(Debug, Default)]
struct Window {
    arrivals: VecDeque<tokio::time::Instant>,
    peak: u32,
}

impl Window {
    fn arrive(&mut self, now: tokio::time::Instant) {
        while self.arrivals.front().is_some_and(|first| now.duration_since(*first) >= CLOUDWATCH_WINDOW) {
            self.arrivals.pop_front();
        }
        self.arrivals.push_back(now);
        self.peak = self.peak.max(self.arrivals.len() as u32);
    }
}

/// Calls by operation and by account, lock-free on the known paths.
struct Counters {
    total: AtomicU64,
    throttled: AtomicU64,
    by_op: [AtomicU64; OPS.len()],
    by_account: Vec<AtomicU64>,
    /// By account, by operation (the known ones).
    by_account_op: Vec<[AtomicU64; OPS.len()]>,
    /// CloudWatch calls (every `monitoring` operation) by account, in a sliding window.
    cloudwatch: Vec<Mutex<Window>>,
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
            by_account_op: (0..accounts).map(|_| std::array::from_fn(|_| AtomicU64::new(0))).collect(),
            cloudwatch: (0..accounts).map(|_| Mutex::new(Window::default())).collect(),
            other_ops: Mutex::new(BTreeMap::new()),
            strangers: Mutex::new(BTreeMap::new()),
        }
    }

    fn reset(&self) {
        self.total.store(0, Ordering::Relaxed);
        self.throttled.store(0, Ordering::Relaxed);
        self.by_op.iter().chain(&self.by_account).chain(self.by_account_op.iter().flatten()).for_each(|c| c.store(0, Ordering::Relaxed));
        self.cloudwatch.iter().for_each(|w| *lock(w) = Window::default());
        lock(&self.other_ops).clear();
        lock(&self.strangers).clear();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One alarm of an account, as DescribeAlarms lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum AlarmOf {
    /// The metric alarm of deployed control `i`.
    Control(usize),
    OtherSignal,
    /// Unrelated metric alarm `k` (`filler-{k+1:04}`).
    Filler(usize),
    /// `<control>-composite` of deployed control `i`.
    Composite(usize),
    /// `<control>-pager` of deployed control `i`.
    Pager(usize),
}

/// Alarms by name, as DescribeAlarms lists them.
type Listed = Vec<(String, AlarmOf)>;

/// A CBOR map whose members are counted as they are written, the header written last.
struct MapOut {
    body: Cbor,
    members: u64,
}

impl MapOut {
    fn new() -> Self {
        MapOut { body: Cbor::new(), members: 0 }
    }

    /// Writes a member's key; its value goes into the writer returned.
    fn key(&mut self, key: &str) -> &mut Cbor {
        self.members += 1;
        self.body.text(key);
        &mut self.body
    }

    fn write_to(self, out: &mut Cbor) {
        out.map(self.members).raw(&self.body.finish());
    }
}

/// Whose call it is for the counters.
enum Counted<'a> {
    Account(usize),
    Stranger(&'a str),
}

struct Shared {
    org: Organization,
    /// When the server started (epoch seconds): alarm histories and metrics are placed before
    /// it, so that a scan's advice window holds them.
    now: i64,
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

    /// Calls by operation of the accounts `ids` together (as [`Server::calls_by_account`]
    /// attributes them; the operations served only), throttled calls included; operations that
    /// were not called are left out.
    pub fn calls_by_operation_of(&self, ids: &[String]) -> BTreeMap<String, u64> {
        let c = &self.shared.counters;
        let mut out = BTreeMap::new();
        for index in ids.iter().filter_map(|id| self.shared.org.index_of(id)) {
            for ((_, name), n) in OPS.iter().zip(&c.by_account_op[index]) {
                let n = n.load(Ordering::Relaxed);
                if n > 0 {
                    *out.entry((*name).to_owned()).or_insert(0) += n;
                }
            }
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

    /// By account, the most CloudWatch calls (every `monitoring` operation, throttled and
    /// unknown ones included) that arrived within any one second, counted as they arrive
    /// (before the latency). Accounts without CloudWatch calls are left out.
    pub fn cloudwatch_calls_per_second(&self) -> BTreeMap<String, u32> {
        let c = &self.shared.counters;
        c.cloudwatch
            .iter()
            .enumerate()
            .filter_map(|(i, w)| {
                let peak = lock(w).peak;
                (peak > 0).then(|| (self.shared.org.id_of(i), peak))
            })
            .collect()
    }

    /// The account that made the most CloudWatch calls within one second, and how many
    /// (the first such account in id order); `None` before any CloudWatch call.
    pub fn cloudwatch_peak(&self) -> Option<(String, u32)> {
        self.cloudwatch_calls_per_second().into_iter().fold(None, |best, (id, n)| match best {
            Some((_, m)) if m >= n => best,
            _ => Some((id, n)),
        })
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
        let organization_id = org.organization_id();
        Shared {
            now: chrono::Utc::now().timestamp(),
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
        let op = op_of(iam);
        match op {
            Some(op) => {
                c.by_op[op_index(op)].fetch_add(1, Ordering::Relaxed);
            }
            None => *lock(&c.other_ops).entry(iam.to_owned()).or_insert(0) += 1,
        }
        if let (Some(op), Counted::Account(i)) = (op, &who)
            && let Some(by_op) = c.by_account_op.get(*i)
        {
            by_op[op_index(op)].fetch_add(1, Ordering::Relaxed);
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
                "TrentService" => "kms",
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
        if service == "cloudwatch"
            && let Some(window) = self.counters.cloudwatch.get(caller)
        {
            let mut window = lock(window);
            window.arrive(tokio::time::Instant::now());
        }

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
            Op::DescribeAlarms => self.describe_alarms(&request_id, caller, body),
            Op::GetTopicAttributes => self.get_topic_attributes(&request_id, caller, form.get("TopicArn").unwrap_or("")),
            Op::ListSubscriptionsByTopic => self.list_subscriptions_by_topic(&request_id, caller, form.get("TopicArn").unwrap_or("")),
            Op::DescribeKey => self.describe_key(&request_id, caller, scope_region, &json_body(body)),
            Op::GetKeyPolicy => self.get_key_policy(&request_id, caller, scope_region, &json_body(body)),
            Op::DescribeAlarmHistory => self.describe_alarm_history(&request_id, caller, body),
            Op::GetMetricData => self.get_metric_data(&request_id, caller, body),
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

    /// The caller's alarms in [`REGION`], each kind's sorted by name as CloudWatch lists them:
    /// (metric alarms, composite alarms). Only with a log group (a chain that reaches alarms).
    fn alarms_of(&self, caller: usize) -> (Listed, Listed) {
        let p = profile(self.org.kind_at(caller));
        let (mut metric, mut composite) = (Vec::new(), Vec::new());
        if !(p.trail && p.to_cloudwatch) {
            return (metric, composite);
        }
        if p.alarm != AlarmShape::Absent {
            for (i, d) in self.org.deployed.iter().enumerate() {
                metric.push((format!("{}-alarm", d.id), AlarmOf::Control(i)));
                if let AlarmShape::Composite(shape) = p.alarm {
                    composite.push((format!("{}-composite", d.id), AlarmOf::Composite(i)));
                    if shape == CompositeShape::Nested {
                        composite.push((format!("{}-pager", d.id), AlarmOf::Pager(i)));
                    }
                }
            }
            if matches!(p.alarm, AlarmShape::Composite(_)) {
                metric.push((OTHER_SIGNAL_ALARM.to_owned(), AlarmOf::OtherSignal));
            }
        }
        metric.extend((0..usize::from(p.fillers)).map(|k| (format!("filler-{:04}", k + 1), AlarmOf::Filler(k))));
        metric.sort();
        composite.sort();
        (metric, composite)
    }

    fn alarm_arn(&self, caller: usize, name: &str) -> String {
        format!("arn:aws:cloudwatch:{REGION}:{}:alarm:{name}", self.org.id_of(caller))
    }

    fn describe_alarms(&self, request_id: &str, caller: usize, body: &[u8]) -> Reply {
        let Some(members) = wire::cbor_members(body, &["AlarmTypes", "MaxRecords", "NextToken"]) else {
            return wire::cbor_error(StatusCode::BAD_REQUEST, request_id, "SerializationException", "The request body is not a CBOR map.");
        };
        let member = |name: &str| members.iter().find(|(k, _)| *k == name).map(|(_, v)| v);
        // Without AlarmTypes, CloudWatch answers metric alarms only.
        let (metric_wanted, composite_wanted) = match member("AlarmTypes").and_then(Member::texts) {
            Some(types) if !types.is_empty() => (types.iter().any(|t| t == "MetricAlarm"), types.iter().any(|t| t == "CompositeAlarm")),
            _ => (true, false),
        };
        let max = match member("MaxRecords").map(Member::int) {
            None => ALARMS_DEFAULT_PAGE as i64,
            Some(Some(n)) if (1..=ALARMS_PAGE as i64).contains(&n) => n,
            Some(_) => return wire::cbor_error(StatusCode::BAD_REQUEST, request_id, "InvalidParameterValue", "MaxRecords must be between 1 and 100."),
        } as usize;
        let (metric, composite) = self.alarms_of(caller);
        let selected: Vec<&(String, AlarmOf)> =
            metric.iter().filter(|_| metric_wanted).chain(composite.iter().filter(|_| composite_wanted)).collect();
        let start = match member("NextToken").and_then(Member::text) {
            None => 0,
            Some(token) => match token.strip_prefix("synthetic-alarms:").and_then(|n| n.parse::<usize>().ok()).filter(|n| *n < selected.len()) {
                Some(n) => n,
                None => return wire::cbor_error(StatusCode::BAD_REQUEST, request_id, "InvalidNextToken", "The service couldn't process your request because the next token is invalid."),
            },
        };
        let end = (start + max).min(selected.len());
        let page = &selected[start..end];
        let p = profile(self.org.kind_at(caller));
        let topic = self.topic_notified(caller);
        let is_composite = |a: &AlarmOf| matches!(a, AlarmOf::Composite(_) | AlarmOf::Pager(_));
        let mut e = Cbor::new();
        e.map(if end < selected.len() { 3 } else { 2 });
        e.text("MetricAlarms").array(page.iter().filter(|(_, a)| !is_composite(a)).count() as u64);
        for (name, alarm) in page.iter().filter(|(_, a)| !is_composite(a)) {
            self.metric_alarm(&mut e, caller, &p, &topic, name, *alarm);
        }
        e.text("CompositeAlarms").array(page.iter().filter(|(_, a)| is_composite(a)).count() as u64);
        for (name, alarm) in page.iter().filter(|(_, a)| is_composite(a)) {
            self.composite_alarm(&mut e, caller, &p, &topic, name, *alarm);
        }
        if end < selected.len() {
            e.text("NextToken").text(&format!("synthetic-alarms:{end}"));
        }
        wire::cbor_ok(request_id, e.finish())
    }

    /// A `MetricAlarm`: each control's, [`OTHER_SIGNAL_ALARM`], or a filler.
    fn metric_alarm(&self, e: &mut Cbor, caller: usize, p: &Profile, topic: &str, name: &str, alarm: AlarmOf) {
        // (namespace, metric, description, actions enabled, notifies, operator, metric math)
        let (namespace, metric, description, enabled, notifies, operator, math) = match alarm {
            AlarmOf::Control(i) => {
                let d = &self.org.deployed[i];
                let math = if let AlarmShape::Math(shape) = p.alarm { Some(shape) } else { None };
                let notifies = !matches!(p.alarm, AlarmShape::NoActions | AlarmShape::Composite(_));
                let operator = if p.alarm == AlarmShape::LessThan { "LessThanThreshold" } else { "GreaterThanOrEqualToThreshold" };
                (NAMESPACE.to_owned(), d.metric.clone(), format!("CIS: {}", d.id), p.alarm != AlarmShape::ActionsDisabled, notifies, operator, math.map(|m| (m, i)))
            }
            AlarmOf::OtherSignal => (OTHER_NAMESPACE.to_owned(), OTHER_METRIC.to_owned(), "Another signal".to_owned(), true, false, "GreaterThanOrEqualToThreshold", None),
            AlarmOf::Filler(k) => (OTHER_NAMESPACE.to_owned(), format!("Filler{:04}", k + 1), "Unrelated".to_owned(), true, false, "GreaterThanOrEqualToThreshold", None),
            AlarmOf::Composite(_) | AlarmOf::Pager(_) => unreachable!("a composite alarm is not a metric alarm"),
        };
        let mut m = MapOut::new();
        m.key("AlarmName").text(name);
        m.key("AlarmArn").text(&self.alarm_arn(caller, name));
        m.key("AlarmDescription").text(&description);
        m.key("AlarmConfigurationUpdatedTimestamp").timestamp((EPOCH - 200 * 86_400) as f64);
        m.key("ActionsEnabled").boolean(enabled);
        m.key("OKActions").array(0);
        if notifies {
            m.key("AlarmActions").array(1).text(topic);
        } else {
            m.key("AlarmActions").array(0);
        }
        m.key("InsufficientDataActions").array(0);
        m.key("StateValue").text("OK");
        m.key("StateReason").text("Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as [NonBreaching].");
        m.key("StateUpdatedTimestamp").timestamp((EPOCH - 3_600) as f64);
        match math {
            None => {
                m.key("MetricName").text(&metric);
                m.key("Namespace").text(&namespace);
                m.key("Statistic").text("Sum");
                m.key("Dimensions").array(0);
                m.key("Period").int(300);
            }
            Some((shape, _)) => {
                m.key("Dimensions").array(0);
                let queries = m.key("Metrics");
                let stat = |q: &mut Cbor, id: &str, namespace: &str, metric: &str| {
                    q.map(3).text("Id").text(id);
                    q.text("MetricStat").map(3);
                    q.text("Metric").map(3).text("Namespace").text(namespace).text("MetricName").text(metric).text("Dimensions").array(0);
                    q.text("Period").int(300).text("Stat").text("Sum");
                    q.text("ReturnData").boolean(false);
                };
                let expression = |q: &mut Cbor, text: &str| {
                    q.map(4).text("Id").text("e1").text("Expression").text(text).text("Label").text("Calls").text("ReturnData").boolean(true);
                };
                match shape {
                    MathShape::Fill => {
                        queries.array(2);
                        stat(queries, "m1", NAMESPACE, &metric);
                        expression(queries, "FILL(m1, 0)");
                    }
                    MathShape::OtherMetric => {
                        queries.array(3);
                        stat(queries, "m1", NAMESPACE, &metric);
                        stat(queries, "m2", OTHER_NAMESPACE, OTHER_METRIC);
                        expression(queries, "FILL(m2, 0)");
                    }
                }
            }
        }
        m.key("EvaluationPeriods").int(1);
        m.key("DatapointsToAlarm").int(1);
        m.key("Threshold").double(1.0);
        m.key("ComparisonOperator").text(operator);
        m.key("TreatMissingData").text("notBreaching");
        m.key("StateTransitionedTimestamp").timestamp((EPOCH - 3_600) as f64);
        m.write_to(e);
    }

    /// A `CompositeAlarm` of a [`Kind::Composite`] account: `<control>-composite` above the
    /// control's alarm and [`OTHER_SIGNAL_ALARM`], or `<control>-pager` above that one.
    fn composite_alarm(&self, e: &mut Cbor, caller: usize, p: &Profile, topic: &str, name: &str, alarm: AlarmOf) {
        let AlarmShape::Composite(shape) = p.alarm else { unreachable!("composite alarms only for composite kinds") };
        let (rule, enabled, notifies) = match alarm {
            AlarmOf::Composite(i) => {
                let child = format!("{}-alarm", self.org.deployed[i].id);
                let operator = if shape == CompositeShape::And { "AND" } else { "OR" };
                (format!("ALARM(\"{child}\") {operator} ALARM(\"{OTHER_SIGNAL_ALARM}\")"), shape != CompositeShape::ActionsDisabled, shape != CompositeShape::Nested)
            }
            AlarmOf::Pager(i) => (format!("ALARM(\"{}\")", self.alarm_arn(caller, &format!("{}-composite", self.org.deployed[i].id))), true, true),
            _ => unreachable!("a metric alarm is not a composite alarm"),
        };
        let mut m = MapOut::new();
        m.key("AlarmName").text(name);
        m.key("AlarmArn").text(&self.alarm_arn(caller, name));
        m.key("AlarmDescription").text("Pages on the CIS signal");
        m.key("AlarmRule").text(&rule);
        m.key("ActionsEnabled").boolean(enabled);
        if notifies {
            m.key("AlarmActions").array(1).text(topic);
        } else {
            m.key("AlarmActions").array(0);
        }
        m.key("OKActions").array(0);
        m.key("InsufficientDataActions").array(0);
        m.key("StateValue").text("OK");
        m.key("StateReason").text("arn:aws:cloudwatch:us-east-1:alarm transitioned to OK");
        m.key("StateUpdatedTimestamp").timestamp((EPOCH - 3_600) as f64);
        m.key("StateTransitionedTimestamp").timestamp((EPOCH - 3_600) as f64);
        m.key("AlarmConfigurationUpdatedTimestamp").timestamp((EPOCH - 150 * 86_400) as f64);
        m.write_to(e);
    }

    // ---- SNS -----------------------------------------------------------------------------

    /// The topic the alarms of `index` notify.
    fn topic_notified(&self, index: usize) -> String {
        let (owner, name) = match profile(self.org.kind_at(index)).notifies {
            Notifies::Own => (index, TOPIC_NAME),
            Notifies::Central => (self.org.security_index(), TOPIC_NAME),
            Notifies::Legacy => (self.org.security_index(), LEGACY_TOPIC_NAME),
        };
        format!("arn:aws:sns:{REGION}:{}:{name}", self.org.id_of(owner))
    }

    /// The caller's own topic named by `arn`, or the reply refusing it (another account's
    /// topic: AuthorizationError, as the default topic policy) or saying it does not exist.
    #[allow(clippy::result_large_err)] // as own_trail
    fn own_topic(&self, request_id: &str, caller: usize, arn: &str, action: &str) -> Result<TopicSpec, Reply> {
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
        match topic_of(self.org.kind_at(caller), name) {
            Some(topic) if region == REGION => Ok(topic),
            _ => Err(wire::query_error(StatusCode::NOT_FOUND, request_id, SNS_XMLNS, "NotFound", "Topic does not exist")),
        }
    }

    /// A topic's access policy: SNS's default one, and for the central topic a statement that
    /// lets CloudWatch publish for the organization's alarms.
    fn topic_policy(&self, arn: &str, owner: &str, policy: TopicPolicy) -> String {
        let default = orgwatch_core::facts::default_topic_policy(arn, owner);
        if policy == TopicPolicy::Default {
            return default;
        }
        let mut document: Value = serde_json::from_str(&default).unwrap_or_else(|_| json!({ "Version": "2008-10-17", "Statement": [] }));
        if let Some(statements) = document.get_mut("Statement").and_then(Value::as_array_mut) {
            statements.push(json!({
                "Sid": "AllowOrganizationAlarms",
                "Effect": "Allow",
                "Principal": { "Service": "cloudwatch.amazonaws.com" },
                "Action": "sns:Publish",
                "Resource": arn,
                "Condition": { "StringEquals": { "aws:SourceOrgID": self.organization_id } }
            }));
        }
        document.to_string()
    }

    fn get_topic_attributes(&self, request_id: &str, caller: usize, arn: &str) -> Reply {
        let topic = match self.own_topic(request_id, caller, arn, "GetTopicAttributes") {
            Ok(topic) => topic,
            Err(reply) => return reply,
        };
        let id = self.org.id_of(caller);
        let (confirmed, pending) = match topic.subscriptions {
            TopicShape::Confirmed { subscriptions } => (subscriptions, 0),
            TopicShape::Pending => (0, 1),
            TopicShape::Absent => (0, 0),
        };
        let mut entries = vec![
            ("Policy", self.topic_policy(arn, &id, topic.policy)),
            ("Owner", id.clone()),
            ("SubscriptionsPending", pending.to_string()),
            ("TopicArn", arn.to_owned()),
            ("SubscriptionsConfirmed", confirmed.to_string()),
            ("DisplayName", "Security alerts".to_owned()),
            ("SubscriptionsDeleted", "0".to_owned()),
        ];
        match topic.encryption {
            Encryption::None => {}
            Encryption::AwsManaged => entries.push(("KmsMasterKeyId", "alias/aws/sns".to_owned())),
            Encryption::Customer { named: KeyNaming::Alias, alias_arn: false, .. } => entries.push(("KmsMasterKeyId", KEY_ALIAS.to_owned())),
            Encryption::Customer { named: KeyNaming::Alias, alias_arn: true, .. } => entries.push(("KmsMasterKeyId", format!("arn:aws:kms:{REGION}:{id}:{KEY_ALIAS}"))),
            Encryption::Customer { named: KeyNaming::KeyArn, .. } => entries.push(("KmsMasterKeyId", self.key_arn(caller))),
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
        let topic = match self.own_topic(request_id, caller, arn, "ListSubscriptionsByTopic") {
            Ok(topic) => topic,
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
        let members = match topic.subscriptions {
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
            TopicShape::Absent => String::new(),
        };
        let body = format!(
            "<ListSubscriptionsByTopicResponse xmlns=\"{SNS_XMLNS}\"><ListSubscriptionsByTopicResult><Subscriptions>{members}</Subscriptions></ListSubscriptionsByTopicResult>\
             <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></ListSubscriptionsByTopicResponse>"
        );
        wire::xml_ok(request_id, body)
    }

    // ---- KMS -----------------------------------------------------------------------------

    /// The id of an account's customer-managed key (`managed`: of its `aws/sns` key), a UUID
    /// drawn from the seed.
    fn key_id(&self, index: usize, managed: bool) -> String {
        let r = crate::org::mix(self.org.spec().seed ^ 0x6B6D_7300 ^ u64::from(managed), index as u64);
        let s = crate::org::mix(r, 1);
        format!("{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}", r >> 32, (r >> 16) & 0xffff, r & 0xfff, 8 + (s >> 62), (s >> 48) & 0xfff, s & 0xffff_ffff_ffff)
    }

    fn key_arn(&self, index: usize) -> String {
        format!("arn:aws:kms:{REGION}:{}:key/{}", self.org.id_of(index), self.key_id(index, false))
    }

    /// The key `named` (key id, key ARN, alias name or alias ARN) resolves to for the caller:
    /// its own customer-managed key (`false`) or its `aws/sns` key (`true`). Another account's
    /// key is refused (no key policy here admits other accounts); a name that resolves to
    /// nothing is NotFoundException. `aliases`: whether an alias may name the key (DescribeKey
    /// yes, GetKeyPolicy no).
    #[allow(clippy::result_large_err)] // as own_trail
    fn own_key(&self, request_id: &str, caller: usize, scope_region: &str, named: &str, action: &str, aliases: bool) -> Result<bool, Reply> {
        let id = self.org.id_of(caller);
        let (region, account, resource) = if named.starts_with("arn:") {
            let parts: Vec<&str> = named.splitn(6, ':').collect();
            if parts.len() != 6 || parts[2] != "kms" {
                return Err(wire::json_error(StatusCode::BAD_REQUEST, request_id, "NotFoundException", &format!("Invalid arn {named}")));
            }
            (parts[3], parts[4], parts[5])
        } else {
            (if scope_region.is_empty() { REGION } else { scope_region }, id.as_str(), named)
        };
        if account != id {
            let message = format!(
                "User: {} is not authorized to perform: {action} on resource: {named} because no resource-based policy allows the {action} action",
                self.principal(caller)
            );
            return Err(wire::json_error(StatusCode::BAD_REQUEST, request_id, "AccessDeniedException", &message));
        }
        let not_found = |what: String| Err(wire::json_error(StatusCode::BAD_REQUEST, request_id, "NotFoundException", &what));
        let customer = key_of(self.org.kind_at(caller)).is_some();
        let in_region = region == REGION;
        if let Some(alias) = resource.strip_prefix("alias/") {
            let found = match alias {
                _ if !aliases || !in_region => None,
                "aws/sns" => Some(true),
                _ if format!("alias/{alias}") == KEY_ALIAS && customer => Some(false),
                _ => None,
            };
            return found.map_or_else(|| not_found(format!("Alias arn:aws:kms:{region}:{account}:alias/{alias} is not found.")), Ok);
        }
        let key = resource.strip_prefix("key/").unwrap_or(resource);
        let found = match key {
            _ if !in_region || (named.starts_with("arn:") && !resource.starts_with("key/")) => None,
            k if customer && k == self.key_id(caller, false) => Some(false),
            k if k == self.key_id(caller, true) => Some(true),
            _ => None,
        };
        found.map_or_else(|| not_found(format!("Key 'arn:aws:kms:{region}:{account}:key/{key}' does not exist")), Ok)
    }

    fn describe_key(&self, request_id: &str, caller: usize, scope_region: &str, request: &Value) -> Reply {
        let named = request.get("KeyId").and_then(Value::as_str).unwrap_or("");
        let managed = match self.own_key(request_id, caller, scope_region, named, "kms:DescribeKey", true) {
            Ok(managed) => managed,
            Err(reply) => return reply,
        };
        let id = self.org.id_of(caller);
        let key_id = self.key_id(caller, managed);
        let body = json!({
            "KeyMetadata": {
                "AWSAccountId": id,
                "KeyId": key_id,
                "Arn": format!("arn:aws:kms:{REGION}:{id}:key/{key_id}"),
                "CreationDate": EPOCH - 400 * 86_400,
                "Enabled": true,
                "Description": if managed { "Default key that protects my SNS data when no other key is defined" } else { "Encrypts the security-alerts topic" },
                "KeyUsage": "ENCRYPT_DECRYPT",
                "KeyState": "Enabled",
                "Origin": "AWS_KMS",
                "KeyManager": if managed { "AWS" } else { "CUSTOMER" },
                "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
                "KeySpec": "SYMMETRIC_DEFAULT",
                "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
                "MultiRegion": false
            }
        });
        wire::json_ok(request_id, body.to_string().into_bytes())
    }

    fn get_key_policy(&self, request_id: &str, caller: usize, scope_region: &str, request: &Value) -> Reply {
        let named = request.get("KeyId").and_then(Value::as_str).unwrap_or("");
        let managed = match self.own_key(request_id, caller, scope_region, named, "kms:GetKeyPolicy", false) {
            Ok(managed) => managed,
            Err(reply) => return reply,
        };
        let name = request.get("PolicyName").and_then(Value::as_str).unwrap_or("default");
        if name != "default" {
            return wire::json_error(StatusCode::BAD_REQUEST, request_id, "NotFoundException", &format!("No such policy exists: {name}"));
        }
        let id = self.org.id_of(caller);
        let root = json!({
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": { "AWS": format!("arn:aws:iam::{id}:root") },
            "Action": "kms:*",
            "Resource": "*"
        });
        let policy = if managed {
            json!({
                "Version": "2012-10-17",
                "Id": "auto-sns",
                "Statement": [{
                    "Sid": "Allow access through SNS for all principals in the account that are authorized to use SNS",
                    "Effect": "Allow",
                    "Principal": { "AWS": "*" },
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:ListGrants", "kms:DescribeKey"],
                    "Resource": "*",
                    "Condition": { "StringEquals": { "kms:ViaService": format!("sns.{REGION}.amazonaws.com"), "kms:CallerAccount": id } }
                }, {
                    "Sid": "Allow direct access to key metadata to the account",
                    "Effect": "Allow",
                    "Principal": { "AWS": format!("arn:aws:iam::{id}:root") },
                    "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"],
                    "Resource": "*"
                }]
            })
        } else if key_of(self.org.kind_at(caller)) == Some(true) {
            json!({
                "Version": "2012-10-17",
                "Id": "key-security-alerts",
                "Statement": [root, {
                    "Sid": "Allow CloudWatch alarms to use the key",
                    "Effect": "Allow",
                    "Principal": { "Service": "cloudwatch.amazonaws.com" },
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                    "Resource": "*"
                }]
            })
        } else {
            json!({ "Version": "2012-10-17", "Id": "key-default-1", "Statement": [root] })
        };
        wire::json_ok(request_id, json!({ "Policy": policy.to_string(), "PolicyName": "default" }).to_string().into_bytes())
    }
}

impl Shared {
    // ---- CloudWatch alarm history --------------------------------------------------------

    /// Items of the caller's alarms (`org::timeline`, placed before the server's start): of
    /// the one `AlarmName` names or, without it, of every alarm merged newest first (equal
    /// timestamps in control order), each with its `AlarmName`. Every control's alarm of an
    /// account has the same history (its kind's). `HistoryItemType` `Action` or `StateUpdate`
    /// answers those; without it, every kind; another kind has no items here. `StartDate` and
    /// `EndDate` bound the items' timestamps (both included).
    fn describe_alarm_history(&self, request_id: &str, caller: usize, body: &[u8]) -> Reply {
        let Some(members) = wire::cbor_members(body, &["AlarmName", "AlarmTypes", "HistoryItemType", "StartDate", "EndDate", "ScanBy", "NextToken", "MaxRecords"]) else {
            return wire::cbor_error(StatusCode::BAD_REQUEST, request_id, "SerializationException", "The request body is not a CBOR map.");
        };
        let member = |name: &str| members.iter().find(|(k, _)| *k == name).map(|(_, v)| v);
        let text = |name: &str| member(name).and_then(Member::text);
        let max = match member("MaxRecords").map(Member::int) {
            None => HISTORY_PAGE as i64,
            Some(Some(n)) if (1..=HISTORY_PAGE as i64).contains(&n) => n,
            Some(_) => return wire::cbor_error(StatusCode::BAD_REQUEST, request_id, "InvalidParameterValue", "MaxRecords must be between 1 and 100."),
        } as usize;
        let mut bounds = [None, None];
        for (bound, name) in bounds.iter_mut().zip(["StartDate", "EndDate"]) {
            match member(name).map(Member::time) {
                None => {}
                Some(Some(t)) => *bound = Some(t),
                Some(None) => return wire::cbor_error(StatusCode::BAD_REQUEST, request_id, "InvalidParameterValue", &format!("{name} must be a timestamp.")),
            }
        }
        let [start, end] = bounds;
        // Without AlarmTypes, CloudWatch answers the history of metric alarms only, and only
        // metric alarms have a history here.
        let metric_wanted = member("AlarmTypes").and_then(Member::texts).is_none_or(|types| types.is_empty() || types.iter().any(|t| t == "MetricAlarm"));
        let kind = text("HistoryItemType");
        let wanted = |what: What| match kind {
            None => true,
            Some("Action") => what.is_action(),
            Some("StateUpdate") => !what.is_action(),
            Some(_) => false,
        };
        let p = profile(self.org.kind_at(caller));
        // An alarm the caller does not have has an empty history, as CloudWatch answers.
        let recorded = p.trail && p.to_cloudwatch && p.alarm != AlarmShape::Absent && metric_wanted;
        let alarms: Vec<String> = if recorded {
            let names = self.org.deployed.iter().map(|d| format!("{}-alarm", d.id));
            match text("AlarmName") {
                Some(wanted) => names.filter(|n| n == wanted).collect(),
                None => names.collect(),
            }
        } else {
            Vec::new()
        };
        let within = |at: i64| start.is_none_or(|s| at as f64 >= s) && end.is_none_or(|e| at as f64 <= e);
        let items: Vec<(i64, What)> = timeline(if alarms.is_empty() { Record::None } else { p.history })
            .into_iter()
            .map(|entry| (self.now - entry.ago, entry.what))
            .filter(|(at, what)| wanted(*what) && within(*at))
            .collect();
        debug_assert!(items.windows(2).all(|w| w[0].0 > w[1].0), "an alarm's history newest first");
        // (alarm, item) newest first, ties in control order.
        let mut merged: Vec<(usize, usize)> = (0..items.len()).flat_map(|r| (0..alarms.len()).map(move |c| (c, r))).collect();
        merged.sort_by(|a, b| items[b.1].0.cmp(&items[a.1].0).then(a.0.cmp(&b.0)));
        if text("ScanBy") == Some("TimestampAscending") {
            merged.reverse();
        }
        let first = match text("NextToken") {
            None => 0,
            Some(token) => match token.strip_prefix("synthetic-history:").and_then(|n| n.parse::<usize>().ok()).filter(|n| *n < merged.len()) {
                Some(n) => n,
                None => return wire::cbor_error(StatusCode::BAD_REQUEST, request_id, "InvalidNextToken", "The service couldn't process your request because the next token is invalid."),
            },
        };
        let last = (first + max).min(merged.len());
        let topic = self.topic_notified(caller);
        let retired = format!("arn:aws:sns:{REGION}:{}:retired-alerts", self.org.id_of(caller));
        let mut e = Cbor::new();
        e.map(if last < merged.len() { 2 } else { 1 }).text("AlarmHistoryItems").array((last - first) as u64);
        for &(alarm, rank) in &merged[first..last] {
            let (alarm, (at, what)) = (&alarms[alarm], items[rank]);
            let (kind, summary, data) = match what {
                What::Notified(None) => (
                    "Action",
                    format!("Successfully executed action {topic}"),
                    json!({
                        "actionState": "Succeeded",
                        "stateUpdateTimestamp": at * 1000,
                        "notificationResource": topic,
                        "publishedMessage": json!({ "AlarmName": alarm, "NewStateValue": "ALARM", "Region": "US East (N. Virginia)" }).to_string()
                    }),
                ),
                What::Notified(Some(error)) => (
                    "Action",
                    format!("Failed to execute action {topic}"),
                    json!({ "actionState": "Failed", "stateUpdateTimestamp": at * 1000, "notificationResource": topic, "error": error }),
                ),
                What::Retired => (
                    "Action",
                    format!("Failed to execute action {retired}"),
                    json!({ "actionState": "Failed", "stateUpdateTimestamp": at * 1000, "notificationResource": retired, "error": RETIRED_ERROR }),
                ),
                What::State { from, to } => ("StateUpdate", format!("Alarm updated from {from} to {to}"), state_update(at, from, to)),
            };
            e.map(6);
            e.text("AlarmName").text(alarm);
            e.text("AlarmType").text("MetricAlarm");
            e.text("Timestamp").timestamp(at as f64);
            e.text("HistoryItemType").text(kind);
            e.text("HistorySummary").text(&summary);
            e.text("HistoryData").text(&data.to_string());
        }
        if last < merged.len() {
            e.text("NextToken").text(&format!("synthetic-history:{last}"));
        }
        wire::cbor_ok(request_id, e.finish())
    }

    // ---- CloudWatch metrics --------------------------------------------------------------

    /// `GetMetricData` of `MetricStat` queries (an `Expression` is not served): per query, the
    /// statistic of each period of `Period` seconds from `StartTime` (a period's timestamp its
    /// start) up to `EndTime` (excluded) that had data, newest first unless `ScanBy` is
    /// `TimestampAscending`; a query with `ReturnData` false is not answered. Every result is
    /// `Complete` and there is no `NextToken`; more than [`METRIC_DATAPOINTS`] values is an
    /// error. The data (`Shared::events`): the caller's control metrics (`CISBenchmark`) where
    /// its filters count, and its own topics' `AWS/SNS` `NumberOfNotificationsDelivered` and
    /// `NumberOfNotificationsFailed` (dimension `TopicName`); every other metric has none.
    fn get_metric_data(&self, request_id: &str, caller: usize, body: &[u8]) -> Reply {
        let invalid = |message: &str| wire::cbor_error(StatusCode::BAD_REQUEST, request_id, "InvalidParameterValue", message);
        let Some(request) = wire::cbor_json(body) else {
            return wire::cbor_error(StatusCode::BAD_REQUEST, request_id, "SerializationException", "The request body is not a CBOR map.");
        };
        let (Some(start), Some(end)) = (request.get("StartTime").and_then(Value::as_f64), request.get("EndTime").and_then(Value::as_f64)) else {
            return wire::cbor_error(StatusCode::BAD_REQUEST, request_id, "MissingParameter", "The parameters StartTime and EndTime are required.");
        };
        if start >= end {
            return invalid("The parameter StartTime must be less than the parameter EndTime.");
        }
        // Nothing lies before 1970 or after tomorrow here: the window is clipped to that.
        let clip = |t: f64| (t.floor() as i64).clamp(0, self.now + 86_400);
        let (start, end) = (clip(start), clip(end));
        if request.get("NextToken").is_some_and(|t| !t.is_null()) {
            return wire::cbor_error(StatusCode::BAD_REQUEST, request_id, "InvalidNextToken", "The service couldn't process your request because the next token is invalid.");
        }
        let Some(queries) = request.get("MetricDataQueries").and_then(Value::as_array) else {
            return wire::cbor_error(StatusCode::BAD_REQUEST, request_id, "MissingParameter", "The parameter MetricDataQueries is required.");
        };
        if queries.is_empty() || queries.len() > METRIC_QUERIES {
            return invalid(&format!("The collection MetricDataQueries must hold between 1 and {METRIC_QUERIES} queries."));
        }
        let ascending = request.get("ScanBy").and_then(Value::as_str) == Some("TimestampAscending");
        let mut ids = std::collections::BTreeSet::new();
        let mut results = Vec::with_capacity(queries.len());
        let mut datapoints = 0usize;
        for (n, query) in queries.iter().enumerate() {
            let at = |field: &str| format!("MetricDataQueries.member.{}.{field}", n + 1);
            let Some(id) = query.get("Id").and_then(Value::as_str).filter(|id| id.starts_with(|c: char| c.is_ascii_lowercase())) else {
                return invalid(&format!("The parameter {} must start with a lowercase letter.", at("Id")));
            };
            if !ids.insert(id) {
                return invalid(&format!("The value {id} of {} is not unique.", at("Id")));
            }
            let Some(stat) = query.get("MetricStat") else {
                return invalid(&format!("{} has no MetricStat: the synthetic organization answers MetricStat queries only.", at("Id")));
            };
            let metric = &stat["Metric"];
            let (Some(namespace), Some(metric_name), Some(statistic)) = (metric["Namespace"].as_str(), metric["MetricName"].as_str(), stat["Stat"].as_str()) else {
                return invalid(&format!("The parameters {} need Metric.Namespace, Metric.MetricName and Stat.", at("MetricStat")));
            };
            let period = match stat["Period"].as_i64() {
                Some(p) if p > 0 && (p % 60 == 0 || [1, 5, 10, 20, 30].contains(&p)) => p,
                _ => return invalid(&format!("The parameter {} must be 1, 5, 10, 20, 30 or a multiple of 60.", at("MetricStat.Period"))),
            };
            let mut dimensions: Vec<(&str, &str)> = Vec::new();
            for d in metric["Dimensions"].as_array().map(Vec::as_slice).unwrap_or_default() {
                let (Some(name), Some(value)) = (d["Name"].as_str(), d["Value"].as_str()) else {
                    return invalid(&format!("Each of {} needs a Name and a Value.", at("MetricStat.Metric.Dimensions")));
                };
                dimensions.push((name, value));
            }
            if query.get("ReturnData").and_then(Value::as_bool) == Some(false) {
                continue;
            }
            // (sum, samples) per period.
            let mut periods: BTreeMap<i64, (f64, f64)> = BTreeMap::new();
            for (t, value) in self.events(caller, namespace, metric_name, &dimensions, start, end) {
                let slot = periods.entry((t - start).div_euclid(period)).or_insert((0.0, 0.0));
                slot.0 += value;
                slot.1 += 1.0;
            }
            let mut values: Vec<(i64, f64)> = periods
                .into_iter()
                .map(|(k, (sum, samples))| {
                    let value = match statistic {
                        "Sum" => sum,
                        "SampleCount" => samples,
                        _ => sum / samples,
                    };
                    (start + k * period, value)
                })
                .collect();
            if !ascending {
                values.reverse();
            }
            datapoints += values.len();
            let label = query.get("Label").and_then(Value::as_str).unwrap_or(metric_name).to_owned();
            results.push((id.to_owned(), label, values));
        }
        if datapoints > METRIC_DATAPOINTS {
            return invalid(&format!("The answer holds {datapoints} datapoints; the synthetic organization answers at most {METRIC_DATAPOINTS} a call and does not page."));
        }
        let mut e = Cbor::new();
        e.map(2).text("MetricDataResults").array(results.len() as u64);
        for (id, label, values) in &results {
            e.map(5).text("Id").text(id).text("Label").text(label);
            e.text("Timestamps").array(values.len() as u64);
            for (t, _) in values {
                e.timestamp(*t as f64);
            }
            e.text("Values").array(values.len() as u64);
            for (_, v) in values {
                e.double(*v);
            }
            e.text("StatusCode").text("Complete");
        }
        e.text("Messages").array(0);
        wire::cbor_ok(request_id, e.finish())
    }

    /// The datapoints the caller's account holds of a metric from `start` to `end` (excluded):
    /// (time, value), oldest first, from [`METRIC_DAYS`] before the server's start on.
    ///
    /// - A control's metric in [`NAMESPACE`], no dimensions, where the caller's filters count:
    ///   a few denied calls (1 to 3) every ~16 hours on average, and 2 to 4 at each
    ///   notification of its alarms' history (the burst that fired them).
    /// - `AWS/SNS` `NumberOfNotificationsDelivered` and `NumberOfNotificationsFailed` of one of
    ///   the caller's topics (dimension `TopicName`): a publish every ~8 hours on average
    ///   (every ~20 minutes to the central topic, which the whole organization notifies), each
    ///   delivered to every confirmed subscription and failed 0; for
    ///   [`crate::Break::SubscriberDeliveryFailing`]'s own topic, delivered 0 and every one failed.
    fn events(&self, caller: usize, namespace: &str, metric: &str, dimensions: &[(&str, &str)], start: i64, end: i64) -> Vec<(i64, f64)> {
        let kind = self.org.kind_at(caller);
        let p = profile(kind);
        let from = (self.now - METRIC_DAYS * 86_400).max(start);
        let series = |seed: u64, mean_gap: i64| -> Vec<(i64, u64)> {
            let mut t = self.now - METRIC_DAYS * 86_400;
            let mut out = Vec::new();
            for j in 0u64.. {
                let r = mix(seed, j);
                t += 1 + (r % (2 * mean_gap as u64)) as i64;
                if t >= end {
                    break;
                }
                if t >= from {
                    out.push((t, r >> 32));
                }
            }
            out
        };
        let seed = self.org.spec().seed ^ (caller as u64).wrapping_mul(0x9E37_79B9);
        let name_seed = |name: &str| name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3));
        match namespace {
            NAMESPACE if dimensions.is_empty() && p.trail && p.to_cloudwatch && p.filters == Filters::Counting && self.org.deployed.iter().any(|d| d.metric == metric) => {
                let mut points: Vec<(i64, f64)> = series(seed ^ name_seed(metric), 16 * 3_600).into_iter().map(|(t, r)| (t, (1 + r % 3) as f64)).collect();
                if p.alarm != AlarmShape::Absent {
                    points.extend(
                        timeline(p.history)
                            .into_iter()
                            .filter(|e| matches!(e.what, What::Notified(_)))
                            .map(|e| (self.now - e.ago - 60, (2 + mix(seed, e.ago as u64) % 3) as f64))
                            .filter(|(t, _)| *t >= start && *t < end),
                    );
                }
                points.sort_by_key(|(t, _)| *t);
                points
            }
            "AWS/SNS" if matches!(metric, "NumberOfNotificationsDelivered" | "NumberOfNotificationsFailed") => {
                let [("TopicName", name)] = dimensions else { return Vec::new() };
                let Some(topic) = topic_of(kind, name) else { return Vec::new() };
                let subscribers = match topic.subscriptions {
                    TopicShape::Confirmed { subscriptions } => f64::from(subscriptions),
                    TopicShape::Pending | TopicShape::Absent => 0.0,
                };
                let failing = p.delivery_failing && *name == TOPIC_NAME;
                let delivered = metric == "NumberOfNotificationsDelivered";
                let mean_gap = if caller == self.org.security_index() && *name == TOPIC_NAME { 20 * 60 } else { 8 * 3_600 };
                let value = if delivered != failing { subscribers } else { 0.0 };
                series(seed ^ name_seed(name), mean_gap).into_iter().map(|(t, _)| (t, value)).collect()
            }
            _ => Vec::new(),
        }
    }
}

/// A `StateUpdate` item's `HistoryData`, as CloudWatch writes it: the old and the new state,
/// each with its `stateValue` and reason, the new one with the datapoint that decided it.
fn state_update(at: i64, from: &str, to: &str) -> Value {
    let time = |t: i64| chrono::DateTime::from_timestamp(t, 0).unwrap_or_default();
    let iso = |t: i64| time(t).format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string();
    let short = |t: i64| time(t).format("%d/%m/%y %H:%M:%S").to_string();
    let datapoint = at - at.rem_euclid(300) - 300;
    let reason = |state: &str| match state {
        "ALARM" => format!(
            "Threshold Crossed: 1 out of the last 1 datapoints [3.0 ({})] was greater than or equal to the threshold (1.0) (minimum 1 datapoint for OK -> ALARM transition).",
            short(datapoint)
        ),
        _ => "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as [NonBreaching].".to_owned(),
    };
    let value = if to == "ALARM" { json!(3.0) } else { Value::Null };
    json!({
        "version": "1.0",
        "oldState": { "stateValue": from, "stateReason": reason(from) },
        "newState": {
            "stateValue": to,
            "stateReason": reason(to),
            "stateReasonData": {
                "version": "1.0",
                "queryDate": iso(at),
                "startDate": iso(datapoint),
                "statistic": "Sum",
                "period": 300,
                "recentDatapoints": if value.is_null() { json!([]) } else { json!([value]) },
                "threshold": 1.0,
                "evaluatedDatapoints": [if value.is_null() { json!({ "timestamp": iso(datapoint) }) } else { json!({ "timestamp": iso(datapoint), "sampleCount": 3.0, "value": value }) }]
            }
        }
    })
}

fn xmlns(service: &str) -> &'static str {
    if service == "sts" { STS_XMLNS } else { SNS_XMLNS }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::org::{HISTORY_ITEMS_FAILED, RECOVERED_ITEMS};

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

    /// A request signed with the audit role of account `index` (or orgwatch's own key).
    fn headers(org: &Organization, index: Option<usize>, service: &str, target: Option<&str>) -> HeaderMap {
        let key = index.map_or_else(|| "AKIASYNTHETICBENCH00".to_owned(), |i| format!("ASIA{}00AB", org.id_of(i)));
        let mut headers = HeaderMap::new();
        let auth = format!("AWS4-HMAC-SHA256 Credential={key}/20261122/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0");
        headers.insert("authorization", auth.parse().unwrap());
        if let Some(target) = target {
            headers.insert("x-amz-target", target.parse().unwrap());
        }
        headers
    }

    async fn body_of(reply: Reply) -> (StatusCode, Vec<u8>) {
        let status = reply.status();
        let bytes = axum::body::to_bytes(reply.into_body(), usize::MAX).await.unwrap();
        (status, bytes.to_vec())
    }

    async fn json_call(shared: &Shared, index: usize, target: &str, request: Value) -> (StatusCode, Value) {
        let headers = headers(&shared.org, Some(index), "kms", Some(target));
        let (status, body) = body_of(shared.answer("/", &headers, request.to_string().as_bytes()).await).await;
        (status, serde_json::from_slice(&body).unwrap())
    }

    /// A CBOR answer as JSON (tags dropped, timestamps as numbers).
    fn cbor_to_json(d: &mut minicbor::Decoder<'_>) -> Value {
        use minicbor::data::Type;
        match d.datatype().unwrap() {
            Type::Map => {
                let n = d.map().unwrap().unwrap();
                let mut map = serde_json::Map::new();
                for _ in 0..n {
                    let key = d.str().unwrap().to_owned();
                    map.insert(key, cbor_to_json(d));
                }
                Value::Object(map)
            }
            Type::Array => {
                let n = d.array().unwrap().unwrap();
                Value::Array((0..n).map(|_| cbor_to_json(d)).collect())
            }
            Type::String => Value::String(d.str().unwrap().to_owned()),
            Type::Bool => Value::Bool(d.bool().unwrap()),
            Type::F64 => json!(d.f64().unwrap()),
            Type::Tag => {
                d.tag().unwrap();
                cbor_to_json(d)
            }
            _ => json!(i64::try_from(d.int().unwrap()).unwrap()),
        }
    }

    /// A CloudWatch call of account `index`: (status, the answer as JSON).
    async fn cbor_call(shared: &Shared, index: usize, operation: &str, body: Vec<u8>) -> (StatusCode, Value) {
        let headers = headers(&shared.org, Some(index), "monitoring", None);
        let (status, body) = body_of(shared.answer(&format!("{CBOR_PREFIX}{operation}"), &headers, &body).await).await;
        (status, cbor_to_json(&mut minicbor::Decoder::new(&body)))
    }

    /// DescribeAlarms as orgwatch asks (both types unless `types` says otherwise), one page.
    async fn alarms(shared: &Shared, index: usize, types: Option<&[&str]>, token: Option<&str>) -> Value {
        let mut e = Cbor::new();
        e.map(1 + u64::from(types.is_some()) + u64::from(token.is_some()));
        e.text("MaxRecords").int(100);
        if let Some(types) = types {
            e.text("AlarmTypes").array(types.len() as u64);
            for t in types {
                e.text(t);
            }
        }
        if let Some(token) = token {
            e.text("NextToken").text(token);
        }
        let (status, body) = cbor_call(shared, index, "DescribeAlarms", e.finish()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    const BOTH: Option<&[&str]> = Some(&["MetricAlarm", "CompositeAlarm"]);

    /// Every alarm of account `index`, every page: (metric alarms, composite alarms, pages).
    async fn every_alarm(shared: &Shared, index: usize) -> (Vec<Value>, Vec<Value>, usize) {
        let (mut metric, mut composite, mut pages) = (Vec::new(), Vec::new(), 0);
        let mut token: Option<String> = None;
        loop {
            let page = alarms(shared, index, BOTH, token.as_deref()).await;
            pages += 1;
            metric.extend(page["MetricAlarms"].as_array().unwrap().iter().cloned());
            composite.extend(page["CompositeAlarms"].as_array().unwrap().iter().cloned());
            match page.get("NextToken").and_then(Value::as_str) {
                Some(next) => token = Some(next.to_owned()),
                None => return (metric, composite, pages),
            }
        }
    }

    async fn history(shared: &Shared, index: usize, token: Option<&str>) -> Value {
        history_of(shared, index, Some("unauthorized-api-calls-alarm"), token).await
    }

    /// DescribeAlarmHistory as orgwatch asks, of one alarm or (`None`) of every alarm.
    async fn history_of(shared: &Shared, index: usize, alarm: Option<&str>, token: Option<&str>) -> Value {
        let mut e = Cbor::new();
        e.map(4 + u64::from(alarm.is_some()) + u64::from(token.is_some()));
        if let Some(alarm) = alarm {
            e.text("AlarmName").text(alarm);
        }
        e.text("AlarmTypes").array(2).text("MetricAlarm").text("CompositeAlarm");
        e.text("HistoryItemType").text("Action");
        e.text("ScanBy").text("TimestampDescending");
        e.text("MaxRecords").int(100);
        if let Some(token) = token {
            e.text("NextToken").text(token);
        }
        let (status, body) = cbor_call(shared, index, "DescribeAlarmHistory", e.finish()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    fn first_of(org: &Organization, kind: Kind) -> usize {
        (0..org.len()).find(|&i| org.kind_at(i) == kind).unwrap_or_else(|| panic!("no {kind:?}"))
    }

    #[tokio::test]
    async fn keys_are_described_by_id_arn_alias_and_alias_arn_and_only_in_their_account() {
        let org = Organization::generate(&crate::OrgSpec { accounts: 200, family: false, seed: 4 });
        let shared = Shared::new(org, ServerSettings::default());
        let org = &shared.org;
        let (granting, root_only) = (first_of(org, Kind::Encrypted(KeyNaming::Alias)), first_of(org, Kind::Broken(crate::Break::KeyPolicyDeniesCloudwatchByArn)));
        let id = org.id_of(granting);
        let key_arn = shared.key_arn(granting);
        let key_id = shared.key_id(granting, false);
        for named in [KEY_ALIAS.to_owned(), format!("arn:aws:kms:us-east-1:{id}:{KEY_ALIAS}"), key_id.clone(), key_arn.clone()] {
            let (status, body) = json_call(&shared, granting, "TrentService.DescribeKey", json!({ "KeyId": named })).await;
            assert_eq!(status, StatusCode::OK, "{named}: {body}");
            let metadata = &body["KeyMetadata"];
            assert_eq!((metadata["Arn"].as_str(), metadata["KeyId"].as_str()), (Some(key_arn.as_str()), Some(key_id.as_str())), "{named}");
            assert_eq!((metadata["KeyManager"].as_str(), metadata["KeyState"].as_str()), (Some("CUSTOMER"), Some("Enabled")));
        }
        let (_, managed) = json_call(&shared, granting, "TrentService.DescribeKey", json!({ "KeyId": "alias/aws/sns" })).await;
        assert_eq!(managed["KeyMetadata"]["KeyManager"], "AWS");

        let (status, body) = json_call(&shared, root_only, "TrentService.DescribeKey", json!({ "KeyId": key_arn })).await;
        assert_eq!((status, body["__type"].as_str()), (StatusCode::BAD_REQUEST, Some("AccessDeniedException")), "another account's key");
        let plain = first_of(org, Kind::Compliant);
        let (_, body) = json_call(&shared, plain, "TrentService.DescribeKey", json!({ "KeyId": KEY_ALIAS })).await;
        assert_eq!(body["__type"], "NotFoundException", "no key of its own");
        let (_, body) = json_call(&shared, granting, "TrentService.GetKeyPolicy", json!({ "KeyId": KEY_ALIAS, "PolicyName": "default" })).await;
        assert_eq!(body["__type"], "NotFoundException", "a key policy is read by key id or ARN");

        let policy_of = |body: Value| -> Value { serde_json::from_str(body["Policy"].as_str().unwrap()).unwrap() };
        let (status, body) = json_call(&shared, granting, "TrentService.GetKeyPolicy", json!({ "KeyId": key_arn, "PolicyName": "default" })).await;
        assert_eq!(status, StatusCode::OK);
        let statements = policy_of(body)["Statement"].as_array().unwrap().clone();
        assert_eq!(statements.len(), 2);
        assert_eq!(statements[1]["Principal"]["Service"], "cloudwatch.amazonaws.com");
        assert_eq!(statements[1]["Action"], json!(["kms:Decrypt", "kms:GenerateDataKey*"]));
        let (_, body) = json_call(&shared, root_only, "TrentService.GetKeyPolicy", json!({ "KeyId": shared.key_id(root_only, false) })).await;
        let statements = policy_of(body)["Statement"].as_array().unwrap().clone();
        assert_eq!(statements.len(), 1, "the root delegation only");
        assert_eq!(statements[0]["Principal"]["AWS"], format!("arn:aws:iam::{}:root", org.id_of(root_only)));

        let counted = Server { shared: Arc::new(shared), addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), stop: None, task: None };
        let by_operation = counted.calls_by_operation();
        assert_eq!((by_operation["kms:DescribeKey"], by_operation["kms:GetKeyPolicy"]), (7, 3));
        assert_eq!(counted.calls_by_account()[&id], 7);
    }

    #[tokio::test]
    async fn topic_policies_admit_the_owner_and_the_central_one_the_organization() {
        let org = Organization::generate(&crate::OrgSpec { accounts: 200, family: false, seed: 4 });
        let shared = Shared::new(org, ServerSettings::default());
        let org = &shared.org;
        let attributes = |index: usize, name: &str| {
            let arn = format!("arn:aws:sns:us-east-1:{}:{name}", org.id_of(index));
            let headers = headers(org, Some(index), "sns", None);
            let body = format!("Action=GetTopicAttributes&Version=2010-03-31&TopicArn={}", arn.replace(':', "%3A"));
            let shared = &shared;
            async move {
                let (status, body) = body_of(shared.answer("/", &headers, body.as_bytes()).await).await;
                (status, String::from_utf8(body).unwrap(), arn)
            }
        };
        let entry = |xml: &str, key: &str| -> Option<String> {
            let start = xml.find(&format!("<key>{key}</key><value>"))? + key.len() + 18;
            let end = start + xml[start..].find("</value>")?;
            Some(xml[start..end].replace("&quot;", "\"").replace("&apos;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
        };
        let plain = first_of(org, Kind::Compliant);
        let (status, xml, arn) = attributes(plain, TOPIC_NAME).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(entry(&xml, "Policy"), Some(orgwatch_core::facts::default_topic_policy(&arn, &org.id_of(plain))));
        assert_eq!(entry(&xml, "KmsMasterKeyId"), None);

        let security = org.security_index();
        let (_, xml, arn) = attributes(security, TOPIC_NAME).await;
        let policy: Value = serde_json::from_str(&entry(&xml, "Policy").unwrap()).unwrap();
        let statements = policy["Statement"].as_array().unwrap();
        assert_eq!(statements[0]["Sid"], "__default_statement_ID");
        assert_eq!(statements[1]["Principal"]["Service"], "cloudwatch.amazonaws.com");
        assert_eq!(statements[1]["Condition"]["StringEquals"]["aws:SourceOrgID"], org.organization_id());
        assert_eq!(entry(&xml, "KmsMasterKeyId"), Some(shared.key_arn(security)));
        let (_, xml, legacy) = attributes(security, LEGACY_TOPIC_NAME).await;
        assert_eq!(entry(&xml, "Policy"), Some(orgwatch_core::facts::default_topic_policy(&legacy, &org.id_of(security))));
        assert_eq!(attributes(plain, LEGACY_TOPIC_NAME).await.0, StatusCode::NOT_FOUND);
        assert_eq!(shared.topic_notified(first_of(org, Kind::Broken(crate::Break::TopicPolicyDeniesPublish))), legacy);
        assert_eq!(shared.topic_notified(first_of(org, Kind::CentralTopic)), arn);

        let by_alias = first_of(org, Kind::Encrypted(KeyNaming::Alias));
        assert_eq!(entry(&attributes(by_alias, TOPIC_NAME).await.1, "KmsMasterKeyId").as_deref(), Some(KEY_ALIAS));
        let by_alias_arn = first_of(org, Kind::Broken(crate::Break::KeyPolicyDeniesCloudwatchByAlias));
        assert_eq!(entry(&attributes(by_alias_arn, TOPIC_NAME).await.1, "KmsMasterKeyId"), Some(format!("arn:aws:kms:us-east-1:{}:{KEY_ALIAS}", org.id_of(by_alias_arn))));

        let headers = headers(org, None, "organizations", Some("AWSOrganizationsV20161128.DescribeOrganization"));
        let (_, body) = body_of(shared.answer("/", &headers, b"{}").await).await;
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["Organization"]["Id"], org.organization_id());
    }

    #[tokio::test]
    async fn alarm_histories_are_paged_newest_first() {
        let org = Organization::generate(&crate::OrgSpec { accounts: 200, family: false, seed: 4 });
        let shared = Shared::new(org, ServerSettings::default());
        let org = &shared.org;
        let recovered = first_of(org, Kind::Notified(crate::History::Recovered));
        let topic = shared.topic_notified(recovered);
        let first = history(&shared, recovered, None).await;
        let items = first["AlarmHistoryItems"].as_array().unwrap();
        assert_eq!(items.len(), HISTORY_PAGE);
        let token = first["NextToken"].as_str().expect("a second page");
        let newest: Value = serde_json::from_str(items[0]["HistoryData"].as_str().unwrap()).unwrap();
        assert_eq!((newest["actionState"].as_str(), newest["notificationResource"].as_str()), (Some("Succeeded"), Some(topic.as_str())));
        let older: Value = serde_json::from_str(items[1]["HistoryData"].as_str().unwrap()).unwrap();
        assert_eq!(older["actionState"], "Failed");
        assert!(older["error"].as_str().is_some_and(|e| !e.is_empty()));
        assert!(items.windows(2).all(|w| w[0]["Timestamp"].as_f64() > w[1]["Timestamp"].as_f64()), "newest first");
        assert_eq!(items[0]["HistoryItemType"], "Action");
        assert_eq!(items[0]["AlarmType"], "MetricAlarm");
        let second = history(&shared, recovered, Some(token)).await;
        assert_eq!(second["AlarmHistoryItems"].as_array().unwrap().len(), RECOVERED_ITEMS - HISTORY_PAGE);
        assert!(second.get("NextToken").is_none());

        let failed = first_of(org, Kind::Broken(crate::Break::AlarmActionFailed));
        let latest = &history(&shared, failed, None).await["AlarmHistoryItems"][0];
        let data: Value = serde_json::from_str(latest["HistoryData"].as_str().unwrap()).unwrap();
        assert_eq!((data["actionState"].as_str(), data["notificationResource"].as_str()), (Some("Failed"), Some(shared.topic_notified(failed).as_str())));
        assert!(latest["HistorySummary"].as_str().unwrap().starts_with("Failed to execute action arn:aws:sns:"));

        let succeeded = first_of(org, Kind::Notified(crate::History::Succeeded));
        let items = history(&shared, succeeded, None).await["AlarmHistoryItems"].as_array().unwrap().clone();
        let data = |i: usize| -> Value { serde_json::from_str(items[i]["HistoryData"].as_str().unwrap()).unwrap() };
        assert!(data(0)["notificationResource"].as_str().unwrap().ends_with(":retired-alerts"), "the newest went elsewhere");
        assert_eq!((data(1)["actionState"].as_str(), data(1)["notificationResource"].as_str()), (Some("Succeeded"), Some(shared.topic_notified(succeeded).as_str())));

        let plain = history(&shared, first_of(org, Kind::Compliant), None).await;
        assert_eq!(plain, json!({ "AlarmHistoryItems": [] }));
    }

    #[tokio::test]
    async fn the_account_wide_history_merges_every_alarm_newest_first() {
        let org = Organization::generate(&crate::OrgSpec { accounts: 300, family: true, seed: 4 });
        let shared = Shared::new(org, ServerSettings::default());
        let org = &shared.org;
        let n = org.deployed.len();
        let recovered = first_of(org, Kind::Notified(crate::History::Recovered));
        let topic = shared.topic_notified(recovered);
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = 0;
        loop {
            let page = history_of(&shared, recovered, None, token.as_deref()).await;
            pages += 1;
            items.extend(page["AlarmHistoryItems"].as_array().unwrap().iter().cloned());
            match page.get("NextToken").and_then(Value::as_str) {
                Some(next) => token = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(items.len(), n * RECOVERED_ITEMS);
        assert_eq!(pages, (n * RECOVERED_ITEMS).div_ceil(HISTORY_PAGE));
        assert!(items.windows(2).all(|w| w[0]["Timestamp"].as_f64() >= w[1]["Timestamp"].as_f64()), "newest first");
        // The first page holds every alarm's newest item, a success to the topic, in control order.
        for (c, d) in org.deployed.iter().enumerate() {
            assert_eq!(items[c]["AlarmName"], format!("{}-alarm", d.id));
            let data: Value = serde_json::from_str(items[c]["HistoryData"].as_str().unwrap()).unwrap();
            assert_eq!((data["actionState"].as_str(), data["notificationResource"].as_str()), (Some("Succeeded"), Some(topic.as_str())));
        }
        assert_eq!(Kind::Notified(crate::History::Recovered).history_reads(n, crate::AdviceScan::Off), (1, 1), "so orgwatch reads no alarm's own history");
        // One alarm's own history is its items alone.
        let own = history_of(&shared, recovered, Some(&format!("{}-alarm", org.deployed[3].id)), None).await;
        let own = own["AlarmHistoryItems"].as_array().unwrap();
        assert_eq!(own.len(), HISTORY_PAGE);
        assert!(own.iter().all(|i| i["AlarmName"] == format!("{}-alarm", org.deployed[3].id)));
        // Only metric alarms are asked for without AlarmTypes; composite ones have no history.
        let failed = first_of(org, Kind::Broken(crate::Break::AlarmActionFailed));
        assert_eq!(history_of(&shared, failed, None, None).await["AlarmHistoryItems"].as_array().unwrap().len(), n * HISTORY_ITEMS_FAILED);
        let composite = first_of(org, Kind::Composite(CompositeShape::Or));
        assert_eq!(history_of(&shared, composite, None, None).await, json!({ "AlarmHistoryItems": [] }));
    }

    #[tokio::test]
    async fn describe_alarms_answers_metric_math_and_composite_alarms_a_hundred_a_page() {
        let org = Organization::generate(&crate::OrgSpec { accounts: 300, family: true, seed: 4 });
        let shared = Shared::new(org, ServerSettings::default());
        let org = &shared.org;
        let n = org.deployed.len();
        for index in 0..org.len() {
            let kind = org.kind_at(index);
            let (metric, composite, pages) = every_alarm(&shared, index).await;
            assert_eq!(metric.len() + composite.len(), kind.alarm_count(n), "{kind:?}");
            assert_eq!(pages, kind.alarm_pages(n), "{kind:?}");
        }
        let plain = first_of(org, Kind::Compliant);
        let topic = shared.topic_notified(plain);
        let (metric, composite, _) = every_alarm(&shared, plain).await;
        assert!(composite.is_empty());
        let alarm = &metric[0];
        assert_eq!((alarm["Namespace"].as_str(), alarm["Statistic"].as_str(), alarm["ActionsEnabled"].as_bool()), (Some(NAMESPACE), Some("Sum"), Some(true)));
        assert_eq!(alarm["AlarmActions"], json!([topic]));
        assert!(metric.windows(2).all(|w| w[0]["AlarmName"].as_str() < w[1]["AlarmName"].as_str()), "sorted by name");

        let many = first_of(org, Kind::ManyAlarms);
        let first = alarms(&shared, many, BOTH, None).await;
        assert_eq!(first["MetricAlarms"].as_array().unwrap().len(), ALARMS_PAGE);
        assert!(first["NextToken"].is_string());
        let (metric, _, pages) = every_alarm(&shared, many).await;
        assert_eq!((metric.len(), pages), (n + crate::FILLER_ALARMS, 3));
        assert_eq!(metric.iter().filter(|a| a["Namespace"] == NAMESPACE).count(), n);
        assert!(metric.iter().any(|a| a["AlarmName"] == "filler-0250" && a["Namespace"] == OTHER_NAMESPACE && a["MetricName"] == "Filler0250"));

        // Without AlarmTypes, metric alarms only.
        let nested = first_of(org, Kind::Composite(CompositeShape::Nested));
        let only_metric = alarms(&shared, nested, None, None).await;
        assert_eq!(only_metric["MetricAlarms"].as_array().unwrap().len(), n + 1);
        assert_eq!(only_metric["CompositeAlarms"], json!([]));
        assert_eq!(alarms(&shared, nested, Some(&["CompositeAlarm"]), None).await["MetricAlarms"], json!([]));
        let (metric, composite, _) = every_alarm(&shared, nested).await;
        let named = |list: &[Value], name: &str| list.iter().find(|a| a["AlarmName"] == name).cloned().unwrap_or_else(|| panic!("no {name}"));
        let control = org.deployed[0].id;
        let child = named(&metric, &format!("{control}-alarm"));
        assert_eq!((child["ActionsEnabled"].as_bool(), child["AlarmActions"].clone()), (Some(true), json!([])));
        let other = named(&metric, OTHER_SIGNAL_ALARM);
        assert_eq!((other["Namespace"].as_str(), other["MetricName"].as_str(), other["AlarmActions"].clone()), (Some(OTHER_NAMESPACE), Some(OTHER_METRIC), json!([])));
        let middle = named(&composite, &format!("{control}-composite"));
        assert_eq!(middle["AlarmRule"], format!("ALARM(\"{control}-alarm\") OR ALARM(\"other-signal\")"));
        assert_eq!(middle["AlarmActions"], json!([]));
        let pager = named(&composite, &format!("{control}-pager"));
        assert_eq!(pager["AlarmRule"], format!("ALARM(\"{}\")", middle["AlarmArn"].as_str().unwrap()));
        assert_eq!((pager["ActionsEnabled"].as_bool(), pager["AlarmActions"].clone()), (Some(true), json!([shared.topic_notified(nested)])));
        assert_eq!(composite.len(), 2 * n);
        for (shape, rule, enabled) in [(CompositeShape::And, "AND", true), (CompositeShape::ActionsDisabled, "OR", false), (CompositeShape::Or, "OR", true)] {
            let index = first_of(org, Kind::Composite(shape));
            let (_, composite, _) = every_alarm(&shared, index).await;
            let c = named(&composite, &format!("{control}-composite"));
            assert_eq!(c["AlarmRule"], format!("ALARM(\"{control}-alarm\") {rule} ALARM(\"other-signal\")"), "{shape:?}");
            assert_eq!((c["ActionsEnabled"].as_bool(), c["AlarmActions"].clone()), (Some(enabled), json!([shared.topic_notified(index)])), "{shape:?}");
        }

        let fill = first_of(org, Kind::MetricMath(MathShape::Fill));
        let (metric, _, _) = every_alarm(&shared, fill).await;
        let alarm = named(&metric, &format!("{control}-alarm"));
        assert!(alarm.get("MetricName").is_none() && alarm.get("Namespace").is_none() && alarm.get("Statistic").is_none(), "{alarm}");
        let queries = alarm["Metrics"].as_array().unwrap();
        assert_eq!(queries.len(), 2);
        assert_eq!(queries[0]["MetricStat"]["Metric"]["MetricName"], org.deployed[0].metric);
        assert_eq!((queries[0]["MetricStat"]["Stat"].as_str(), queries[0]["MetricStat"]["Period"].as_i64(), queries[0]["ReturnData"].as_bool()), (Some("Sum"), Some(300), Some(false)));
        assert_eq!((queries[1]["Expression"].as_str(), queries[1]["ReturnData"].as_bool()), (Some("FILL(m1, 0)"), Some(true)));
        assert_eq!((alarm["ComparisonOperator"].as_str(), alarm["Threshold"].as_f64()), (Some("GreaterThanOrEqualToThreshold"), Some(1.0)));
        let other = first_of(org, Kind::MetricMath(MathShape::OtherMetric));
        let (metric, _, _) = every_alarm(&shared, other).await;
        let queries = named(&metric, &format!("{control}-alarm"))["Metrics"].as_array().unwrap().clone();
        assert_eq!(queries.iter().map(|q| q["Id"].as_str().unwrap()).collect::<Vec<_>>(), ["m1", "m2", "e1"]);
        assert_eq!((queries[1]["MetricStat"]["Metric"]["Namespace"].as_str(), queries[2]["Expression"].as_str()), (Some(OTHER_NAMESPACE), Some("FILL(m2, 0)")));

        // No alarms without a log group; a bad token or page size is refused.
        let (metric, composite, pages) = every_alarm(&shared, first_of(org, Kind::Broken(crate::Break::NoMultiRegionTrail))).await;
        assert_eq!((metric.len(), composite.len(), pages), (0, 0, 1));
        let mut e = Cbor::new();
        e.map(1).text("NextToken").text("nonsense");
        assert_eq!(cbor_call(&shared, many, "DescribeAlarms", e.finish()).await.1["__type"], "InvalidNextToken");
        let mut e = Cbor::new();
        e.map(1).text("MaxRecords").int(101);
        assert_eq!(cbor_call(&shared, many, "DescribeAlarms", e.finish()).await.1["__type"], "InvalidParameterValue");
        // orgwatch no longer asks for the alarms of one metric: not served.
        let mut e = Cbor::new();
        e.map(2).text("MetricName").text(&org.deployed[0].metric).text("Namespace").text(NAMESPACE);
        let (status, body) = cbor_call(&shared, plain, "DescribeAlarmsForMetric", e.finish()).await;
        assert_eq!((status, body["__type"].as_str()), (StatusCode::BAD_REQUEST, Some("UnknownOperationException")));

        let counted = Server { shared: Arc::new(shared), addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), stop: None, task: None };
        assert!(counted.calls_by_operation()["cloudwatch:DescribeAlarms"] > 0);
        assert_eq!(counted.calls_by_operation()["cloudwatch:DescribeAlarmsForMetric"], 1);
    }

    /// DescribeAlarmHistory of one alarm or every alarm, of one kind of item (`None`: every
    /// kind), over a window if given: (status, answer).
    async fn history_kind(shared: &Shared, index: usize, alarm: Option<&str>, kind: Option<&str>, window: Option<(f64, f64)>, token: Option<&str>) -> (StatusCode, Value) {
        let mut e = Cbor::new();
        e.map(3 + u64::from(alarm.is_some()) + u64::from(kind.is_some()) + 2 * u64::from(window.is_some()) + u64::from(token.is_some()));
        if let Some(alarm) = alarm {
            e.text("AlarmName").text(alarm);
        }
        e.text("AlarmTypes").array(2).text("MetricAlarm").text("CompositeAlarm");
        if let Some(kind) = kind {
            e.text("HistoryItemType").text(kind);
        }
        if let Some((start, end)) = window {
            e.text("StartDate").timestamp(start).text("EndDate").timestamp(end);
        }
        e.text("ScanBy").text("TimestampDescending");
        e.text("MaxRecords").int(100);
        if let Some(token) = token {
            e.text("NextToken").text(token);
        }
        cbor_call(shared, index, "DescribeAlarmHistory", e.finish()).await
    }

    fn history_data(item: &Value) -> Value {
        serde_json::from_str(item["HistoryData"].as_str().unwrap()).unwrap()
    }

    #[tokio::test]
    async fn the_history_of_every_kind_holds_state_changes_and_the_state_history_keeps_to_its_window() {
        let org = Organization::generate(&crate::OrgSpec { accounts: 200, family: false, seed: 4 });
        let shared = Shared::new(org, ServerSettings::default());
        let org = &shared.org;
        let recovered = first_of(org, Kind::Notified(crate::History::Recovered));
        let alarm = "unauthorized-api-calls-alarm";
        let topic = shared.topic_notified(recovered);

        // Without HistoryItemType: both kinds, newest first, the newest a return to OK.
        let (status, page) = history_kind(&shared, recovered, None, None, None, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let items = page["AlarmHistoryItems"].as_array().unwrap();
        assert_eq!(items.len(), HISTORY_PAGE);
        assert!(page["NextToken"].is_string(), "390 items");
        assert!(items.windows(2).all(|w| w[0]["Timestamp"].as_f64() > w[1]["Timestamp"].as_f64()), "newest first");
        assert!(items.iter().all(|i| i["Timestamp"].as_f64().is_some_and(|t| t < shared.now as f64)));
        let kinds = |kind: &str| items.iter().filter(|i| i["HistoryItemType"] == kind).count();
        assert_eq!((kinds("StateUpdate"), kinds("Action")), (67, 33), "two changes of state around each notification");
        assert_eq!(items[0]["HistorySummary"], "Alarm updated from ALARM to OK");
        let back = history_data(&items[0]);
        assert_eq!((back["oldState"]["stateValue"].as_str(), back["newState"]["stateValue"].as_str()), (Some("ALARM"), Some("OK")));
        assert_eq!((items[1]["HistoryItemType"].as_str(), history_data(&items[1])["notificationResource"].as_str()), (Some("Action"), Some(topic.as_str())));
        assert_eq!(items[2]["HistorySummary"], "Alarm updated from OK to ALARM");
        let fired = history_data(&items[2]);
        assert_eq!((fired["oldState"]["stateValue"].as_str(), fired["newState"]["stateValue"].as_str()), (Some("OK"), Some("ALARM")));
        assert_eq!(fired["newState"]["stateReasonData"]["recentDatapoints"], json!([3.0]));
        assert!(fired["newState"]["stateReason"].as_str().unwrap().starts_with("Threshold Crossed: 1 out of the last 1 datapoints [3.0"));
        assert_eq!(items[1]["Timestamp"].as_f64().unwrap() - items[2]["Timestamp"].as_f64().unwrap(), 1.0, "the action a second after the change");

        // StateUpdate over a week: every change within it, two pages, nothing else.
        let end = shared.now as f64;
        let start = end - f64::from(crate::ADVICE_WINDOW_DAYS) * 86_400.0;
        let (mut changes, mut token, mut pages) = (Vec::new(), None::<String>, 0);
        loop {
            let (status, page) = history_kind(&shared, recovered, Some(alarm), Some("StateUpdate"), Some((start, end)), token.as_deref()).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            pages += 1;
            changes.extend(page["AlarmHistoryItems"].as_array().unwrap().iter().cloned());
            match page.get("NextToken").and_then(Value::as_str) {
                Some(next) => token = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!((changes.len(), pages), (168, 2));
        assert!(changes.iter().all(|i| i["HistoryItemType"] == "StateUpdate" && i["AlarmName"] == alarm));
        assert!(changes.iter().all(|i| i["Timestamp"].as_f64().is_some_and(|t| (start..=end).contains(&t))));
        assert_eq!(changes.iter().filter(|i| i["HistorySummary"] == "Alarm updated from OK to ALARM").count(), 84);
        let (mut e, at) = (Cbor::new(), shared.now as f64);
        e.map(2).text("HistoryItemType").text("StateUpdate").text("StartDate").timestamp(at - 3_600.0);
        let (_, page) = cbor_call(&shared, recovered, "DescribeAlarmHistory", e.finish()).await;
        assert_eq!(page["AlarmHistoryItems"].as_array().unwrap().len(), 1, "the return to OK 45 minutes ago; the change to ALARM came 1 h 1 s ago");

        // Another kind has no items; a date must be a timestamp.
        let (_, page) = history_kind(&shared, recovered, None, Some("ConfigurationUpdate"), None, None).await;
        assert_eq!(page, json!({ "AlarmHistoryItems": [] }));
        let mut e = Cbor::new();
        e.map(1).text("StartDate").text("yesterday");
        let (status, body) = cbor_call(&shared, recovered, "DescribeAlarmHistory", e.finish()).await;
        assert_eq!((status, body["__type"].as_str()), (StatusCode::BAD_REQUEST, Some("InvalidParameterValue")));
        // A plain compliant account's alarms never changed state within what CloudWatch keeps.
        let (_, page) = history_kind(&shared, first_of(org, Kind::Compliant), None, None, None, None).await;
        assert_eq!(page, json!({ "AlarmHistoryItems": [] }));
        // The Action history is the notifications alone, as before.
        let failed = first_of(org, Kind::Broken(crate::Break::AlarmActionFailed));
        let (_, every) = history_kind(&shared, failed, None, None, None, None).await;
        assert_eq!(every["AlarmHistoryItems"].as_array().unwrap().len(), 3 * HISTORY_ITEMS_FAILED);
        assert_eq!(history_data(&every["AlarmHistoryItems"][1])["actionState"], "Failed");
    }

    /// One GetMetricData query: (id, namespace, metric, dimensions, period, stat).
    type Query<'a> = (&'a str, &'a str, &'a str, &'a [(&'a str, &'a str)], i64, &'a str);

    /// GetMetricData as the SDK sends it, oldest first.
    async fn metric_data(shared: &Shared, index: usize, queries: &[Query<'_>], start: f64, end: f64) -> (StatusCode, Value) {
        let mut e = Cbor::new();
        e.map(4).text("MetricDataQueries").array(queries.len() as u64);
        for (id, namespace, metric, dimensions, period, stat) in queries {
            e.map(3).text("Id").text(id);
            e.text("MetricStat").map(3);
            e.text("Metric").map(3).text("Namespace").text(namespace).text("MetricName").text(metric);
            e.text("Dimensions").array(dimensions.len() as u64);
            for (name, value) in *dimensions {
                e.map(2).text("Name").text(name).text("Value").text(value);
            }
            e.text("Period").int(*period).text("Stat").text(stat);
            e.text("ReturnData").boolean(true);
        }
        e.text("StartTime").timestamp(start).text("EndTime").timestamp(end).text("ScanBy").text("TimestampAscending");
        cbor_call(shared, index, "GetMetricData", e.finish()).await
    }

    fn series(result: &Value) -> (Vec<f64>, Vec<f64>) {
        let numbers = |field: &str| result[field].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect::<Vec<_>>();
        (numbers("Timestamps"), numbers("Values"))
    }

    #[tokio::test]
    async fn get_metric_data_answers_the_callers_metrics_and_its_topics_deliveries() {
        let org = Organization::generate(&crate::OrgSpec { accounts: 300, family: true, seed: 4 });
        let shared = Shared::new(org, ServerSettings::default());
        let org = &shared.org;
        let end = (shared.now - shared.now.rem_euclid(60)) as f64;
        let start = end - 7.0 * 86_400.0;
        let metric = org.deployed[0].metric.clone();
        let topic: &[(&str, &str)] = &[("TopicName", TOPIC_NAME)];
        let queries: [Query<'_>; 3] = [
            ("q0", NAMESPACE, &metric, &[], 300, "Sum"),
            ("q1", "AWS/SNS", "NumberOfNotificationsDelivered", topic, 86_400, "Sum"),
            ("q2", "AWS/SNS", "NumberOfNotificationsFailed", topic, 86_400, "Sum"),
        ];
        let sum = |v: &[f64]| v.iter().sum::<f64>();

        let plain = first_of(org, Kind::Compliant);
        let (status, body) = metric_data(&shared, plain, &queries, start, end).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let results = body["MetricDataResults"].as_array().unwrap();
        assert_eq!(results.iter().map(|r| r["Id"].as_str().unwrap()).collect::<Vec<_>>(), ["q0", "q1", "q2"]);
        assert!(results.iter().all(|r| r["StatusCode"] == "Complete") && body.get("NextToken").is_none());
        assert_eq!(results[0]["Label"], metric.as_str());
        let (times, values) = series(&results[0]);
        assert!((3..40).contains(&values.len()), "a few periods of a week had denied calls: {}", values.len());
        assert!(values.iter().all(|v| (1.0..=6.0).contains(v)), "{values:?}");
        assert!(times.windows(2).all(|w| w[0] < w[1]), "oldest first");
        assert!(times.iter().all(|t| (start..end).contains(t) && (t - start) % 300.0 == 0.0), "each period's start");
        let (days, delivered) = series(&results[1]);
        assert!(sum(&delivered) > 0.0 && days.len() <= 7, "{delivered:?}");
        let (failed_days, failed) = series(&results[2]);
        assert_eq!((failed_days.len(), sum(&failed)), (days.len(), 0.0), "failed 0 on the days something was delivered");

        let undelivered = first_of(org, Kind::Broken(crate::Break::SubscriberDeliveryFailing));
        let (_, body) = metric_data(&shared, undelivered, &queries, start, end).await;
        let (delivered, failed) = (series(&body["MetricDataResults"][1]).1, series(&body["MetricDataResults"][2]).1);
        assert!(sum(&delivered) == 0.0 && !delivered.is_empty() && sum(&failed) > 0.0, "{delivered:?} {failed:?}");

        // A central topic's deliveries are the security account's to read; a member has none.
        let member = first_of(org, Kind::CentralTopic);
        let (_, body) = metric_data(&shared, member, &queries[1..], start, end).await;
        assert!(body["MetricDataResults"].as_array().unwrap().iter().all(|r| r["Values"] == json!([])));
        let (_, body) = metric_data(&shared, org.security_index(), &queries[1..], start, end).await;
        assert!(sum(&series(&body["MetricDataResults"][0]).1) > 50.0, "the whole organization's alarms notify it");
        // The alarm that fired every two hours: its metric crossed at each notification.
        let recovered = first_of(org, Kind::Notified(crate::History::Recovered));
        let (_, body) = metric_data(&shared, recovered, &queries[..1], start, end).await;
        assert!(series(&body["MetricDataResults"][0]).1.iter().filter(|v| **v >= 2.0).count() >= 84);
        // Another metric, or another statistic of the same.
        let other: [Query<'_>; 2] = [("a", OTHER_NAMESPACE, OTHER_METRIC, &[], 300, "Sum"), ("b", NAMESPACE, &metric, &[], 300, "SampleCount")];
        let (_, body) = metric_data(&shared, plain, &other, start, end).await;
        assert_eq!(body["MetricDataResults"][0]["Values"], json!([]));
        assert_eq!(series(&body["MetricDataResults"][1]).0, times, "the same periods");

        // What AWS refuses, refused without a panic.
        let refused = |body: &Value| body["__type"].as_str().map(str::to_owned);
        assert_eq!(refused(&metric_data(&shared, plain, &queries, end, start).await.1).as_deref(), Some("InvalidParameterValue"));
        assert_eq!(refused(&metric_data(&shared, plain, &[("q0", NAMESPACE, &metric, &[], 61, "Sum")], start, end).await.1).as_deref(), Some("InvalidParameterValue"));
        assert_eq!(refused(&metric_data(&shared, plain, &[queries[0], queries[0]], start, end).await.1).as_deref(), Some("InvalidParameterValue"), "ids are unique");
        let many: Vec<String> = (0..501).map(|i| format!("q{i}")).collect();
        let many: Vec<Query<'_>> = many.iter().map(|id| (id.as_str(), NAMESPACE, metric.as_str(), &[][..], 300, "Sum")).collect();
        assert_eq!(refused(&metric_data(&shared, plain, &many, start, end).await.1).as_deref(), Some("InvalidParameterValue"));
        assert_eq!(metric_data(&shared, plain, &many[..500], start, end).await.0, StatusCode::OK);
        let mut e = Cbor::new();
        e.map(3).text("MetricDataQueries").array(1).map(2).text("Id").text("e1").text("Expression").text("SUM(METRICS())");
        e.text("StartTime").timestamp(start).text("EndTime").timestamp(end);
        assert_eq!(refused(&cbor_call(&shared, plain, "GetMetricData", e.finish()).await.1).as_deref(), Some("InvalidParameterValue"), "MetricStat queries only");
        let mut e = Cbor::new();
        e.map(1).text("MetricDataQueries").array(0);
        assert_eq!(refused(&cbor_call(&shared, plain, "GetMetricData", e.finish()).await.1).as_deref(), Some("MissingParameter"));
        let mut nested = vec![0x81u8; 40];
        nested.push(0x01);
        for body in [b"\x01\x02".to_vec(), vec![0xa1, 0x61], nested] {
            assert_eq!(refused(&cbor_call(&shared, plain, "GetMetricData", body).await.1).as_deref(), Some("SerializationException"));
        }

        let counted = Server { shared: Arc::new(shared), addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), stop: None, task: None };
        let of_plain = counted.calls_by_operation_of(&[counted.shared.org.id_of(plain)]);
        assert_eq!(of_plain.get("cloudwatch:GetMetricData"), Some(&12));
        assert_eq!(of_plain.len(), 1);
        assert_eq!(counted.calls_by_operation()["cloudwatch:GetMetricData"], 16);
    }

    #[tokio::test(start_paused = true)]
    async fn cloudwatch_calls_are_counted_per_account_in_a_sliding_second() {
        let org = Organization::generate(&crate::OrgSpec { accounts: 50, family: false, seed: 2 });
        let server = Server { shared: Arc::new(Shared::new(org, ServerSettings::default())), addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), stop: None, task: None };
        let shared = &server.shared;
        assert_eq!(server.cloudwatch_peak(), None);
        // Account 3: 5 calls, 0.6 s, 5 calls (10 within one second), 1 s, 4 calls; account 4: 2.
        for _ in 0..5 {
            alarms(shared, 3, BOTH, None).await;
        }
        tokio::time::advance(Duration::from_millis(600)).await;
        for _ in 0..5 {
            history_of(shared, 3, None, None).await;
        }
        tokio::time::advance(Duration::from_millis(1000)).await;
        for _ in 0..4 {
            alarms(shared, 3, BOTH, None).await;
        }
        alarms(shared, 4, BOTH, None).await;
        tokio::time::advance(Duration::from_millis(1000)).await;
        alarms(shared, 4, BOTH, None).await;
        // Not CloudWatch: not counted.
        json_call(shared, 4, "TrentService.DescribeKey", json!({ "KeyId": KEY_ALIAS })).await;
        let per_second = server.cloudwatch_calls_per_second();
        assert_eq!(per_second.len(), 2);
        assert_eq!(per_second[&shared.org.id_of(3)], 10);
        assert_eq!(per_second[&shared.org.id_of(4)], 1, "a second apart");
        assert_eq!(server.cloudwatch_peak(), Some((shared.org.id_of(3), 10)));
        server.reset_counts();
        assert_eq!(server.cloudwatch_peak(), None);
    }

    #[test]
    fn topic_arns_are_split() {
        assert_eq!(topic_parts("arn:aws:sns:us-east-1:111122223333:alerts"), Some(("us-east-1", "111122223333", "alerts")));
        assert_eq!(topic_parts("arn:aws:sqs:us-east-1:111122223333:q"), None);
        assert_eq!(topic_parts("nonsense"), None);
    }
}
