//! Events in: every platform's upload-event shape parsed into [`EventRecord`]s.
//!
//! [`parse_event`] turns one invocation payload into one [`EventRecord`] per object record, so that
//! every record of every event ends in a recorded outcome (process, skip with a reason, or invalid).
//!
//! Shapes understood (fixtures for each live in `events/` at the crate root):
//! - Tencent SCF COS trigger (`Records[].cos`), see [`cos`].
//! - Huawei FunctionGraph OBS trigger, native (`Records[].obs`) and S3-style (`Records[].s3`), and the
//!   EventGrid CloudEvent wrapper (`specversion` + `data`), see [`obs`].
//! - AWS S3 notifications and S3-compatible servers (MinIO, moto), bare or wrapped in SNS (Lambda
//!   event or HTTP envelope), SQS or EventBridge, plus `s3:TestEvent`, see [`s3`].
//!
//! Batch invocations (S3 Batch Operations' `invocationSchemaVersion` + `tasks`, and the assumed COS
//! shape) are not records: they are answered per task in the batch response schema, see
//! [`batch`] and `runtime::batch`. [`parse_event`] rejects them with an error that says so.

pub mod batch;
mod cos;
mod obs;
mod s3;

use std::collections::BTreeMap;
use std::fmt;

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::object::{ObjectRef, Provider};

/// Parse one invocation payload into one [`EventRecord`] per record it carries.
///
/// `hint` is the platform the runtime knows it runs on (FunctionGraph → `Obs`, SCF → `Cos`,
/// Lambda → `S3`; `None` from the CLI). It only decides the provider of S3-shaped records, which
/// Huawei OBS also sends (see `obs::looks_like_obs` for the heuristic used without a hint).
pub fn parse_event(body: &[u8], hint: Option<Provider>) -> Result<Vec<EventRecord>, EventError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| EventError::not_json(&e))?;
    parse_value(&value, Ctx { hint, depth: 0 })
}

/// What to do with one record of an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventRecord {
    /// An object-created record: triage it.
    Process(ObjectRef),
    /// A record we deliberately do not process, with why (removals, s3:TestEvent, replication /
    /// origin-pull copies, SNS subscription confirmations, ...). `object` is filled when the record
    /// names one.
    Skip {
        object: Option<ObjectRef>,
        reason: SkipReason,
    },
    /// A record of a known shape that is malformed (no bucket, undecodable key, ...). The other
    /// records of the same event are still returned.
    ///
    /// `index` is the position of the offending record in the event's top-level `Records` array;
    /// for SQS/SNS wrappers that is the wrapper record (the one to report as a batch-item failure),
    /// and `reason` names the inner record. Events without a `Records` array use the position inside
    /// the wrapped event, or 0.
    Invalid { index: usize, reason: String },
}

impl EventRecord {
    /// The object this record names, whether or not it is to be processed.
    pub fn object(&self) -> Option<&ObjectRef> {
        match self {
            EventRecord::Process(object) => Some(object),
            EventRecord::Skip { object, .. } => object.as_ref(),
            EventRecord::Invalid { .. } => None,
        }
    }
}

/// Why a record is skipped. `code()` is stable (snake_case) for metrics and outcomes; `Display`
/// is the human sentence. Serialises as `{"code": ..., "message": ..., <detail fields>}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// Removals, restores, lifecycle, tagging/ACL changes and any other non-upload event.
    NotObjectCreated { event_name: String },
    /// `s3:TestEvent`, sent once when a bucket notification is configured.
    TestEvent,
    /// A copy made by the storage service itself (S3 replication, COS cross-region replication or
    /// origin-pull); the source object was (or will be) triaged where it was uploaded.
    Replication { event_name: String },
    /// An SNS `SubscriptionConfirmation` / `UnsubscribeConfirmation` message.
    SubscriptionConfirmation { message_type: String },
}

impl SkipReason {
    pub fn code(&self) -> &'static str {
        match self {
            SkipReason::NotObjectCreated { .. } => "not_object_created",
            SkipReason::TestEvent => "test_event",
            SkipReason::Replication { .. } => "replication",
            SkipReason::SubscriptionConfirmation { .. } => "subscription_confirmation",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::NotObjectCreated { event_name } => {
                write!(f, "event `{event_name}` is not an object upload")
            }
            SkipReason::TestEvent => {
                f.write_str("s3:TestEvent sent when the bucket notification was configured")
            }
            SkipReason::Replication { event_name } => write!(
                f,
                "event `{event_name}` is a copy made by the storage service (replication or origin pull)"
            ),
            SkipReason::SubscriptionConfirmation { message_type } => {
                write!(f, "SNS {message_type} message carries no object")
            }
        }
    }
}

impl Serialize for SkipReason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("code", self.code())?;
        map.serialize_entry("message", &self.to_string())?;
        match self {
            SkipReason::NotObjectCreated { event_name }
            | SkipReason::Replication { event_name } => {
                map.serialize_entry("event_name", event_name)?
            }
            SkipReason::SubscriptionConfirmation { message_type } => {
                map.serialize_entry("message_type", message_type)?
            }
            SkipReason::TestEvent => {}
        }
        map.end()
    }
}

/// Shapes named when a payload matches none of them.
pub const EXPECTED_SHAPES: &str = "COS trigger (Records[].cos + Records[].event), \
OBS trigger (Records[].obs, or S3-style Records[].s3), \
S3 notification incl. MinIO/moto (Records[].s3), \
SNS (Records[].Sns, or an HTTP envelope with Type + Message), \
SQS (Records[].body), \
SCF CMQ trigger (Records[].CMQ.msgBody), \
EventBridge (source \"aws.s3\" + detail-type + detail), \
EventGrid CloudEvent (specversion + data), \
s3:TestEvent (Event \"s3:TestEvent\")";

/// Failures of the whole event; failures of single records are [`EventRecord::Invalid`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("event body is not JSON: {message} (line {line}, column {column})")]
    NotJson {
        message: String,
        line: usize,
        column: usize,
    },
    #[error(
        "event JSON matches no known shape; expected one of: {EXPECTED_SHAPES}; found {found}"
    )]
    UnknownShape { found: String },
    #[error("event has an empty `Records` array")]
    EmptyRecords,
    #[error("event nests more than {MAX_DEPTH} wrappers (SNS/SQS/JSON-in-a-string)")]
    TooDeep,
    /// Well-formed, but answered per task by `runtime::batch`, not turned into records.
    #[error(
        "event is a Batch Operations invocation (invocationSchemaVersion + invocationId + tasks): \
         the Lambda and SCF runtimes and `image-triage process` answer it per task in the batch \
         response schema; it has no upload records"
    )]
    BatchInvocation,
    #[error("event is a Batch Operations invocation (invocationSchemaVersion/invocationId + tasks) that cannot be answered: {0}")]
    InvalidBatch(batch::BatchError),
}

impl EventError {
    fn not_json(e: &serde_json::Error) -> Self {
        // serde_json appends the position to its text; it is kept in fields of its own instead.
        let text = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        EventError::NotJson {
            message: text.strip_suffix(&suffix).unwrap_or(&text).to_owned(),
            line: e.line(),
            column: e.column(),
        }
    }

    fn unknown(value: &Value) -> Self {
        EventError::UnknownShape {
            found: describe(value),
        }
    }
}

/// Real wrappers nest at most SQS → SNS → S3 event (plus one JSON-in-a-string); anything deeper is
/// not an event we know, and the bound keeps hostile input from recursing without limit.
const MAX_DEPTH: u8 = 4;

#[derive(Debug, Clone, Copy)]
struct Ctx {
    hint: Option<Provider>,
    depth: u8,
}

impl Ctx {
    fn deeper(self) -> Result<Ctx, EventError> {
        if self.depth >= MAX_DEPTH {
            return Err(EventError::TooDeep);
        }
        Ok(Ctx {
            depth: self.depth + 1,
            ..self
        })
    }
}

/// Parse a JSON document carried inside a string (SNS `Message`, SQS `body`).
fn parse_str(text: &str, ctx: Ctx) -> Result<Vec<EventRecord>, EventError> {
    let ctx = ctx.deeper()?;
    let value: Value = serde_json::from_str(text).map_err(|e| EventError::not_json(&e))?;
    parse_value(&value, ctx)
}

fn parse_value(value: &Value, ctx: Ctx) -> Result<Vec<EventRecord>, EventError> {
    let obj = match value {
        Value::Object(obj) => obj,
        // Some invokers double-encode the payload; a string holding an object is unwrapped once more.
        Value::String(text) if text.trim_start().starts_with('{') => return parse_str(text, ctx),
        other => return Err(EventError::unknown(other)),
    };
    if let Some(records) = obj.get("Records") {
        return parse_records(obj, records, ctx);
    }
    // A Lambda destination record (what an on-failure destination queue holds): the event that
    // failed is `requestPayload`, so `poll-sqs` on that queue triages those uploads again.
    if let (Some(payload), Some(Value::Object(_))) =
        (obj.get("requestPayload"), obj.get("requestContext"))
    {
        return parse_value(payload, ctx.deeper()?);
    }
    // Checked before the other shapes so that a batch payload gets an error naming what it is
    // rather than "matches no known shape".
    if let Some(batch) = batch::detect(value, ctx.hint) {
        return Err(match batch {
            Ok(_) => EventError::BatchInvocation,
            Err(e) => EventError::InvalidBatch(e),
        });
    }
    if s3::is_test_event(obj) {
        return Ok(vec![EventRecord::Skip {
            object: None,
            reason: SkipReason::TestEvent,
        }]);
    }
    if s3::is_sns_envelope(obj) {
        return Ok(s3::parse_sns_envelope(value, ctx));
    }
    if s3::is_eventbridge(obj) {
        return Ok(vec![s3::parse_eventbridge(value)]);
    }
    if obs::is_cloudevent(obj) {
        return obs::parse_cloudevent(obj, ctx);
    }
    Err(EventError::unknown(value))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecordKind {
    Cos,
    ObsNative,
    S3Shaped,
    Sns,
    Sqs,
    Cmq,
}

fn record_kind(record: &Value) -> Option<RecordKind> {
    let obj = record.as_object()?;
    if obj.contains_key("cos") {
        Some(RecordKind::Cos)
    } else if obj.contains_key("obs") {
        Some(RecordKind::ObsNative)
    } else if obj.contains_key("s3") {
        Some(RecordKind::S3Shaped)
    } else if obj.contains_key("Sns") {
        Some(RecordKind::Sns)
    } else if obj.contains_key("body") {
        Some(RecordKind::Sqs)
    } else if obj.contains_key("CMQ") {
        Some(RecordKind::Cmq)
    } else {
        None
    }
}

fn parse_records(
    event: &Map<String, Value>,
    records: &Value,
    ctx: Ctx,
) -> Result<Vec<EventRecord>, EventError> {
    let Some(records) = records.as_array() else {
        return Err(EventError::UnknownShape {
            found: format!("`Records` that is {}", describe(records)),
        });
    };
    if records.is_empty() {
        return Err(EventError::EmptyRecords);
    }
    let kinds: Vec<Option<RecordKind>> = records.iter().map(record_kind).collect();
    if kinds.iter().all(Option::is_none) {
        // Nothing recognisable at all: this is some other service's event, not a malformed one of ours.
        return Err(EventError::UnknownShape {
            found: format!(
                "{} with Records[0] being {}",
                describe_keys(event),
                describe(&records[0])
            ),
        });
    }
    let mut out = Vec::with_capacity(records.len());
    for (index, (record, kind)) in records.iter().zip(kinds).enumerate() {
        match kind {
            Some(RecordKind::Cos) => out.push(cos::parse_record(record, index)),
            Some(RecordKind::ObsNative) => out.push(obs::parse_record(record, index, None)),
            Some(RecordKind::S3Shaped) => out.push(s3::parse_record(record, index, ctx.hint)),
            Some(RecordKind::Sns) => out.extend(s3::parse_sns_record(record, index, ctx)),
            Some(RecordKind::Sqs) => out.extend(s3::parse_sqs_record(record, index, ctx)),
            Some(RecordKind::Cmq) => out.extend(cos::parse_cmq_record(record, index, ctx)),
            None => out.push(EventRecord::Invalid {
                index,
                reason: format!(
                    "record matches no known record shape ({})",
                    describe(record)
                ),
            }),
        }
    }
    Ok(out)
}

/// Flatten the records found inside wrapper record `index` (an SQS body, an SNS message): their own
/// indices mean nothing in the outer event, so failures are re-pointed at the wrapper record.
fn nest(index: usize, path: &str, result: Result<Vec<EventRecord>, String>) -> Vec<EventRecord> {
    match result {
        Ok(records) => records
            .into_iter()
            .map(|record| match record {
                EventRecord::Invalid {
                    index: inner,
                    reason,
                } => EventRecord::Invalid {
                    index,
                    reason: format!("{path} → record {inner}: {reason}"),
                },
                other => other,
            })
            .collect(),
        Err(e) => vec![EventRecord::Invalid {
            index,
            reason: format!("{path}: {e}"),
        }],
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Object(obj) => describe_keys(obj),
        Value::Array(_) => "a JSON array".to_owned(),
        Value::String(_) => "a JSON string".to_owned(),
        Value::Number(_) => "a JSON number".to_owned(),
        Value::Bool(_) => "a JSON boolean".to_owned(),
        Value::Null => "JSON null".to_owned(),
    }
}

fn describe_keys(obj: &Map<String, Value>) -> String {
    const SHOWN: usize = 20;
    if obj.is_empty() {
        return "an empty object".to_owned();
    }
    let mut keys: Vec<&str> = obj.keys().take(SHOWN).map(String::as_str).collect();
    if obj.len() > SHOWN {
        keys.push("...");
    }
    format!("an object with keys [{}]", keys.join(", "))
}

// ---------------------------------------------------------------------------------------------
// Shared pieces used by the vendor modules.

/// How a vendor escapes object keys in its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyEncoding {
    /// `application/x-www-form-urlencoded`: `+` is a space (S3, MinIO, moto, OBS).
    Form,
    /// URL path: `+` is a literal plus (the path of COS `cosObject.url`).
    Path,
}

/// Decode an escaped object key. Strict where the `percent-encoding` crate is lenient: a `%` not
/// followed by two hex digits is an error rather than kept, because such a key was not produced by
/// the encoder we assume, so any guess could name a different object.
fn decode_key(raw: &str, encoding: KeyEncoding) -> Result<String, String> {
    let bytes = raw.as_bytes();
    if let Some(pos) = bytes
        .iter()
        .enumerate()
        .position(|(i, &b)| b == b'%' && !(is_hex(bytes.get(i + 1)) && is_hex(bytes.get(i + 2))))
    {
        return Err(format!(
            "key {raw:?} has invalid percent-encoding at byte {pos}"
        ));
    }
    let spaced;
    let text = match encoding {
        KeyEncoding::Form if raw.contains('+') => {
            spaced = raw.replace('+', " ");
            spaced.as_str()
        }
        _ => raw,
    };
    let decoded = percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map_err(|_| format!("key {raw:?} is not valid UTF-8 once percent-decoded"))?;
    if decoded.is_empty() {
        return Err("object key is empty".to_owned());
    }
    Ok(decoded.into_owned())
}

fn is_hex(b: Option<&u8>) -> bool {
    b.is_some_and(u8::is_ascii_hexdigit)
}

/// True when `raw` contains at least one well-formed `%XX` escape, i.e. shows signs of having been
/// percent-encoded. Used where a vendor's encoding is not documented.
fn has_percent_escape(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    bytes
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'%' && is_hex(bytes.get(i + 1)) && is_hex(bytes.get(i + 2)))
}

/// Classification of an event name, shared by every vendor.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Class {
    Created,
    Skip(SkipReason),
}

/// Classify `ObjectCreated:Put`, `s3:ObjectCreated:Copy`, `cos:ObjectCreated:Origin`,
/// `OBS:DWR:ObjectCreated:PUT`, `ObjectRemoved:Delete`, `Replication:OperationFailedReplication`...
/// Vendor prefixes differ, so look for the event-family segment wherever it is.
fn classify(event_name: &str) -> Class {
    let segments: Vec<&str> = event_name.split(':').map(str::trim).collect();
    let family = segments.iter().position(|s| {
        s.eq_ignore_ascii_case("ObjectCreated") || s.eq_ignore_ascii_case("Replication")
    });
    let skip_not_created = || {
        Class::Skip(SkipReason::NotObjectCreated {
            event_name: event_name.to_owned(),
        })
    };
    let Some(family) = family else {
        return skip_not_created();
    };
    if segments[family].eq_ignore_ascii_case("Replication") {
        return Class::Skip(SkipReason::Replication {
            event_name: event_name.to_owned(),
        });
    }
    let action = segments
        .get(family + 1)
        .map(|s| s.to_ascii_lowercase())
        .unwrap_or_default();
    match action.as_str() {
        // COS origin-pull and cross-region replication copies.
        "origin" | "replication" => Class::Skip(SkipReason::Replication {
            event_name: event_name.to_owned(),
        }),
        // MinIO files these under ObjectCreated although the content did not change; processing them
        // would also re-trigger on our own tag write-back.
        "puttagging" | "deletetagging" | "putretention" | "putlegalhold" => skip_not_created(),
        _ => Class::Created,
    }
}

/// Turn a vendor's partial result into the record outcome. The object is built before we know
/// whether it is needed so that skipped records still name their object when they can; only a
/// record we would process is invalid when its object cannot be built.
fn finish(
    index: usize,
    event_name: Option<&str>,
    object: Result<ObjectRef, String>,
) -> EventRecord {
    let Some(event_name) = event_name.filter(|n| !n.trim().is_empty()) else {
        return EventRecord::Invalid {
            index,
            reason: "record has no event name".to_owned(),
        };
    };
    match (classify(event_name), object) {
        (Class::Created, Ok(object)) => EventRecord::Process(object),
        (Class::Created, Err(reason)) => EventRecord::Invalid { index, reason },
        (Class::Skip(reason), object) => EventRecord::Skip {
            object: object.ok(),
            reason,
        },
    }
}

/// `""` → None; the value otherwise.
fn non_empty(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// Version ids: `"null"` (unversioned bucket on S3/OBS) and `""` mean none.
fn version_id(value: Option<&str>) -> Option<String> {
    non_empty(value).filter(|v| v != "null")
}

/// ETags arrive with or without the HTTP quotes depending on the sender.
fn etag(value: Option<&str>) -> Option<String> {
    non_empty(value.map(|v| v.trim().trim_matches('"')))
}

/// Lower-case the keys of event-carried metadata; non-string values keep their JSON text.
fn meta_map(meta: Option<&Map<String, Value>>) -> BTreeMap<String, String> {
    meta.into_iter()
        .flatten()
        .map(|(k, v)| {
            let value = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.to_ascii_lowercase(), value)
        })
        .collect()
}

/// Accept a size as a JSON number or a numeric string; anything else (negative, fractional,
/// garbage) is "unknown" rather than a reason to reject the record.
fn de_size<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// Accept an identifier as a string or a number (`appid` is a string in samples, a number in
/// some hand-written test events).
fn de_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_aws;
#[cfg(test)]
mod tests_robustness;
