//! Base64 fallback for the URL path: when there is no signed URL for the object, or the service
//! says it could not download it, read the object (within the inline size limit) and send it
//! in the body instead. Costs a full read of the object, so it is the exception path only.

use serde_json::Value;

use super::builder::Input;
use crate::analyzers::{AnalyzerError, AnalyzerInput};
use crate::cloud::huawei::api::{Api, DOWNLOAD_FAILED_CODES};

/// Inline images: ≤ 10 MB after base64 (7.5 MB raw), both services.
const MAX_INLINE_BYTES: u64 = 7 * 1024 * 1024 + 512 * 1024;

/// Reads what the URL path could not deliver through the store the pipeline was given.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fallback;

impl Fallback {
    /// POST with the URL; on "no URL" or a download failure, once more with the image inline.
    pub async fn post(
        &self,
        api: &Api,
        mode: Input,
        version: &str,
        interface: &str,
        input: &AnalyzerInput,
        body: impl Fn(&AnalyzerInput) -> Result<Value, AnalyzerError>,
    ) -> Result<Value, AnalyzerError> {
        let first = match body(input) {
            Ok(b) => api.post(version, interface, &b).await.map_err(Into::into),
            Err(e) => Err(e),
        };
        match first {
            // Only when the first request did not carry the image already: either there was
            // no URL (and no bytes), or the service could not download the URL it was given.
            Err(e)
                if mode == Input::Url
                    && match (&input.url, &input.bytes) {
                        (None, None) => true,
                        (Some(_), _) => e
                            .code
                            .as_deref()
                            .is_some_and(|c| DOWNLOAD_FAILED_CODES.contains(&c)),
                        (None, Some(_)) => false,
                    } =>
            {
                tracing::warn!(
                    service = api.name,
                    code = e.code.as_deref().unwrap_or(""),
                    "URL path unusable; sending the image inline"
                );
                let inline =
                    crate::analyzers::inline::with_bytes(input, MAX_INLINE_BYTES, &e).await?;
                Ok(api.post(version, interface, &body(&inline)?).await?)
            }
            other => other,
        }
    }
}
