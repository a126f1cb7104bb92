//! Tencent SCF COS trigger records (`Records[].cos` + `Records[].event`).
//!
//! Facts relied on (reference tencent.md §1): `cosObject.key` is `/<appid>/<name>/<key>`;
//! `cosBucket.region` is a legacy short code (`gz`); `cosObject.url` is
//! `http://<name>-<appid>.cos.<region>.myqcloud.com/<percent-encoded key>`, except in old events
//! whose host is `<name>-<appid>.cos<short>.myqcloud.com`. Whether `cosObject.key` is itself
//! percent-encoded for non-ASCII keys is UNVERIFIED, so both forms are accepted, and the URL path
//! (known to be encoded) wins whenever it can be decoded.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{
    de_size, de_string, decode_key, etag, finish, has_percent_escape, meta_map, nest, non_empty,
    parse_str, parse_value, version_id, Ctx, EventRecord, KeyEncoding,
};
use crate::object::{ObjectRef, Provider};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CosRecord {
    cos: CosEntity,
    event: CosEvent,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct CosEntity {
    cos_object: CosObject,
    cos_bucket: CosBucket,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CosObject {
    url: Option<String>,
    meta: Option<Map<String, Value>>,
    #[serde(deserialize_with = "de_string")]
    vid: Option<String>,
    key: Option<String>,
    #[serde(deserialize_with = "de_size")]
    size: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct CosBucket {
    region: Option<String>,
    name: Option<String>,
    #[serde(deserialize_with = "de_string")]
    appid: Option<String>,
    // Seen only in a third-party capture of a 2021 event; full region ids when present.
    cos_region: Option<String>,
    s3_region: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct CosEvent {
    event_name: Option<String>,
    // `eventTime` is deliberately not modelled: it is integer seconds in current events and an ISO
    // string in old scfcli samples, and nothing downstream needs it, so neither form can fail a record.
}

pub(super) fn parse_record(record: &Value, index: usize) -> EventRecord {
    let record = match CosRecord::deserialize(record) {
        Ok(record) => record,
        Err(e) => {
            return EventRecord::Invalid {
                index,
                reason: format!("malformed COS record: {e}"),
            }
        }
    };
    finish(
        index,
        record.event.event_name.as_deref(),
        build_object(&record),
    )
}

/// One record of SCF's CMQ trigger (`Records[].CMQ`, topic or queue; Tencent's "Trigger Event
/// Message Structure Summary"): `msgBody` holds the event a producer sent, e.g. the COS trigger
/// record `scan --enqueue cmq://…` sends; every record inside becomes one of ours.
pub(super) fn parse_cmq_record(record: &Value, index: usize, ctx: Ctx) -> Vec<EventRecord> {
    let path = format!("Records[{index}].CMQ.msgBody");
    let result = match record.get("CMQ").and_then(|c| c.get("msgBody")) {
        Some(Value::String(text)) => parse_str(text, ctx).map_err(|e| e.to_string()),
        Some(body @ Value::Object(_)) => ctx
            .deeper()
            .and_then(|ctx| parse_value(body, ctx))
            .map_err(|e| e.to_string()),
        _ => Err("the CMQ message has no JSON msgBody".to_owned()),
    };
    nest(index, &path, result)
}

fn build_object(record: &CosRecord) -> Result<ObjectRef, String> {
    let object = &record.cos.cos_object;
    let bucket = &record.cos.cos_bucket;
    let url = non_empty(object.url.as_deref());
    let parsed = url.as_deref().map(CosUrl::parse);
    let cos_host = parsed.as_ref().and_then(CosUrl::cos_host);

    let (name, appid) = bucket_parts(bucket, cos_host.as_ref())?;
    // A URL on a custom or CDN domain may carry a path prefix, so only a COS host's path is a key.
    let url_path = cos_host
        .as_ref()
        .and(parsed.as_ref())
        .map(|u| u.path)
        .filter(|p| !p.is_empty());
    let key = object_key(object.key.as_deref(), &name, &appid, url_path)?;
    let event_meta = meta_map(object.meta.as_ref());
    Ok(ObjectRef {
        provider: Provider::Cos,
        bucket: format!("{name}-{appid}"),
        key,
        region: region(bucket, cos_host.as_ref()),
        size: object.size,
        // Not in documented events; taken if a sender includes it among the object's headers.
        etag: etag(event_meta.get("etag").map(String::as_str)),
        version_id: version_id(object.vid.as_deref()),
        url,
        event_name: non_empty(record.event.event_name.as_deref()),
        event_meta,
    })
}

/// `(name, appid)` from `cosBucket`, else from the URL host `<name>-<appid>.cos...`.
fn bucket_parts(bucket: &CosBucket, host: Option<&CosHost>) -> Result<(String, String), String> {
    let appid = non_empty(bucket.appid.as_deref());
    let name = non_empty(bucket.name.as_deref());
    match (name, appid) {
        // Some hand-written events already carry the full `name-appid`.
        (Some(name), Some(appid)) => {
            let name = match name.strip_suffix(&format!("-{appid}")) {
                Some(short) if !short.is_empty() => short.to_owned(),
                _ => name,
            };
            Ok((name, appid))
        }
        _ => host
            .and_then(|h| h.bucket.rsplit_once('-'))
            .filter(|(name, appid)| {
                !name.is_empty() && !appid.is_empty() && appid.bytes().all(|b| b.is_ascii_digit())
            })
            .map(|(name, appid)| (name.to_owned(), appid.to_owned()))
            .ok_or_else(|| {
                "COS record has no bucket: cosBucket.name/appid missing and no COS url".to_owned()
            }),
    }
}

fn object_key(
    field: Option<&str>,
    name: &str,
    appid: &str,
    url_path: Option<&str>,
) -> Result<String, String> {
    // `+` is a literal plus in a URL path; only `%XX` escapes are decoded there.
    let url_error = match url_path.map(|p| decode_key(p, KeyEncoding::Path)) {
        Some(Ok(key)) => return Ok(key),
        Some(Err(e)) => Some(e),
        None => None,
    };
    match field {
        Some(key) => {
            field_key(strip_cos_prefix(key, appid, name)).map_err(|e| url_error.unwrap_or(e))
        }
        None => Err(url_error.unwrap_or_else(|| {
            "COS record has neither cosObject.key nor cosObject.url".to_owned()
        })),
    }
}

/// Strip `/<appid>/<name>/` exactly once, as Tencent's own demos do; a key that lacks the prefix
/// is taken as the bare key.
fn strip_cos_prefix<'a>(key: &'a str, appid: &str, name: &str) -> &'a str {
    let prefix = format!("/{appid}/{name}/");
    key.strip_prefix(prefix.as_str())
        .or_else(|| key.strip_prefix(&prefix[1..]))
        .unwrap_or_else(|| key.strip_prefix('/').unwrap_or(key))
}

/// The `key` field may or may not be percent-encoded (UNVERIFIED). A real key containing `%XX` is
/// unusual, so decode when the field shows escapes that decode to UTF-8, otherwise keep it raw.
fn field_key(stripped: &str) -> Result<String, String> {
    if stripped.is_empty() {
        return Err("COS object key is empty".to_owned());
    }
    if has_percent_escape(stripped) {
        if let Ok(decoded) = decode_key(stripped, KeyEncoding::Path) {
            return Ok(decoded);
        }
    }
    Ok(stripped.to_owned())
}

/// Region precedence: URL host (full id) → `cosRegion`/`s3Region` → short code from `region` or
/// a legacy host → `region` if it is already a full id. Unknown short codes give `None` rather
/// than a guess; callers then fall back to the function's configured region.
fn region(bucket: &CosBucket, host: Option<&CosHost>) -> Option<String> {
    if let Some(region) = host.and_then(|h| h.region).filter(|r| is_full_region(r)) {
        return Some(region.to_owned());
    }
    let extra = [bucket.cos_region.as_deref(), bucket.s3_region.as_deref()];
    if let Some(region) = extra.into_iter().flatten().find(|r| is_full_region(r)) {
        return Some(region.to_owned());
    }
    let short = non_empty(bucket.region.as_deref());
    let legacy = host.and_then(|h| h.legacy_short);
    short
        .as_deref()
        .into_iter()
        .chain(legacy)
        .find_map(map_short_region)
        .map(str::to_owned)
        .or_else(|| short.filter(|r| is_full_region(r)))
}

fn is_full_region(region: &str) -> bool {
    region.contains('-')
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && map_short_region(region).is_none()
}

/// Legacy short codes (and the old `cn-*` aliases of the v4 SDKs) → current region ids.
fn map_short_region(short: &str) -> Option<&'static str> {
    const TABLE: &[(&str, &str)] = &[
        ("bj", "ap-beijing"),
        ("tj", "ap-beijing-1"),
        ("cn-north", "ap-beijing-1"),
        ("sh", "ap-shanghai"),
        ("cn-east", "ap-shanghai"),
        ("gz", "ap-guangzhou"),
        ("cn-south", "ap-guangzhou"),
        ("cd", "ap-chengdu"),
        ("cn-southwest", "ap-chengdu"),
        ("cq", "ap-chongqing"),
        ("hk", "ap-hongkong"),
        ("sgp", "ap-singapore"),
        ("sg", "ap-singapore"),
        ("ca", "na-toronto"),
        ("ger", "eu-frankfurt"),
    ];
    let short = short.trim().to_ascii_lowercase();
    TABLE.iter().find(|(s, _)| *s == short).map(|(_, r)| *r)
}

/// Minimal URL split; the only URLs here are the ones COS builds, so no general parser is needed.
struct CosUrl<'a> {
    host: String,
    /// Raw (still percent-encoded) path without the leading `/`, query or fragment.
    path: &'a str,
}

/// What a COS host name tells: `<bucket>.cos.<region>.myqcloud.com` or the legacy
/// `<bucket>.cos<short>.myqcloud.com` (also `tencentcos.cn`).
struct CosHost<'a> {
    bucket: &'a str,
    region: Option<&'a str>,
    legacy_short: Option<&'a str>,
}

impl<'a> CosUrl<'a> {
    fn parse(url: &'a str) -> CosUrl<'a> {
        let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host = authority.rsplit('@').next().unwrap_or(authority);
        let host = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
        let path = path.split(['?', '#']).next().unwrap_or(path);
        CosUrl { host, path }
    }

    fn cos_host(&self) -> Option<CosHost<'_>> {
        let base = self
            .host
            .strip_suffix(".myqcloud.com")
            .or_else(|| self.host.strip_suffix(".tencentcos.cn"))?;
        let mut labels = base.split('.');
        let bucket = labels.next().filter(|b| !b.is_empty())?;
        let service = labels.next()?;
        if service == "cos" || service.starts_with("cos-") {
            Some(CosHost {
                bucket,
                region: labels.next(),
                legacy_short: None,
            })
        } else {
            let short = service.strip_prefix("cos").filter(|s| !s.is_empty())?;
            Some(CosHost {
                bucket,
                region: None,
                legacy_short: Some(short),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_hosts() {
        let u =
            CosUrl::parse("http://testpic-1253970026.cos.ap-chengdu.myqcloud.com/a%20b+c.jpg?x=1");
        assert_eq!(u.path, "a%20b+c.jpg");
        let h = u.cos_host().expect("cos host");
        assert_eq!(
            (h.bucket, h.region),
            ("testpic-1253970026", Some("ap-chengdu"))
        );

        let u = CosUrl::parse("http://ritchiechen-cos-test-123456.cosbj.myqcloud.com/foobar.zip");
        let h = u.cos_host().expect("legacy host");
        assert_eq!(
            (h.bucket, h.legacy_short),
            ("ritchiechen-cos-test-123456", Some("bj"))
        );

        assert!(CosUrl::parse("https://cdn.example.com/a.jpg")
            .cos_host()
            .is_none());
        assert!(CosUrl::parse("not a url").cos_host().is_none());
    }

    #[test]
    fn prefix_is_stripped_once() {
        assert_eq!(strip_cos_prefix("/1/b/1/b/x.jpg", "1", "b"), "1/b/x.jpg");
        assert_eq!(strip_cos_prefix("1/b/x.jpg", "1", "b"), "x.jpg");
        assert_eq!(strip_cos_prefix("/other/x.jpg", "1", "b"), "other/x.jpg");
    }

    #[test]
    fn short_regions() {
        assert_eq!(map_short_region("gz"), Some("ap-guangzhou"));
        assert_eq!(map_short_region("TJ"), Some("ap-beijing-1"));
        assert_eq!(map_short_region("xx"), None);
        assert!(is_full_region("ap-guangzhou"));
        assert!(!is_full_region("cn-south"));
        assert!(!is_full_region("accelerate"));
    }
}
