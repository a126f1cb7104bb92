//! AWS: SigV4 (shared by the S3 store and the SQS sink), the SDKs' credential provider chain
//! for self-hosted commands, and the SDK's variable names.

pub mod credential;
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

/// An S3 bucket name, checked before it becomes part of a URL: 1–255 letters, digits, `.`,
/// `-`, `_` (today's rules: 3–63 lower-case DNS labels; older us-east-1 buckets may have upper
/// case and `_`, and self-hosted stores are laxer). Nothing that could change a URL's host or
/// path (`@ : / # ? %`, spaces) passes.
pub fn check_bucket(name: &str) -> Result<(), &'static str> {
    let ok = (1..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && name != "."
        && name != "..";
    ok.then_some(())
        .ok_or("an S3 bucket name is letters, digits, `.`, `-` and `_` (1-255 characters)")
}

/// Whether `name` can be the first label of a virtual-hosted S3 host name.
pub fn dns_compatible_bucket(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

#[cfg(test)]
mod bucket_tests {
    #[test]
    fn bucket_names() {
        for ok in ["photos", "my.bucket", "Legacy_Bucket", "a"] {
            assert!(super::check_bucket(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a@127.0.0.1:9", "a/b", "x#", "a b", "..", "a?b", "%41"] {
            assert!(super::check_bucket(bad).is_err(), "{bad}");
        }
        assert!(super::dns_compatible_bucket("photos-1"));
        assert!(!super::dns_compatible_bucket("Legacy_Bucket"));
    }
}
