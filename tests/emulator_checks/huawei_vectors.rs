//! The Huawei emulator's verifiers (`vendor_sign::obs`, `vendor_sign::apig`) against:
//!
//! - esdk-obs-python 3.26.6, `ObsClient(..., is_signature_negotiation=False)` with the clock
//!   frozen at 2025-07-01T12:00:00Z and the request captured in `_send_request`: V1–V5, URL-1,
//!   URL-2 (`shared/reference/huawei_aws.md` §3.3) and, generated for these tests,
//!   `listObjects('examplebucket', prefix='photos/2025/', marker='photos/2025/b c.jpg',
//!   max_keys=2)` without (LIST-1) and with `security_token='EXAMPLETOKEN'` (LIST-2);
//! - huaweicloudsdkcore 3.1.219, `BasicCredentials(AK, SK, PID).sign_request(SdkRequest(...))`
//!   with `X-Sdk-Date: 20250701T120000Z`: A–C (reference §4.1) and, generated for these tests,
//!   `.with_security_token('EXAMPLETOKEN')` on A's and B's requests (D, E).

use crate::headers;
use crate::vendor_sign::{apig, obs};

const AK: &str = "EXAMPLEAK0000000000000";
const SK: &str = "exampleSecretKey0000000000000000000000000";
const DATE: &str = "Tue, 01 Jul 2025 12:00:00 GMT";
/// 2025-07-01T12:00:00Z.
const NOW: i64 = 1_751_371_200;
const KEY_PATH: &str = "/photos/cat%201.jpg";

fn obs_header(
    method: &str,
    path: &str,
    query: &str,
    hs: &[(&str, &str)],
    token: Option<&str>,
    now: i64,
) -> Result<(), (u16, &'static str, String)> {
    let hs = headers(hs);
    obs::verify_header(
        &obs::Request {
            method,
            bucket: "examplebucket",
            raw_path: path,
            raw_query: query,
            headers: &hs,
        },
        &obs::Creds {
            access_key: AK,
            secret_key: SK,
            token,
        },
        now,
    )
}

fn auth(sig: &str) -> String {
    format!("OBS {AK}:{sig}")
}

#[test]
fn obs_sdk_object_requests() {
    let a = auth("PmRezFpPbY3QBiS8mQR9VkfaUlo=");
    let v1 = [("Date", DATE), ("Authorization", a.as_str())];
    obs_header("GET", KEY_PATH, "", &v1, None, NOW).unwrap();
    obs_header("GET", KEY_PATH, "", &v1, None, NOW + 900).unwrap();
    let e = obs_header("GET", KEY_PATH, "", &v1, None, NOW + 901).unwrap_err();
    assert_eq!(e.1, "RequestTimeTooSkewed");
    let e = obs_header("GET", KEY_PATH, "", &v1, None, NOW - 901).unwrap_err();
    assert_eq!(e.1, "RequestTimeTooSkewed");
    let e = obs_header("GET", "/photos/cat+1.jpg", "", &v1, None, NOW).unwrap_err();
    assert_eq!(e.1, "SignatureDoesNotMatch", "the path is signed as sent");

    let a = auth("8pBgzHD4rHW4+PMkWKQT09s2IaU=");
    let v2 = [
        ("x-obs-meta-labels", "cat,animal"),
        ("x-obs-meta-moderation", "pass"),
        ("x-obs-copy-source", "/examplebucket/photos/cat%201.jpg"),
        ("x-obs-metadata-directive", "REPLACE"),
        ("Content-Type", "image/jpeg"),
        ("Date", DATE),
        ("Authorization", a.as_str()),
    ];
    obs_header("PUT", KEY_PATH, "", &v2, None, NOW).unwrap();
    let sts = obs::string_to_sign(
        "PUT",
        "",
        "image/jpeg",
        DATE,
        &headers(&v2),
        &obs::canonical_resource("examplebucket", KEY_PATH, &[]),
    );
    assert_eq!(sts, "PUT\n\nimage/jpeg\nTue, 01 Jul 2025 12:00:00 GMT\nx-obs-copy-source:/examplebucket/photos/cat%201.jpg\nx-obs-meta-labels:cat,animal\nx-obs-meta-moderation:pass\nx-obs-metadata-directive:REPLACE\n/examplebucket/photos/cat%201.jpg");
    let mut changed = v2;
    changed[1].1 = "block";
    let e = obs_header("PUT", KEY_PATH, "", &changed, None, NOW).unwrap_err();
    assert_eq!(e.1, "SignatureDoesNotMatch");

    let body = "<Tagging><TagSet><Tag><Key>label</Key><Value>cat</Value></Tag><Tag><Key>moderation</Key><Value>pass</Value></Tag></TagSet></Tagging>";
    assert_eq!(
        crate::huawei::content_md5(body.as_bytes()),
        "FKo4HygaddnJcUQCendtIQ==",
        "the emulator's Content-MD5 check"
    );
    let a = auth("p4Rbj27tS7coSl98tiEdQfBLP74=");
    let v3 = [
        ("Content-MD5", "FKo4HygaddnJcUQCendtIQ=="),
        ("Date", DATE),
        ("Authorization", a.as_str()),
    ];
    obs_header("PUT", KEY_PATH, "tagging", &v3, None, NOW).unwrap();
    let e = obs_header("PUT", KEY_PATH, "", &v3, None, NOW).unwrap_err();
    assert_eq!(e.1, "SignatureDoesNotMatch", "?tagging is a sub-resource");

    let a = auth("sNsg0ZyPdTflE5IFkvjXuuDo0ig=");
    let v4 = [
        ("x-obs-meta-labels", "cat"),
        ("x-obs-metadata-directive", "REPLACE_NEW"),
        ("Content-Type", "image/jpeg"),
        ("Date", DATE),
        ("Authorization", a.as_str()),
    ];
    obs_header("PUT", KEY_PATH, "metadata", &v4, None, NOW).unwrap();

    let a = auth("4BiV3us89JWFxfCGr+UDGpUxo+Y=");
    let v5 = [
        ("x-obs-meta-labels", "%E7%8C%AB cat"),
        ("x-obs-metadata-directive", "REPLACE_NEW"),
        ("Date", DATE),
        ("Authorization", a.as_str()),
    ];
    obs_header("PUT", "/a.jpg", "metadata", &v5, None, NOW).unwrap();
}

#[test]
fn obs_sdk_listing() {
    // Listing parameters are not sub-resources: the resource is just `/examplebucket/`.
    let query = "prefix=photos/2025/&marker=photos/2025/b%20c.jpg&max-keys=2";
    let a = auth("VeCzVzWgEyO6cqIfD+guQ0IXB2M=");
    let list1 = [("Date", DATE), ("Authorization", a.as_str())];
    obs_header("GET", "/", query, &list1, None, NOW).unwrap();
    obs_header("GET", "/", "prefix=other/&max-keys=1000", &list1, None, NOW).unwrap();
    assert_eq!(
        obs::canonical_resource(
            "examplebucket",
            "/",
            &crate::vendor_sign::parse_query(query)
        ),
        "/examplebucket/"
    );
    let e = obs_header("GET", "/", "acl", &list1, None, NOW).unwrap_err();
    assert_eq!(e.1, "SignatureDoesNotMatch");

    let a = auth("U/LQUDnZwifaI5uTISpV1yqMGBg=");
    let list2 = [
        ("Date", DATE),
        ("x-obs-security-token", "EXAMPLETOKEN"),
        ("Authorization", a.as_str()),
    ];
    obs_header("GET", "/", query, &list2, Some("EXAMPLETOKEN"), NOW).unwrap();
    let e = obs_header("GET", "/", query, &list2, Some("OTHER"), NOW).unwrap_err();
    assert_eq!(e.1, "InvalidToken");
    let e = obs_header("GET", "/", query, &list1, Some("EXAMPLETOKEN"), NOW).unwrap_err();
    assert_eq!(e.1, "InvalidToken");
}

#[test]
fn obs_sdk_signed_urls() {
    let url = |u: &str, token: Option<&str>, now: i64| {
        let (host, path, query) = crate::split_url(u);
        assert_eq!(host, "examplebucket.obs.cn-north-4.myhuaweicloud.com");
        obs::verify_url(
            &obs::Request {
                method: "GET",
                bucket: "examplebucket",
                raw_path: path,
                raw_query: query,
                headers: &[],
            },
            &obs::Creds {
                access_key: AK,
                secret_key: SK,
                token,
            },
            now,
        )
    };
    let url1 = "https://examplebucket.obs.cn-north-4.myhuaweicloud.com/photos/cat%201.jpg?Expires=1751374800&AccessKeyId=EXAMPLEAK0000000000000&Signature=2l3wltbXM7r/lnUNzoKo5BY/s5w%3D";
    assert_eq!(url(url1, None, NOW), Ok(1751374800));
    assert_eq!(url(url1, None, 1751374800), Ok(1751374800));
    let e = url(url1, None, 1751374801).unwrap_err();
    assert!(e.2.contains("expired"), "{e:?}");
    let later = url1.replace("1751374800", "1751378400");
    assert_eq!(
        url(&later, None, NOW).unwrap_err().1,
        "SignatureDoesNotMatch"
    );

    let url2 = "https://examplebucket.obs.cn-north-4.myhuaweicloud.com/photos/cat%201.jpg?x-obs-security-token=EXAMPLETOKEN&Expires=1751374800&AccessKeyId=EXAMPLEAK0000000000000&Signature=oveB8PGiaEdA6un4EggO3TgbYmo%3D";
    assert_eq!(url(url2, Some("EXAMPLETOKEN"), NOW), Ok(1751374800));
    assert_eq!(url(url2, Some("OTHER"), NOW).unwrap_err().1, "InvalidToken");
    assert_eq!(
        url(url1, Some("EXAMPLETOKEN"), NOW).unwrap_err().1,
        "InvalidToken"
    );
    // The token is signed as a sub-resource: URL-1's signature with URL-2's token fails.
    let mixed = url2.replace("oveB8PGiaEdA6un4EggO3TgbYmo", "2l3wltbXM7r/lnUNzoKo5BY/s5w");
    assert_eq!(
        url(&mixed, Some("EXAMPLETOKEN"), NOW).unwrap_err().1,
        "SignatureDoesNotMatch"
    );
}

const PID: &str = "0123456789abcdef0123456789abcdef";
const SDK_DATE: &str = "20250701T120000Z";

fn apig_check(
    method: &str,
    path: &str,
    query: &str,
    hs: &[(&str, &str)],
    body: &str,
    token: Option<&str>,
    now: i64,
) -> Result<apig::Verified, String> {
    let hs = headers(hs);
    apig::verify(
        &apig::Request {
            method,
            raw_path: path,
            raw_query: query,
            headers: &hs,
            body: body.as_bytes(),
        },
        AK,
        SK,
        token,
        now,
    )
}

fn apig_auth(signed: &str, sig: &str) -> String {
    format!("SDK-HMAC-SHA256 Access={AK}, SignedHeaders={signed}, Signature={sig}")
}

const TAGGING_BODY: &str = r#"{"url":"https://examplebucket.obs.cn-north-4.myhuaweicloud.com/photos/cat.jpg","language":"en","threshold":60.0,"limit":10}"#;
const MODERATION_BODY: &str = r#"{"event_type":"album","categories":["porn","terrorism","image_text"],"url":"https://examplebucket.obs.cn-north-4.myhuaweicloud.com/photos/cat.jpg"}"#;

#[test]
fn apig_sdk_vectors_and_the_gateway_clock_window() {
    let tagging = format!("/v2/{PID}/image/tagging");
    let std = "content-type;host;x-project-id;x-sdk-date";
    let a = apig_auth(
        std,
        "2e03e408a2b64e43e4478f2ceb637e98eb132eeb64413f65c8cc7ca5a376323b",
    );
    let a_req = [
        ("Content-Type", "application/json"),
        ("X-Sdk-Date", SDK_DATE),
        ("X-Project-Id", PID),
        ("Host", "image.cn-north-4.myhuaweicloud.com"),
        ("Authorization", a.as_str()),
    ];
    let check_a = |now| apig_check("POST", &tagging, "", &a_req, TAGGING_BODY, None, now);
    check_a(NOW).unwrap();
    // The gateway's window: 15 minutes either way.
    check_a(NOW + 900).unwrap();
    check_a(NOW - 900).unwrap();
    for now in [NOW + 901, NOW - 901] {
        assert!(check_a(now).unwrap_err().contains("15 minutes"));
    }
    let e = apig_check("POST", &tagging, "", &a_req, "{}", None, NOW).unwrap_err();
    assert_eq!(e, "verify aksk signature fail");

    let b = apig_auth(
        std,
        "92c9794818bad3d864af48c5def4b4f1734a21373872b25fb2944cba487dcb62",
    );
    let b_req = [
        ("Content-Type", "application/json;charset=UTF-8"),
        ("X-Sdk-Date", SDK_DATE),
        ("X-Project-Id", PID),
        ("Host", "moderation.cn-north-4.myhuaweicloud.com"),
        ("Authorization", b.as_str()),
    ];
    let moderation = format!("/v3/{PID}/moderation/image");
    apig_check("POST", &moderation, "", &b_req, MODERATION_BODY, None, NOW).unwrap();

    let c = apig_auth(
        "host;x-project-id;x-sdk-date",
        "3dfbf0fefde551de54b54ab7cd32882cc783afca638fafc778432808937666fe",
    );
    let c_req = [
        ("X-Sdk-Date", SDK_DATE),
        ("X-Project-Id", PID),
        ("Host", "iam.myhuaweicloud.com"),
        ("Authorization", c.as_str()),
    ];
    let query = "name=cn-north-4&a%20b=x%2Fy";
    apig_check("GET", "/v3/projects", query, &c_req, "", None, NOW).unwrap();
    // In the order of the Authorization's SignedHeaders (the SDK sorts them).
    let mut signed = headers(&c_req[..3]);
    signed.sort();
    assert_eq!(
        apig::canonical_request("GET", "/v3/projects", query, &signed, b""),
        "GET\n/v3/projects/\na%20b=x%2Fy&name=cn-north-4\nhost:iam.myhuaweicloud.com\nx-project-id:0123456789abcdef0123456789abcdef\nx-sdk-date:20250701T120000Z\n\nhost;x-project-id;x-sdk-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let e = apig_check(
        "GET",
        "/v3/projects",
        "name=cn-north-5&a%20b=x%2Fy",
        &c_req,
        "",
        None,
        NOW,
    );
    assert_eq!(e.unwrap_err(), "verify aksk signature fail");
}

#[test]
fn apig_sdk_vectors_with_a_security_token() {
    let list = "content-type;host;x-project-id;x-sdk-date;x-security-token";
    let cases = [
        (
            format!("/v2/{PID}/image/tagging"),
            "image.cn-north-4.myhuaweicloud.com",
            TAGGING_BODY,
            "a46e729449cef31b9c27117a8234ba83b13eca816f4b4ee942fd20a1c8bc79e2",
            "2a83ba44c390e846d11f32d0c059318e021b9f9a423752ea368ec2d49d51b30b",
        ),
        (
            format!("/v3/{PID}/moderation/image"),
            "moderation.cn-north-4.myhuaweicloud.com",
            MODERATION_BODY,
            "c7f3b4db402bd66797e9f96e595532daa9bbb472e4178e34557299c53dc466ff",
            "68dd93fe9f07ce0c142b16be9f8ead72627591af2c901f429304f4cd4e43a0bf",
        ),
    ];
    for (path, host, body, sig, hashed_cr) in cases {
        let a = apig_auth(list, sig);
        let req = [
            ("Content-Type", "application/json"),
            ("X-Sdk-Date", SDK_DATE),
            ("X-Project-Id", PID),
            ("X-Security-Token", "EXAMPLETOKEN"),
            ("Host", host),
            ("Authorization", a.as_str()),
        ];
        let mut signed = headers(&req[..5]);
        signed.sort();
        let cr = apig::canonical_request("POST", &path, "", &signed, body.as_bytes());
        assert!(cr.contains("\nx-security-token:EXAMPLETOKEN\n\n"), "{cr}");
        assert_eq!(
            apig::string_to_sign(SDK_DATE, &cr),
            format!("SDK-HMAC-SHA256\n{SDK_DATE}\n{hashed_cr}")
        );
        let token = Some("EXAMPLETOKEN");
        let v = apig_check("POST", &path, "", &req, body, token, NOW).unwrap();
        assert!(v.signed_headers.iter().any(|h| h == "x-security-token"));
        let e = apig_check("POST", &path, "", &req, body, Some("OTHER"), NOW).unwrap_err();
        assert!(e.contains("X-Security-Token"), "{e}");
        let mut other = req;
        other[3].1 = "OTHER";
        let e = apig_check("POST", &path, "", &other, body, None, NOW).unwrap_err();
        assert_eq!(e, "verify aksk signature fail", "the token is signed");
        let e = apig_check("POST", &path, "", &req, body, token, NOW + 901).unwrap_err();
        assert!(e.contains("15 minutes"), "{e}");
    }
}
