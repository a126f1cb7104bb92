//! Tencent Cloud, shared by the COS store, the CI / IMS / TIIA analyzers, the TDMQ CMQ sink and
//! the SCF runtime: COS request signing and its signed client, TC3 signing and the API 3.0 client,
//! the error-code table with its retry classification, and the variable names.

pub mod api;
pub mod cos;
pub mod cos_sign;
pub mod errors;
pub mod tc3;

/// The region of buckets and API calls when the event names none (SCF sets it).
pub const REGION_VAR: &str = "TENCENTCLOUD_REGION";
/// The credential variables of Tencent's SDKs: secret id, secret key, session token.
pub const CREDENTIAL_VARS: [&str; 3] = [
    "TENCENTCLOUD_SECRETID",
    "TENCENTCLOUD_SECRETKEY",
    "TENCENTCLOUD_SESSIONTOKEN",
];
/// Tencent's API 3.0 region ids (`ap-guangzhou`, `na-siliconvalley`, ...): lower-case letters,
/// digits and dashes. Anything else in a host would change which host is called.
pub fn valid_region(region: &str) -> bool {
    crate::client::valid_region_id(region)
}
