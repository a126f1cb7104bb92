//! `image-triage review`: a local web page over the results already in a bucket, where `review`
//! items get a human decision. The bucket is the source of truth: the sidecars are listed (not
//! the objects read), a page reads only the sidecars it shows, and a decision is written back by
//! the pipeline's own write-back (`Pipeline::decide`).

pub mod access;
pub mod filter;
pub mod plan;
pub mod thumb;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Semaphore;

use crate::object::Provider;
use crate::pipeline::Pipeline;
use crate::result::TriageResult;
use crate::store::{ObjectStore, StoreError};
use access::{Access, Denied};
use filter::{Entry, Filter, Summary, Walk};

/// Sidecars listed at most (the listing is kept in memory, about 200 bytes each).
pub const MAX_ENTRIES: usize = 200_000;
/// Sidecars a page request looks at before it answers with a cursor (the page asks again).
const MAX_SCAN: usize = 2_000;
/// Sidecars read at once.
const READ_BATCH: usize = 32;
/// Tiles per page at most.
const MAX_PAGE: usize = 200;
/// A listing younger than this is reused by a first page.
const LISTING_TTL: Duration = Duration::from_secs(3);
/// Thumbnail bytes kept in memory (oldest dropped first).
const THUMB_CACHE_BYTES: usize = 16 << 20;
/// Larger sidecars are not read (a result is a few KiB; anything this big is not ours).
pub const MAX_SIDECAR_BYTES: u64 = 1 << 20;
/// Bytes read to recognise an image before the whole object is read for a thumbnail.
const SNIFF_BYTES: u64 = 64 << 10;
/// Objects read for thumbnails at once (each up to `thumb::MAX_SOURCE_BYTES` in memory).
const THUMB_SLOTS: usize = 4;

const PAGE_HTML: &str = include_str!("page.html");
const APP_JS: &str = include_str!("app.js");
const APP_CSS: &str = include_str!("app.css");

/// What `review` serves.
#[derive(Debug, Clone)]
pub struct Options {
    pub provider: Provider,
    pub bucket: String,
    /// Only objects whose keys start with this.
    pub prefix: String,
    pub reviewer: String,
    pub access: Access,
}

struct Listing {
    entries: Vec<Entry>,
    made: Option<Instant>,
    truncated: bool,
}

#[derive(Default)]
struct Thumbs {
    bytes: usize,
    order: VecDeque<String>,
    cached: HashMap<String, Arc<Vec<u8>>>,
}

impl Thumbs {
    fn insert(&mut self, id: String, png: Arc<Vec<u8>>) {
        self.bytes += png.len();
        if self.cached.insert(id.clone(), png).is_none() {
            self.order.push_back(id);
        }
        while self.bytes > THUMB_CACHE_BYTES {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some(p) = self.cached.remove(&old) {
                self.bytes -= p.len();
            }
        }
    }
}

struct Shared {
    pipeline: Arc<Pipeline>,
    store: Arc<dyn ObjectStore>,
    opts: Options,
    listing: tokio::sync::Mutex<Listing>,
    /// Sidecar key → (its ETag, its summary).
    summaries: Mutex<HashMap<String, (String, Summary)>>,
    thumbs: Mutex<Thumbs>,
    thumb_slots: Semaphore,
}

type St = State<Arc<Shared>>;

/// The page's routes over `pipeline`'s store for `opts.provider`.
pub fn router(pipeline: Arc<Pipeline>, opts: Options) -> Result<Router, StoreError> {
    let store = pipeline.store(opts.provider)?;
    let shared = Arc::new(Shared {
        pipeline,
        store,
        opts,
        listing: tokio::sync::Mutex::new(Listing {
            entries: vec![],
            made: None,
            truncated: false,
        }),
        summaries: Mutex::default(),
        thumbs: Mutex::default(),
        thumb_slots: Semaphore::new(THUMB_SLOTS),
    });
    let protected = Router::new()
        .route("/", get(page))
        .route("/api/items", get(items))
        .route("/api/item", get(item))
        .route("/api/decide", post(decide))
        .route("/thumb", get(thumbnail))
        .layer(middleware::from_fn_with_state(shared.clone(), protect))
        .with_state(shared);
    // The script and styles hold no secrets (the token and CSRF value are in the page itself),
    // and the page loads them by relative URL without the token: they are served to anyone.
    Ok(Router::new()
        .route(
            "/app.js",
            get(|| async { asset("text/javascript", APP_JS) }),
        )
        .route("/app.css", get(|| async { asset("text/css", APP_CSS) }))
        .merge(protected)
        .layer(middleware::map_response(hardening)))
}

/// On every response: no content-type guessing (a thumbnail or JSON is never run as script),
/// and no embedding by other sites' pages.
async fn hardening(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    r
}

async fn protect(State(st): St, req: Request, next: Next) -> Response {
    let token = req.uri().query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
    });
    match st
        .opts
        .access
        .check(req.method(), req.headers(), token.as_deref())
    {
        Ok(()) => next.run(req).await,
        Err(Denied::Token) => error(
            StatusCode::UNAUTHORIZED,
            "the access token is missing or wrong: open the URL `review` printed",
        ),
        Err(Denied::Host) => error(StatusCode::FORBIDDEN, "unknown Host"),
        Err(Denied::CrossSite) => error(
            StatusCode::FORBIDDEN,
            "a decision must come from the review page itself",
        ),
    }
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (status, Json(json!({"error": message.to_string()}))).into_response()
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// `<`, `>`, `&` and quotes escaped for HTML text and attributes.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

async fn page(State(st): St) -> Response {
    let config = st.pipeline.config();
    let boot = json!({
        "csrf": st.opts.access.csrf,
        "token": st.opts.access.token,
        "bucket": st.opts.bucket,
        "prefix": st.opts.prefix,
        "reviewer": st.opts.reviewer,
        "block_action": config.block_action.as_str(),
        "thumbs": thumb::AVAILABLE,
    });
    // JSON inside <script type="application/json">: no `<` may end the element early.
    let boot = boot.to_string().replace('<', "\\u003c");
    let html = PAGE_HTML
        .replace("{{BOOT}}", &boot)
        .replace("{{BUCKET}}", &escape_html(&st.opts.bucket))
        .replace("{{PREFIX}}", &escape_html(&st.opts.prefix))
        .replace("{{REVIEWER}}", &escape_html(&st.opts.reviewer))
        .replace("{{BLOCK_ACTION}}", config.block_action.as_str());
    let mut r = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    // Only this server's own script, styles and images; no framing.
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'; frame-ancestors 'none'; form-action 'self'",
        ),
    );
    r
}

#[derive(Deserialize)]
struct ItemsQuery {
    #[serde(flatten)]
    filter: filter::Query,
    cursor: Option<usize>,
    limit: Option<usize>,
}

async fn items(State(st): St, Query(q): Query<ItemsQuery>) -> Response {
    let filter = match Filter::from_query(&q.filter) {
        Ok(f) => f,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let from = q.cursor.unwrap_or(0);
    let limit = q.limit.unwrap_or(60).clamp(1, MAX_PAGE);
    let mut listing = st.listing.lock().await;
    let stale = listing.made.is_none_or(|t| t.elapsed() > LISTING_TTL);
    if from == 0 && stale {
        match list_sidecars(&st).await {
            Ok((entries, truncated)) => {
                *listing = Listing {
                    entries,
                    made: Some(Instant::now()),
                    truncated,
                }
            }
            Err(e) => return error(StatusCode::BAD_GATEWAY, e),
        }
    }
    let entries = &listing.entries;
    loop {
        let walked = {
            let sums = st.summaries.lock().unwrap_or_else(|p| p.into_inner());
            filter::walk(entries, from, limit, MAX_SCAN, READ_BATCH, &filter, |i| {
                sums.get(&entries[i].sidecar)
                    .filter(|(etag, _)| *etag == entries[i].etag)
                    .map(|(_, s)| s)
            })
        };
        match walked {
            Walk::Read(ix) => read_summaries(&st, ix.iter().map(|&i| entries[i].clone())).await,
            Walk::Page {
                matched,
                next,
                scanned,
            } => {
                let sums = st.summaries.lock().unwrap_or_else(|p| p.into_inner());
                let tiles: Vec<Summary> = matched
                    .iter()
                    .filter_map(|&i| sums.get(&entries[i].sidecar))
                    .map(|(_, s)| filter::for_tile(s.clone()))
                    .collect();
                return Json(json!({
                    "items": tiles,
                    "next": next,
                    "scanned": scanned,
                    "total": entries.len(),
                    "truncated": listing.truncated,
                }))
                .into_response();
            }
        }
    }
}

/// Every sidecar under the results prefix for this prefix, newest first (listed, not read).
async fn list_sidecars(st: &Shared) -> Result<(Vec<Entry>, bool), StoreError> {
    let results = &st.pipeline.config().results_prefix;
    let under = format!("{results}{}", st.opts.prefix);
    let mut entries = vec![];
    let mut after: Option<String> = None;
    loop {
        let page = st
            .store
            .list(&st.opts.bucket, &under, after.as_deref(), 1000)
            .await?;
        for o in page.objects {
            let relative = o.key.strip_prefix(results.as_str()).unwrap_or(&o.key);
            if filter::is_sidecar(relative) {
                entries.push(Entry {
                    sidecar: o.key,
                    size: o.size,
                    etag: o.etag,
                    at: o.last_modified,
                });
            }
        }
        if entries.len() >= MAX_ENTRIES {
            entries.truncate(MAX_ENTRIES);
            filter::sort_newest_first(&mut entries);
            return Ok((entries, true));
        }
        match page.next_marker {
            Some(m) => after = Some(m),
            None => break,
        }
    }
    filter::sort_newest_first(&mut entries);
    Ok((entries, false))
}

/// Read these sidecars (a few at a time) into the summary cache.
async fn read_summaries(st: &Arc<Shared>, wanted: impl Iterator<Item = Entry>) {
    let mut tasks = tokio::task::JoinSet::new();
    let results = st.pipeline.config().results_prefix.clone();
    for e in wanted {
        let store = st.store.clone();
        let bucket = st.opts.bucket.clone();
        let results = results.clone();
        tasks.spawn(async move {
            let summary = read_summary(&*store, &bucket, &results, &e).await;
            (e, summary)
        });
    }
    while let Some(done) = tasks.join_next().await {
        if let Ok((e, s)) = done {
            let mut sums = st.summaries.lock().unwrap_or_else(|p| p.into_inner());
            sums.insert(e.sidecar, (e.etag, s));
        }
    }
}

/// One sidecar's summary: not read when the listing says it is too large, read no further than
/// the limit (it may have grown since), and only for the object its path names.
async fn read_summary(store: &dyn ObjectStore, bucket: &str, results: &str, e: &Entry) -> Summary {
    let too_large = || {
        Summary::unreadable(
            &e.sidecar,
            &format!("larger than {MAX_SIDECAR_BYTES} bytes: not a result of this function"),
        )
    };
    if e.size > MAX_SIDECAR_BYTES {
        return too_large();
    }
    let body = match store
        .get_range(bucket, &e.sidecar, 0..MAX_SIDECAR_BYTES + 1)
        .await
    {
        Ok(b) if b.len() as u64 > MAX_SIDECAR_BYTES => return too_large(),
        Ok(b) => b,
        Err(err) => return Summary::unreadable(&e.sidecar, &err.to_string()),
    };
    match serde_json::from_slice::<TriageResult>(&body) {
        // A result copied under another object's path would put that object's decision on
        // this tile.
        Ok(r)
            if r.object.bucket != bucket
                || crate::result::sidecar_key(results, &r.object.key) != e.sidecar =>
        {
            Summary::unreadable(&e.sidecar, "the result names another object than its path")
        }
        Ok(r) => Summary::of(&r, &e.sidecar),
        Err(err) => Summary::unreadable(&e.sidecar, &err.to_string()),
    }
}

#[derive(Deserialize)]
struct KeyQuery {
    key: String,
}

#[derive(Deserialize)]
struct ThumbQuery {
    key: String,
    /// The analysed ETag the tile shows: part of the URL so the browser caches per version.
    etag: Option<String>,
}

/// The refusal when the key is not one this page serves (under the prefix, not one of our own
/// outputs).
fn out_of_scope(st: &Shared, key: &str) -> Option<Response> {
    let config = st.pipeline.config();
    let ours = key.starts_with(config.results_prefix.as_str())
        || key.starts_with(config.quarantine_prefix.as_str());
    if key.is_empty() || !key.starts_with(st.opts.prefix.as_str()) || ours {
        return Some(error(
            StatusCode::NOT_FOUND,
            format!("{key:?} is not an object this page reviews"),
        ));
    }
    None
}

async fn item(State(st): St, Query(q): Query<KeyQuery>) -> Response {
    if let Some(r) = out_of_scope(&st, &q.key) {
        return r;
    }
    let prefix = &st.pipeline.config().results_prefix;
    match crate::inspect::inspect(&*st.store, &st.opts.bucket, &q.key, prefix).await {
        Ok(report) => Json(report).into_response(),
        Err(e) => error(StatusCode::BAD_GATEWAY, e),
    }
}

#[derive(Deserialize)]
struct DecideBody {
    key: String,
    decision: plan::Action,
    /// The analysed ETag of the result the reviewer saw (the tile's `etag`).
    etag: String,
}

async fn decide(State(st): St, Json(body): Json<DecideBody>) -> Response {
    if let Some(r) = out_of_scope(&st, &body.key) {
        return r;
    }
    let o = &st.opts;
    let decided = st
        .pipeline
        .decide(
            o.provider,
            &o.bucket,
            &body.key,
            body.decision,
            &o.reviewer,
            Some(&body.etag),
        )
        .await;
    match decided {
        Ok(d) => {
            let sidecar =
                crate::result::sidecar_key(&st.pipeline.config().results_prefix, &body.key);
            let summary = Summary::of(&d.result, &sidecar);
            // Its sidecar has a new ETag now: read again on the next listing.
            st.summaries
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&sidecar);
            tracing::info!(key = %body.key, decision = ?body.decision, reviewer = %o.reviewer, "human decision written");
            Json(json!({"item": filter::for_tile(summary)})).into_response()
        }
        Err(e) if e.is_conflict() => error(StatusCode::CONFLICT, e),
        Err(e) => {
            tracing::warn!(key = %body.key, error = %e, "decision not written");
            error(StatusCode::BAD_GATEWAY, e)
        }
    }
}

async fn thumbnail(State(st): St, Query(q): Query<ThumbQuery>) -> Response {
    if let Some(r) = out_of_scope(&st, &q.key) {
        return r;
    }
    if !thumb::AVAILABLE {
        return error(StatusCode::NOT_IMPLEMENTED, thumb::ThumbError::Unavailable);
    }
    let bucket = &st.opts.bucket;
    let meta = match st.store.head(bucket, &q.key).await {
        Ok(m) => m,
        Err(StoreError::NotFound { .. }) => return error(StatusCode::NOT_FOUND, "object gone"),
        Err(e) => return error(StatusCode::BAD_GATEWAY, e),
    };
    if meta.size > thumb::MAX_SOURCE_BYTES {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            thumb::ThumbError::TooLarge(meta.size),
        );
    }
    let id = format!("{}\n{}", meta.etag, q.key);
    let cached = st
        .thumbs
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .cached
        .get(&id)
        .cloned();
    let png = match cached {
        Some(p) => p,
        None => {
            let Ok(_slot) = st.thumb_slots.acquire().await else {
                return error(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
            };
            // Recognise an image from its first bytes before reading up to the whole limit.
            let head = match st
                .store
                .get_range(bucket, &q.key, 0..meta.size.min(SNIFF_BYTES))
                .await
            {
                Ok(b) => b,
                Err(e) => return error(StatusCode::BAD_GATEWAY, e),
            };
            if let Err(e) = thumb::sniff(&head, meta.size) {
                return error(StatusCode::UNPROCESSABLE_ENTITY, e);
            }
            let bytes = match st.store.get_range(bucket, &q.key, 0..meta.size).await {
                Ok(b) => b,
                Err(e) => return error(StatusCode::BAD_GATEWAY, e),
            };
            let budget = st.pipeline.config().decode_budget_mb;
            match thumb::make(bytes, budget).await {
                Ok(p) => {
                    let p = Arc::new(p);
                    let mut t = st.thumbs.lock().unwrap_or_else(|p| p.into_inner());
                    t.insert(id, p.clone());
                    p
                }
                Err(e) => return error(StatusCode::UNPROCESSABLE_ENTITY, e),
            }
        }
    };
    // Cached by the browser only under a URL that names the version (the tile's ETag).
    let cache = if q.etag.is_some() {
        "private, max-age=600"
    } else {
        "no-cache"
    };
    (
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, cache),
        ],
        png.as_ref().clone(),
    )
        .into_response()
}

/// Serve the page on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped_and_the_thumb_cache_stays_bounded() {
        assert_eq!(
            escape_html("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let mut t = Thumbs::default();
        for i in 0..40 {
            t.insert(format!("k{i}"), Arc::new(vec![0u8; 1 << 20]));
        }
        assert!(t.bytes <= THUMB_CACHE_BYTES && t.cached.len() == 16);
        assert!(t.cached.contains_key("k39") && !t.cached.contains_key("k0"));
    }
}
