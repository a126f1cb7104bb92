//! One conformance suite for every `ObjectStore`: the embedded local bucket, S3 on moto with
//! SigV4 enforced, COS on the Tencent emulator, OBS on the Huawei emulator. The checks live in
//! tests/conformance/checks.rs; each backend runs all of them.

mod common;
mod conformance;
#[path = "tencent/emulator.rs"]
#[allow(unused_imports)]
mod emulator;
mod huawei;

use conformance::checks;
use conformance::harness::Harness;

#[tokio::test(flavor = "multi_thread")]
async fn local_store_conforms() {
    conformance::run_all(Harness::local().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_store_on_moto_conforms() {
    conformance::run_all(Harness::s3().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cos_store_on_the_tencent_emulator_conforms() {
    conformance::run_all(Harness::cos().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn obs_store_on_the_huawei_emulator_conforms() {
    conformance::run_all(Harness::obs().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn local_update_metadata_acl_kept_public_read() {
    checks::update_metadata_acl_kept(Harness::local().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_update_metadata_acl_kept_public_read() {
    checks::update_metadata_acl_kept(Harness::s3().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cos_update_metadata_acl_kept_public_read() {
    checks::update_metadata_acl_kept(Harness::cos().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn obs_update_metadata_acl_kept_public_read() {
    checks::update_metadata_acl_kept(Harness::obs().await).await;
}
