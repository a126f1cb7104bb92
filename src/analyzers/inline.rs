//! The exception path of analyzers that normally hand the service a URL: when there is no URL,
//! or the service could not download it, read the object (within the service's inline limit)
//! and send the bytes instead. Costs a full read of the object, so it is never the first choice.

use base64::Engine;
use serde_json::{json, Value};

use super::{AnalyzerError, AnalyzerInput};

/// Put `url` (when `use_url` and there is one) or else `image` (the bytes, base64) into `body`:
/// the two fields Huawei's image services and Tencent's legacy tagging API both name so.
/// `false` when neither is at hand.
pub fn url_or_image(body: &mut Value, input: &AnalyzerInput, use_url: bool) -> bool {
    match (&input.url, &input.bytes) {
        (Some(url), _) if use_url => body["url"] = json!(url),
        (_, Some(bytes)) => {
            body["image"] = json!(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
        _ => return false,
    }
    true
}

/// `input` with the object's bytes and no URL, read through the pipeline's store unless they
/// are at hand already; `why` (the failure that made the URL unusable) when the object is over
/// `max_raw_bytes` or there is no store to read it through.
pub async fn with_bytes(
    input: &AnalyzerInput,
    max_raw_bytes: u64,
    why: &AnalyzerError,
) -> Result<AnalyzerInput, AnalyzerError> {
    if input.facts.bytes > max_raw_bytes {
        return Err(why.clone());
    }
    let mut inline = input.clone();
    inline.url = None;
    // The pipeline already read the whole object (another analyzer needed it): no new read.
    if input.bytes.is_some() {
        return Ok(inline);
    }
    let Some(store) = &input.store else {
        return Err(why.clone());
    };
    let bytes = store
        .get(&input.object.bucket, &input.object.key)
        .await
        .map_err(|e| AnalyzerError {
            service: why.service.clone(),
            code: why.code.clone(),
            message: format!(
                "{}; the inline fallback could not read the object: {e}",
                why.message
            ),
            retryable: e.retryable(),
        })?;
    inline.bytes = Some(bytes);
    Ok(inline)
}
