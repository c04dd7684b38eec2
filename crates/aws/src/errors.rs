//! Turning SDK errors into what the core and the operator need to know.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use orgwatch_core::Unobserved;

/// An error that stops collection before any account is looked at.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// The service answered with an error.
    #[error("{operation} failed: {message}")]
    Service { operation: &'static str, code: Option<String>, message: String },
    /// Nothing usable came back: no credentials, no network, a timeout.
    #[error("{operation} could not be called: {message}")]
    Client { operation: &'static str, message: String },
}

/// Error codes by which a service says the caller may not do this.
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

pub(crate) fn is_throttling(code: Option<&str>) -> bool {
    code.is_some_and(|c| THROTTLING_CODES.contains(&c))
}

/// What went wrong with one call, classified once.
pub(crate) struct CallError {
    pub code: Option<String>,
    pub message: String,
    pub service_error: bool,
}

impl CallError {
    pub fn from_sdk<E, R>(err: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        match err {
            SdkError::ServiceError(service) => {
                let inner = service.err();
                let code = inner.code().map(str::to_owned);
                let message = match (inner.code(), inner.message()) {
                    (Some(code), Some(message)) => format!("{code}: {message}"),
                    (Some(code), None) => code.to_owned(),
                    (None, Some(message)) => message.to_owned(),
                    (None, None) => format!("{}", DisplayErrorContext(err)),
                };
                CallError { code, message, service_error: true }
            }
            other => CallError { code: None, message: format!("{}", DisplayErrorContext(other)), service_error: false },
        }
    }

    pub fn is_access_denied(&self) -> bool {
        self.code.as_deref().is_some_and(|c| ACCESS_DENIED_CODES.contains(&c))
    }

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
