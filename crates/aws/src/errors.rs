//! Turning SDK errors into what the core and the operator need to know.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use orgwatch_core::Unobserved;

/// An organization-level call that failed (DescribeOrganization, ListAccounts) or the one
/// write (`sns:Publish`). Its `Display` says everything once; it has no `source`.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// The service answered with an error.
    #[error("{operation} failed: {message}")]
    Service { operation: &'static str, code: Option<String>, message: String },
    /// Nothing usable came back: no credentials, no network, a timeout.
    #[error("{operation} could not be called: {message}")]
    Client { operation: &'static str, message: String },
}

/// Error codes by which a service says the caller may not do this (SNS says
/// `AuthorizationError`).
const ACCESS_DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthorizationError",
    "AuthFailure",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
];

/// Error codes of throttling.
const THROTTLING_CODES: &[&str] = &["Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded", "Throttled", "SlowDown"];

/// Error codes by which SNS says a topic does not exist.
const NOT_FOUND_CODES: &[&str] = &["NotFound", "NotFoundException"];

pub(crate) fn is_throttling(code: Option<&str>) -> bool {
    code.is_some_and(|c| THROTTLING_CODES.contains(&c))
}

/// What went wrong with one call, classified once.
#[derive(Debug)]
pub(crate) struct CallError {
    pub code: Option<String>,
    pub message: String,
    /// The service answered (as opposed to: no answer, a timeout, a dispatch failure).
    pub service_error: bool,
}

impl CallError {
    pub fn from_sdk<E, R>(err: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + 'static,
    {
        match err {
            SdkError::ServiceError(service) => {
                let inner = service.err();
                let code = inner.code().map(str::to_owned);
                let message = match (inner.code(), inner.message()) {
                    (Some(code), Some(message)) => format!("{code}: {message}"),
                    (Some(code), None) => code.to_owned(),
                    (None, Some(message)) => message.to_owned(),
                    (None, None) => orgwatch_core::error_chain(err),
                };
                CallError { code, message, service_error: true }
            }
            other => CallError { code: None, message: orgwatch_core::error_chain(other), service_error: false },
        }
    }

    pub fn is_access_denied(&self) -> bool {
        self.code.as_deref().is_some_and(|c| ACCESS_DENIED_CODES.contains(&c))
    }

    pub fn is_not_found(&self) -> bool {
        self.code.as_deref().is_some_and(|c| NOT_FOUND_CODES.contains(&c))
    }

    /// The fact of a chain read that could not be made: access denied or an API error.
    pub fn into_unobserved(self, operation: &str) -> Unobserved {
        if self.is_access_denied() {
            Unobserved::access_denied(operation, self.message)
        } else {
            Unobserved::api_error(operation, self.message)
        }
    }

    pub fn into_aws_error(self, operation: &'static str) -> AwsError {
        if self.service_error {
            AwsError::Service { operation, code: self.code, message: self.message }
        } else {
            AwsError::Client { operation, message: self.message }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sns::operation::get_topic_attributes::GetTopicAttributesError;
    use aws_smithy_types::error::ErrorMetadata;
    use orgwatch_core::UnobservedKind;
    use std::error::Error as _;

    fn service_error(code: &str, message: &str) -> SdkError<GetTopicAttributesError, ()> {
        let error = GetTopicAttributesError::generic(ErrorMetadata::builder().code(code).message(message).build());
        SdkError::service_error(error, ())
    }

    #[test]
    fn access_denied_codes_become_access_denied_facts_with_code_and_message() {
        for code in ["AccessDenied", "AccessDeniedException", "AuthorizationError", "ExpiredToken"] {
            let error = CallError::from_sdk(&service_error(code, "not authorized"));
            assert!(error.service_error);
            let fact = error.into_unobserved("sns:GetTopicAttributes");
            assert_eq!(fact.kind, UnobservedKind::AccessDenied, "{code}");
            assert_eq!(fact.operation, "sns:GetTopicAttributes");
            assert_eq!(fact.message, format!("{code}: not authorized"));
        }
    }

    #[test]
    fn other_service_errors_and_timeouts_become_api_errors() {
        let fact = CallError::from_sdk(&service_error("InternalFailure", "oops")).into_unobserved("cloudtrail:GetTrailStatus");
        assert_eq!((fact.kind, fact.message.as_str()), (UnobservedKind::ApiError, "InternalFailure: oops"));

        let timeout: SdkError<GetTopicAttributesError, ()> = SdkError::timeout_error("operation timed out");
        let error = CallError::from_sdk(&timeout);
        assert!(!error.service_error && error.code.is_none());
        assert!(error.message.contains("operation timed out"), "{}", error.message);
        assert_eq!(error.into_unobserved("logs:DescribeMetricFilters").kind, UnobservedKind::ApiError);
    }

    #[test]
    fn throttling_and_not_found_are_recognised_by_code() {
        assert!(is_throttling(Some("ThrottlingException")) && is_throttling(Some("Throttling")));
        assert!(!is_throttling(Some("AccessDenied")) && !is_throttling(None));
        assert!(CallError::from_sdk(&service_error("NotFound", "Topic does not exist")).is_not_found());
        assert!(!CallError::from_sdk(&service_error("AuthorizationError", "no")).is_not_found());
    }

    #[test]
    fn aws_errors_print_each_cause_once_and_have_no_source() {
        let service = CallError::from_sdk(&service_error("AccessDeniedException", "You don't have permissions")).into_aws_error("organizations:ListAccounts");
        assert!(matches!(&service, AwsError::Service { code: Some(code), .. } if code == "AccessDeniedException"));
        let text = service.to_string();
        assert_eq!(text, "organizations:ListAccounts failed: AccessDeniedException: You don't have permissions");
        assert!(service.source().is_none());

        let timeout: SdkError<GetTopicAttributesError, ()> = SdkError::timeout_error("operation timed out");
        let client = CallError::from_sdk(&timeout).into_aws_error("sns:Publish");
        assert!(matches!(client, AwsError::Client { .. }));
        let text = client.to_string();
        assert_eq!(text, "sns:Publish could not be called: request has timed out: operation timed out");
        assert_eq!(text.matches("operation timed out").count(), 1, "{text}");
        assert!(client.source().is_none());
    }
}
