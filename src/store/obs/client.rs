//! HTTP calls to OBS. Every attempt is signed afresh (new `Date`, current credentials).

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::Method;

use super::builder::ObsSettings;
use super::credential as sig;
pub use super::wire::{decode_meta_value, encode_meta_value, retryable_status};
use super::wire::{url_without_query, ErrorXml};
use crate::client::credential::Cloud;
use crate::client::{CredentialSlots, Retryable, TimedOut};
use crate::store::{StoreError, TagRules};

/// OBS object tags: ≤ 10; key ≤ 36 characters (the user guide; the SDK doc says 128: the
/// stricter wins), value ≤ 255; only characters both documents allow.
pub const OBS_TAG_RULES: TagRules = TagRules {
    max_tags: 10,
    max_key_chars: 36,
    max_value_chars: 255,
    extra_chars: " _.:+-@",
};

/// The OBS naming rules, before the name becomes part of a host name.
pub(super) fn check_bucket(bucket: &str) -> Result<(), StoreError> {
    crate::cloud::huawei::check_bucket(bucket).map_err(|reason| StoreError::InvalidBucket {
        bucket: bucket.into(),
        reason: reason.into(),
    })
}

/// How a copy treats metadata; the headers (wire form) go out with it either way.
pub(super) enum Copy {
    /// Metadata copied from the source; the headers add encryption, storage class.
    Keep(Vec<(String, String)>),
    /// Metadata replaced by exactly these `x-obs-meta-*` and standard headers.
    Replace(Vec<(String, String)>),
}

#[derive(Debug, Clone)]
pub struct ObsStore {
    pub(super) settings: ObsSettings,
    pub(super) credentials: CredentialSlots,
}

/// One request, described by what the signature covers.
pub(super) struct Req<'a> {
    pub(super) op: &'static str,
    pub(super) method: Method,
    pub(super) bucket: &'a str,
    pub(super) key: &'a str,
    /// Query parameters, in sending order; sub-resources among them are signed.
    pub(super) query: Vec<(String, Option<String>)>,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Bytes,
}

pub(super) struct Resp {
    pub(super) status: u16,
    pub(super) headers: HeaderMap,
    pub(super) body: Bytes,
}

/// `StoreError` wrapped so the shared retry loop can classify it.
pub(super) struct Attempt(StoreError);

impl Retryable for Attempt {
    fn retryable(&self) -> bool {
        self.0.retryable()
    }
}

impl From<TimedOut> for Attempt {
    fn from(t: TimedOut) -> Self {
        Attempt(StoreError::remote(
            "",
            "",
            "request",
            0,
            "Timeout",
            t.to_string(),
            true,
        ))
    }
}

impl ObsStore {
    pub fn new(settings: ObsSettings, credentials: CredentialSlots) -> Self {
        ObsStore {
            settings,
            credentials,
        }
    }

    pub(super) fn remote(
        req: &Req<'_>,
        status: u16,
        code: &str,
        message: impl Into<String>,
        retryable: bool,
    ) -> StoreError {
        StoreError::remote(
            req.bucket, req.key, req.op, status, code, message, retryable,
        )
    }

    /// The path-and-query part of the URL (identical whether or not an endpoint override is set).
    pub(super) fn path_and_query(req: &Req<'_>) -> String {
        let mut s = format!("/{}", sig::encode_key(req.key));
        for (i, (k, v)) in req.query.iter().enumerate() {
            s.push(if i == 0 { '?' } else { '&' });
            s.push_str(&sig::encode_key(k));
            if let Some(v) = v {
                s.push('=');
                s.push_str(&sig::encode_key(v));
            }
        }
        s
    }

    pub(super) async fn attempt(&self, req: &Req<'_>) -> Result<Resp, StoreError> {
        let creds = self.credentials.get(Cloud::Huawei).ok_or_else(|| {
            Self::remote(
                req,
                0,
                "MissingCredentials",
                "no Huawei Cloud credentials: set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK \
                 (or run under FunctionGraph with an agency)",
                false,
            )
        })?;
        let host = self.settings.host(req.bucket);
        let date = sig::http_date(chrono::Utc::now());
        let mut headers = req.headers.clone();
        if let Some(t) = &creds.token {
            headers.push(("x-obs-security-token".into(), t.clone()));
        }
        let find = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
                .unwrap_or("")
        };
        let query: Vec<(&str, Option<&str>)> = req
            .query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_deref()))
            .collect();
        let resource = sig::canonical_resource(req.bucket, req.key, &query);
        let pairs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let sts = sig::string_to_sign(
            req.method.as_str(),
            find("content-md5"),
            find("content-type"),
            &date,
            &pairs,
            &resource,
        );
        let auth = sig::authorization(&creds.access_key, &sig::signature(&creds.secret_key, &sts));
        let base = match &self.settings.endpoint {
            Some(e) => url::Url::parse(e).map_err(|e| e.to_string()),
            None => crate::client::origin::https(&host).map_err(|e| e.to_string()),
        }
        .map_err(|reason| StoreError::InvalidBucket {
            bucket: req.bucket.into(),
            reason,
        })?;
        // The key exactly as signed: it may hold `.`/`..` segments (see client::exact).
        let target = Self::path_and_query(req);
        let mut wire = vec![
            ("host".to_string(), host.clone()),
            ("date".to_string(), date),
            ("authorization".to_string(), auth),
        ];
        wire.extend(headers.iter().cloned());
        let crate::client::exact::Reply {
            status,
            headers,
            body,
        } = crate::client::exact::send(&req.method, &base, &target, &wire, req.body.clone())
            .await
            .map_err(|e| {
                Self::remote(
                    req,
                    0,
                    "RequestError",
                    format!(
                        "{}: {e}",
                        url_without_query(&format!(
                            "{}{target}",
                            base.as_str().trim_end_matches('/')
                        ))
                    ),
                    true,
                )
            })?;
        if status < 300 || (status == 416 && req.op == "get range") {
            return Ok(Resp {
                status,
                headers,
                body,
            });
        }
        let parsed: ErrorXml = std::str::from_utf8(&body)
            .ok()
            .and_then(|s| quick_xml::de::from_str(s).ok())
            .unwrap_or_default();
        let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
        let code = [parsed.code.as_str(), header("x-obs-error-code")]
            .into_iter()
            .find(|c| !c.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| format!("HTTP{status}"));
        if status == 404 && (code == "NoSuchKey" || req.method == Method::HEAD || code == "HTTP404")
        {
            return Err(StoreError::NotFound {
                bucket: req.bucket.into(),
                key: req.key.into(),
            });
        }
        let message = [parsed.message.as_str(), header("x-obs-error-message")]
            .into_iter()
            .find(|m| !m.is_empty())
            .unwrap_or("request failed")
            .to_string();
        Err(Self::remote(
            req,
            status,
            &code,
            message,
            retryable_status(status, &code),
        ))
    }

    pub(super) async fn send(&self, req: Req<'_>) -> Result<Resp, StoreError> {
        check_bucket(req.bucket)?;
        let r = self
            .settings
            .service
            .call(|| async { self.attempt(&req).await.map_err(Attempt) })
            .await;
        r.map_err(|Attempt(e)| e.placed(req.bucket, req.key, req.op))
    }

    pub(super) fn req<'a>(
        op: &'static str,
        method: Method,
        bucket: &'a str,
        key: &'a str,
    ) -> Req<'a> {
        Req {
            op,
            method,
            bucket,
            key,
            query: vec![],
            headers: vec![],
            body: Bytes::new(),
        }
    }

    /// Copy `from` onto `to` (see [`Copy`]). Returns the new ETag.
    pub(super) async fn copy_onto(
        &self,
        bucket: &str,
        from: &str,
        to: &str,
        how: Copy,
        if_match: Option<&str>,
    ) -> Result<String, StoreError> {
        let mut req = Self::req("copy", Method::PUT, bucket, to);
        req.headers.push((
            "x-obs-copy-source".into(),
            format!("/{bucket}/{}", sig::encode_key(from)),
        ));
        if let Some(etag) = if_match {
            // obs_04_0082: copied only while the source's ETag is this one, else 412.
            req.headers.push((
                "x-obs-copy-source-if-match".into(),
                format!("\"{}\"", etag.trim_matches('"')),
            ));
        }
        let (directive, headers) = match how {
            Copy::Keep(h) => ("COPY", h),
            Copy::Replace(h) => ("REPLACE", h),
        };
        req.headers
            .push(("x-obs-metadata-directive".into(), directive.into()));
        req.headers.extend(headers);
        let resp = self.send(req).await?;
        // A 200 is not proof of a finished copy: the body must carry the new ETag.
        crate::store::xml::copy_result_etag(&resp.body).ok_or_else(|| StoreError::Remote {
            bucket: bucket.into(),
            key: to.into(),
            op: "copy",
            status: resp.status,
            code: "CopyIncomplete".into(),
            message: "copy answered without an ETag".into(),
            retryable: true,
        })
    }
}
