//! AWS Signature Version 4 as small pure functions: header signing and presigned query strings,
//! with session tokens. Shared by the S3 store and the SQS queue (and usable for the
//! S3-compatible endpoints of COS and OBS, which accept SigV4 with service `s3`).
//!
//! Written here rather than taken from `aws-sigv4`: that crate drags in the smithy runtime
//! (`aws-smithy-runtime-api`, `-http`, `-types`, `aws-credential-types`) for what is ~150 lines on
//! top of the `sha2`/`hmac` we already build. The unit tests reproduce cases of the official suite
//! shipped inside `aws-sigv4` 1.6.4 (`aws-signing-test-suite/v4/...`).

use chrono::{DateTime, Utc};

use crate::client::sign::{hmac_sha256, sha256_hex, uri_encode};

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Payload hash of a request whose body is not signed (S3 accepts it; presigned URLs use it).
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// Who signs, where, when.
#[derive(Clone, Copy)]
pub struct Signer<'a> {
    pub access_key: &'a str,
    pub secret_key: &'a str,
    pub token: Option<&'a str>,
    pub region: &'a str,
    pub service: &'a str,
    pub time: DateTime<Utc>,
}

/// The parts of a request that enter the signature.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub method: &'a str,
    /// Decoded path (`/bucket/photos/my cat.jpg`); encoded once here, `/` kept, as S3 wants.
    pub path: &'a str,
    /// Decoded query pairs, in any order.
    pub query: Vec<(String, String)>,
    /// Headers to sign, `host` included (with the port when it is not the default).
    pub headers: Vec<(String, String)>,
    /// Hex SHA-256 of the body, or [`UNSIGNED_PAYLOAD`].
    pub payload_hash: String,
}

pub fn amz_date(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

fn scope(s: &Signer) -> String {
    format!(
        "{}/{}/{}/aws4_request",
        s.time.format("%Y%m%d"),
        s.region,
        s.service
    )
}

fn canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Lower-case names, sorted; values trimmed with inner runs of spaces collapsed.
fn canonical_headers(headers: &[(String, String)]) -> (String, String) {
    let mut hs: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            let v = v.split_whitespace().collect::<Vec<_>>().join(" ");
            (k.to_ascii_lowercase(), v)
        })
        .collect();
    hs.sort();
    let canonical = hs.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed = hs
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    (canonical, signed)
}

pub fn canonical_request(req: &Request) -> String {
    let (headers, signed) = canonical_headers(&req.headers);
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        uri_encode(req.path, true),
        canonical_query(&req.query),
        headers,
        signed,
        req.payload_hash
    )
}

pub fn string_to_sign(s: &Signer, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{}\n{}\n{}",
        amz_date(s.time),
        scope(s),
        sha256_hex(canonical_request.as_bytes())
    )
}

pub fn signature(s: &Signer, string_to_sign: &str) -> String {
    let k_date = hmac_sha256(
        format!("AWS4{}", s.secret_key).as_bytes(),
        s.time.format("%Y%m%d").to_string().as_bytes(),
    );
    let k_region = hmac_sha256(&k_date, s.region.as_bytes());
    let k_service = hmac_sha256(&k_region, s.service.as_bytes());
    let k_signing = hmac_sha256(&k_service, b"aws4_request");
    hex::encode(hmac_sha256(&k_signing, string_to_sign.as_bytes()))
}

/// Sign with headers: adds `x-amz-date` (and `x-amz-security-token`) to `req.headers`, and returns
/// every header the request must carry besides `host`: those plus `authorization`.
pub fn sign_headers(s: &Signer, mut req: Request) -> Vec<(String, String)> {
    req.headers.retain(|(k, _)| {
        !k.eq_ignore_ascii_case("x-amz-date") && !k.eq_ignore_ascii_case("authorization")
    });
    req.headers.push(("x-amz-date".into(), amz_date(s.time)));
    if let Some(t) = s.token {
        req.headers.push(("x-amz-security-token".into(), t.into()));
    }
    let creq = canonical_request(&req);
    let sts = string_to_sign(s, &creq);
    let sig = signature(s, &sts);
    let (_, signed) = canonical_headers(&req.headers);
    let auth = format!(
        "{ALGORITHM} Credential={}/{}, SignedHeaders={signed}, Signature={sig}",
        s.access_key,
        scope(s)
    );
    let mut out: Vec<(String, String)> = req
        .headers
        .into_iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("host"))
        .collect();
    out.push(("authorization".into(), auth));
    out
}

/// Presign: the query pairs (decoded) to add to the request's own query, `X-Amz-Signature` last.
/// Only `host` is signed; the token is part of the signed query, as S3 expects.
pub fn presign_query(s: &Signer, mut req: Request, expires_secs: u64) -> Vec<(String, String)> {
    let mut added = vec![
        ("X-Amz-Algorithm".to_string(), ALGORITHM.to_string()),
        (
            "X-Amz-Credential".to_string(),
            format!("{}/{}", s.access_key, scope(s)),
        ),
        ("X-Amz-Date".to_string(), amz_date(s.time)),
        ("X-Amz-Expires".to_string(), expires_secs.to_string()),
    ];
    if let Some(t) = s.token {
        added.push(("X-Amz-Security-Token".to_string(), t.to_string()));
    }
    let (_, signed) = canonical_headers(&req.headers);
    added.push(("X-Amz-SignedHeaders".to_string(), signed));
    req.query.extend(added.iter().cloned());
    let creq = canonical_request(&req);
    let sig = signature(s, &string_to_sign(s, &creq));
    added.push(("X-Amz-Signature".to_string(), sig));
    added
}

/// Encode decoded query pairs for a URL, the same way they were signed.
pub fn encode_query(query: &[(String, String)]) -> String {
    query
        .iter()
        .map(|(k, v)| format!("{}={}", uri_encode(k, false), uri_encode(v, false)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    //! Vectors copied from the AWS SigV4 test suite in the `aws-sigv4` 1.6.4 crate source
    //! (`aws-signing-test-suite/v4/<case>/{header,query}-{canonical-request,signature}.txt`).
    use super::*;

    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn suite_signer(token: Option<&'static str>) -> Signer<'static> {
        Signer {
            access_key: "AKIDEXAMPLE",
            secret_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            token,
            region: "us-east-1",
            service: "service",
            time: DateTime::parse_from_rfc3339("2015-08-30T12:36:00Z")
                .unwrap()
                .with_timezone(&Utc),
        }
    }

    fn get(path: &'static str, query: &[(&str, &str)]) -> Request<'static> {
        Request {
            method: "GET",
            path,
            query: query
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            headers: vec![("Host".into(), "example.amazonaws.com".into())],
            payload_hash: EMPTY.into(),
        }
    }

    fn header_sig(s: &Signer, req: Request) -> (String, String) {
        let mut r = req.clone();
        r.headers.push(("x-amz-date".into(), amz_date(s.time)));
        if let Some(t) = s.token {
            r.headers.push(("x-amz-security-token".into(), t.into()));
        }
        let creq = canonical_request(&r);
        let out = sign_headers(s, req);
        let auth = out.iter().find(|(k, _)| k == "authorization").unwrap();
        let sig = auth.1.rsplit_once("Signature=").unwrap().1.to_string();
        (creq, sig)
    }

    fn query_sig(s: &Signer, req: Request) -> String {
        presign_query(s, req, 3600)
            .into_iter()
            .find(|(k, _)| k == "X-Amz-Signature")
            .unwrap()
            .1
    }

    #[test]
    fn get_vanilla() {
        let s = suite_signer(None);
        let (creq, sig) = header_sig(&s, get("/", &[]));
        assert_eq!(
            creq,
            format!("GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n{EMPTY}")
        );
        assert_eq!(
            sig,
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
        let out = sign_headers(&s, get("/", &[]));
        let auth = &out.iter().find(|(k, _)| k == "authorization").unwrap().1;
        assert_eq!(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
        assert_eq!(
            query_sig(&s, get("/", &[])),
            "e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d"
        );
    }

    #[test]
    fn get_vanilla_with_session_token() {
        let s = suite_signer(Some(
            "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267",
        ));
        let (creq, sig) = header_sig(&s, get("/", &[]));
        assert!(
            creq.contains("\nhost;x-amz-date;x-amz-security-token\n"),
            "{creq}"
        );
        assert_eq!(
            sig,
            "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"
        );
        assert_eq!(
            query_sig(&s, get("/", &[])),
            "7ff2b50b376cb4d151970630573d6291dc128cc5c2a12ffb237f73cc53f67b6c"
        );
        let q = presign_query(&s, get("/", &[]), 3600);
        assert!(q.iter().any(|(k, _)| k == "X-Amz-Security-Token"));
    }

    #[test]
    fn get_vanilla_query_order_key_case() {
        let s = suite_signer(None);
        let req = get("/", &[("Param2", "value2"), ("Param1", "value1")]);
        let (creq, sig) = header_sig(&s, req.clone());
        assert!(
            creq.starts_with("GET\n/\nParam1=value1&Param2=value2\n"),
            "{creq}"
        );
        assert_eq!(
            sig,
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
        );
        assert_eq!(
            query_sig(&s, req),
            "86012e2c9ad4d77369f5d81c11f75158aae4f895a085212cc6d3f923d300bed5"
        );
    }

    /// Unnormalized, single-encoded path: the S3 rule.
    #[test]
    fn get_space_unnormalized() {
        let s = suite_signer(None);
        let req = get("/example space/", &[]);
        let (creq, sig) = header_sig(&s, req.clone());
        assert!(creq.starts_with("GET\n/example%20space/\n"), "{creq}");
        assert_eq!(
            sig,
            "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"
        );
        assert_eq!(
            query_sig(&s, req),
            "7a1f416954786484c9824d93c1f26ef64acb9b1b6c9154d08c9f07d0e394abf6"
        );
    }

    #[test]
    fn encoding_rules() {
        assert_eq!(uri_encode("a b+c/d~é", true), "a%20b%2Bc/d~%C3%A9");
        assert_eq!(uri_encode("a/b", false), "a%2Fb");
        assert_eq!(
            encode_query(&[("prefix".into(), "in/x y".into())]),
            "prefix=in%2Fx%20y"
        );
    }
}
