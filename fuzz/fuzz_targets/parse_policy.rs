//! Any bytes as a resource policy: parsing and deciding must never panic, overflow or hang.
//! Run on the stable toolchain with `RUSTC_BOOTSTRAP=1 cargo fuzz run parse_policy` from the
//! repository root.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orgwatch_core::policy::{AccessRequest, Context, Policy};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(policy) = Policy::parse(text) {
        let context = Context::new()
            .with("aws:SourceArn", ["arn:aws:cloudwatch:us-east-1:111111111111:alarm:unauthorized-api-calls"])
            .with("aws:SourceAccount", ["111111111111"])
            .with("aws:SourceOwner", ["111111111111"])
            .with("aws:SourceOrgID", ["o-exampleorgid"])
            .with("aws:TagKeys", ["team", "env"])
            .absent("aws:PrincipalOrgID")
            .unknown("aws:SourceOrgPaths", "not read");
        for action in ["sns:Publish", "kms:Decrypt", "kms:GenerateDataKey"] {
            let request = AccessRequest {
                service: "cloudwatch.amazonaws.com",
                action,
                resource: "arn:aws:sns:us-east-1:222222222222:security-alerts",
                context: &context,
            };
            let _ = policy.decide(&request);
        }
        let _ = policy.names_key("aws:SourceOrgPaths");
        for statement in policy.statements() {
            let _ = statement.label();
        }
    }
});
