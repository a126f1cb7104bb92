//! Tencent Cloud, shared by the COS store, the CI / IMS / TIIA analyzers, the TDMQ CMQ sink and
//! the SCF runtime: COS request signing and its signed client, TC3 signing and the API 3.0 client,
//! the error-code table with its retry classification, and the variable names.

pub mod api;
pub mod cos;
pub mod cos_sign;
pub mod credential;
pub mod errors;
pub mod legacy;
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

/// A COS bucket as the API names it, `<name>-<appid>`, checked before it becomes a host name:
/// the name lower-case letters, digits and `-` (not first or last), the APPID digits (COS
/// bucket naming rules). An event's APPID of `1@127.0.0.1:9/` does not pass.
pub fn check_bucket(bucket: &str) -> Result<(), &'static str> {
    const RULE: &str = "a COS bucket is `<name>-<appid>`: lower-case letters, digits and `-`, then `-` and the numeric APPID";
    let (name, appid) = bucket.rsplit_once('-').ok_or(RULE)?;
    let name_ok = (1..=50).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    let appid_ok = (1..=20).contains(&appid.len()) && appid.bytes().all(|b| b.is_ascii_digit());
    (name_ok && appid_ok).then_some(()).ok_or(RULE)
}

#[cfg(test)]
mod bucket_tests {
    #[test]
    fn bucket_names() {
        for ok in ["photos-1250000000", "a-b-c-1", "x1-1250000000"] {
            assert!(super::check_bucket(ok).is_ok(), "{ok}");
        }
        for bad in [
            "photos",
            "photos-1@127.0.0.1:9/",
            "photos-",
            "-x-1",
            "Photos-1",
            "a.b-1",
            "p-12a",
        ] {
            assert!(super::check_bucket(bad).is_err(), "{bad}");
        }
    }
}
