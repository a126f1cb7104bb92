//! Tencent Cloud API 3.0 signing (TC3-HMAC-SHA256), reference tencent.md §4: POST with the
//! JSON body, signing `content-type;host`. Pure functions, tested against the CVM documentation
//! example and the official Python SDK vectors T1–T4. Hand-written: it is ~60 lines on top of
//! `hmac`/`sha2`, and the one crate for it (`tencentcloud-sdk`) brings a whole SDK.

use crate::client::sign::{hmac_sha256, sha256_hex};

pub const ALGORITHM: &str = "TC3-HMAC-SHA256";
pub const SIGNED_HEADERS: &str = "content-type;host";

/// The UTC date (`YYYY-MM-DD`) of a Unix timestamp, as the credential scope wants it.
pub fn date_of(timestamp: i64) -> String {
    chrono::DateTime::from_timestamp(timestamp, 0)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}

pub fn canonical_request(content_type: &str, host: &str, payload: &[u8]) -> String {
    format!(
        "POST\n/\n\ncontent-type:{}\nhost:{}\n\n{SIGNED_HEADERS}\n{}",
        content_type.trim(),
        host.trim(),
        sha256_hex(payload)
    )
}

pub fn string_to_sign(timestamp: i64, service: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{timestamp}\n{}/{service}/tc3_request\n{}",
        date_of(timestamp),
        sha256_hex(canonical_request.as_bytes())
    )
}

pub fn signature(secret_key: &str, timestamp: i64, service: &str, string_to_sign: &str) -> String {
    let k_date = hmac_sha256(
        format!("TC3{secret_key}").as_bytes(),
        date_of(timestamp).as_bytes(),
    );
    let k_service = hmac_sha256(&k_date, service.as_bytes());
    let k_signing = hmac_sha256(&k_service, b"tc3_request");
    hex::encode(hmac_sha256(&k_signing, string_to_sign.as_bytes()))
}

/// What one signed call needs.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    /// `ims`, `tiia`, `tdmq`, ...
    pub service: &'a str,
    /// The production host, e.g. `ims.tencentcloudapi.com` (signed even when the request goes
    /// to an endpoint override).
    pub host: &'a str,
    pub content_type: &'a str,
    pub timestamp: i64,
    pub payload: &'a [u8],
}

/// The `Authorization` header value.
pub fn authorization(secret_id: &str, secret_key: &str, call: &Call<'_>) -> String {
    let cr = canonical_request(call.content_type, call.host, call.payload);
    let sts = string_to_sign(call.timestamp, call.service, &cr);
    format!(
        "{ALGORITHM} Credential={secret_id}/{}/{}/tc3_request, SignedHeaders={SIGNED_HEADERS}, Signature={}",
        date_of(call.timestamp),
        call.service,
        signature(secret_key, call.timestamp, call.service, &sts)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE";
    const KEY: &str = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";

    fn auth(service: &str, ts: i64, body: &str) -> String {
        authorization(
            ID,
            KEY,
            &Call {
                service,
                host: &format!("{service}.tencentcloudapi.com"),
                content_type: "application/json",
                timestamp: ts,
                payload: body.as_bytes(),
            },
        )
    }

    #[test]
    fn cvm_documentation_example() {
        let body = r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
        let ct = "application/json; charset=utf-8";
        let cr = canonical_request(ct, "cvm.tencentcloudapi.com", body.as_bytes());
        assert!(cr.ends_with("35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"));
        assert_eq!(
            sha256_hex(cr.as_bytes()),
            "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
        );
        let sts = string_to_sign(1551113065, "cvm", &cr);
        assert!(
            sts.contains("\n2019-02-25/cvm/tc3_request\n"),
            "UTC date, not UTC+8"
        );
        assert_eq!(
            signature(KEY, 1551113065, "cvm", &sts),
            "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
    }

    #[test]
    fn t1_ims_image_moderation() {
        let body = r#"{"BizType": "default", "DataId": "uploads/cat.jpg", "FileUrl": "https://examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com/uploads/cat.jpg"}"#;
        let cr = canonical_request(
            "application/json",
            "ims.tencentcloudapi.com",
            body.as_bytes(),
        );
        assert!(cr.ends_with("5d6b8ad855e32cac1b0b848b07d2ba186b4dca594b905ca007f554ffa18d4f3a"));
        assert_eq!(
            sha256_hex(cr.as_bytes()),
            "040ea0fa3f5aaa3b816fa5a5db71b2198fbc962f15141492cf503e3e26b181cf"
        );
        assert_eq!(auth("ims", 1700000000, body), "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2023-11-14/ims/tc3_request, SignedHeaders=content-type;host, Signature=6062e54e8eb530f46fb3d2da781ff268b64dfca5d6601492bf0551d9e8c64229");
    }

    #[test]
    fn t2_ims_with_temporary_credentials() {
        // The token travels in X-TC-Token and is not signed: the signature is the same scheme.
        let body = r#"{"DataId": "\u732b-01", "FileContent": "aGVsbG8=", "Interval": 0, "MaxFrames": 1, "User": {"UserId": "u1"}}"#;
        let cr = canonical_request(
            "application/json",
            "ims.tencentcloudapi.com",
            body.as_bytes(),
        );
        assert!(cr.ends_with("d34be37351ccc2d9ad6b3cce2f8f8fff620db9bf4e941af539364a835417728d"));
        assert_eq!(
            sha256_hex(cr.as_bytes()),
            "21ef99bd39ab41c311c5f096f99a7e7ed3cf898fda26c88ce99fc076432aeebb"
        );
        assert_eq!(auth("ims", 1717171717, body), "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2024-05-31/ims/tc3_request, SignedHeaders=content-type;host, Signature=431973860cfa872c28f36853459b2782b82787725d55b1817d5eb566bf4d5a5e");
    }

    #[test]
    fn t3_tiia_and_t4_tdmq() {
        let t3 = r#"{"ImageUrl": "https://examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com/uploads/cat.jpg", "Scenes": ["WEB", "CAMERA"]}"#;
        let a = auth("tiia", 1700000000, t3);
        assert!(a.contains("/2023-11-14/tiia/tc3_request,"), "{a}");
        assert!(
            a.ends_with(
                "Signature=ec421ac6da8638ebcdd560983cef0ecd183f2cea02cd61b5c3ec694025730291"
            ),
            "{a}"
        );
        let t4 = r#"{"QueueName": "image-results", "MsgContent": "{\"key\":\"uploads/cat.jpg\",\"suggestion\":\"Pass\"}", "DelaySeconds": 0}"#;
        assert!(auth("tdmq", 1700000000, t4).ends_with(
            "Signature=bf905d39f02a7c0c51065e724f9b37a83748e3b968c6d899e9ed2e19f0a89e95"
        ));
    }
}
