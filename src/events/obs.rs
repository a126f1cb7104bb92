//! Huawei OBS events (reference huawei_aws.md §1).
//!
//! Two record shapes reach a FunctionGraph OBS trigger: the native one (`obs`, `eventRegion`,
//! eventVersion 3.0, `eventSource: "OBS"`), parsed here, and an S3-compatible one (`s3`,
//! `awsRegion`) that is parsed by the S3 code and only attributed to OBS by [`looks_like_obs`] or
//! the runtime hint. EventGrid delivers the native record as the `data` of a CloudEvent.
//! Keys are form-URL-encoded in both shapes (`+` = space, `%2F` = `/`).

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{
    de_size, de_string, decode_key, describe, etag, finish, non_empty, parse_value, s3, version_id,
    Ctx, EventError, EventRecord, KeyEncoding,
};
use crate::object::{ObjectRef, Provider};

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ObsRecord {
    event_name: Option<String>,
    event_region: Option<String>,
    obs: ObsEntity,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ObsEntity {
    bucket: ObsBucket,
    object: ObsObject,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ObsBucket {
    name: Option<String>,
    // The notification template repeats the name here; used when `name` is absent.
    bucket: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ObsObject {
    key: Option<String>,
    #[serde(rename = "eTag", alias = "etag", alias = "ETag")]
    e_tag: Option<String>,
    #[serde(deserialize_with = "de_size")]
    size: Option<u64>,
    #[serde(deserialize_with = "de_string")]
    version_id: Option<String>,
}

/// Parse one native (shape A) record. `fallback_name` is the CloudEvent `type`
/// (`OBS:DWR:ObjectCreated:PUT`), used when the record itself has no `eventName`.
pub(super) fn parse_record(
    record: &Value,
    index: usize,
    fallback_name: Option<&str>,
) -> EventRecord {
    let record = match ObsRecord::deserialize(record) {
        Ok(record) => record,
        Err(e) => {
            return EventRecord::Invalid {
                index,
                reason: format!("malformed OBS record: {e}"),
            }
        }
    };
    let event_name = non_empty(record.event_name.as_deref()).or_else(|| non_empty(fallback_name));
    let object = build_object(&record, event_name.clone());
    finish(index, event_name.as_deref(), object)
}

fn build_object(record: &ObsRecord, event_name: Option<String>) -> Result<ObjectRef, String> {
    let bucket = &record.obs.bucket;
    let object = &record.obs.object;
    let bucket = non_empty(bucket.name.as_deref())
        .or_else(|| non_empty(bucket.bucket.as_deref()))
        .ok_or("OBS record has no obs.bucket.name")?;
    let key = object
        .key
        .as_deref()
        .ok_or("OBS record has no obs.object.key")?;
    Ok(ObjectRef {
        provider: Provider::Obs,
        bucket,
        key: decode_key(key, KeyEncoding::Form)?,
        region: non_empty(record.event_region.as_deref()),
        size: object.size,
        etag: etag(object.e_tag.as_deref()),
        version_id: version_id(object.version_id.as_deref()),
        url: None,
        event_name,
        event_meta: Default::default(),
    })
}

/// Whether an S3-shaped record (no runtime hint) was sent by Huawei OBS rather than S3 or an
/// S3-compatible server. Any one of these traits is enough, since none occurs in AWS, MinIO or
/// moto events:
/// - the bucket owner is `ownerIdentity.PrincipalId` with a capital P (OTC/Huawei samples; AWS
///   and MinIO write `principalId`);
/// - the bucket ARN uses Huawei's `arn:fss:` partition;
/// - `eventSource` names OBS;
/// - `eventSource` is missing (AWS always sends `aws:s3`, MinIO `minio:s3`) while `awsRegion` is a
///   Huawei region id that no AWS region shares (see [`is_huawei_region`]).
pub(super) fn looks_like_obs(record: &Value) -> bool {
    let bucket = record.pointer("/s3/bucket");
    let capital_owner = bucket
        .and_then(|b| b.get("ownerIdentity"))
        .and_then(Value::as_object)
        .is_some_and(|o| o.contains_key("PrincipalId") && !o.contains_key("principalId"));
    let fss_arn = bucket
        .and_then(|b| b.get("arn"))
        .and_then(Value::as_str)
        .is_some_and(|arn| arn.starts_with("arn:fss:"));
    let source = record
        .get("eventSource")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let obs_source = source.is_some_and(|s| s.to_ascii_lowercase().contains("obs"));
    let huawei_region = record
        .get("awsRegion")
        .and_then(Value::as_str)
        .is_some_and(is_huawei_region);
    capital_owner || fss_arn || obs_source || (source.is_none() && huawei_region)
}

/// Huawei Cloud / Open Telekom Cloud region ids that AWS does not use. `cn-north-1` is left out
/// because AWS China uses it too; ids shared with AWS (`ap-southeast-1`, `af-south-1`, ...) are
/// likewise useless as evidence.
fn is_huawei_region(region: &str) -> bool {
    const HUAWEI_ONLY: &[&str] = &[
        "eu-de",
        "eu-nl",
        "eu-ch2",
        "eu-west-0",
        "eu-west-101",
        "la-north-2",
        "la-south-2",
        "sa-brazil-1",
        "na-mexico-1",
        "tr-west-1",
        "me-east-1",
        "ru-northwest-2",
        "ru-moscow-1",
    ];
    const AWS_CHINA: &[&str] = &["cn-north-1", "cn-northwest-1"];
    let region = region.trim();
    HUAWEI_ONLY.contains(&region) || (region.starts_with("cn-") && !AWS_CHINA.contains(&region))
}

pub(super) fn is_cloudevent(event: &Map<String, Value>) -> bool {
    event.contains_key("specversion") && event.contains_key("data")
}

/// EventGrid CloudEvent: `{"specversion", "source": "HC.OBS.DWR", "type":
/// "OBS:DWR:ObjectCreated:PUT", "subject": <key>, "data": <one shape-A record>}`.
pub(super) fn parse_cloudevent(
    event: &Map<String, Value>,
    ctx: Ctx,
) -> Result<Vec<EventRecord>, EventError> {
    let event_type = event.get("type").and_then(Value::as_str);
    let parsed;
    let data = match event.get("data") {
        // CloudEvents may carry JSON data as a string.
        Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(value) => {
                parsed = value;
                &parsed
            }
            Err(e) => {
                return Ok(vec![EventRecord::Invalid {
                    index: 0,
                    reason: format!("CloudEvent data is not JSON: {e}"),
                }])
            }
        },
        Some(value) => value,
        None => &Value::Null,
    };
    if data.get("obs").is_some() {
        return Ok(vec![parse_record(data, 0, event_type)]);
    }
    if data.get("s3").is_some() {
        // Delivered by Huawei EventGrid, so OBS whatever the record looks like.
        return Ok(vec![s3::parse_record(data, 0, Some(Provider::Obs))]);
    }
    if data.get("Records").is_some() {
        return parse_value(data, ctx.deeper()?);
    }
    let source = event.get("source").and_then(Value::as_str).unwrap_or("?");
    Err(EventError::UnknownShape {
        found: format!(
            "a CloudEvent (source {source:?}, type {:?}) whose data is {}",
            event_type.unwrap_or("?"),
            describe(data)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn huawei_regions() {
        for r in [
            "cn-north-4",
            "cn-east-3",
            "cn-south-1",
            "eu-de",
            "la-south-2",
        ] {
            assert!(is_huawei_region(r), "{r}");
        }
        for r in [
            "cn-north-1",
            "cn-northwest-1",
            "us-east-1",
            "ap-southeast-1",
            "",
            "region",
        ] {
            assert!(!is_huawei_region(r), "{r}");
        }
    }

    #[test]
    fn obs_traits() {
        let aws = json!({"eventSource": "aws:s3", "awsRegion": "us-east-1",
            "s3": {"bucket": {"name": "b", "ownerIdentity": {"principalId": "X"}, "arn": "arn:aws:s3:::b"}}});
        assert!(!looks_like_obs(&aws));
        let capital = json!({"eventSource": "aws:s3", "awsRegion": "eu-de",
            "s3": {"bucket": {"name": "b", "ownerIdentity": {"PrincipalId": "X"}}}});
        assert!(looks_like_obs(&capital));
        let fss = json!({"s3": {"bucket": {"name": "b", "arn": "arn:fss:s3:::b"}}});
        assert!(looks_like_obs(&fss));
        let region_only = json!({"awsRegion": "cn-north-4", "s3": {"bucket": {"name": "b"}}});
        assert!(looks_like_obs(&region_only));
        // A Huawei-looking region is not enough when an S3 event source is named.
        let with_source = json!({"eventSource": "aws:s3", "awsRegion": "cn-north-4", "s3": {}});
        assert!(!looks_like_obs(&with_source));
        let minio = json!({"eventSource": "minio:s3", "awsRegion": "", "s3": {}});
        assert!(!looks_like_obs(&minio));
    }
}
