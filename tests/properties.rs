//! Issue 11, point 7: parsers of outside input run on 10,000 generated inputs each without a
//! panic, and round trips hold where they exist: events (any bytes, and fixtures with a random
//! splice), magic-byte sniffing and header dimensions, each signer's key encoding (encode then
//! decode), vendor XML/JSON answers, platform headers and time budgets, and the COS, OBS,
//! TC3 and APIG signers against the independent verifiers (`tests/vendor_sign`), which must
//! also refuse the signature once the body changes.

#[path = "vendor_sign/mod.rs"]
mod vendor_sign;

use image_triage::events::parse_event;
use image_triage::object::Provider;
use percent_encoding::percent_decode_str;
use proptest::prelude::*;

const CASES: u32 = 10_000;

fn fixtures() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/events");
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    out.sort();
    out
}

fn any_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 0..40).prop_map(|v| v.into_iter().collect())
}

const HINTS: [Option<Provider>; 4] = [
    None,
    Some(Provider::S3),
    Some(Provider::Cos),
    Some(Provider::Obs),
];

proptest! {
    #![proptest_config(ProptestConfig {
        cases: CASES,
        // Failures print their minimal input; nothing is written into the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn events_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512), hint in 0usize..4) {
        let _ = parse_event(&bytes, HINTS[hint]);
    }

    #[test]
    fn events_spliced_fixtures(i in any::<prop::sample::Index>(), at in any::<prop::sample::Index>(),
                               cut in 0usize..16, insert in any_text(), hint in 0usize..4) {
        let all = fixtures();
        let text = &all[i.index(all.len())];
        let mut bytes = text.as_bytes().to_vec();
        let start = at.index(bytes.len().max(1)).min(bytes.len());
        let end = (start + cut).min(bytes.len());
        bytes.splice(start..end, insert.bytes());
        let _ = parse_event(&bytes, HINTS[hint]);
    }

    #[test]
    fn sniffing_and_dimensions(magic in 0usize..8, rest in proptest::collection::vec(any::<u8>(), 0..256),
                               size in any::<u64>()) {
        const PREFIXES: [&[u8]; 8] = [
            b"", b"\\x89PNG\\r\\n\\x1a\\n", b"\\xff\\xd8\\xff", b"GIF89a", b"RIFF\\0\\0\\0\\0WEBP",
            b"BM", b"II*\\0", b"MM\\0*",
        ];
        let mut head = PREFIXES[magic].to_vec();
        head.extend(rest);
        let _ = image_triage::preflight::sniff(&head);
        let _ = image_triage::preflight::inspect_header(&head, size);
    }

    #[test]
    fn key_encodings_round_trip(key in any_text()) {
        let s3 = image_triage::client::sign::uri_encode(&key, true);
        prop_assert_eq!(percent_decode_str(&s3).decode_utf8().unwrap(), key.as_str());
        let cos = image_triage::cloud::tencent::cos_sign::wire_path(&key);
        prop_assert_eq!(percent_decode_str(&cos).decode_utf8().unwrap(), format!("/{key}"));
        let obs = image_triage::store::obs::credential::encode_key(&key);
        prop_assert_eq!(percent_decode_str(&obs).decode_utf8().unwrap(), key.as_str());
        // Nothing a URL parser could read as a path separator trick or a query survives raw.
        for encoded in [&s3, &cos, &obs] {
            prop_assert!(!encoded.contains(['?', '#', ' ']));
        }
    }

    #[test]
    fn vendor_answers(body in proptest::collection::vec(any::<u8>(), 0..400), status in any::<u16>()) {
        use image_triage::store::xml;
        let _ = xml::parse_tagging(&body);
        let _ = xml::parse_list(&body);
        let _ = xml::parse_acl(&body);
        let _ = xml::copy_result_etag(&body);
        let _ = image_triage::cloud::tencent::cos::parse_error(status, &body);
    }

    #[test]
    fn vendor_xml_shapes(tag in 0usize..5, inner in any_text()) {
        use image_triage::store::xml;
        const SHAPES: [&str; 5] = [
            "<Tagging><TagSet><Tag><Key>{}</Key><Value>{}</Value></Tag></TagSet></Tagging>",
            "<ListBucketResult><Contents><Key>{}</Key><Size>{}</Size><ETag>{}</ETag></Contents><IsTruncated>{}</IsTruncated></ListBucketResult>",
            "<AccessControlPolicy><Owner><ID>{}</ID></Owner><AccessControlList><Grant><Grantee><URI>{}</URI></Grantee><Permission>{}</Permission></Grant></AccessControlList></AccessControlPolicy>",
            "<CopyObjectResult><ETag>{}</ETag><LastModified>{}</LastModified></CopyObjectResult>",
            "<Error><Code>{}</Code><Message>{}</Message></Error>",
        ];
        let body = SHAPES[tag].replace("{}", &inner);
        let _ = xml::parse_tagging(body.as_bytes());
        let _ = xml::parse_list(body.as_bytes());
        let _ = xml::parse_acl(body.as_bytes()).map(|a| a.grant_headers("x-amz-", str::to_string));
        let _ = xml::copy_result_etag(body.as_bytes());
        let _ = image_triage::cloud::tencent::cos::parse_error(500, body.as_bytes());
    }

    #[test]
    fn platform_headers_and_budgets(value in any_text(), secs in any::<f64>(), bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
        use image_triage::client::deadline;
        let _ = deadline::after_ms_text(&value);
        if let Some(d) = deadline::secs_f64(secs) {
            prop_assert!(d <= deadline::MAX_BUDGET);
            prop_assert!(deadline::after(d).is_some() || d.is_zero());
        }
        let mut h = axum::http::HeaderMap::new();
        if let Ok(v) = axum::http::HeaderValue::from_bytes(&bytes) {
            for name in ["x-cff-access-key", "x-cff-secret-key", "x-cff-auth-token", "x-cff-security-token"] {
                h.insert(name, v.clone());
            }
        }
        let _ = image_triage::runtime::functiongraph::credentials_from(&h);
    }

    #[test]
    fn cos_signatures_verify_independently(key in any_text(), secret in "[ -~]{1,40}", param in any_text()) {
        use image_triage::cloud::tencent::cos_sign;
        let params = vec![("x".to_string(), param)];
        let headers = vec![("host".to_string(), "b-1250000000.cos.ap-guangzhou.myqcloud.com".to_string())];
        let path = format!("/{key}");
        let key_time = cos_sign::key_time(1_700_000_000, 1_700_000_900);
        let ours = cos_sign::signature(&secret, &key_time, &cos_sign::Request {
            method: "get", path: &path, params: &params, headers: &headers,
        });
        let theirs = vendor_sign::cos::signature(&secret, &key_time, "get", &path, &params, &headers);
        prop_assert_eq!(ours, theirs);
    }

    #[test]
    fn obs_signatures_verify_independently(key in any_text(), value in "[ -~]{0,40}", secret in "[ -~]{1,40}") {
        use image_triage::store::obs::credential as ours;
        let date = "Tue, 01 Dec 2026 12:00:00 GMT";
        let resource = ours::canonical_resource("examplebucket", &key, &[("metadata", None)]);
        let sts = ours::string_to_sign("PUT", "", "image/png", date, &[("x-obs-meta-a", value.as_str())], &resource);
        let raw_path = format!("/{}", ours::encode_key(&key));
        let theirs_resource = vendor_sign::obs::canonical_resource(
            "examplebucket", &raw_path, &[("metadata".to_string(), None)],
        );
        let theirs_sts = vendor_sign::obs::string_to_sign(
            "PUT", "", "image/png", date, &[("x-obs-meta-a".to_string(), value.clone())], &theirs_resource,
        );
        prop_assert_eq!(ours::signature(&secret, &sts), vendor_sign::obs::signature(&secret, &theirs_sts));
    }

    #[test]
    fn tc3_signatures_verify_independently(
        service in "[a-z]{2,10}", secret in "[ -~]{1,40}", id in "[A-Za-z0-9]{1,36}",
        payload in proptest::collection::vec(any::<u8>(), 0..300),
        ts in 0i64..4_102_444_800, content_type in "[ -~]{1,40}",
    ) {
        use image_triage::cloud::tencent::tc3;
        let host = format!("{service}.tencentcloudapi.com");
        let call = tc3::Call { service: &service, host: &host, content_type: &content_type, timestamp: ts, payload: &payload };
        let headers = vec![
            ("authorization".to_string(), tc3::authorization(&id, &secret, &call)),
            ("content-type".to_string(), content_type.clone()),
            ("x-tc-timestamp".to_string(), ts.to_string()),
        ];
        let req = vendor_sign::tc3::Request { method: "POST", host: &host, raw_query: "", headers: &headers, body: &payload };
        prop_assert_eq!(vendor_sign::tc3::verify(&req, &id, &secret, ts), Ok(service.clone()));
        // One byte of payload more, and the signature no longer holds.
        let mut other = payload.clone();
        other.push(b'x');
        let req = vendor_sign::tc3::Request { body: &other, ..req };
        prop_assert!(vendor_sign::tc3::verify(&req, &id, &secret, ts).is_err());
    }

    #[test]
    fn apig_signatures_verify_independently(
        segments in proptest::collection::vec(any_text(), 1..4),
        query in proptest::collection::vec((any_text(), any_text()), 0..3),
        token in proptest::option::of("[!-~]{1,60}"), value in "[ -~]{0,40}",
        secret in "[ -~]{1,40}", body in proptest::collection::vec(any::<u8>(), 0..300),
        unsigned_payload in any::<bool>(),
    ) {
        use image_triage::cloud::huawei::apig;
        let path = format!("/v2/{}", segments.join("/"));
        let date = "20261201T120000Z";
        let mut headers: Vec<(&str, &str)> = vec![
            ("Host", "image.cn-north-4.myhuaweicloud.com"),
            ("Content-Type", "application/json"),
            ("X-Sdk-Date", date),
            ("X-Project-Id", value.as_str()),
        ];
        if let Some(t) = &token {
            headers.push(("X-Security-Token", t));
        }
        if unsigned_payload {
            headers.push(("X-Sdk-Content-Sha256", "UNSIGNED-PAYLOAD"));
        }
        let params: Vec<(&str, &str)> = query.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let auth = apig::sign("AK", &secret, "POST", &path, &params, &headers, &body);
        // On the wire: each path segment and query part percent-encoded.
        let enc = |s: &str| vendor_sign::pct_encode(s, vendor_sign::UNRESERVED);
        let raw_path: String = path.split('/').map(enc).collect::<Vec<_>>().join("/");
        let raw_query: String = query.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&");
        let mut sent: Vec<(String, String)> = headers.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.to_string())).collect();
        sent.push(("authorization".into(), auth));
        let now = chrono::NaiveDateTime::parse_from_str(date, "%Y%m%dT%H%M%SZ").unwrap().and_utc().timestamp();
        let req = vendor_sign::apig::Request { method: "POST", raw_path: &raw_path, raw_query: &raw_query, headers: &sent, body: &body };
        let verified = vendor_sign::apig::verify(&req, "AK", &secret, token.as_deref(), now);
        prop_assert!(verified.is_ok(), "{:?}", verified);
        if !unsigned_payload {
            let mut other = body.clone();
            other.push(b'x');
            let req = vendor_sign::apig::Request { body: &other, ..req };
            prop_assert!(vendor_sign::apig::verify(&req, "AK", &secret, token.as_deref(), now).is_err());
        }
    }

    #[test]
    fn redaction_of_any_text(text in any_text(), secret in "[A-Za-z0-9]{8,20}", i in 0usize..4) {
        use image_triage::logging::redact_url_queries as redact;
        let _ = redact(&text);
        let quoted = [
            format!("{text} https://h/k?X-Amz-Signature={secret} {text}"),
            format!("{text}amqp://u:{secret}@h:5672/ {text}"),
            format!("{text} q-signature={secret}&{text}"),
            format!("{text}\"Signature={secret}\""),
        ];
        let r = redact(&quoted[i]);
        prop_assert!(!r.contains(&secret), "{}", r);
    }
}
