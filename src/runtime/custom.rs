//! The poll loop SCF's and FunctionGraph's custom runtimes share: long-poll the next
//! invocation, hand the event to the platform's handler, post the answer, forever. The two
//! protocols differ only in their URLs, where the request id is, and how a failure is written;
//! [`Protocol`] names those differences.

use std::future::Future;
use std::time::Duration;

use reqwest::header::HeaderMap;

use crate::pipeline::Pipeline;

/// One platform's custom-runtime API.
pub trait Protocol {
    /// Whether a non-2xx answer to the poll counts as a failed poll (SCF), or is logged and polled
    /// again without counting (FunctionGraph, whose answer without a request id is the signal).
    const NON_2XX_IS_A_FAILED_POLL: bool;
    /// The long poll for the next invocation.
    fn next_url(&self) -> String;
    /// The invocation's id, from the next-invocation response; `None` → poll again.
    fn request_id(&self, headers: &HeaderMap) -> Option<String>;
    /// Handle one event: `Ok(answer)` or `Err(error body)`, both as the body to post.
    fn invoke(
        &self,
        pipeline: &Pipeline,
        headers: &HeaderMap,
        body: &[u8],
    ) -> impl Future<Output = Result<String, String>>;
    /// Where the answer to invocation `id` goes (`ok` false: the error URL).
    fn answer_url(&self, id: &str, ok: bool) -> String;
    /// The error body for an event that was cut off in transit.
    fn cut_off(&self, message: &str) -> String;
}

/// Consecutive failed polls (100 ms apart, ~30 s) after which the runtime gives up: a reset long
/// poll (an instance frozen and thawed) is not the end of the function, a gone API is.
const MAX_POLL_FAILURES: u32 = 300;

pub async fn run<P: Protocol>(protocol: &P, pipeline: &Pipeline) -> Result<(), reqwest::Error> {
    let http = crate::client::http();
    let mut failures = 0u32;
    loop {
        // No client timeout: this is a long poll that returns when an event arrives.
        let polled = http.get(protocol.next_url()).send().await;
        let polled = if P::NON_2XX_IS_A_FAILED_POLL {
            polled.and_then(|r| r.error_for_status())
        } else {
            polled
        };
        let next = match polled {
            Ok(r) => r,
            Err(e) => {
                failures += 1;
                if failures > MAX_POLL_FAILURES {
                    return Err(e);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        failures = 0;
        let headers = next.headers().clone();
        let Some(id) = protocol.request_id(&headers) else {
            tracing::warn!(
                status = next.status().as_u16(),
                "next invocation without a request id; polling again"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let answer = match next.bytes().await {
            Ok(body) => protocol.invoke(pipeline, &headers, &body).await,
            // Cut off in transit: a failed invocation, so the platform's retry delivers it again.
            Err(e) => Err(protocol.cut_off(&format!(
                "could not read the event body: {}",
                crate::client::describe(e)
            ))),
        };
        let (ok, payload) = match answer {
            Ok(p) => (true, p),
            Err(p) => (false, p),
        };
        if let Err(e) = http
            .post(protocol.answer_url(&id, ok))
            .header("Content-Type", "application/json")
            .body(payload)
            .send()
            .await
            .and_then(|r| r.error_for_status())
        {
            tracing::error!(error = %crate::client::describe(e), request_id = %id, "could not report the invocation result");
        }
    }
}
