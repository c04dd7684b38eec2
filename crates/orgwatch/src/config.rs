//! The TOML configuration: read once, validated into typed settings. Unknown keys and bad
//! values are errors that name the key.

use anyhow::{Context, bail};
use chrono::NaiveDate;
use orgwatch_core::{Waiver, controls};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    aws: RawAws,
    organization: RawOrganization,
    #[serde(default)]
    scan: RawScan,
    store: RawStore,
    #[serde(default)]
    waivers: Vec<RawWaiver>,
    #[serde(default)]
    notify: RawNotify,
    #[serde(default)]
    http: RawHttp,
    #[serde(default)]
    log: RawLog,
    #[serde(default)]
    advice: RawAdvice,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdvice {
    enabled: Option<bool>,
    every: Option<String>,
    window_days: Option<u32>,
    noisy_per_day: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAws {
    region: String,
    max_attempts: Option<u32>,
    operation_timeout_seconds: Option<u64>,
    attempt_timeout_seconds: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrganization {
    audit_role_name: String,
    external_id: Option<String>,
    #[serde(default)]
    include_accounts: Vec<String>,
    #[serde(default)]
    exclude_accounts: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScan {
    concurrency: Option<usize>,
    controls: Option<Vec<String>>,
    account_timeout_seconds: Option<u64>,
    schedule: Option<String>,
    timezone: Option<String>,
    run_on_start: Option<bool>,
    grace_period_seconds: Option<u64>,
    stale_after_intervals: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    path: PathBuf,
    retention_days: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWaiver {
    account_id: String,
    control: String,
    reason: String,
    expires: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotify {
    sns_topic_arn: Option<String>,
    webhook_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    listen: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    format: Option<String>,
    level: Option<String>,
}

/// Validated settings for every command.
#[derive(Clone, Debug)]
pub struct Config {
    pub aws: AwsConfig,
    pub organization: OrganizationConfig,
    pub scan: ScanConfig,
    pub store: StoreConfig,
    pub waivers: Vec<Waiver>,
    pub notify: NotifyConfig,
    /// Where `/healthz` and `/metrics` listen; `None` when `[http] listen` is unset.
    pub http_listen: Option<SocketAddr>,
    pub log: LogConfig,
    pub advice: AdviceConfig,
}

/// `[advice]`: measuring passing chains' alarms (noise, baseline, a threshold to suggest) and
/// their topics' delivery record.
#[derive(Clone, Debug, PartialEq)]
pub struct AdviceConfig {
    pub enabled: bool,
    /// At most one scan gathers advice per this long, whatever the schedule.
    pub every: Duration,
    /// The window measured, in days (1 to 30).
    pub window_days: u32,
    /// Transitions to ALARM a day, on average, above which an alarm is noisy.
    pub noisy_per_day: f64,
}

impl Default for AdviceConfig {
    fn default() -> Self {
        AdviceConfig { enabled: true, every: Duration::from_secs(24 * 3600), window_days: 7, noisy_per_day: 1.0 }
    }
}

impl AdviceConfig {
    /// Whether a scan starting at `now` gathers advice, the last one that did having started at
    /// `last`. A scan a little early (up to a tenth of `every`, at most an hour) still does, so
    /// a daily schedule does not slip a day for a few seconds.
    pub fn due(&self, last: Option<chrono::DateTime<chrono::Utc>>, now: chrono::DateTime<chrono::Utc>) -> bool {
        if !self.enabled {
            return false;
        }
        let slack = (self.every / 10).min(Duration::from_secs(3600));
        let every = chrono::Duration::from_std(self.every.saturating_sub(slack)).unwrap_or(chrono::Duration::MAX);
        last.is_none_or(|last| now - last >= every)
    }
}

#[derive(Clone, Debug)]
pub struct AwsConfig {
    pub region: String,
    pub max_attempts: u32,
    pub operation_timeout: Duration,
    pub attempt_timeout: Duration,
}

#[derive(Clone, Debug)]
pub struct OrganizationConfig {
    pub audit_role_name: String,
    /// Required by the audit role's trust policy when set. Never logged.
    pub external_id: Option<String>,
    /// When not empty, only these accounts are audited.
    pub include_accounts: Vec<String>,
    pub exclude_accounts: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct ScanConfig {
    /// Accounts collected at once.
    pub concurrency: usize,
    /// Control ids judged, in benchmark order.
    pub controls: Vec<String>,
    /// Bound on one account's collection.
    pub account_timeout: Duration,
    /// Cron expression for the daemon (5 fields, optional seconds field first).
    pub schedule: Option<croner::Cron>,
    pub schedule_text: Option<String>,
    pub timezone: chrono_tz::Tz,
    pub run_on_start: bool,
    /// How long in-flight accounts may finish after SIGTERM.
    pub grace_period: Duration,
    /// `/healthz` turns unhealthy when the last scan is older than this many schedule intervals.
    pub stale_after_intervals: f64,
}

#[derive(Clone, Debug)]
pub struct StoreConfig {
    pub path: PathBuf,
    pub retention_days: Option<u32>,
}

#[derive(Clone, Debug)]
pub struct NotifyConfig {
    pub sns_topic_arn: Option<String>,
    pub webhook_url: Option<String>,
}

#[derive(Clone, Debug)]
pub struct LogConfig {
    pub json: bool,
    pub level: Option<String>,
}

pub const DEFAULT_CONCURRENCY: usize = 16;

/// Sets `[organization] external_id`, over the file's value: for a secret injected as an
/// environment variable (a Kubernetes Secret, ECS task secrets), so the file can be a plain
/// ConfigMap. Never logged.
pub const EXTERNAL_ID_ENV: &str = "ORGWATCH_EXTERNAL_ID";

impl Config {
    /// Reads and validates a configuration file. Relative store paths are kept relative to
    /// the working directory, as users expect from a command-line tool.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the configuration file {}", path.display()))?;
        let external_id = match std::env::var(EXTERNAL_ID_ENV) {
            Ok(value) => Some(value),
            Err(std::env::VarError::NotPresent) => None,
            Err(std::env::VarError::NotUnicode(_)) => bail!("{EXTERNAL_ID_ENV} is not valid UTF-8"),
        };
        Config::parse_with_external_id(&text, external_id).with_context(|| format!("invalid configuration in {}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Config> {
        Config::parse_with_external_id(text, None)
    }

    /// Parses `text`, with the value of [`EXTERNAL_ID_ENV`] (when set) as the external ID.
    pub fn parse_with_external_id(text: &str, external_id: Option<String>) -> anyhow::Result<Config> {
        let mut raw: RawConfig = toml::from_str(text).map_err(|e| anyhow::anyhow!("{}", e.to_string().trim_end()))?;
        if let Some(value) = external_id {
            if value.len() < 2 || value.len() > 1224 {
                bail!("{EXTERNAL_ID_ENV} must be 2 to 1224 characters long (it is {} long)", value.len());
            }
            raw.organization.external_id = Some(value);
        }
        validate(raw)
    }

    /// Where a local client reaches `[http] listen`: an unspecified address (`0.0.0.0`, `[::]`,
    /// as in a container) is asked on the loopback address of its family.
    pub fn http_probe_address(&self) -> Option<SocketAddr> {
        self.http_listen.map(|mut addr| {
            if addr.ip().is_unspecified() {
                addr.set_ip(if addr.is_ipv4() { std::net::Ipv4Addr::LOCALHOST.into() } else { std::net::Ipv6Addr::LOCALHOST.into() });
            }
            addr
        })
    }
}

fn is_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

fn validate(raw: RawConfig) -> anyhow::Result<Config> {
    if raw.aws.region.trim().is_empty() {
        bail!("[aws] region must not be empty");
    }
    let max_attempts = raw.aws.max_attempts.unwrap_or(8);
    if !(1..=20).contains(&max_attempts) {
        bail!("[aws] max_attempts must be between 1 and 20, not {max_attempts}");
    }
    let operation_timeout = Duration::from_secs(raw.aws.operation_timeout_seconds.unwrap_or(120));
    let attempt_timeout = Duration::from_secs(raw.aws.attempt_timeout_seconds.unwrap_or(20));
    if operation_timeout.is_zero() || attempt_timeout.is_zero() {
        bail!("[aws] operation_timeout_seconds and attempt_timeout_seconds must be positive");
    }
    let role = raw.organization.audit_role_name.trim();
    if role.is_empty() || role.contains(['/', ':', ' ']) {
        bail!("[organization] audit_role_name must be a role name such as \"OrgwatchAudit\", not {role:?}");
    }
    if raw.organization.external_id.as_deref().is_some_and(|e| e.len() < 2 || e.len() > 1224) {
        bail!("[organization] external_id must be 2 to 1224 characters long");
    }
    for (key, ids) in [("include_accounts", &raw.organization.include_accounts), ("exclude_accounts", &raw.organization.exclude_accounts)] {
        if let Some(bad) = ids.iter().find(|id| !is_account_id(id)) {
            bail!("[organization] {key}: {bad:?} is not a 12-digit account id");
        }
    }
    let concurrency = raw.scan.concurrency.unwrap_or(DEFAULT_CONCURRENCY);
    if !(1..=1024).contains(&concurrency) {
        bail!("[scan] concurrency must be between 1 and 1024, not {concurrency}");
    }
    let controls = match raw.scan.controls {
        None => controls::all().iter().map(|c| c.id.to_owned()).collect(),
        Some(ids) => {
            if ids.is_empty() {
                bail!("[scan] controls must name at least one control (leave it out to judge all)");
            }
            if let Some(bad) = ids.iter().find(|id| controls::find(id).is_none()) {
                bail!("[scan] controls: unknown control {bad:?}; known: {}", known_controls());
            }
            ids
        }
    };
    let timezone = match raw.scan.timezone.as_deref() {
        None => chrono_tz::UTC,
        Some(name) => name.parse().map_err(|_| anyhow::anyhow!("[scan] timezone: {name:?} is not an IANA time zone such as \"Europe/Paris\""))?,
    };
    let schedule = match raw.scan.schedule.as_deref() {
        None => None,
        Some(text) => Some(parse_schedule(text)?),
    };
    let stale_after_intervals = raw.scan.stale_after_intervals.unwrap_or(3.0);
    if !(stale_after_intervals.is_finite() && stale_after_intervals >= 1.0) {
        bail!("[scan] stale_after_intervals must be at least 1");
    }
    if raw.store.path.as_os_str().is_empty() {
        bail!("[store] path must not be empty");
    }
    if raw.store.retention_days == Some(0) {
        bail!("[store] retention_days must be at least 1 (leave it out to keep everything)");
    }
    let mut waivers = Vec::new();
    for (i, w) in raw.waivers.into_iter().enumerate() {
        let key = format!("[[waivers]] #{}", i + 1);
        if !is_account_id(&w.account_id) {
            bail!("{key} account_id: {:?} is not a 12-digit account id", w.account_id);
        }
        if controls::find(&w.control).is_none() {
            bail!("{key} control: unknown control {:?}; known: {}", w.control, known_controls());
        }
        if w.reason.trim().is_empty() {
            bail!("{key} reason must say why the control does not apply");
        }
        let expires = match w.expires.as_deref() {
            None => None,
            Some(text) => Some(NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| anyhow::anyhow!("{key} expires: {text:?} is not a date like 2027-01-31"))?),
        };
        waivers.push(Waiver { account_id: w.account_id, control_id: w.control, reason: w.reason, expires });
    }
    if let Some(arn) = &raw.notify.sns_topic_arn
        && !(arn.starts_with("arn:") && arn.split(':').nth(2) == Some("sns") && arn.split(':').count() == 6) {
            bail!("[notify] sns_topic_arn: {arn:?} is not an SNS topic ARN");
        }
    if let Some(url) = &raw.notify.webhook_url {
        let parsed = reqwest::Url::parse(url).map_err(|e| anyhow::anyhow!("[notify] webhook_url: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            bail!("[notify] webhook_url must be an http or https URL");
        }
    }
    let http_listen = match raw.http.listen.as_deref() {
        None | Some("") => None,
        Some(addr) => Some(addr.parse().map_err(|_| anyhow::anyhow!("[http] listen: {addr:?} is not an address like 127.0.0.1:9417"))?),
    };
    let advice = validate_advice(raw.advice)?;
    let json = match raw.log.format.as_deref() {
        None | Some("text") => false,
        Some("json") => true,
        Some(other) => bail!("[log] format must be \"text\" or \"json\", not {other:?}"),
    };
    Ok(Config {
        aws: AwsConfig { region: raw.aws.region, max_attempts, operation_timeout, attempt_timeout },
        organization: OrganizationConfig {
            audit_role_name: role.to_owned(),
            external_id: raw.organization.external_id,
            include_accounts: raw.organization.include_accounts,
            exclude_accounts: raw.organization.exclude_accounts,
        },
        scan: ScanConfig {
            concurrency,
            controls,
            account_timeout: Duration::from_secs(raw.scan.account_timeout_seconds.unwrap_or(300).max(1)),
            schedule_text: raw.scan.schedule.clone(),
            schedule,
            timezone,
            run_on_start: raw.scan.run_on_start.unwrap_or(true),
            grace_period: Duration::from_secs(raw.scan.grace_period_seconds.unwrap_or(30)),
            stale_after_intervals,
        },
        store: StoreConfig { path: raw.store.path, retention_days: raw.store.retention_days },
        waivers,
        notify: NotifyConfig { sns_topic_arn: raw.notify.sns_topic_arn, webhook_url: raw.notify.webhook_url },
        http_listen,
        log: LogConfig { json, level: raw.log.level },
        advice,
    })
}

fn validate_advice(raw: RawAdvice) -> anyhow::Result<AdviceConfig> {
    let defaults = AdviceConfig::default();
    let every = match raw.every.as_deref() {
        None => defaults.every,
        Some(text) => parse_interval(text).ok_or_else(|| anyhow::anyhow!("[advice] every: {text:?} is not a duration like 12h, 1d or 7d"))?,
    };
    if every < Duration::from_secs(60) {
        bail!("[advice] every must be at least 1m");
    }
    let window_days = raw.window_days.unwrap_or(defaults.window_days);
    if !(1..=orgwatch_core::evaluate::advice::MAX_WINDOW_DAYS).contains(&window_days) {
        bail!("[advice] window_days must be between 1 and {} (CloudWatch keeps an alarm's history 30 days), not {window_days}", orgwatch_core::evaluate::advice::MAX_WINDOW_DAYS);
    }
    let noisy_per_day = raw.noisy_per_day.unwrap_or(defaults.noisy_per_day);
    if !(noisy_per_day.is_finite() && noisy_per_day >= 0.0) {
        bail!("[advice] noisy_per_day must be a number of at least 0");
    }
    Ok(AdviceConfig { enabled: raw.enabled.unwrap_or(defaults.enabled), every, window_days, noisy_per_day })
}

/// `30m`, `12h`, `1d`, `2w`.
fn parse_interval(text: &str) -> Option<Duration> {
    let text = text.trim();
    let unit = text.chars().last()?;
    let n: u64 = text[..text.len() - unit.len_utf8()].parse().ok()?;
    let seconds = match unit {
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return None,
    };
    n.checked_mul(seconds).map(Duration::from_secs)
}

/// Parses a cron expression: five fields, or six with seconds first.
pub fn parse_schedule(text: &str) -> anyhow::Result<croner::Cron> {
    let fields = text.split_whitespace().count();
    if !(fields == 5 || fields == 6) {
        bail!("[scan] schedule: {text:?} has {fields} fields; expected 5 (minute hour day month weekday) or 6 (with seconds first)");
    }
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Optional)
        .build()
        .parse(text)
        .map_err(|e| anyhow::anyhow!("[scan] schedule: {text:?} is not a valid cron expression: {e}"))
}

fn known_controls() -> String {
    controls::all().iter().map(|c| c.id).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[aws]
region = "us-east-1"
[organization]
audit_role_name = "OrgwatchAudit"
[store]
path = "orgwatch.db"
"#;

    #[test]
    fn a_minimal_config_gets_the_documented_defaults() {
        let config = Config::parse(MINIMAL).unwrap();
        assert_eq!(config.scan.concurrency, DEFAULT_CONCURRENCY);
        assert_eq!(config.scan.controls.len(), controls::all().len());
        assert!(config.scan.run_on_start);
        assert_eq!(config.aws.max_attempts, 8);
        assert!(config.http_listen.is_none());
        assert!(config.scan.schedule.is_none());
        assert_eq!(config.advice, AdviceConfig { enabled: true, every: Duration::from_secs(86_400), window_days: 7, noisy_per_day: 1.0 });
    }

    #[test]
    fn advice_is_gathered_once_per_every_with_a_little_slack() {
        let config = Config::parse(&format!("{MINIMAL}\n[advice]\nevery = \"1d\"\nwindow_days = 14\nnoisy_per_day = 2.5\n")).unwrap();
        assert_eq!((config.advice.window_days, config.advice.noisy_per_day), (14, 2.5));
        let advice = config.advice;
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-03T06:00:00Z").unwrap().to_utc();
        let ago = |minutes: i64| Some(now - chrono::Duration::minutes(minutes));
        assert!(advice.due(None, now), "never gathered");
        assert!(advice.due(ago(24 * 60), now));
        assert!(advice.due(ago(24 * 60 - 30), now), "half an hour early still counts");
        assert!(!advice.due(ago(23 * 60 - 1), now), "more than an hour early does not");
        assert!(!advice.due(ago(5), now));
        let off = AdviceConfig { enabled: false, ..advice };
        assert!(!off.due(None, now));
        assert_eq!(parse_interval("12h"), Some(Duration::from_secs(12 * 3600)));
        assert_eq!(parse_interval("2w"), Some(Duration::from_secs(14 * 86_400)));
        assert_eq!(parse_interval("99999999999999999w"), None);
        assert_eq!(parse_interval("h"), None);
        assert_eq!(parse_interval("é"), None);
    }

    #[test]
    fn the_example_config_is_valid() {
        let text = include_str!("../../../config/orgwatch.example.toml");
        let config = Config::parse(text).unwrap();
        assert!(config.scan.schedule.is_some());
        assert_eq!(config.waivers.len(), 1);
    }

    /// (addition to the minimal config, words the error must contain)
    #[test]
    fn bad_configs_are_refused_with_the_key_named() {
        let cases: &[(&str, &str)] = &[
            ("[scan]\nconcurency = 4", "concurency"),
            ("[scan]\nconcurrency = 0", "[scan] concurrency"),
            ("[scan]\nconcurrency = \"many\"", "concurrency"),
            ("[scan]\ncontrols = [\"nope\"]", "unknown control \"nope\""),
            ("[scan]\nschedule = \"every day\"", "[scan] schedule"),
            ("[scan]\nschedule = \"61 * * * *\"", "not a valid cron"),
            ("[scan]\ntimezone = \"Mars/Olympus\"", "[scan] timezone"),
            ("[[waivers]]\naccount_id = \"123\"\ncontrol = \"unauthorized-api-calls\"\nreason = \"x\"", "account_id"),
            ("[[waivers]]\naccount_id = \"123456789012\"\ncontrol = \"unauthorized-api-calls\"\nreason = \"x\"\nexpires = \"soon\"", "expires"),
            ("[notify]\nsns_topic_arn = \"topic\"", "sns_topic_arn"),
            ("[notify]\nwebhook_url = \"ftp://x\"", "webhook_url"),
            ("[http]\nlisten = \"localhost\"", "[http] listen"),
            ("[log]\nformat = \"xml\"", "[log] format"),
            ("[extra]\nkey = 1", "extra"),
            ("[advice]\nevery = \"daily\"", "[advice] every"),
            ("[advice]\nevery = \"30s\"", "[advice] every"),
            ("[advice]\nevery = \"0m\"", "at least 1m"),
            ("[advice]\nwindow_days = 0", "[advice] window_days"),
            ("[advice]\nwindow_days = 31", "between 1 and 30"),
            ("[advice]\nnoisy_per_day = -1", "[advice] noisy_per_day"),
            ("[advice]\nnoisy_per_day = nan", "[advice] noisy_per_day"),
            ("[advice]\nwindow = 7", "window"),
        ];
        for (extra, expected) in cases {
            let text = format!("{MINIMAL}\n{extra}\n");
            let err = format!("{:#}", Config::parse(&text).unwrap_err());
            assert!(err.contains(expected), "{extra}: {err}");
        }
        let err = format!("{:#}", Config::parse("[aws]\nregion = \"us-east-1\"").unwrap_err());
        assert!(err.contains("organization"), "{err}");
        let err = format!("{:#}", Config::parse(&MINIMAL.replace("[organization]", "[organization]\ninclude_accounts = [\"12\"]")).unwrap_err());
        assert!(err.contains("include_accounts"), "{err}");
    }

    #[test]
    fn the_external_id_from_the_environment_wins_over_the_file() {
        let with_file = MINIMAL.replace("[organization]", "[organization]\nexternal_id = \"from-the-file\"");
        assert_eq!(Config::parse(&with_file).unwrap().organization.external_id.as_deref(), Some("from-the-file"));
        let config = Config::parse_with_external_id(&with_file, Some("from-the-secret".into())).unwrap();
        assert_eq!(config.organization.external_id.as_deref(), Some("from-the-secret"));
        assert_eq!(Config::parse_with_external_id(MINIMAL, Some("only-env".into())).unwrap().organization.external_id.as_deref(), Some("only-env"));
        for bad in ["", "x", &"x".repeat(1225)] {
            let err = format!("{:#}", Config::parse_with_external_id(MINIMAL, Some(bad.to_owned())).unwrap_err());
            assert!(err.contains(EXTERNAL_ID_ENV) && err.contains("2 to 1224"), "{err}");
        }
        let err = format!("{:#}", Config::parse_with_external_id(MINIMAL, Some("s".into())).unwrap_err());
        assert!(!err.contains("\"s\""), "the value is not printed: {err}");
    }

    #[test]
    fn the_health_probe_asks_an_unspecified_listen_address_on_loopback() {
        let probe = |listen: &str| Config::parse(&format!("{MINIMAL}\n[http]\nlisten = \"{listen}\"\n")).unwrap().http_probe_address().unwrap().to_string();
        assert_eq!(probe("0.0.0.0:9417"), "127.0.0.1:9417");
        assert_eq!(probe("[::]:9417"), "[::1]:9417");
        assert_eq!(probe("127.0.0.1:9000"), "127.0.0.1:9000");
        assert_eq!(probe("127.0.0.2:9417"), "127.0.0.2:9417");
        assert!(Config::parse(MINIMAL).unwrap().http_probe_address().is_none());
    }

    #[test]
    fn schedules_take_five_or_six_fields() {
        assert!(parse_schedule("*/5 * * * *").is_ok());
        assert!(parse_schedule("30 */5 * * * *").is_ok());
        assert!(parse_schedule("* * * *").is_err());
    }
}
