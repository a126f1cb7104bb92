//! Huawei API Gateway AK/SK signing, `SDK-HMAC-SHA256` (huawei_aws.md §4), as used by Image
//! Recognition, Content Moderation and every v3 SDK service. Pure functions: the unit tests
//! reproduce the SDK's vectors and the test emulator verifies requests with the same code.
//!
//! Hand-written: no maintained Rust crate implements this signer; it is SHA-256 + HMAC over a
//! canonical request, which `sha2`/`hmac` already provide.

use crate::client::sign::{hmac_sha256, sha256_hex, uri_encode};

pub const ALGORITHM: &str = "SDK-HMAC-SHA256";

/// Unreserved characters (`A-Za-z0-9-_.~`) stay, everything else is `%XX`.
fn encode(s: &str) -> String {
    uri_encode(s, false)
}

/// Each path segment encoded; a trailing `/` added when missing (only for signing — the
/// request line is sent without it).
pub fn canonical_uri(path: &str) -> String {
    let mut out = path.split('/').map(encode).collect::<Vec<_>>().join("/");
    if !out.ends_with('/') {
        out.push('/');
    }
    out
}

/// Parameters sorted by key (then value), both encoded, `k=v` joined by `&`.
pub fn canonical_query(params: &[(&str, &str)]) -> String {
    let mut p: Vec<(String, String)> = params.iter().map(|(k, v)| (encode(k), encode(v))).collect();
    p.sort();
    p.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The signed headers: lower-cased, names containing `_` skipped, sorted.
pub fn signed_headers(headers: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut h: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_string()))
        .filter(|(n, _)| !n.contains('_'))
        .collect();
    h.sort();
    h
}

/// `METHOD\nURI\nQUERY\nHEADERS\nSIGNED\nhex(sha256(body))`; returns it with the signed list.
pub fn canonical_request(
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    headers: &[(&str, &str)],
    body: &[u8],
) -> (String, String) {
    let signed = signed_headers(headers);
    let names = signed
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let block: String = signed.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let unsigned_payload = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("x-sdk-content-sha256") && *v == "UNSIGNED-PAYLOAD");
    let payload = if unsigned_payload {
        "UNSIGNED-PAYLOAD".to_string()
    } else {
        sha256_hex(body)
    };
    (
        format!(
            "{method}\n{}\n{}\n{block}\n{names}\n{payload}",
            canonical_uri(path),
            canonical_query(query)
        ),
        names,
    )
}

pub fn string_to_sign(sdk_date: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{sdk_date}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

/// hex(HMAC-SHA256(SK, string_to_sign)) — the raw SK is the key.
pub fn signature(secret_key: &str, string_to_sign: &str) -> String {
    hex::encode(hmac_sha256(
        secret_key.as_bytes(),
        string_to_sign.as_bytes(),
    ))
}

pub fn authorization(access_key: &str, signed_headers: &str, signature: &str) -> String {
    format!(
        "{ALGORITHM} Access={access_key}, SignedHeaders={signed_headers}, Signature={signature}"
    )
}

/// `YYYYMMDDTHHMMSSZ`.
pub fn sdk_date(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// Sign a request whose `headers` already hold everything that will be sent (including `Host`,
/// `X-Sdk-Date`, `X-Project-Id` and, for temporary credentials, `X-Security-Token`); returns
/// the `Authorization` value.
pub fn sign(
    access_key: &str,
    secret_key: &str,
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    headers: &[(&str, &str)],
    body: &[u8],
) -> String {
    let date = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("x-sdk-date"))
        .map(|(_, v)| *v)
        .unwrap_or("");
    let (creq, names) = canonical_request(method, path, query, headers, body);
    let sts = string_to_sign(date, &creq);
    authorization(access_key, &names, &signature(secret_key, &sts))
}

/// Parse `SDK-HMAC-SHA256 Access=.., SignedHeaders=.., Signature=..` (for verifiers).
pub fn parse_authorization(v: &str) -> Option<(String, Vec<String>, String)> {
    let rest = v.strip_prefix(ALGORITHM)?.trim();
    let mut access = None;
    let mut signed = None;
    let mut sig = None;
    for part in rest.split(',').map(str::trim) {
        let (k, val) = part.split_once('=')?;
        match k {
            "Access" => access = Some(val.to_string()),
            "SignedHeaders" => signed = Some(val.split(';').map(str::to_string).collect()),
            "Signature" => sig = Some(val.to_string()),
            _ => {}
        }
    }
    Some((access?, signed?, sig?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const AK: &str = "EXAMPLEAK0000000000000";
    const SK: &str = "exampleSecretKey0000000000000000000000000";
    const PID: &str = "0123456789abcdef0123456789abcdef";
    const DATE: &str = "20250701T120000Z";

    #[allow(clippy::too_many_arguments)]
    fn vector(
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: &str,
        creq: &str,
        sts: &str,
        auth: &str,
    ) {
        let (c, _) = canonical_request(method, path, query, headers, body.as_bytes());
        assert_eq!(c, creq);
        assert_eq!(string_to_sign(DATE, &c), sts);
        assert_eq!(
            sign(AK, SK, method, path, query, headers, body.as_bytes()),
            auth
        );
    }

    #[test]
    fn date_format() {
        let t = chrono::DateTime::from_timestamp(1751371200, 0).unwrap();
        assert_eq!(sdk_date(t), DATE);
    }

    #[test]
    fn a_image_tagging() {
        let path = format!("/v2/{PID}/image/tagging");
        vector(
            "POST",
            &path,
            &[],
            &[
                ("Content-Type", "application/json"),
                ("X-Sdk-Date", DATE),
                ("X-Project-Id", PID),
                ("Host", "image.cn-north-4.myhuaweicloud.com"),
            ],
            r#"{"url":"https://examplebucket.obs.cn-north-4.myhuaweicloud.com/photos/cat.jpg","language":"en","threshold":60.0,"limit":10}"#,
            "POST\n/v2/0123456789abcdef0123456789abcdef/image/tagging/\n\ncontent-type:application/json\nhost:image.cn-north-4.myhuaweicloud.com\nx-project-id:0123456789abcdef0123456789abcdef\nx-sdk-date:20250701T120000Z\n\ncontent-type;host;x-project-id;x-sdk-date\nc457f29c63265a4effe1b016a3f4c9eb3a951872c07d165a0c43bd5885f52f65",
            "SDK-HMAC-SHA256\n20250701T120000Z\n46df89015f955287f6bf14f0c7bf3ea0ecff25941e3af5ca09a4c45cf479ec9f",
            "SDK-HMAC-SHA256 Access=EXAMPLEAK0000000000000, SignedHeaders=content-type;host;x-project-id;x-sdk-date, Signature=2e03e408a2b64e43e4478f2ceb637e98eb132eeb64413f65c8cc7ca5a376323b",
        );
    }

    #[test]
    fn b_moderation_v3() {
        let path = format!("/v3/{PID}/moderation/image");
        vector(
            "POST",
            &path,
            &[],
            &[
                ("Content-Type", "application/json;charset=UTF-8"),
                ("X-Sdk-Date", DATE),
                ("X-Project-Id", PID),
                ("Host", "moderation.cn-north-4.myhuaweicloud.com"),
            ],
            r#"{"event_type":"album","categories":["porn","terrorism","image_text"],"url":"https://examplebucket.obs.cn-north-4.myhuaweicloud.com/photos/cat.jpg"}"#,
            "POST\n/v3/0123456789abcdef0123456789abcdef/moderation/image/\n\ncontent-type:application/json;charset=UTF-8\nhost:moderation.cn-north-4.myhuaweicloud.com\nx-project-id:0123456789abcdef0123456789abcdef\nx-sdk-date:20250701T120000Z\n\ncontent-type;host;x-project-id;x-sdk-date\nea109b33b75b2bc24dad2f0e10a528b2b3d683c87e3b8c4b972258fbb8d254c9",
            "SDK-HMAC-SHA256\n20250701T120000Z\n11a2b9416d79f282d7f68eb224305de15ec2c457150cfc3a65244c3e61431f61",
            "SDK-HMAC-SHA256 Access=EXAMPLEAK0000000000000, SignedHeaders=content-type;host;x-project-id;x-sdk-date, Signature=92c9794818bad3d864af48c5def4b4f1734a21373872b25fb2944cba487dcb62",
        );
    }

    #[test]
    fn c_get_with_query() {
        vector(
            "GET",
            "/v3/projects",
            &[("name", "cn-north-4"), ("a b", "x/y")],
            &[
                ("X-Sdk-Date", DATE),
                ("X-Project-Id", PID),
                ("Host", "iam.myhuaweicloud.com"),
            ],
            "",
            "GET\n/v3/projects/\na%20b=x%2Fy&name=cn-north-4\nhost:iam.myhuaweicloud.com\nx-project-id:0123456789abcdef0123456789abcdef\nx-sdk-date:20250701T120000Z\n\nhost;x-project-id;x-sdk-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "SDK-HMAC-SHA256\n20250701T120000Z\n959885aee5ed1994075c054514678f63c50c9ca3bcc63c3aa9201aa8b68826bf",
            "SDK-HMAC-SHA256 Access=EXAMPLEAK0000000000000, SignedHeaders=host;x-project-id;x-sdk-date, Signature=3dfbf0fefde551de54b54ab7cd32882cc783afca638fafc778432808937666fe",
        );
    }

    /// huaweicloudsdkcore 3.1.219: `BasicCredentials(AK, SK, PID).with_security_token(
    /// 'EXAMPLETOKEN').sign_request(SdkRequest(...))` on vector A's and B's requests (with
    /// `Content-Type: application/json`), `X-Sdk-Date` fixed: the token is a signed header.
    #[test]
    fn d_e_with_a_security_token() {
        let tagging = format!("/v2/{PID}/image/tagging");
        vector(
            "POST",
            &tagging,
            &[],
            &[
                ("Content-Type", "application/json"),
                ("X-Sdk-Date", DATE),
                ("X-Project-Id", PID),
                ("X-Security-Token", "EXAMPLETOKEN"),
                ("Host", "image.cn-north-4.myhuaweicloud.com"),
            ],
            r#"{"url":"https://examplebucket.obs.cn-north-4.myhuaweicloud.com/photos/cat.jpg","language":"en","threshold":60.0,"limit":10}"#,
            "POST\n/v2/0123456789abcdef0123456789abcdef/image/tagging/\n\ncontent-type:application/json\nhost:image.cn-north-4.myhuaweicloud.com\nx-project-id:0123456789abcdef0123456789abcdef\nx-sdk-date:20250701T120000Z\nx-security-token:EXAMPLETOKEN\n\ncontent-type;host;x-project-id;x-sdk-date;x-security-token\nc457f29c63265a4effe1b016a3f4c9eb3a951872c07d165a0c43bd5885f52f65",
            "SDK-HMAC-SHA256\n20250701T120000Z\n2a83ba44c390e846d11f32d0c059318e021b9f9a423752ea368ec2d49d51b30b",
            "SDK-HMAC-SHA256 Access=EXAMPLEAK0000000000000, SignedHeaders=content-type;host;x-project-id;x-sdk-date;x-security-token, Signature=a46e729449cef31b9c27117a8234ba83b13eca816f4b4ee942fd20a1c8bc79e2",
        );
        let moderation = format!("/v3/{PID}/moderation/image");
        let headers = [
            ("Content-Type", "application/json"),
            ("X-Sdk-Date", DATE),
            ("X-Project-Id", PID),
            ("X-Security-Token", "EXAMPLETOKEN"),
            ("Host", "moderation.cn-north-4.myhuaweicloud.com"),
        ];
        let body = r#"{"event_type":"album","categories":["porn","terrorism","image_text"],"url":"https://examplebucket.obs.cn-north-4.myhuaweicloud.com/photos/cat.jpg"}"#;
        let (c, _) = canonical_request("POST", &moderation, &[], &headers, body.as_bytes());
        assert_eq!(
            string_to_sign(DATE, &c),
            "SDK-HMAC-SHA256\n20250701T120000Z\n68dd93fe9f07ce0c142b16be9f8ead72627591af2c901f429304f4cd4e43a0bf"
        );
        assert_eq!(
            sign(AK, SK, "POST", &moderation, &[], &headers, body.as_bytes()),
            "SDK-HMAC-SHA256 Access=EXAMPLEAK0000000000000, SignedHeaders=content-type;host;x-project-id;x-sdk-date;x-security-token, Signature=c7f3b4db402bd66797e9f96e595532daa9bbb472e4178e34557299c53dc466ff"
        );
    }

    #[test]
    fn underscore_headers_are_not_signed_and_auth_parses() {
        let h = signed_headers(&[
            ("X_Custom", "1"),
            ("Host", "h"),
            ("X-Security-Token", " t "),
        ]);
        assert_eq!(
            h,
            vec![
                ("host".to_string(), "h".to_string()),
                ("x-security-token".to_string(), "t".to_string())
            ]
        );
        let a = authorization(AK, "host;x-sdk-date", "abc");
        let (ak, names, s) = parse_authorization(&a).unwrap();
        assert_eq!((ak.as_str(), names.len(), s.as_str()), (AK, 2, "abc"));
    }
}
