//! The copy event that an S3-style metadata write-back fires is skipped even when it arrives
//! before the sidecar exists (moto delivers it synchronously, inside the copy request), while a
//! re-delivered upload event with the sidecar missing still finishes the work.

mod common;

use std::sync::Arc;

use image_triage::config::Config;
use image_triage::pipeline::Pipeline;
use image_triage::store::ObjectStore;

#[tokio::test]
async fn copy_event_skipped_without_sidecar_upload_event_finishes_the_work() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::store(dir.path());
    let cfg = Config::from_vars(
        [
            ("TRIAGE_STORE", "local".to_string()),
            ("TRIAGE_LOCAL_ROOT", dir.path().display().to_string()),
            ("TRIAGE_LABELER", "none".into()),
            ("TRIAGE_MODERATOR", "none".into()),
        ]
        .map(|(k, v)| (k.to_string(), v)),
    )
    .unwrap();
    let pipeline = Pipeline::with_store(cfg, store.clone() as Arc<dyn ObjectStore>);
    let key = "in/x.png";
    store
        .put(
            common::BUCKET,
            key,
            common::png_header(64, 64, 4096).into(),
            "image/png",
        )
        .await
        .unwrap();
    let put = common::event_for(common::BUCKET, key, "ObjectCreated:Put");
    let first = pipeline.handle_event(&put, None).await;
    assert_eq!(first[0].status, "done", "{first:?}");

    // As if the copy event overtook the sidecar write.
    let sidecar = "triage-results/in/x.png.json";
    store.delete(common::BUCKET, sidecar).await.unwrap();
    let copy = common::event_for(common::BUCKET, key, "ObjectCreated:Copy");
    let o = pipeline.handle_event(&copy, None).await;
    assert_eq!(o[0].code.as_deref(), Some("write_back_copy"), "{o:?}");
    assert!(store.head(common::BUCKET, sidecar).await.is_err());

    // A re-delivered upload event sees the unfinished work and finishes it.
    let o = pipeline.handle_event(&put, None).await;
    assert_eq!(o[0].status, "done", "{o:?}");
    assert!(store.head(common::BUCKET, sidecar).await.is_ok());
    let o = pipeline.handle_event(&put, None).await;
    assert_eq!(o[0].code.as_deref(), Some("already_processed"), "{o:?}");
}
