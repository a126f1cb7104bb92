//! Batch invocations: S3 Batch Operations' "Invoke AWS Lambda function", and the COS shape assumed
//! to mirror it. One invocation carries tasks (one object each); each task is answered with one
//! result in the batch response schema, so the job's completion report is a triage report.
//!
//! Parsing and the response are pure; `runtime::batch` runs the tasks through the pipeline.
//!
//! **AWS, verified** against the S3 User Guide "Invoke AWS Lambda function"
//! (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-invoke-lambda.html>), the
//! Lambda guide (<https://docs.aws.amazon.com/lambda/latest/dg/services-s3-batch.html>) and the
//! `LambdaInvokeOperation` API reference
//! (<https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_LambdaInvokeOperation.html>):
//! - request: `invocationSchemaVersion` (`1.0` default, `2.0` for directory buckets or
//!   `UserArguments`), `invocationId`, `job.id`, `job.userArguments` (2.0, ≤ 10 string pairs), and
//!   `tasks[]` of `taskId`, `s3Key`, `s3VersionId` (string or null), and the bucket as
//!   `s3BucketArn` in 1.0 (`arn:aws:s3:::name`; older samples `arn:aws:s3:region:account:name`)
//!   or `s3Bucket` (the name) in 2.0;
//! - response: `invocationSchemaVersion` and `invocationId` copied from the request,
//!   `treatMissingKeysAs`, `results[]` of `taskId` (copied), `resultCode` (`Succeeded`,
//!   `TemporaryFailure`: redriven before the job ends, `PermanentFailure`) and `resultString`
//!   (kept in the completion report).
//!
//! **Key encoding.** The guide says 1.0 keys are URL-encoded (its sample decodes with
//! `unquote_plus`, an older one with `unquote`, so whether `+` is a space is itself unsettled).
//! For 2.0 the guide shows only a plain key (`customerImage1.jpg`) and says nothing either way;
//! AWS Powertools decodes 2.0 keys as well: UNVERIFIED. So every task carries its key's
//! *readings* in order of likelihood (1.0: form-decoded, path-decoded, as sent; 2.0 and COS: as
//! sent, form-decoded, path-decoded), and the runtime tries the next reading only when the first
//! names no object. A wrong reading can at worst triage another existing object of the same bucket.
//!
//! **`treatMissingKeysAs`** is not in the request; the job may set it as the user argument
//! `treatMissingKeysAs` (2.0) or a top-level field. It decides tasks whose object is gone
//! (default `PermanentFailure`), and the response says which value was used.
//!
//! **Tencent COS, UNVERIFIED.** COS batch jobs (`CreateJob`, 批量处理,
//! <https://cloud.tencent.com/document/api/436/38608>) document copy, restore and delete
//! operations, not a function invocation, and Cloud Infinite workflows call SCF through a custom
//! function node whose event is not documented
//! (<https://www.tencentcloud.com/document/product/1045/43603>). The COS batch event is therefore
//! assumed to mirror S3's, as COS's batch API mirrors S3 Control's (same job fields, `COS` for
//! `S3` prefixes, `qcs::cos:<region>:uid/<appid>:<bucket>` ARNs). Accepted per task, both
//! plausible spellings: `s3Key` | `cosKey`, `s3VersionId` | `cosVersionId`, `s3BucketArn` |
//! `cosBucketArn` (qcs or arn), `s3Bucket` | `cosBucket`; answered in the S3 response schema.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::{decode_key, describe, version_id, EventRecord, KeyEncoding};
use crate::object::{ObjectRef, Provider};
use crate::pipeline::Outcome;

/// Tasks handled in one invocation. S3 Batch Operations sends one; the bound keeps a hostile
/// payload from queueing unbounded work (and an unbounded response).
pub const MAX_TASKS: usize = 100;
/// `resultString` length cap, in characters: the completion report is a CSV line per task.
pub const MAX_RESULT_STRING: usize = 200;
/// User arguments kept (AWS allows 10); the rest of a hostile map is ignored.
const MAX_USER_ARGUMENTS: usize = 32;

/// Outcome codes with a meaning of their own in a batch report.
const OBJECT_GONE: &str = "object_gone";
const DAILY_CAP: &str = "daily_cap";

/// A per-task result code of the batch response schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultCode {
    Succeeded,
    TemporaryFailure,
    PermanentFailure,
}

impl ResultCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ResultCode::Succeeded => "Succeeded",
            ResultCode::TemporaryFailure => "TemporaryFailure",
            ResultCode::PermanentFailure => "PermanentFailure",
        }
    }

    pub fn parse(text: &str) -> Option<ResultCode> {
        [
            ResultCode::Succeeded,
            ResultCode::TemporaryFailure,
            ResultCode::PermanentFailure,
        ]
        .into_iter()
        .find(|c| c.as_str() == text.trim())
    }
}

/// One batch invocation, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchInvocation {
    /// As sent (echoed in the response), also when it is a version this module does not read.
    pub schema_version: String,
    pub invocation_id: String,
    pub job_id: Option<String>,
    pub user_arguments: BTreeMap<String, String>,
    /// What a task whose object is gone is answered with (see the module docs).
    pub treat_missing_keys_as: ResultCode,
    /// S3 on Lambda, COS on SCF; without a runtime hint, COS when a task spells COS.
    pub provider: Provider,
    pub tasks: Vec<BatchTask>,
}

/// One task: its id (echoed), what to do, and the further readings of its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchTask {
    /// Copied into the result; `""` when the task has none (its result is then a failure).
    pub task_id: String,
    /// `Process` with the first reading of the key and the version id
    /// (`ObjectRef::version_id`; the pipeline reads the current version), or `Invalid` with why.
    pub record: EventRecord,
    /// Other readings of the key, tried in order while the object is gone (module docs).
    pub other_keys: Vec<String>,
    /// The key as sent, before any decoding.
    pub raw_key: Option<String>,
}

/// A payload that is a batch invocation but cannot be answered in the batch schema at all.
/// Problems of single tasks are `EventRecord::Invalid` tasks instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("it has no `invocationId` string to answer to")]
    NoInvocationId,
    #[error("its `tasks` is {found}, not an array")]
    TasksNotArray { found: String },
    #[error("it carries {count} tasks; at most {MAX_TASKS} are handled in one invocation (S3 Batch Operations sends one)")]
    TooManyTasks { count: usize },
}

/// `tasks` next to `invocationSchemaVersion` or `invocationId`, and no `Records`: no upload-event
/// shape has those keys.
pub fn is_batch(obj: &Map<String, Value>) -> bool {
    obj.contains_key("tasks")
        && (obj.contains_key("invocationSchemaVersion") || obj.contains_key("invocationId"))
        && !obj.contains_key("Records")
}

/// `None` when `value` is not a batch invocation; otherwise the invocation or why it cannot be
/// answered. `hint` is the runtime's provider (Lambda → S3, SCF → COS; `None` from the CLI).
pub fn detect(
    value: &Value,
    hint: Option<Provider>,
) -> Option<Result<BatchInvocation, BatchError>> {
    let obj = value.as_object().filter(|obj| is_batch(obj))?;
    Some(parse(obj, hint))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Schema {
    V1,
    V2,
    Unsupported,
}

fn parse(obj: &Map<String, Value>, hint: Option<Provider>) -> Result<BatchInvocation, BatchError> {
    let invocation_id = obj
        .get("invocationId")
        .and_then(Value::as_str)
        .ok_or(BatchError::NoInvocationId)?
        .to_owned();
    let tasks = match obj.get("tasks") {
        Some(Value::Array(tasks)) => tasks,
        other => {
            return Err(BatchError::TasksNotArray {
                found: describe(other.unwrap_or(&Value::Null)),
            })
        }
    };
    if tasks.len() > MAX_TASKS {
        return Err(BatchError::TooManyTasks { count: tasks.len() });
    }
    let schema_version = obj
        .get("invocationSchemaVersion")
        .and_then(text)
        .unwrap_or_default();
    let schema = match schema_version.trim() {
        "1.0" | "1" => Schema::V1,
        "2.0" | "2" => Schema::V2,
        _ => Schema::Unsupported,
    };
    let job = obj.get("job").and_then(Value::as_object);
    let job_id = job.and_then(|j| j.get("id")).and_then(text);
    let user_arguments: BTreeMap<String, String> = job
        .and_then(|j| j.get("userArguments"))
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
        .take(MAX_USER_ARGUMENTS)
        .collect();
    let treat_missing_keys_as = user_arguments
        .get("treatMissingKeysAs")
        .map(String::as_str)
        .or_else(|| obj.get("treatMissingKeysAs").and_then(Value::as_str))
        .and_then(ResultCode::parse)
        .unwrap_or(ResultCode::PermanentFailure);
    let provider = hint.unwrap_or_else(|| infer_provider(tasks));
    let tasks = tasks
        .iter()
        .enumerate()
        .map(|(index, task)| parse_task(index, task, schema, &schema_version, provider))
        .collect();
    Ok(BatchInvocation {
        schema_version,
        invocation_id,
        job_id,
        user_arguments,
        treat_missing_keys_as,
        provider,
        tasks,
    })
}

/// A string, or a number's text (ids and versions are strings in every sample; numbers are
/// accepted rather than failing the task).
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn first_str<'a>(task: &'a Map<String, Value>, fields: &[&str]) -> Option<&'a str> {
    fields
        .iter()
        .find_map(|f| task.get(*f).and_then(Value::as_str))
}

/// COS when any task spells a field the COS way or names a `qcs::cos` bucket.
fn infer_provider(tasks: &[Value]) -> Provider {
    let cos = tasks.iter().filter_map(Value::as_object).any(|t| {
        t.keys().any(|k| k.starts_with("cos"))
            || first_str(t, &["s3BucketArn", "s3Bucket"]).is_some_and(|a| a.starts_with("qcs:"))
    });
    if cos {
        Provider::Cos
    } else {
        Provider::S3
    }
}

fn parse_task(
    index: usize,
    task: &Value,
    schema: Schema,
    schema_version: &str,
    provider: Provider,
) -> BatchTask {
    let invalid = |task_id: String, raw_key: Option<String>, reason: String| BatchTask {
        task_id,
        record: EventRecord::Invalid { index, reason },
        other_keys: vec![],
        raw_key,
    };
    let Some(task) = task.as_object() else {
        return invalid(String::new(), None, format!("task is {}", describe(task)));
    };
    let Some(task_id) = task.get("taskId").and_then(text) else {
        return invalid(String::new(), None, "task has no `taskId`".to_owned());
    };
    let raw_key = first_str(task, &["s3Key", "cosKey"]).map(str::to_owned);
    if schema == Schema::Unsupported {
        return invalid(
            task_id,
            raw_key,
            format!(
                "unsupported invocationSchemaVersion {schema_version:?} (1.0 and 2.0 are read)"
            ),
        );
    }
    let Some(raw) = raw_key.clone().filter(|k| !k.is_empty()) else {
        return invalid(task_id, raw_key, "task has no `s3Key`".to_owned());
    };
    let (bucket, region) = match task_bucket(task, schema) {
        Ok(found) => found,
        Err(reason) => return invalid(task_id, raw_key, reason),
    };
    // 1.0 keys are documented URL-encoded; 2.0 and COS keys are not known to be (module docs).
    let encoded_first = schema == Schema::V1 && provider != Provider::Cos;
    let mut readings = key_readings(&raw, encoded_first).into_iter();
    let Some(key) = readings.next() else {
        return invalid(task_id, raw_key, format!("key {raw:?} is empty"));
    };
    let mut object = ObjectRef::new(provider, bucket, key);
    object.region = region;
    object.version_id = version_id(first_str(task, &["s3VersionId", "cosVersionId"]));
    BatchTask {
        task_id,
        record: EventRecord::Process(object),
        other_keys: readings.collect(),
        raw_key,
    }
}

/// The bucket name (and region, when an ARN carries one). Both spellings are read whatever the
/// schema version; the error names the documented one.
fn task_bucket(
    task: &Map<String, Value>,
    schema: Schema,
) -> Result<(String, Option<String>), String> {
    if let Some(name) = first_str(task, &["s3Bucket", "cosBucket"]).filter(|n| !n.is_empty()) {
        if name.starts_with("arn:") || name.starts_with("qcs:") {
            return bucket_from_arn(name);
        }
        if name.contains('/') || name.contains(':') {
            return Err(format!("bucket {name:?} is not a bucket name"));
        }
        return Ok((name.to_owned(), None));
    }
    if let Some(arn) = first_str(task, &["s3BucketArn", "cosBucketArn"]).filter(|a| !a.is_empty()) {
        return bucket_from_arn(arn);
    }
    Err(match schema {
        Schema::V2 => "task has no `s3Bucket`".to_owned(),
        _ => "task has no `s3BucketArn`".to_owned(),
    })
}

/// `arn:<partition>:s3:<region?>:<account?>:<name>` or `qcs::cos:<region>:uid/<appid>:<name>`
/// (COS bucket names carry `-<appid>`; added when the ARN's name lacks it). A bare name is
/// accepted as itself. Bucket names themselves are checked later by the store.
fn bucket_from_arn(arn: &str) -> Result<(String, Option<String>), String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() == 1 {
        return Ok((arn.to_owned(), None));
    }
    let bad =
        || format!("bucket ARN {arn:?} is not arn:aws:s3:::NAME or qcs::cos:REGION:uid/APPID:NAME");
    let [scheme, _, service, region, account, name] = parts[..] else {
        return Err(bad());
    };
    if !matches!((scheme, service), ("arn", "s3") | ("qcs", "cos"))
        || name.is_empty()
        || name.contains('/')
        || name.contains(':')
    {
        return Err(bad());
    }
    let mut bucket = name.to_owned();
    let appid = account
        .strip_prefix("uid/")
        .filter(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit()));
    if let (Some(appid), "qcs") = (appid, scheme) {
        if !bucket.ends_with(&format!("-{appid}")) {
            bucket = format!("{bucket}-{appid}");
        }
    }
    let region = Some(region.trim())
        .filter(|r| !r.is_empty())
        .map(str::to_owned);
    Ok((bucket, region))
}

/// The distinct readings of a key, most likely first (module docs). Strict decoding: a reading
/// whose escapes are malformed is left out; the key as sent is always one reading.
fn key_readings(raw: &str, encoded_first: bool) -> Vec<String> {
    let form = decode_key(raw, KeyEncoding::Form).ok();
    let path = decode_key(raw, KeyEncoding::Path).ok();
    let sent = Some(raw.to_owned());
    let order = if encoded_first {
        [form, path, sent]
    } else {
        [sent, form, path]
    };
    let mut out: Vec<String> = Vec::with_capacity(3);
    for key in order.into_iter().flatten() {
        if !key.is_empty() && !out.contains(&key) {
            out.push(key);
        }
    }
    out
}

/// The batch response for `invocation`, `outcomes[i]` being task i's outcome.
pub fn respond(invocation: &BatchInvocation, outcomes: &[Outcome]) -> Value {
    let results: Vec<Value> = invocation
        .tasks
        .iter()
        .enumerate()
        .map(|(i, task)| {
            let (code, text) = match outcomes.get(i) {
                Some(o) => (
                    result_code(o, invocation.treat_missing_keys_as),
                    result_string(o),
                ),
                // Not reached by runtime::batch (one outcome per task); a task must not go
                // unanswered, as Batch Operations would then apply treatMissingKeysAs to it.
                None => (
                    ResultCode::PermanentFailure,
                    "failed: no outcome was recorded for this task".to_owned(),
                ),
            };
            json!({
                "taskId": task.task_id,
                "resultCode": code.as_str(),
                "resultString": text,
            })
        })
        .collect();
    json!({
        "invocationSchemaVersion": invocation.schema_version,
        "treatMissingKeysAs": invocation.treat_missing_keys_as.as_str(),
        "invocationId": invocation.invocation_id,
        "results": results,
    })
}

/// done → Succeeded; skipped → Succeeded, except a gone object (→ `treat_missing`) and the daily
/// cap (→ PermanentFailure: the failed-tasks report is re-run the next day); failed → Temporary
/// when a retry can help (Batch Operations redrives it), else Permanent.
pub fn result_code(outcome: &Outcome, treat_missing: ResultCode) -> ResultCode {
    match (outcome.status, outcome.code.as_deref()) {
        (_, Some(DAILY_CAP)) => ResultCode::PermanentFailure,
        ("done", _) => ResultCode::Succeeded,
        ("skipped", Some(OBJECT_GONE)) => treat_missing,
        ("skipped", _) => ResultCode::Succeeded,
        ("failed", _) if outcome.retryable => ResultCode::TemporaryFailure,
        _ => ResultCode::PermanentFailure,
    }
}

/// `done pass`, `skipped already_processed block`, `failed store_error: <reason>`: status, code,
/// verdict, and a failure's reason; one line of at most [`MAX_RESULT_STRING`] characters.
pub fn result_string(outcome: &Outcome) -> String {
    let mut text = outcome.status.to_owned();
    for part in [outcome.code.as_deref(), outcome.verdict.as_deref()]
        .into_iter()
        .flatten()
    {
        text.push(' ');
        text.push_str(part);
    }
    if outcome.status == "failed" {
        if let Some(reason) = outcome.reason.as_deref().filter(|r| !r.trim().is_empty()) {
            text.push_str(": ");
            text.push_str(reason);
        }
    }
    one_line(&text, MAX_RESULT_STRING)
}

/// Control characters become spaces and runs of whitespace one space (a multi-line vendor error
/// stays one CSV field); longer text is cut at `max` characters, the last being `…`.
fn one_line(text: &str, max: usize) -> String {
    let mut chars: Vec<char> = Vec::with_capacity(text.len().min(max + 1));
    for c in text.trim().chars() {
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' && chars.last() == Some(&' ') {
            continue;
        }
        chars.push(c);
        if chars.len() > max {
            chars.truncate(max.saturating_sub(1));
            chars.push('…');
            break;
        }
    }
    chars.into_iter().collect()
}

#[cfg(test)]
#[path = "tests_batch.rs"]
mod tests;
