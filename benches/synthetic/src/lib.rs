//! A synthetic AWS Organization for orgwatch's **benchmarks only** (correctness tests stay on
//! moto, `tests/emulator/`): small, fast, deterministic, and spoken to by the real AWS SDK for
//! Rust over the real wire protocols, on `127.0.0.1` only.
//!
//! [`Organization::generate`] draws an organization from an [`OrgSpec`] (accounts, the CIS
//! control family or only `unauthorized-api-calls`, a seed); [`Server::start`] serves it over
//! HTTP/1.1 with keep-alive, with an optional latency before every answer and throttling of
//! every Nth call ([`ServerSettings`]), and counts calls by operation and by account, and each
//! account's CloudWatch calls in a sliding second ([`Server::cloudwatch_calls_per_second`]: the
//! most that arrived within any one second, against CloudWatch's quota of 9).
//! [`Organization::expected`] says which finding orgwatch must reach for each (account,
//! control).
//!
//! # Protocols
//!
//! - awsJson1.1 (`POST /`, `X-Amz-Target`): CloudTrail `DescribeTrails`, `GetTrailStatus`,
//!   `GetEventSelectors`; CloudWatch Logs `DescribeMetricFilters`; Organizations
//!   `DescribeOrganization` (with the organization's `Id`), `ListAccounts` (20 accounts a page,
//!   `NextToken`); KMS `DescribeKey`, `GetKeyPolicy` (`TrentService.*`). Errors are HTTP 400
//!   `{"__type", "message"}`.
//! - awsQuery (`POST /`, form `Action=…`, XML answers): STS `AssumeRole`, SNS
//!   `GetTopicAttributes`, `ListSubscriptionsByTopic`. Errors are
//!   `<ErrorResponse><Error><Type>Sender</Type><Code>…` (AccessDenied 403, AuthorizationError
//!   403, NotFound 404, Throttling 400).
//! - Smithy RPC v2 CBOR: CloudWatch `DescribeAlarms` and `DescribeAlarmHistory`
//!   (`POST /service/GraniteServiceVersion20100801/operation/<Operation>`). `DescribeAlarms`:
//!   `MetricAlarms` (plain ones, and metric-math ones with `Metrics`) and, when `AlarmTypes`
//!   names `CompositeAlarm`, `CompositeAlarms` (without `AlarmTypes`, metric alarms only, as
//!   AWS), each kind sorted by name, `MaxRecords` at most [`ALARMS_PAGE`] (50 unless given),
//!   `NextToken`. The history: `Action` items only, of the alarm `AlarmName` names or, without
//!   it, of every alarm merged newest first (equal timestamps in control order), each item with
//!   its `AlarmName`; newest first unless `ScanBy` is `TimestampAscending`, `MaxRecords` at most
//!   [`HISTORY_PAGE`], `NextToken`. Any other operation (`DescribeAlarmsForMetric`, which
//!   orgwatch no longer calls, included) is `UnknownOperationException`.
//!
//! The caller's account is read from the SigV4 `Authorization` header's access key: the keys
//! `AssumeRole` hands out are `ASIA` + the account's 12-digit id + 4 characters; any other key
//! is orgwatch's own and acts in the management account. Signatures are not checked.
//!
//! # Semantics (as `orgwatch_aws::memory::MemoryOrg`, as AWS)
//!
//! - `AssumeRole` into `arn:aws:iam::<id>:role/<any name>` succeeds for the organization's
//!   accounts except the refused ones (AccessDenied, 403), and for no account outside it.
//! - `DescribeTrails` shows the caller's own trail and, to a member the organization trail
//!   covers, the management account's organization trail. `GetTrailStatus` and
//!   `GetEventSelectors` answer only the owner (`TrailNotFoundException` otherwise).
//! - `DescribeMetricFilters` looks the log group up in the caller's account
//!   (`ResourceNotFoundException` when it has none); `DescribeAlarms` answers the caller's
//!   alarms (none without a log group).
//! - SNS refuses another account's topic with `AuthorizationError` (the default topic policy);
//!   a missing topic is `NotFound`. `Policy` is SNS's default topic policy
//!   (`orgwatch_core::facts::default_topic_policy`), with one more statement on the central
//!   topic (below).
//! - KMS answers the caller's own keys only: a key by key id or key ARN, or by alias name or
//!   alias ARN for `DescribeKey` (`alias/aws/sns` is the account's AWS-managed key); another
//!   account's key is `AccessDeniedException`, an unknown one `NotFoundException`.
//!   `GetKeyPolicy` answers the policy named `default`.
//! - `DescribeAlarmHistory` of an alarm the caller does not have is empty, as CloudWatch; only
//!   each control's metric alarm has a history (composite alarms have none).
//!
//! # The organization
//!
//! Everything lives in [`REGION`]. The management account ([`MANAGEMENT_ACCOUNT_ID`]) has a
//! logging multi-region organization trail delivering to CloudWatch Logs, a compliant chain for
//! every deployed control and its own `security-alerts` topic with a confirmed subscription.
//! Member ids are twelve digits, spread from a seeded start. Of the members:
//!
//! - one security account: a compliant chain of its own and the central `security-alerts`
//!   topic (two confirmed subscriptions; encrypted with the security account's
//!   customer-managed key, named by key ARN, whose policy grants CloudWatch; its policy SNS's
//!   default statement and `Allow` `sns:Publish` to `Principal {"Service":
//!   "cloudwatch.amazonaws.com"}` on `StringEquals aws:SourceOrgID` = the organization's id),
//!   and the [`LEGACY_TOPIC_NAME`] topic left with SNS's default policy;
//! - ~15% "central topic" members: their own trail, filters and alarms, whose alarms notify
//!   the security account's topic (read with the security account's role, its key too);
//! - ~10% "covered" members: no trail of their own; they see the organization trail, whose
//!   chain is read in the management account. **Simplification:** on AWS an organization
//!   trail covers every member; here it covers only these, so that the other members can
//!   carry every FAIL reason (an account that sees a passing organization trail passes);
//! - from 100 accounts, `max(1, N/100)` accounts (≈1%) for each of the eighteen breaks
//!   ([`Break`]: fourteen from the trail to the topic's AWS-managed key; alarms to the legacy topic,
//!   `SNS_TOPIC_POLICY_DENIES_PUBLISH`; a topic key whose policy is only the account-root
//!   delegation, named by alias ARN and by key ARN, `SNS_TOPIC_UNPUBLISHABLE`; a latest failed
//!   notification in the alarm history, `ALARM_ACTION_FAILED`) and as many whose audit role is
//!   refused (`ERROR ROLE_ASSUMPTION_FAILED`); a break applies to the chain of every deployed
//!   control, so each control fails the same way;
//! - from 100 accounts, as many again of each compliant variant: a topic encrypted with the
//!   account's customer-managed key granting CloudWatch, named by alias ([`KEY_ALIAS`]) and by
//!   key ARN ([`Kind::Encrypted`]); an alarm history whose latest notification to the topic
//!   succeeded, and one where a run of failures (more than a page) was followed by a success
//!   ([`Kind::Notified`]);
//! - from 100 accounts, as many again of each alarm variant ([`ALARM_VARIANTS`]), otherwise
//!   compliant (own topic, SNS's default policy, no alarm history): the control's metric alarm
//!   with actions enabled and no `AlarmActions`, a metric alarm [`OTHER_SIGNAL_ALARM`] on
//!   `Synthetic/OtherSignal`, and a composite `<control>-composite` notifying the topic, its
//!   rule `ALARM("<control>-alarm") OR ALARM("other-signal")` (PASS), the same without actions
//!   under a second composite `<control>-pager` naming it by ARN (PASS), `… AND …`
//!   (`ALARM_CANNOT_FIRE`), `OR` with the composite's actions disabled
//!   (`ALARM_ACTIONS_DISABLED`) ([`Kind::Composite`]); a metric-math alarm per control,
//!   `FILL(m1, 0)` of the control's metric (PASS), or `FILL(m2, 0)` of another metric beside it
//!   (`NO_ALARM_ON_METRIC`) ([`Kind::MetricMath`]); and [`FILLER_ALARMS`] unrelated metric alarms
//!   more, so that DescribeAlarms takes three pages ([`Kind::ManyAlarms`], PASS);
//! - the rest (~45%) compliant with their own multi-region trail and whole chain, an
//!   unencrypted topic with SNS's default policy and no alarm history.
//!
//! Own topics keep SNS's default policy, which admits the owner's alarms, composite ones too.
//! About 78% of the accounts pass. [`Kind::dependent_waves`] and [`Kind::expected_calls`] say
//! what judging each kind of account costs, for the benchmark's bound and its tests: a
//! compliant account takes five rounds and nine calls whether one control or the whole family
//! is deployed (one DescribeAlarms with the filters, the topic once, one page of history).
//!
//! Each deployed control has a metric filter on `CloudTrail/Default` with its first published
//! pattern (`orgwatch_core::controls`), publishing `1` to metric [`orgwatch_core::controls::metric_name`] in
//! [`NAMESPACE`], and an alarm `<id>-alarm`: `Sum >= 1`, one period, actions enabled (a
//! metric-math alarm for [`Kind::MetricMath`]). Kinds are
//! shuffled over the members with the seed. An account is one byte: what its APIs answer is
//! derived from its id and kind on each call, and the metric-filter answers are rendered once.
#![forbid(unsafe_code)]

mod org;
mod server;
mod wire;

pub use org::{
    ADVICE_WINDOW_DAYS, ALARM_VARIANTS, ALARMS_PAGE, AdviceScan, Break, CompositeShape, FILLER_ALARMS, HISTORY_OWN_PAGES, HISTORY_PAGE, HISTORY_STATES_PAGES, History, KEY_ALIAS,
    KeyNaming, Kind, LEGACY_TOPIC_NAME, LOG_GROUP, MANAGEMENT_ACCOUNT_ID, MIN_ACCOUNTS_WITH_BREAKS, MathShape, NAMESPACE, OTHER_METRIC, OTHER_NAMESPACE, OTHER_SIGNAL_ALARM, OrgSpec,
    Organization, RECOVERED_ITEMS, REGION, TOPIC_NAME,
};
pub use server::{Server, ServerSettings};
