//! Tencent's legacy image services (`service.image.myqcloud.com`, seed 002): the AppID-based
//! "multi-effective" signature of the official legacy SDK (`qcloud-image` 1.0.0,
//! `qcloud_image/auth.py`), the `{"code": n, "message": ...}` answer, and what each code of the
//! seed's table means for the caller. The keys go out only inside the signature.

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;

use super::api::ApiError;
use super::errors;
use crate::client::credential::Cloud;
use crate::client::{CredentialSlots, Service};

/// The production host; requests are signed for no host, but the service expects this one.
pub const HOST: &str = "service.image.myqcloud.com";
/// The AppID when the object's bucket does not name one (objects outside COS).
pub const APPID_VAR: &str = "TENCENTCLOUD_APPID";
/// How long one signature is valid: one call, with its retries.
const SIGNATURE_TTL_SECS: i64 = 300;

/// What the signature covers: `a=<appid>&b=<bucket>&k=<SecretId>&e=<expiry>&t=<now>&r=<random>&f=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInput<'a> {
    pub appid: &'a str,
    /// The COS bucket name without `-<appid>`; empty when there is none.
    pub bucket: &'a str,
    pub secret_id: &'a str,
    pub now: i64,
    pub expires: i64,
    pub random: u32,
}

/// `Authorization`: Base64(HMAC-SHA1(SecretKey, orig) as raw bytes, then orig).
pub fn authorization(secret_key: &str, s: &SignInput<'_>) -> String {
    let orig = format!(
        "a={}&b={}&k={}&e={}&t={}&r={}&f=",
        s.appid, s.bucket, s.secret_id, s.expires, s.now, s.random
    );
    // HMAC takes keys of any length.
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(secret_key.as_bytes()) else {
        return String::new();
    };
    mac.update(orig.as_bytes());
    let mut raw = mac.finalize().into_bytes().to_vec();
    raw.extend_from_slice(orig.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(raw)
}

/// The AppID and legacy bucket name of a COS bucket `<name>-<appid>`.
pub fn split_bucket(bucket: &str) -> Option<(&str, &str)> {
    super::check_bucket(bucket).ok()?;
    bucket.rsplit_once('-')
}

/// The service could not download the URL it was given: send the image inline instead.
pub const DOWNLOAD_FAILED: [i64; 4] = [-1308, -1403, -1506, -1507];
/// The image itself is the problem: no retry helps, the stage records it.
pub const IMAGE_PROBLEM: [i64; 4] = [-1300, -1400, -1404, -1505];
/// "The image behind this URL is already marked as a bad image": a moderation signal.
pub const MARKED_BAD: i64 = -5062;

/// What the seed's table says about `code`, worded as what to do about it.
pub fn explain(code: i64) -> &'static str {
    match code {
        3 => "bad request (message `account abnormal, errorno is:2`: the account is in arrears and the service stopped)",
        4 => "empty signature",
        5 => "malformed signature",
        6 => "the AppID, bucket and URL do not match: the AppID must be the one of the bucket the object is in",
        7 | 8 => "signature encoding failed on the service side",
        9 => "signature expired: check the clock of the machine",
        10 => "the AppID does not exist: check the bucket name or TENCENTCLOUD_APPID",
        11 => "the SecretId does not exist: the legacy service takes the account's API keys (TENCENTCLOUD_SECRETID/SECRETKEY), not temporary credentials",
        12 => "the AppID does not match the keys: use keys of the account that owns the bucket",
        13 => "replayed signature",
        14 => "signature check failed: check TENCENTCLOUD_SECRETKEY",
        15 => "rate limited",
        16 => "internal error",
        17 => "unknown error",
        200..=203 => "internal error (pack, unpack, link or timeout)",
        -1300 => "the image is empty",
        -1308 => "the service could not download the image URL",
        -1400 => "not a valid image format (jpg, png or bmp)",
        -1403 => "image download failed",
        -1404 => "the image cannot be recognised",
        -1505 => "the URL is malformed",
        -1506 => "the image download timed out",
        -1507 => "the service cannot reach the server behind the URL",
        MARKED_BAD => "Tencent has marked the image behind this URL as a bad image (不良图片) and will not serve it",
        _ => "undocumented error code",
    }
}

/// The answer as JSON when `code` is 0, else the error with its retry decision.
pub fn parse_response(status: u16, text: &str) -> Result<Value, ApiError> {
    let http = || ApiError {
        code: format!("HTTP{status}"),
        message: text.chars().take(300).collect(),
        retryable: status == 429 || status >= 500,
    };
    let v: Value = serde_json::from_str(text).map_err(|_| http())?;
    // The seed answers errors in the body; whether with HTTP 200 or an error status is not
    // documented, so the body's code decides when there is one.
    let Some(code) = v["code"].as_i64() else {
        return Err(http());
    };
    if code == 0 {
        return if status < 300 { Ok(v) } else { Err(http()) };
    }
    let message = v["message"].as_str().unwrap_or_default();
    Err(ApiError {
        code: code.to_string(),
        message: format!("{} ({message})", explain(code)),
        // A download failure is answered by the inline fallback, not by asking again.
        retryable: errors::retryable_number(code) && !DOWNLOAD_FAILED.contains(&code),
    })
}

/// One legacy endpoint, e.g. `/v1/detection/imagetag_detect`.
#[derive(Debug, Clone)]
pub struct LegacyApi {
    /// `TRIAGE_<SERVICE>_ENDPOINT`, no trailing `/`.
    pub endpoint: Option<String>,
    pub credentials: CredentialSlots,
    pub calls: Service,
}

impl LegacyApi {
    pub fn new(
        config: &crate::config::Config,
        service: &'static str,
        defaults: crate::client::Tuning,
    ) -> Self {
        LegacyApi {
            endpoint: config.endpoint(service).map(str::to_string),
            credentials: config.credentials.clone(),
            calls: Service::new(service, config.tuning(service, defaults)),
        }
    }

    /// POST `body` to `path` signed for `appid` and `bucket`, retrying under the service's
    /// policy; returns the whole answer (`code` 0).
    pub async fn post(
        &self,
        path: &str,
        appid: &str,
        bucket: &str,
        body: &Value,
    ) -> Result<Value, ApiError> {
        let payload = serde_json::to_vec(body).map_err(|e| ApiError {
            code: "InvalidRequest".into(),
            message: e.to_string(),
            retryable: false,
        })?;
        self.calls
            .call(|| self.once(path, appid, bucket, &payload))
            .await
    }

    async fn once(
        &self,
        path: &str,
        appid: &str,
        bucket: &str,
        payload: &[u8],
    ) -> Result<Value, ApiError> {
        let creds = self
            .credentials
            .get(Cloud::Tencent)
            .ok_or_else(|| ApiError {
                code: "NoCredentials".into(),
                message: "no Tencent Cloud credentials: set TENCENTCLOUD_SECRETID/SECRETKEY".into(),
                retryable: false,
            })?;
        let now = chrono::Utc::now().timestamp();
        let auth = authorization(
            &creds.secret_key,
            &SignInput {
                appid,
                bucket,
                secret_id: &creds.access_key,
                now,
                expires: now + SIGNATURE_TTL_SECS,
                random: fastrand::u32(0..1_000_000_000),
            },
        );
        let base = match &self.endpoint {
            Some(e) => url::Url::parse(e).map_err(|e| e.to_string()),
            None => crate::client::origin::https(HOST).map_err(|e| e.to_string()),
        }
        // An endpoint's own path (a proxy prefix) is kept.
        .and_then(|b| crate::client::origin::request_uri(&b, path))
        .map(|uri| uri.to_string())
        .map_err(|message| ApiError {
            code: "InvalidEndpoint".into(),
            message,
            retryable: false,
        })?;
        let resp = crate::client::http()
            .post(base)
            .header("host", HOST)
            .header("content-type", "application/json")
            .header("authorization", auth)
            .body(payload.to_vec())
            .send()
            .await
            .map_err(|e| ApiError {
                code: if e.is_timeout() { "Timeout" } else { "Network" }.into(),
                message: format!("legacy image service request failed: {}", e.without_url()),
                retryable: true,
            })?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| ApiError {
            code: "Network".into(),
            message: e.without_url().to_string(),
            retryable: true,
        })?;
        parse_response(status, &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_layout() {
        let s = SignInput {
            appid: "1250000000",
            bucket: "photos",
            secret_id: "AKIDexample",
            now: 1_700_000_000,
            expires: 1_700_000_300,
            random: 7,
        };
        let raw = base64::engine::general_purpose::STANDARD
            .decode(authorization("key", &s))
            .unwrap();
        let orig = b"a=1250000000&b=photos&k=AKIDexample&e=1700000300&t=1700000000&r=7&f=";
        assert_eq!((raw.len(), &raw[20..]), (20 + orig.len(), &orig[..]));
        assert_eq!(
            split_bucket("photos-1250000000"),
            Some(("photos", "1250000000"))
        );
        assert_eq!(split_bucket("photos"), None);
    }

    /// Vectors made by the official SDK's own signer (`qcloud-image` 1.0.0, `Auth.get_sign`,
    /// clock and random fixed): tests/vendor_vectors/legacy_image_sign.py.
    #[test]
    fn matches_the_official_sdk() {
        let vectors: Vec<Value> = serde_json::from_str(include_str!(
            "../../../tests/vendor_vectors/legacy_image_sign.json"
        ))
        .unwrap();
        assert!(vectors.len() >= 4);
        for v in vectors {
            let text = |k: &str| v[k].as_str().unwrap().to_string();
            let got = authorization(
                &text("secret_key"),
                &SignInput {
                    appid: &text("appid"),
                    bucket: &text("bucket"),
                    secret_id: &text("secret_id"),
                    now: v["now"].as_i64().unwrap(),
                    expires: v["expires"].as_i64().unwrap(),
                    random: v["random"].as_u64().unwrap() as u32,
                },
            );
            assert_eq!(got, text("authorization"), "{v}");
        }
    }

    #[test]
    fn every_code_of_the_table_is_classified() {
        let permanent = [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
        let retryable = [15, 16, 17, 200, 201, 202, 203];
        let answer = |c: i64| parse_response(200, &format!(r#"{{"code": {c}, "message": "m"}}"#));
        for c in permanent {
            let e = answer(c).unwrap_err();
            assert!(!e.retryable, "{c}");
            assert_eq!(e.code, c.to_string());
            assert_ne!(explain(c), "undocumented error code", "{c}");
        }
        for c in retryable {
            assert!(answer(c).unwrap_err().retryable, "{c}");
        }
        // Download failures go to the inline fallback, not to a retry of the same URL; image
        // problems and the bad-image mark are final.
        for c in DOWNLOAD_FAILED
            .into_iter()
            .chain(IMAGE_PROBLEM)
            .chain([MARKED_BAD])
        {
            let e = answer(c).unwrap_err();
            assert!(!e.retryable, "{c}");
            assert_ne!(explain(c), "undocumented error code", "{c}");
        }
        assert!(answer(999).unwrap_err().message.contains("undocumented"));
        assert_eq!(answer(0).unwrap()["code"], 0);
        assert!(parse_response(502, "<html>").unwrap_err().retryable);
        // An error status with a coded body: the code decides.
        assert_eq!(parse_response(400, r#"{"code": 9}"#).unwrap_err().code, "9");
        assert!(parse_response(500, r#"{"code": 0}"#).is_err());
    }
}
