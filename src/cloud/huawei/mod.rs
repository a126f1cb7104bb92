//! Huawei Cloud, shared by the OBS store, the Image Tagging / Moderation analyzers and the
//! FunctionGraph runtime: API Gateway signing and its JSON client with the error table, the
//! region rules, and the variable names.

pub mod api;
pub mod apig;
pub mod credential;

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

/// Where each Image Recognition API is offered (seed 004, "使用限制"): image tagging in
/// 华北-北京四 and 华东-上海一; media tagging, celebrity recognition, main-object detection and
/// recapture detection in 华北-北京四 only.
pub const IMAGE_TAGGING_REGIONS: &[&str] = &["cn-north-4", "cn-east-3"];
pub const BEIJING4_ONLY: &[&str] = &["cn-north-4"];

/// `Err` naming the service, the region and where the service is offered.
pub fn check_offered(service: &str, offered: &[&str], region: &str) -> Result<(), String> {
    if offered.contains(&region) {
        return Ok(());
    }
    Err(format!(
        "{service} is not offered in {region}; it is offered in {} (Huawei Image Recognition, \
         usage limits)",
        offered.join(", ")
    ))
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

/// An OBS bucket name, checked before it becomes a host name (OBS naming rules): 3–63
/// lower-case letters, digits, `-` and `.`, starting and ending with a letter or digit, no
/// `..`, `.-` or `-.`, and not an IP address.
pub fn check_bucket(name: &str) -> Result<(), &'static str> {
    let ok = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && !name.contains("..")
        && !name.contains(".-")
        && !name.contains("-.")
        && name.parse::<std::net::Ipv4Addr>().is_err();
    ok.then_some(()).ok_or(
        "an OBS bucket name is 3-63 lower-case letters, digits, `-` and `.`, starting and ending with a letter or digit",
    )
}

#[cfg(test)]
mod bucket_tests {
    #[test]
    fn bucket_names() {
        for ok in ["photos", "my.bucket-1", "abc"] {
            assert!(super::check_bucket(ok).is_ok(), "{ok}");
        }
        for bad in [
            "x@127.0.0.1:9#",
            "ab",
            "Photos",
            "a..b",
            "a.-b",
            "-ab",
            "192.168.1.1",
            "a_b",
        ] {
            assert!(super::check_bucket(bad).is_err(), "{bad}");
        }
    }
}
