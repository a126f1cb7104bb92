//! S3's use of SigV4: which headers to sign, the payload hash, presigned GET URLs.
//! The algorithm itself is [`crate::cloud::aws::sigv4`].

use chrono::{DateTime, Utc};

use super::builder::Settings;
use crate::client::Credentials;
use crate::cloud::aws::sigv4::{self, Request, Signer, UNSIGNED_PAYLOAD};

/// Signs as service `s3` in the configured region.
pub fn signer<'a>(settings: &'a Settings, c: &'a Credentials, time: DateTime<Utc>) -> Signer<'a> {
    Signer {
        access_key: &c.access_key,
        secret_key: &c.secret_key,
        token: c.token.as_deref(),
        region: &settings.region,
        service: "s3",
        time,
    }
}

/// Headers for a signed request: `x-amz-content-sha256` (S3 requires it), every header the
/// caller passes (content-type, range, x-amz-*), date, token and authorization.
pub fn sign(
    signer: &Signer,
    method: &str,
    host: &str,
    path: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    body: &[u8],
) -> Vec<(String, String)> {
    let payload_hash = crate::client::sign::sha256_hex(body);
    let mut signed = vec![
        ("host".to_string(), host.to_string()),
        ("x-amz-content-sha256".to_string(), payload_hash.clone()),
    ];
    signed.extend(headers.iter().cloned());
    sigv4::sign_headers(
        signer,
        Request {
            method,
            path,
            query: query.to_vec(),
            headers: signed,
            payload_hash,
        },
    )
}

/// A GET URL valid for `expires_secs` (S3 caps it at 7 days).
pub fn presigned_get(
    signer: &Signer,
    scheme: &str,
    host: &str,
    path: &str,
    expires_secs: u64,
) -> Result<String, crate::client::origin::InvalidHost> {
    use crate::client::origin;
    let base = origin::with_scheme(scheme, host)?;
    let q = sigv4::presign_query(
        signer,
        Request {
            method: "GET",
            path,
            query: vec![],
            headers: vec![("host".into(), host.into())],
            payload_hash: UNSIGNED_PAYLOAD.into(),
        },
        expires_secs.clamp(1, 604_800),
    );
    let target = format!(
        "{}?{}",
        crate::client::sign::uri_encode(path, true),
        sigv4::encode_query(&q)
    );
    origin::request_uri(&base, &target)
        .map(|u| u.to_string())
        .map_err(|_| origin::InvalidHost { host: host.into() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::credential::Cloud;

    /// AWS's S3 documentation example "GET Object" (sig-v4-header-based-auth): `GET /test.txt`
    /// with `Range: bytes=0-9` on examplebucket, 2013-05-24, us-east-1.
    #[test]
    fn aws_s3_get_object_example() {
        let settings = Settings {
            scheme: "https".into(),
            host: "s3.amazonaws.com".into(),
            region: "us-east-1".into(),
            path_style: false,
            aws_endpoint: true,
            cloud: Cloud::Aws,
        };
        let creds = Credentials {
            access_key: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            token: None,
        };
        let t = DateTime::parse_from_rfc3339("2013-05-24T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let s = signer(&settings, &creds, t);
        let (host, path) = settings.locate("examplebucket", "test.txt");
        let h = sign(
            &s,
            "GET",
            &host,
            &path,
            &[],
            &[("range".into(), "bytes=0-9".into())],
            b"",
        );
        let auth = &h.iter().find(|(k, _)| k == "authorization").unwrap().1;
        assert_eq!(auth, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");

        // The documentation's presigned-URL example for the same object.
        let url = presigned_get(&s, "https", &host, &path, 86400).unwrap();
        assert!(
            url.ends_with(
                "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
            ),
            "{url}"
        );
    }
}
