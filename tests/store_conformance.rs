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

/// Where `local_put_if_child` counts; set only for the child processes of
/// `local_put_if_across_processes`.
const CHILD_ROOT: &str = "TRIAGE_TEST_PUT_IF_CHILD_ROOT";
/// Increments each process adds.
const PER_PROCESS: u64 = 15;

/// The local store's `put_if` holds across processes sharing the directory (two instances of
/// the function on one embedded bucket): two child processes (this test binary again, running
/// only `local_put_if_child`) and this one each add `PER_PROCESS` to one counter at the same
/// time, by read-modify-write with `put_if`; none of the increments is lost.
#[tokio::test(flavor = "multi_thread")]
async fn local_put_if_across_processes() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| {
            std::process::Command::new(&exe)
                .args(["local_put_if_child", "--exact", "--nocapture"])
                .env(CHILD_ROOT, dir.path())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let store = image_triage::store::local::LocalStore::new(dir.path());
    count_to(&store, PER_PROCESS, 100).await;
    for child in children {
        let out = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        assert!(
            out.status.success(),
            "child process failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // The child must have run the test, not matched nothing.
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("1 passed"),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let total = image_triage::store::ObjectStore::get(&store, "b", "counter")
        .await
        .unwrap();
    assert_eq!(total, (3 * PER_PROCESS).to_string());
}

/// One child of `local_put_if_across_processes`; run on its own (without `CHILD_ROOT`) it has
/// nothing to count and passes at once.
#[tokio::test(flavor = "multi_thread")]
async fn local_put_if_child() {
    let Some(root) = std::env::var_os(CHILD_ROOT) else {
        return;
    };
    let store = image_triage::store::local::LocalStore::new(std::path::PathBuf::from(root));
    count_to(&store, PER_PROCESS, std::process::id() as u64).await;
}

/// Add `n` to the counter `b/counter`, one `put_if` increment at a time.
async fn count_to(store: &image_triage::store::local::LocalStore, n: u64, writer: u64) {
    for _ in 0..n {
        conformance::put_if::increment(store, "b", "counter", writer).await;
    }
}
