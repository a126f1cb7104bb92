//! Issue 10, point 1 on the COS and OBS emulators: a metadata write keeps every attribute that
//! is not ours (ACL and grants, encryption with its key, storage class, standard headers, raw
//! UTF-8 user metadata), read back from the emulator itself. S3 has the same comparison through
//! boto3 in tests/aws_attrs.rs; the embedded bucket keeps attributes beside the bytes.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::checks::{body, meta, parts};
use super::harness::{Counterpart, Harness};

const OTHER_UIN: &str = "qcs::cam::uin/100000000002:uin/100000000002";

fn ours_removed(m: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    m.iter()
        .filter(|(k, _)| !k.starts_with("triage-"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

pub async fn metadata_write_keeps_attributes(h: Arc<Harness>) {
    let (s, b) = parts(&h);
    match &h.counterpart {
        Counterpart::Local(_) | Counterpart::S3 { .. } => {}
        Counterpart::Cos(emu) => {
            // A public-read bucket: a copy would make a private object public.
            emu.set_bucket_acl(b, "public-read");
            let (private, inherits) = ("conf/attrs/private.png", "conf/attrs/inherits.png");
            for key in [private, inherits] {
                s.put(b, key, body(800, 21), "image/png").await.unwrap();
            }
            emu.edit(b, private, |o| {
                o.acl = Some("private".into());
                o.grants = vec![("READ".into(), OTHER_UIN.into())];
                o.sse = Some("cos/kms".into());
                o.sse_kms_key_id = Some("kms-key-1".into());
                o.meta = meta(&[("owner", "alice"), ("city", "Zürich 東京")]);
                for (k, v) in [
                    ("cache-control", "max-age=60"),
                    ("content-disposition", "inline; filename=\"p.png\""),
                    ("content-encoding", "identity"),
                    ("expires", "Thu, 03 Dec 2026 22:46:50 GMT"),
                    ("x-cos-storage-class", "STANDARD_IA"),
                ] {
                    o.headers.insert(k.into(), v.into());
                }
            });
            for key in [private, inherits] {
                let before = emu.object(b, key).unwrap();
                let etag = s.head(b, key).await.unwrap().etag;
                s.update_metadata_if(b, key, &meta(&[("triage-verdict", "pass")]), &etag)
                    .await
                    .unwrap_or_else(|e| panic!("{key}: {e}"));
                let after = emu.object(b, key).unwrap();
                assert_eq!(after.meta["triage-verdict"], "pass");
                let (mut before, mut after_not_ours) = (before, after.clone());
                assert_eq!(before.body, after.body, "{key}: the bytes changed");
                (before.body, after_not_ours.body) = (vec![], vec![]);
                after_not_ours.meta = ours_removed(&after.meta);
                assert_eq!(
                    format!("{before:?}"),
                    format!("{after_not_ours:?}"),
                    "{key}: the metadata write changed something that is not ours"
                );
            }
            assert_eq!(emu.effective_acl(b, private).as_deref(), Some("private"));
            assert_eq!(
                emu.object(b, inherits).unwrap().acl,
                None,
                "still the bucket's"
            );
        }
        Counterpart::Obs(emu) => {
            let key = "conf/attrs/obs.png";
            s.put(b, key, body(800, 22), "image/png").await.unwrap();
            let edit = |f: &dyn Fn(&mut crate::huawei::Obj)| {
                let mut g = emu.emu.0.lock().unwrap();
                f(g.objects
                    .get_mut(&(b.to_string(), key.to_string()))
                    .unwrap());
            };
            edit(&|o| {
                o.acl = "public-read".into();
                o.sse = Some("kms".into());
                o.sse_kms_key_id = Some("obs-kms-key".into());
                o.meta = meta(&[("owner", "alice"), ("city", "Zürich 東京")]);
                for (k, v) in [
                    ("cache-control", "max-age=60"),
                    ("content-language", "de"),
                    ("x-obs-website-redirect-location", "/elsewhere.html"),
                    ("x-obs-storage-class", "WARM"),
                ] {
                    o.headers.insert(k.into(), v.into());
                }
            });
            // In place (SetObjectMetadata), then through the copy fallback.
            for copy in [false, true] {
                emu.emu.0.lock().unwrap().no_set_metadata = copy;
                let before = emu.emu.get(b, key).unwrap();
                let etag = s.head(b, key).await.unwrap().etag;
                let verdict = if copy { "review" } else { "pass" };
                s.update_metadata_if(b, key, &meta(&[("triage-verdict", verdict)]), &etag)
                    .await
                    .unwrap_or_else(|e| panic!("copy={copy}: {e}"));
                let mut after = emu.emu.get(b, key).unwrap();
                assert_eq!(after.meta["triage-verdict"], verdict);
                after.meta = ours_removed(&after.meta);
                let mut before = before;
                before.meta = ours_removed(&before.meta);
                assert_eq!(before.body, after.body, "copy={copy}: the bytes changed");
                (before.body, after.body) = (vec![], vec![]);
                assert_eq!(
                    format!("{before:?}"),
                    format!("{after:?}"),
                    "copy={copy}: the metadata write changed something that is not ours"
                );
            }
            emu.emu.0.lock().unwrap().no_set_metadata = false;
        }
    }
}
