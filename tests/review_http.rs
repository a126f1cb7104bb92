//! The review page's server over HTTP, without a browser or models: in token mode (bound
//! beyond loopback) the page and the API need the token but the script and styles it loads by
//! relative URL do not; every response carries the hardening headers; a decision names the
//! version the reviewer saw and is refused (409) when the result describes another.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::*;
use image_triage::pipeline::Pipeline;
use image_triage::review::{self, access::Access};
use image_triage::store::ObjectStore;
use image_triage::Provider;
use serde_json::{json, Value};

const TOKEN: &str = "test-token-0123456789";
const CSRF: &str = "test-csrf-0123456789";

/// A triaged object in a local bucket and the page's server over it, in token mode.
async fn serve(root: &std::path::Path) -> String {
    let vars = [("TRIAGE_LABELER", "none"), ("TRIAGE_MODERATOR", "none")];
    store(root)
        .put(
            BUCKET,
            "in/a.png",
            Bytes::from(png_header(64, 64, 4000)),
            "image/png",
        )
        .await
        .unwrap();
    let p = Pipeline::with_store(config(root, &vars), store(root));
    let o = p
        .handle_event(&event_for(BUCKET, "in/a.png", "ObjectCreated:Put"), None)
        .await
        .remove(0);
    assert_eq!(o.status, "done", "{o:?}");
    let opts = review::Options {
        provider: Provider::Local,
        bucket: BUCKET.into(),
        prefix: String::new(),
        reviewer: "ana".into(),
        access: Access {
            token: Some(TOKEN.into()),
            csrf: CSRF.into(),
            hosts: vec![],
        },
    };
    let router = review::router(Arc::new(p), opts).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(review::serve(listener, router, std::future::pending()));
    base
}

#[tokio::test]
async fn token_mode_serves_the_assets_and_a_stale_decision_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let base = serve(dir.path()).await;
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{base}{path}")).send();

    let page = get(&format!("/?token={TOKEN}")).await.unwrap();
    assert_eq!(page.status(), 200);
    // Loaded by the page with relative URLs, without the token.
    for asset in ["/app.js", "/app.css"] {
        let r = get(asset).await.unwrap();
        assert_eq!(r.status(), 200, "{asset}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{asset}");
        assert_eq!(
            r.headers()["cross-origin-resource-policy"],
            "same-origin",
            "{asset}"
        );
    }
    assert_eq!(get("/").await.unwrap().status(), 401);
    let denied = get("/api/items?verdict=any").await.unwrap();
    assert_eq!(denied.status(), 401);
    assert_eq!(denied.headers()["x-content-type-options"], "nosniff");
    let items = get(&format!("/api/items?verdict=any&token={TOKEN}"))
        .await
        .unwrap();
    assert_eq!(items.status(), 200);
    let items: Value = serde_json::from_slice(&items.bytes().await.unwrap()).unwrap();
    let tile = &items["items"][0];
    assert_eq!(tile["key"], "in/a.png", "{items}");
    let etag = tile["etag"].as_str().expect("the tile names its ETag");
    let stored = sidecar(dir.path(), "in/a.png");
    assert_eq!(stored["object"]["etag"].as_str(), Some(etag));

    let decide = |etag: &str| {
        http.post(format!("{base}/api/decide"))
            .header("x-review-token", TOKEN)
            .header("x-review-csrf", CSRF)
            .header("content-type", "application/json")
            .body(json!({"key": "in/a.png", "decision": "block", "etag": etag}).to_string())
            .send()
    };
    // Not the version the stored result describes: refused, nothing written.
    let r = decide("0123456789abcdef0123456789abcdef").await.unwrap();
    assert_eq!(r.status(), 409);
    let body: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("the page showed"),
        "{body}"
    );
    assert_eq!(sidecar(dir.path(), "in/a.png"), stored);
    // The version it showed: written.
    let r = decide(etag).await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(body["item"]["verdict"], "block", "{body}");
    assert_eq!(
        sidecar(dir.path(), "in/a.png")["review"]["decision"],
        "block"
    );
}
