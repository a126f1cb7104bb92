//! Huawei Cloud, shared by the OBS store, the Image Tagging / Moderation analyzers and the
//! FunctionGraph runtime: API Gateway signing and its JSON client with the error table, the
//! region rules, and the variable names.

pub mod api;
pub mod apig;

/// Default region when neither the configuration nor the SDK variables name one.
pub const DEFAULT_REGION: &str = "cn-north-4";

/// Where the region comes from, first set wins. Not taken from events: OBS's documented
/// S3-shaped samples carry the placeholder `"awsRegion": "region"`.
pub const REGION_VARS: [&str; 4] = [
    "TRIAGE_HUAWEI_REGION",
    "TRIAGE_OBS_REGION",
    "HUAWEICLOUD_SDK_REGION",
    "RUNTIME_REGION",
];

/// `HUAWEICLOUD_SDK_PROJECT_ID`, else FunctionGraph's `RUNTIME_PROJECT_ID`.
pub const PROJECT_ID_VARS: [&str; 2] = ["HUAWEICLOUD_SDK_PROJECT_ID", "RUNTIME_PROJECT_ID"];

/// The credential variables of Huawei's SDKs: AK, SK, security token.
pub const CREDENTIAL_VARS: [&str; 3] = [
    "HUAWEICLOUD_SDK_AK",
    "HUAWEICLOUD_SDK_SK",
    "HUAWEICLOUD_SDK_SECURITY_TOKEN",
];

/// The Huawei region this function works in (OBS hosts and the AI services' hosts).
pub fn region(env: &crate::config::Env) -> String {
    REGION_VARS
        .iter()
        .find_map(|v| env.get(v))
        .unwrap_or(DEFAULT_REGION)
        .to_string()
}

/// The project id of the AI services' paths.
pub fn project_id(env: &crate::config::Env) -> Option<String> {
    PROJECT_ID_VARS
        .iter()
        .find_map(|v| env.get(v))
        .map(str::to_string)
}

/// Huawei region ids (`cn-north-4`, `ap-southeast-1`, `la-south-2`): lower-case letters, digits
/// and dashes. Anything else in a host would change which host is called.
pub fn valid_region(region: &str) -> bool {
    crate::client::valid_region_id(region)
}
