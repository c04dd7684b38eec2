//! The one write orgwatch makes: `sns:Publish` of a drift summary to the operator's own
//! notification topic (`[notify] sns_topic_arn`), with orgwatch's own identity — the base
//! environment's credentials, never an audited account's role. It lives apart from the audit
//! reads on purpose: nothing that reads an audited account can publish.

use crate::errors::{AwsError, CallError};
use crate::sdk::load_base_config;
use aws_config::Region;
use orgwatch_core::facts::arn_region;
use std::time::Duration;

/// The one write, as IAM names it: what orgwatch's own identity needs for `[notify]
/// sns_topic_arn`, besides the organization and STS operations of [`crate::AUDIT_OPERATIONS`].
pub const PUBLISH_OPERATION: &str = "sns:Publish";

/// Attempts per publish in standard retry mode.
const MAX_ATTEMPTS: u32 = 3;
/// Bound on one publish, retries included.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on one attempt.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Publishes to the operator's own topic; see the module documentation.
#[derive(Clone, Debug)]
pub struct SnsPublisher {
    region: String,
    /// The client of `region`; a topic in another region gets a client built from its config.
    client: aws_sdk_sns::Client,
}

impl SnsPublisher {
    /// Loads the standard AWS environment (credentials chain, `AWS_ENDPOINT_URL`, profile) with
    /// one HTTP client; `region` is used for a topic ARN that names none.
    pub async fn new(region: &str) -> Self {
        let config = load_base_config(region, MAX_ATTEMPTS, OPERATION_TIMEOUT, ATTEMPT_TIMEOUT).await;
        SnsPublisher { region: region.to_owned(), client: aws_sdk_sns::Client::new(&config) }
    }

    /// `sns:Publish` of `message` with `subject`, in the region the topic's ARN names.
    pub async fn publish(&self, topic_arn: &str, subject: &str, message: &str) -> Result<(), AwsError> {
        let region = arn_region(topic_arn).unwrap_or(&self.region);
        let client = if region == self.region {
            self.client.clone()
        } else {
            let config = self.client.config().to_builder().region(Region::new(region.to_owned())).build();
            aws_sdk_sns::Client::from_conf(config)
        };
        let result = client.publish().topic_arn(topic_arn).subject(subject).message(message).send().await;
        result.map(|_| ()).map_err(|e| CallError::from_sdk(&e).into_aws_error(PUBLISH_OPERATION))
    }
}
