//! HTTP calls to OBS. Every attempt is signed afresh (new `Date`, current credentials).

use std::collections::BTreeMap;
use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::Method;

use super::builder::ObsSettings;
use super::credential as sig;
pub use super::wire::{decode_meta_value, encode_meta_value, retryable_status};
use super::wire::{meta_from_headers, url_without_query, ErrorXml, META_PREFIX};
use crate::client::credential::Cloud;
use crate::client::{CredentialSlots, Retryable, TimedOut};
use crate::config::Config;
use crate::store::xml;
use crate::store::xml::content_md5;
use crate::store::{ListPage, ObjectMeta, ObjectStore, StoreError, TagRules};

/// OBS object tags: ≤ 10; key ≤ 36 characters (the user guide; the SDK doc says 128: the
/// stricter wins), value ≤ 255; only characters both documents allow.
pub const OBS_TAG_RULES: TagRules = TagRules {
    max_tags: 10,
    max_key_chars: 36,
    max_value_chars: 255,
    extra_chars: " _.:+-@",
};

#[derive(Debug, Clone)]
pub struct ObsStore {
    settings: ObsSettings,
    credentials: CredentialSlots,
}

/// One request, described by what the signature covers.
struct Req<'a> {
    op: &'static str,
    method: Method,
    bucket: &'a str,
    key: &'a str,
    /// Query parameters, in sending order; sub-resources among them are signed.
    query: Vec<(String, Option<String>)>,
    headers: Vec<(String, String)>,
    body: Bytes,
}

struct Resp {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

/// `StoreError` wrapped so the shared retry loop can classify it.
struct Attempt(StoreError);

impl Retryable for Attempt {
    fn retryable(&self) -> bool {
        self.0.retryable()
    }
}

impl From<TimedOut> for Attempt {
    fn from(t: TimedOut) -> Self {
        Attempt(StoreError::Remote {
            bucket: String::new(),
            key: String::new(),
            op: "request",
            status: 0,
            code: "Timeout".into(),
            message: t.to_string(),
            retryable: true,
        })
    }
}

impl ObsStore {
    pub fn new(config: &Config) -> Self {
        ObsStore {
            settings: ObsSettings::from_config(config),
            credentials: config.credentials.clone(),
        }
    }

    fn remote(
        req: &Req<'_>,
        status: u16,
        code: &str,
        message: impl Into<String>,
        retryable: bool,
    ) -> StoreError {
        StoreError::Remote {
            bucket: req.bucket.into(),
            key: req.key.into(),
            op: req.op,
            status,
            code: code.into(),
            message: message.into(),
            retryable,
        }
    }

    /// The path-and-query part of the URL (identical whether or not an endpoint override is set).
    fn path_and_query(req: &Req<'_>) -> String {
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

    async fn attempt(&self, req: &Req<'_>) -> Result<Resp, StoreError> {
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
            Some(e) => e.clone(),
            None => format!("https://{host}"),
        };
        let url = format!("{base}{}", Self::path_and_query(req));
        let mut rb = crate::client::http()
            .request(req.method.clone(), &url)
            .header("Host", &host)
            .header("Date", &date)
            .header("Authorization", auth);
        for (n, v) in &headers {
            rb = rb.header(n.as_str(), v.as_str());
        }
        if !req.body.is_empty() || req.method == Method::PUT {
            rb = rb.body(req.body.clone());
        }
        let resp = rb.send().await.map_err(|e| {
            Self::remote(
                req,
                0,
                "RequestError",
                format!(
                    "{}: {}",
                    url_without_query(&url),
                    crate::client::describe(e)
                ),
                true,
            )
        })?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .bytes()
            .await
            .map_err(|e| Self::remote(req, status, "ReadError", e.to_string(), true))?;
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

    async fn send(&self, req: Req<'_>) -> Result<Resp, StoreError> {
        let r = self
            .settings
            .service
            .call(|| async { self.attempt(&req).await.map_err(Attempt) })
            .await;
        r.map_err(|Attempt(e)| match e {
            StoreError::Remote {
                op: "request",
                status,
                code,
                message,
                retryable,
                ..
            } => Self::remote(&req, status, &code, message, retryable),
            other => other,
        })
    }

    fn req<'a>(op: &'static str, method: Method, bucket: &'a str, key: &'a str) -> Req<'a> {
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

    async fn copy_onto(
        &self,
        bucket: &str,
        from: &str,
        to: &str,
        metadata: Option<(&BTreeMap<String, String>, Option<&str>)>,
    ) -> Result<(), StoreError> {
        let mut req = Self::req("copy", Method::PUT, bucket, to);
        req.headers.push((
            "x-obs-copy-source".into(),
            format!("/{bucket}/{}", sig::encode_key(from)),
        ));
        match metadata {
            None => req
                .headers
                .push(("x-obs-metadata-directive".into(), "COPY".into())),
            Some((meta, content_type)) => {
                req.headers
                    .push(("x-obs-metadata-directive".into(), "REPLACE".into()));
                if let Some(ct) = content_type {
                    req.headers.push(("Content-Type".into(), ct.into()));
                }
                for (k, v) in meta {
                    req.headers
                        .push((format!("{META_PREFIX}{k}"), encode_meta_value(v)));
                }
            }
        }
        let resp = self.send(req).await?;
        // A 200 is not proof of a finished copy: the body must carry the new ETag.
        if !String::from_utf8_lossy(&resp.body).contains("ETag") && !resp.body.is_empty() {
            return Err(StoreError::Remote {
                bucket: bucket.into(),
                key: to.into(),
                op: "copy",
                status: resp.status,
                code: "CopyIncomplete".into(),
                message: "copy answered without an ETag".into(),
                retryable: true,
            });
        }
        Ok(())
    }
}

#[async_trait]
impl ObjectStore for ObsStore {
    fn name(&self) -> &'static str {
        "obs"
    }

    fn tag_rules(&self) -> TagRules {
        OBS_TAG_RULES
    }

    fn metadata_budget(&self) -> usize {
        8 * 1024
    }

    async fn head(&self, bucket: &str, key: &str) -> Result<ObjectMeta, StoreError> {
        let r = self
            .send(Self::req("head", Method::HEAD, bucket, key))
            .await?;
        Ok(meta_from_headers(&r.headers))
    }

    async fn get_range(
        &self,
        bucket: &str,
        key: &str,
        range: Range<u64>,
    ) -> Result<Bytes, StoreError> {
        if range.end <= range.start {
            return Ok(Bytes::new());
        }
        let mut req = Self::req("get range", Method::GET, bucket, key);
        req.headers.push((
            "Range".into(),
            format!("bytes={}-{}", range.start, range.end - 1),
        ));
        let r = self.send(req).await?;
        if r.status == 416 {
            return Ok(Bytes::new());
        }
        // A server that ignores Range sends everything: keep only what was asked for.
        let want = (range.end - range.start) as usize;
        if r.status == 200 {
            let start = (range.start as usize).min(r.body.len());
            let end = (start + want).min(r.body.len());
            return Ok(r.body.slice(start..end));
        }
        Ok(r.body.slice(..want.min(r.body.len())))
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Bytes, StoreError> {
        Ok(self
            .send(Self::req("get", Method::GET, bucket, key))
            .await?
            .body)
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        content_type: &str,
    ) -> Result<(), StoreError> {
        let mut req = Self::req("put", Method::PUT, bucket, key);
        req.headers.push(("Content-MD5".into(), content_md5(&body)));
        req.headers
            .push(("Content-Type".into(), content_type.into()));
        req.body = body;
        self.send(req).await.map(|_| ())
    }

    async fn update_metadata(
        &self,
        bucket: &str,
        key: &str,
        entries: &BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        // Whether REPLACE_NEW keeps unnamed custom metadata is worded ambiguously, so send the
        // whole merged set: the result is the same under either reading.
        let current = self.head(bucket, key).await?;
        let mut merged = current.metadata.clone();
        merged.extend(
            entries
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.clone())),
        );
        let mut req = Self::req("set metadata", Method::PUT, bucket, key);
        req.query.push(("metadata".into(), None));
        req.headers
            .push(("x-obs-metadata-directive".into(), "REPLACE_NEW".into()));
        for (k, v) in &merged {
            req.headers
                .push((format!("{META_PREFIX}{k}"), encode_meta_value(v)));
        }
        match self.send(req).await {
            Ok(_) => Ok(()),
            // Servers without SetObjectMetadata: copy onto itself (emits ObjectCreated:Copy; the
            // marker written here makes that event a no-op).
            Err(StoreError::Remote { status, code, .. })
                if matches!(status, 400 | 405 | 501)
                    && matches!(
                        code.as_str(),
                        "NotImplemented"
                            | "MethodNotAllowed"
                            | "InvalidRequest"
                            | "HTTP405"
                            | "HTTP501"
                    ) =>
            {
                tracing::info!(bucket, key, code = %code, "PUT ?metadata unsupported; copying the object onto itself");
                self.copy_onto(
                    bucket,
                    key,
                    key,
                    Some((&merged, current.content_type.as_deref())),
                )
                .await
            }
            Err(e) => Err(e),
        }
    }

    async fn put_tags(
        &self,
        bucket: &str,
        key: &str,
        tags: &[(String, String)],
    ) -> Result<(), StoreError> {
        let body = xml::tagging_xml(tags, false);
        let mut req = Self::req("put tags", Method::PUT, bucket, key);
        req.query.push(("tagging".into(), None));
        req.headers
            .push(("Content-MD5".into(), content_md5(body.as_bytes())));
        req.body = Bytes::from(body);
        self.send(req).await.map(|_| ())
    }

    async fn get_tags(&self, bucket: &str, key: &str) -> Result<Vec<(String, String)>, StoreError> {
        let mut req = Self::req("get tags", Method::GET, bucket, key);
        req.query.push(("tagging".into(), None));
        let r = match self.send(req).await {
            Ok(r) => r,
            Err(StoreError::Remote { code, .. }) if code == "NoSuchTagSet" => return Ok(vec![]),
            Err(e) => return Err(e),
        };
        xml::parse_tagging(&r.body).map_err(|e| StoreError::malformed(bucket, key, "get tags", e))
    }

    async fn set_private(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        let mut req = Self::req("set acl", Method::PUT, bucket, key);
        req.query.push(("acl".into(), None));
        req.headers.push(("x-obs-acl".into(), "private".into()));
        self.send(req).await.map(|_| ())
    }

    async fn rename(&self, bucket: &str, from: &str, to: &str) -> Result<(), StoreError> {
        self.copy_onto(bucket, from, to, None).await?;
        self.delete(bucket, from).await
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        match self
            .send(Self::req("delete", Method::DELETE, bucket, key))
            .await
        {
            Ok(_) | Err(StoreError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<ListPage, StoreError> {
        let mut req = Self::req("list", Method::GET, bucket, "");
        req.query.push(("prefix".into(), Some(prefix.into())));
        if let Some(m) = start_after {
            req.query.push(("marker".into(), Some(m.into())));
        }
        req.query
            .push(("max-keys".into(), Some(limit.clamp(1, 1000).to_string())));
        let r = self.send(req).await?;
        xml::parse_list(&r.body).map_err(|e| StoreError::malformed(bucket, "", "list", e))
    }

    async fn presign(
        &self,
        bucket: &str,
        key: &str,
        expires: std::time::Duration,
    ) -> Result<String, StoreError> {
        let creds = self
            .credentials
            .get(Cloud::Huawei)
            .ok_or_else(|| StoreError::Remote {
                bucket: bucket.into(),
                key: key.into(),
                op: "presign",
                status: 0,
                code: "MissingCredentials".into(),
                message:
                    "no Huawei Cloud credentials: set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK"
                        .into(),
                retryable: false,
            })?;
        let at = chrono::Utc::now().timestamp() + expires.as_secs() as i64;
        let q = sig::presigned_query(
            &creds.access_key,
            &creds.secret_key,
            creds.token.as_deref(),
            bucket,
            key,
            at,
        );
        // Always the production URL: the vendor service fetches it, not this function.
        Ok(format!(
            "https://{}/{}?{q}",
            self.settings.host(bucket),
            sig::encode_key(key)
        ))
    }
}
