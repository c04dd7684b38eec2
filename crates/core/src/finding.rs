//! Findings: one per (account, control), with a status, a reason code, a sentence and evidence.
//!
//! The reason codes are part of orgwatch's user-facing contract (they are stored in SQLite and
//! printed); their spelling never changes.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Pass,
    Fail,
    /// A link could not be seen; never guessed as PASS or FAIL.
    Error,
    /// Waived by configuration.
    NotApplicable,
}

impl Status {
    pub const ALL: [Status; 4] = [Status::Pass, Status::Fail, Status::Error, Status::NotApplicable];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Error => "ERROR",
            Status::NotApplicable => "NOT_APPLICABLE",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str().eq_ignore_ascii_case(text))
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! reasons {
    ($($variant:ident => $code:literal, $status:ident;)*) => {
        /// Why a finding has its status.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub enum Reason { $($variant,)* }

        impl Reason {
            pub const ALL: &'static [Reason] = &[$(Reason::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(Reason::$variant => $code,)* }
            }

            /// The status a finding with this reason has.
            pub fn status(self) -> Status {
                match self { $(Reason::$variant => Status::$status,)* }
            }
        }
    };
}

reasons! {
    Compliant => "COMPLIANT", Pass;
    NoMultiRegionTrail => "NO_MULTI_REGION_TRAIL", Fail;
    TrailNotLogging => "TRAIL_NOT_LOGGING", Fail;
    ManagementEventsNotCaptured => "MANAGEMENT_EVENTS_NOT_CAPTURED", Fail;
    TrailNotSendingToCloudwatch => "TRAIL_NOT_SENDING_TO_CLOUDWATCH", Fail;
    CloudwatchDeliveryFailing => "CLOUDWATCH_DELIVERY_FAILING", Fail;
    NoMatchingMetricFilter => "NO_MATCHING_METRIC_FILTER", Fail;
    MetricFilterNeverCounts => "METRIC_FILTER_NEVER_COUNTS", Fail;
    NoAlarmOnMetric => "NO_ALARM_ON_METRIC", Fail;
    AlarmActionsDisabled => "ALARM_ACTIONS_DISABLED", Fail;
    AlarmCannotFire => "ALARM_CANNOT_FIRE", Fail;
    NoAlarmNotification => "NO_ALARM_NOTIFICATION", Fail;
    SnsTopicNotFound => "SNS_TOPIC_NOT_FOUND", Fail;
    NoConfirmedSubscription => "NO_CONFIRMED_SUBSCRIPTION", Fail;
    SnsTopicUnpublishable => "SNS_TOPIC_UNPUBLISHABLE", Fail;
    RoleAssumptionFailed => "ROLE_ASSUMPTION_FAILED", Error;
    AccessDenied => "ACCESS_DENIED", Error;
    ApiError => "API_ERROR", Error;
    OutsideOrganization => "OUTSIDE_ORGANIZATION", Error;
    NotInPlan => "NOT_IN_PLAN", Error;
    Waived => "WAIVED", NotApplicable;
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict on one control in one account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub account_id: String,
    pub control_id: String,
    pub status: Status,
    pub reason: Reason,
    /// One or two sentences for a person.
    pub message: String,
    pub evidence: Evidence,
}

/// What was examined to reach the verdict: every link of the chain reported, by ARN or name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The links of the reported chain, from the trail down to the subscription.
    pub links: Vec<EvidenceLink>,
    /// How many trail → filter → alarm → topic paths were judged.
    pub chains_examined: usize,
    /// Remarks that do not change the status: an over-broad filter, an expired waiver, …
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvidenceLink {
    pub kind: LinkKind,
    /// The ARN, or the name where the thing has no ARN (a metric filter, a metric).
    pub id: String,
    /// The account the link lives in (and whose audit role read it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkKind {
    Account,
    Trail,
    LogGroup,
    MetricFilter,
    Metric,
    Alarm,
    Topic,
    Subscription,
    Waiver,
}

impl EvidenceLink {
    pub fn new(kind: LinkKind, id: impl Into<String>) -> Self {
        EvidenceLink { kind, id: id.into(), account_id: None, detail: None }
    }

    pub fn with_detail(kind: LinkKind, id: impl Into<String>, detail: impl Into<String>) -> Self {
        EvidenceLink { kind, id: id.into(), account_id: None, detail: Some(detail.into()) }
    }

    /// The same link, naming the account it lives in.
    pub fn in_account(mut self, account_id: impl Into<String>) -> Self {
        self.account_id = Some(account_id.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_codes_serialize_as_their_contract_spelling() {
        for reason in Reason::ALL {
            let json = serde_json::to_string(reason).unwrap();
            assert_eq!(json, format!("\"{}\"", reason.as_str()));
        }
        assert_eq!(serde_json::to_string(&Status::NotApplicable).unwrap(), "\"NOT_APPLICABLE\"");
        assert_eq!(Status::parse("fail"), Some(Status::Fail));
        assert_eq!(Status::parse("nope"), None);
    }
}
