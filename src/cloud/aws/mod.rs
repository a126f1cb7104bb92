//! AWS: SigV4 (shared by the S3 store and the SQS sink) and the SDK's variable names.

pub mod sigv4;

/// The region variables the AWS SDKs read, in their order.
pub const REGION_VARS: [&str; 2] = ["AWS_REGION", "AWS_DEFAULT_REGION"];
/// The credential variables of the AWS SDKs: access key id, secret key, session token.
pub const CREDENTIAL_VARS: [&str; 3] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];

/// AWS region ids (`us-east-1`, `cn-northwest-1`, `us-gov-west-1`): lower-case letters, digits
/// and dashes. Anything else in a host name would change which host is called.
pub fn valid_region(region: &str) -> bool {
    crate::client::valid_region_id(region)
}
