//! The COS store's signed GET URLs, for the services that fetch the object themselves (IMS,
//! TIIA). The signature algorithm is Tencent's shared [`crate::cloud::tencent::cos_sign`].

use std::time::Duration;

use crate::cloud::tencent::cos::{CosClient, CosError};
use crate::cloud::tencent::cos_sign as sign;

/// A GET URL for `bucket`/`key` that works without credentials until `expires` has passed (one
/// minute of clock skew allowed at the start), carrying the session token when there is one.
/// Only `host` is signed: the fetching service sends that and nothing else we could predict.
///
/// Always the bucket's production host `https://<bucket>-<appid>.cos.<region>.myqcloud.com`,
/// whatever endpoint this function itself talks to (`TRIAGE_COS_ENDPOINT`): the URL is for IMS
/// and TIIA, which fetch COS links only on `xxx.cos.myqcloud.com` hosts (seed 001,
/// ImageDownloadError), and a URL to a private endpoint would be unreachable for them.
pub fn presigned_get(
    client: &CosClient,
    bucket: &str,
    key: &str,
    expires: Duration,
) -> Result<String, CosError> {
    let host = client.host(bucket, None)?;
    let creds = client.creds()?;
    let now = chrono::Utc::now().timestamp();
    let key_time = sign::key_time(now - 60, now + expires.as_secs() as i64);
    let target = format!(
        "{}?{}",
        sign::wire_path(key),
        sign::presigned_query(
            &creds.access_key,
            &creds.secret_key,
            creds.token.as_deref(),
            &key_time,
            &host,
            key
        )
    );
    // Always the production host: the vendor service fetches it, not this function.
    let base = crate::client::origin::https(&host)
        .map_err(|e| CosError::local("InvalidBucketName", e.to_string()))?;
    crate::client::origin::request_uri(&base, &target)
        .map(|u| u.to_string())
        .map_err(|e| CosError::local("InvalidBucketName", e))
}
