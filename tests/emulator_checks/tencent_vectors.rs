//! The Tencent emulator's verifiers (`vendor_sign::cos`, `vendor_sign::tc3`) against:
//!
//! - COS documentation examples E1–E3 and the CVM TC3 example (intl.cloud.tencent.com/document/
//!   api/436/7778, cloud.tencent.com/document/api/362/4208), as quoted in
//!   `shared/reference/tencent.md` §3.2/§4.2;
//! - cos-python-sdk-v5 1.9.44 with `time.time` frozen at 1700000000: C1–C6 (reference §3.3),
//!   and, generated for these tests, `CosS3Client.get_presigned_url` /
//!   `get_presigned_download_url` (P1, P2), `list_objects` as sent on the wire (L1) and
//!   `get_auth(Method='GET', Key='/', Params={prefix, marker, max-keys})` (L2), each with and
//!   without `Token='EXAMPLETOKEN'`;
//! - tencentcloud-sdk-python-common 3.1.195 `CommonClient.call_json`, `time.time` frozen:
//!   T1–T4 (reference §4.3).

use crate::headers;
use crate::vendor_sign::{cos, tc3};

const ID: &str = "AKIDQjz3ltompVjBni5LitkWHFlFpwkn9U5q";
const KEY: &str = "BQYIM75p8x0iWVFSIgqEKwFprpRSVHlz";
const KT: &str = "1699999940;1700010000";
const NOW: i64 = 1_700_000_000;
const HOST: &str = "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com";
/// `uploads/猫 photo(1).jpg` as the SDK sends it.
const PATH: &str = "/uploads/%E7%8C%AB%20photo%281%29.jpg";

fn creds(token: Option<&'static str>) -> cos::Creds<'static> {
    cos::Creds {
        secret_id: ID,
        secret_key: KEY,
        token,
    }
}

fn auth(key_time: &str, header_list: &str, param_list: &str, sig: &str) -> String {
    format!("q-sign-algorithm=sha1&q-ak={ID}&q-sign-time={key_time}&q-key-time={key_time}&q-header-list={header_list}&q-url-param-list={param_list}&q-signature={sig}")
}

#[allow(clippy::too_many_arguments)]
fn check(
    method: &str,
    host: &str,
    path: &str,
    query: &str,
    hs: &[(&str, &str)],
    token: Option<&'static str>,
    now: i64,
) -> Result<cos::Verified, String> {
    let hs = headers(hs);
    cos::verify(
        &cos::Request {
            method,
            host,
            raw_path: path,
            raw_query: query,
            headers: &hs,
        },
        &creds(token),
        now,
    )
}

#[test]
fn cos_documentation_examples() {
    // E1: PUT with a non-ASCII key; the signature covers the decoded path.
    let kt = "1557989151;1557996351";
    assert_eq!(
        cos::sign_key(KEY, kt),
        "eb2519b498b02ac213cb1f3d1a3d27a3b3c9bc5f"
    );
    let host = "examplebucket-1250000000.cos.ap-beijing.myqcloud.com";
    let a = auth(
        kt,
        "content-length;content-md5;content-type;date;host;x-cos-acl;x-cos-grant-read",
        "",
        "3b8851a11a569213c17ba8fa7dcf2abec6935172",
    );
    let e1 = [
        ("Date", "Thu, 16 May 2019 06:45:51 GMT"),
        ("Content-Type", "text/plain"),
        ("Content-Length", "13"),
        ("Content-MD5", "mQ/fVh815F3k6TAUm8m0eg=="),
        ("x-cos-acl", "private"),
        ("x-cos-grant-read", "uin=\"100000000011\""),
        ("Authorization", a.as_str()),
    ];
    let path = "/exampleobject(%E8%85%BE%E8%AE%AF%E4%BA%91)";
    check("PUT", host, path, "", &e1, None, 1557989151 + 60).unwrap();
    let mut signed = headers(&e1[..6]);
    signed.push(("host".into(), host.into()));
    assert_eq!(cos::canonical(&signed).1, "content-length=13&content-md5=mQ%2FfVh815F3k6TAUm8m0eg%3D%3D&content-type=text%2Fplain&date=Thu%2C%2016%20May%202019%2006%3A45%3A51%20GMT&host=examplebucket-1250000000.cos.ap-beijing.myqcloud.com&x-cos-acl=private&x-cos-grant-read=uin%3D%22100000000011%22");
    let hs = cos::http_string("PUT", "/exampleobject(腾讯云)", &[], &signed);
    assert_eq!(
        crate::vendor_sign::sha1_hex(hs.as_bytes()),
        "8b2751e77f43a0995d6e9eb9477f4b685cca4172"
    );
    // The English page's "/exampleobject(tencentcloud)" does not reproduce: the path matters.
    let e = check(
        "PUT",
        host,
        "/exampleobject(tencentcloud)",
        "",
        &e1,
        None,
        1557989151,
    )
    .unwrap_err();
    assert!(e.starts_with("SignatureDoesNotMatch"), "{e}");

    // E2: GET with response-* parameters.
    let kt = "1557989753;1557996953";
    let a = auth(
        kt,
        "date;host",
        "response-cache-control;response-content-type",
        "01681b8c9d798a678e43b685a9f1bba0f6c0e012",
    );
    let e2 = [
        ("Date", "Thu, 16 May 2019 06:55:53 GMT"),
        ("Authorization", a.as_str()),
    ];
    let q = "response-content-type=application%2Foctet-stream&response-cache-control=max-age%3D600";
    check("GET", host, path, q, &e2, None, 1557989753).unwrap();
    let e = check(
        "GET",
        host,
        path,
        &q.replace("600", "601"),
        &e2,
        None,
        1557989753,
    );
    assert!(e.unwrap_err().starts_with("SignatureDoesNotMatch"));

    // E3: an older page's ranged GET.
    let kt = "1417773892;1417853898";
    let a = auth(
        kt,
        "host;range",
        "",
        "4b6cbab14ce01381c29032423481ebffd514e8be",
    );
    let e3 = [("range", "bytes=0-3"), ("Authorization", a.as_str())];
    let host = "bucket1-1254000000.cos.ap-beijing.myqcloud.com";
    check("GET", host, "/testfile", "", &e3, None, 1417773892).unwrap();
    let e = check("GET", host, "/testfile", "", &e3, None, 1417853899).unwrap_err();
    assert!(e.contains("expired"), "{e}");
}

#[test]
fn cos_python_sdk_object_requests() {
    assert_eq!(
        cos::wire_path("uploads/猫 photo(1).jpg"),
        PATH,
        "the SDK's wire path"
    );
    let get = |q: &str, list: &str, plist: &str, sig: &str, tok: Option<&'static str>| {
        let a = auth(KT, list, plist, sig);
        let mut hs = vec![("Authorization", a.as_str())];
        if tok.is_some() {
            hs.push(("x-cos-security-token", "EXAMPLETOKEN"));
        }
        check("GET", HOST, PATH, q, &hs, tok, NOW)
    };
    let c1 = "92d60efaeec7de047587a161981f78984f084a62";
    get("", "host", "", c1, None).unwrap();
    let label = "ci-process=detect-label&scenes=web%2Ccamera";
    let c2 = "ef7a0f9c7da0ad203166d99814895790e679f406";
    let v = get(label, "host", "ci-process;scenes", c2, None).unwrap();
    assert_eq!(v.params[1], ("scenes".into(), "web,camera".into()));
    let c5 = "2663872cdf5ea13087bce77b23ff57f6c6d1cd13";
    get(
        "",
        "host;x-cos-security-token",
        "",
        c5,
        Some("EXAMPLETOKEN"),
    )
    .unwrap();
    let c6 = "92d8de81b08d1e356d0cbb555f845962a6de6722";
    let list = "host;x-cos-security-token";
    get(label, list, "ci-process;scenes", c6, Some("EXAMPLETOKEN")).unwrap();
    // With temporary credentials required, C1 (no token) is refused before any hashing.
    let a = auth(KT, "host", "", c1);
    let e = check(
        "GET",
        HOST,
        PATH,
        "",
        &[("authorization", &a)],
        Some("EXAMPLETOKEN"),
        NOW,
    );
    assert!(e.unwrap_err().contains("x-cos-security-token"));

    // C3: copy onto itself with replaced metadata (the copy source is encoded twice).
    let a = auth(KT, "content-length;content-type;host;x-cos-copy-source;x-cos-meta-labels;x-cos-meta-suggestion;x-cos-metadata-directive", "", "d73823f9fb3c2b0770205260b66e3fc591030800");
    let source = format!("{HOST}{PATH}");
    let c3 = [
        ("content-length", "0"),
        ("content-type", "image/jpeg"),
        ("x-cos-copy-source", source.as_str()),
        ("x-cos-meta-labels", "cat,animal"),
        ("x-cos-meta-suggestion", "Pass"),
        ("x-cos-metadata-directive", "Replaced"),
        ("authorization", a.as_str()),
    ];
    check("PUT", HOST, PATH, "", &c3, None, NOW).unwrap();
    let mut changed = c3;
    changed[4].1 = "cat";
    let e = check("PUT", HOST, PATH, "", &changed, None, NOW).unwrap_err();
    assert!(e.starts_with("SignatureDoesNotMatch"), "{e}");

    // C4: PUT ?tagging, 171-byte body.
    let a = auth(
        KT,
        "content-length;host",
        "tagging",
        "f5dcab12a33a1a8c736b66ff6802c51dc94629ea",
    );
    let c4 = [("content-length", "171"), ("authorization", a.as_str())];
    check("PUT", HOST, PATH, "tagging", &c4, None, NOW).unwrap();
    let v = check("PUT", HOST, PATH, "tagging&acl", &c4, None, NOW).unwrap();
    assert_eq!(
        v.unsigned_params,
        ["acl"],
        "reported, for the emulator to refuse"
    );
    let e = check("PUT", HOST, PATH, "", &c4, None, NOW).unwrap_err();
    assert!(e.contains("tagging not sent"), "{e}");
}

#[test]
fn cos_python_sdk_presigned_urls() {
    // P1: get_presigned_url(Bucket, Key='uploads/猫 photo(1).jpg', Method='GET', Expired=900);
    // get_presigned_download_url(..., Expired=900) gives the same URL.
    let p1 = "https://examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com/uploads/%E7%8C%AB%20photo%281%29.jpg?q-sign-algorithm=sha1&q-ak=AKIDQjz3ltompVjBni5LitkWHFlFpwkn9U5q&q-sign-time=1699999940%3B1700000900&q-key-time=1699999940%3B1700000900&q-header-list=host&q-url-param-list=&q-signature=a5d56059286032c25077f8b1e3c3cd4b63b94a4a";
    let (host, path, query) = crate::split_url(p1);
    let v = check("GET", host, path, query, &[], None, NOW).unwrap();
    assert!(v.presigned && v.params.is_empty() && v.unsigned_params.is_empty());
    let e = check("GET", host, path, query, &[], None, 1_700_000_901).unwrap_err();
    assert!(e.contains("expired"), "{e}");
    let e = check("GET", host, path, query, &[], None, 1_699_999_939).unwrap_err();
    assert!(e.starts_with("RequestTimeTooSkewed"), "{e}");
    let other = "otherbucket-1250000000.cos.ap-guangzhou.myqcloud.com";
    let e = check("GET", other, path, query, &[], None, NOW).unwrap_err();
    assert!(
        e.starts_with("SignatureDoesNotMatch"),
        "another bucket: {e}"
    );

    // P2: the same with Token='EXAMPLETOKEN' and Params={'x-cos-security-token': token}, the
    // SDK's documented way: the token is a signed URL parameter.
    let p2 = "https://examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com/uploads/%E7%8C%AB%20photo%281%29.jpg?q-sign-algorithm=sha1&q-ak=AKIDQjz3ltompVjBni5LitkWHFlFpwkn9U5q&q-sign-time=1699999940%3B1700000900&q-key-time=1699999940%3B1700000900&q-header-list=host&q-url-param-list=x-cos-security-token&q-signature=36d9039b6e324fa8de95f047c90aff798c395024&x-cos-security-token=EXAMPLETOKEN";
    let (host, path, query) = crate::split_url(p2);
    let v = check("GET", host, path, query, &[], Some("EXAMPLETOKEN"), NOW).unwrap();
    assert_eq!(v.param_list, ["x-cos-security-token"]);
    let e = check("GET", host, path, query, &[], Some("OTHER"), NOW).unwrap_err();
    assert!(e.contains("x-cos-security-token"), "{e}");

    // P3: P1 with the token appended unsigned, as the JS and Go SDKs (and real presigned COS
    // URLs in the wild) carry it: accepted, and not counted as an unsigned parameter.
    let p3 = format!("{p1}&x-cos-security-token=EXAMPLETOKEN");
    let (host, path, query) = crate::split_url(&p3);
    let v = check("GET", host, path, query, &[], Some("EXAMPLETOKEN"), NOW).unwrap();
    assert!(v.unsigned_params.is_empty(), "{v:?}");
    let e = check("GET", host, path, query, &[], Some("OTHER"), NOW).unwrap_err();
    assert!(e.contains("x-cos-security-token"), "{e}");
}

#[test]
fn cos_python_sdk_bucket_listing() {
    let list = |q: &str, hl: &str, pl: &str, sig: &str, tok: Option<&'static str>| {
        let a = auth(KT, hl, pl, sig);
        let mut hs = vec![("authorization", a.as_str())];
        if tok.is_some() {
            hs.push(("x-cos-security-token", "EXAMPLETOKEN"));
        }
        check("GET", HOST, "/", q, &hs, tok, NOW)
    };
    // L1: list_objects(Bucket, Prefix='uploads/2024/', Marker='uploads/2024/b c.jpg',
    // MaxKeys=2) exactly as sent (requests form-encodes the space as '+').
    let l1 = "prefix=uploads%2F2024%2F&delimiter=&marker=uploads%2F2024%2Fb+c.jpg&max-keys=2&encoding-type=url";
    let pl = "delimiter;encoding-type;marker;max-keys;prefix";
    let sig = "a19b561095ec8d09e203329998e9224717e1fb8b";
    let v = list(l1, "host", pl, sig, None).unwrap();
    assert!(v
        .params
        .contains(&("marker".into(), "uploads/2024/b c.jpg".into())));
    let tl = "host;x-cos-security-token";
    let sig_t = "8090429d0bca0cd4373bac25455c3e51cd4de812";
    list(l1, tl, pl, sig_t, Some("EXAMPLETOKEN")).unwrap();

    // L2: get_auth with just prefix, marker and max-keys (this crate's listing parameters).
    let l2 = "prefix=uploads%2F2024%2F&marker=uploads%2F2024%2Fb%20c.jpg&max-keys=2";
    let pl = "marker;max-keys;prefix";
    let sig = "eab48caad022e4ad0cbf63e8e173ded50ccff2bf";
    list(l2, "host", pl, sig, None).unwrap();
    let sig_t = "e797cdb3fa770dff50708a9978728b5b0a4b97d5";
    list(l2, tl, pl, sig_t, Some("EXAMPLETOKEN")).unwrap();
    for tampered in [
        l2.replace("max-keys=2", "max-keys=3"),
        l2.replace("b%20c", "b%2Bc"),
        l2.replace("prefix=uploads%2F2024%2F", "prefix=uploads%2F2025%2F"),
    ] {
        let e = list(&tampered, "host", pl, sig, None).unwrap_err();
        assert!(e.starts_with("SignatureDoesNotMatch"), "{tampered}: {e}");
    }
    // A parameter sent but not signed is reported (the emulator refuses it).
    let v = list(&format!("{l2}&delimiter=%2F"), "host", pl, sig, None).unwrap();
    assert_eq!(v.unsigned_params, ["delimiter"]);
}

fn tc3_check(
    host: &str,
    content_type: &str,
    ts: i64,
    body: &str,
    authorization: &str,
    now: i64,
) -> Result<String, String> {
    let ts = ts.to_string();
    let hs = headers(&[
        ("Content-Type", content_type),
        ("X-TC-Timestamp", &ts),
        ("Authorization", authorization),
    ]);
    tc3::verify(
        &tc3::Request {
            method: "POST",
            host,
            raw_query: "",
            headers: &hs,
            body: body.as_bytes(),
        },
        "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
        "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
        now,
    )
}

#[test]
fn tc3_documentation_example_and_python_sdk_vectors() {
    let cvm =
        r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
    let ct = "application/json; charset=utf-8";
    let signed = headers(&[("content-type", ct), ("host", "cvm.tencentcloudapi.com")]);
    let cr = tc3::canonical_request("POST", "", &signed, cvm.as_bytes());
    assert_eq!(
        crate::vendor_sign::sha256_hex(cr.as_bytes()),
        "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
    );
    let a = "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168";
    let host = "cvm.tencentcloudapi.com";
    assert_eq!(
        tc3_check(host, ct, 1551113065, cvm, a, 1551113065).unwrap(),
        "cvm"
    );
    let e = tc3_check(host, ct, 1551113065, cvm, a, 1551113065 + 301).unwrap_err();
    assert!(e.starts_with("AuthFailure.SignatureExpire"), "{e}");
    let local_date = a.replace("2019-02-25", "2019-02-26");
    let e = tc3_check(host, ct, 1551113065, cvm, &local_date, 1551113065).unwrap_err();
    assert!(e.contains("credential scope"), "UTC date, not UTC+8: {e}");

    let json = "application/json";
    let prefix = "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE";
    let vectors = [
        (
            "ims",
            1700000000,
            "2023-11-14",
            r#"{"BizType": "default", "DataId": "uploads/cat.jpg", "FileUrl": "https://examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com/uploads/cat.jpg"}"#,
            "6062e54e8eb530f46fb3d2da781ff268b64dfca5d6601492bf0551d9e8c64229",
        ),
        (
            "ims",
            1717171717,
            "2024-05-31",
            r#"{"DataId": "\u732b-01", "FileContent": "aGVsbG8=", "Interval": 0, "MaxFrames": 1, "User": {"UserId": "u1"}}"#,
            "431973860cfa872c28f36853459b2782b82787725d55b1817d5eb566bf4d5a5e",
        ),
        (
            "tiia",
            1700000000,
            "2023-11-14",
            r#"{"ImageUrl": "https://examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com/uploads/cat.jpg", "Scenes": ["WEB", "CAMERA"]}"#,
            "ec421ac6da8638ebcdd560983cef0ecd183f2cea02cd61b5c3ec694025730291",
        ),
        (
            "tdmq",
            1700000000,
            "2023-11-14",
            r#"{"QueueName": "image-results", "MsgContent": "{\"key\":\"uploads/cat.jpg\",\"suggestion\":\"Pass\"}", "DelaySeconds": 0}"#,
            "bf905d39f02a7c0c51065e724f9b37a83748e3b968c6d899e9ed2e19f0a89e95",
        ),
    ];
    for (service, ts, date, body, sig) in vectors {
        let host = format!("{service}.tencentcloudapi.com");
        let a = format!("{prefix}/{date}/{service}/tc3_request, SignedHeaders=content-type;host, Signature={sig}");
        assert_eq!(
            tc3_check(&host, json, ts, body, &a, ts + 299).as_deref(),
            Ok(service)
        );
        let e = tc3_check(&host, json, ts, &format!("{body} "), &a, ts).unwrap_err();
        assert!(e.starts_with("AuthFailure.SignatureFailure"), "{e}");
        let e = tc3_check(&host, "application/json; charset=utf-8", ts, body, &a, ts);
        assert!(e.is_err(), "the content type is signed");
    }
}
