//! The OBS emulator against raw, hand-signed HTTP requests (no client that could normalise a
//! path or re-encode a header): keys byte for byte, and attributes across PUT, copy,
//! SetObjectMetadata and ACLs.

use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BUCKET: &str = "selftest";

/// Status, headers (raw value bytes) and body of one raw HTTP/1.1 exchange.
type Answer = (u16, Vec<(String, Vec<u8>)>, Vec<u8>);

/// Send `method path` (path and query exactly as given) with an OBS V2 header signature over
/// `headers` (raw bytes) and `body`.
async fn send(
    run: &Running,
    method: &str,
    path_query: &str,
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> Answer {
    let host = format!("{BUCKET}.obs.{REGION}.myhuaweicloud.com");
    let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
    let date = chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let pairs: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| {
            (
                n.to_ascii_lowercase(),
                String::from_utf8_lossy(v).into_owned(),
            )
        })
        .collect();
    let find = |n: &str| {
        vendor_sign::header(&pairs, n)
            .unwrap_or_default()
            .to_string()
    };
    let resource =
        vendor_sign::obs::canonical_resource(BUCKET, path, &vendor_sign::parse_query(query));
    let sts = vendor_sign::obs::string_to_sign(
        method,
        &find("content-md5"),
        &find("content-type"),
        &date,
        &pairs,
        &resource,
    );
    let sig = vendor_sign::obs::signature(SK, &sts);
    let mut req = format!(
        "{method} {path_query} HTTP/1.1\r\nhost: {host}\r\ndate: {date}\r\nauthorization: OBS {AK}:{sig}\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    )
    .into_bytes();
    for (n, v) in headers {
        req.extend_from_slice(n.as_bytes());
        req.extend_from_slice(b": ");
        req.extend_from_slice(v);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"\r\n");
    req.extend_from_slice(body);
    let addr = run.obs.strip_prefix("http://").unwrap();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(&req).await.unwrap();
    let mut raw = vec![];
    s.read_to_end(&mut raw).await.unwrap();
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let mut lines = raw[..end]
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status_line = String::from_utf8_lossy(lines.next().unwrap()).into_owned();
    let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let hs = lines
        .filter_map(|l| {
            let i = l.iter().position(|&b| b == b':')?;
            let name = String::from_utf8_lossy(&l[..i]).to_ascii_lowercase();
            Some((name, l[i + 1..].trim_ascii().to_vec()))
        })
        .collect();
    (status, hs, raw[end + 4..].to_vec())
}

fn get<'a>(a: &'a Answer, name: &str) -> Option<&'a [u8]> {
    a.1.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_slice())
}

#[tokio::test]
async fn keys_are_routed_byte_for_byte() {
    let run = start(None).await;
    let cases = [
        ("/uploads/./x.jpg", "uploads/./x.jpg"),
        ("/uploads/../x.jpg", "uploads/../x.jpg"),
        ("/uploads//x.jpg", "uploads//x.jpg"),
        ("/uploads/.", "uploads/."),
        ("//lead", "/lead"),
        ("/a/%2E%2E/b%2Fc%25", "a/../b/c%"),
    ];
    for (path, key) in cases {
        let a = send(&run, "PUT", path, &[], b"k").await;
        assert_eq!(a.0, 200, "{path}: {}", String::from_utf8_lossy(&a.2));
        assert!(
            run.emu.get(BUCKET, key).is_some(),
            "{path} stored as {key:?}"
        );
        assert_eq!(send(&run, "HEAD", path, &[], b"").await.0, 200, "{path}");
    }
    assert_eq!(run.emu.0.lock().unwrap().objects.len(), cases.len());
}

#[tokio::test]
async fn attributes_across_copy_and_set_metadata() {
    let run = start(None).await;
    let put = send(
        &run,
        "PUT",
        "/src.png",
        &[
            ("content-type", b"image/png"),
            ("content-language", b"zh-CN"),
            ("x-obs-meta-author", "张三".as_bytes()),
            ("x-obs-meta-keep", b"1"),
            ("x-obs-acl", b"public-read"),
            ("x-obs-server-side-encryption", b"kms"),
            ("x-obs-server-side-encryption-kms-key-id", b"k1"),
            ("x-obs-storage-class", b"WARM"),
            ("x-obs-website-redirect-location", b"/other.html"),
        ],
        b"png",
    )
    .await;
    assert_eq!(put.0, 200, "{}", String::from_utf8_lossy(&put.2));
    let head = send(&run, "HEAD", "/src.png", &[], b"").await;
    assert_eq!(get(&head, "x-obs-meta-author"), Some("张三".as_bytes()));
    assert_eq!(get(&head, "x-obs-storage-class"), Some(&b"WARM"[..]));
    assert_eq!(
        get(&head, "x-obs-server-side-encryption"),
        Some(&b"kms"[..])
    );
    assert_eq!(get(&head, "content-language"), Some(&b"zh-CN"[..]));
    let acl = String::from_utf8(send(&run, "GET", "/src.png?acl", &[], b"").await.2).unwrap();
    assert!(
        acl.contains("<Canned>Everyone</Canned></Grantee><Permission>READ<"),
        "{acl}"
    );

    // SetObjectMetadata: REPLACE_NEW replaces the custom set, merges the rest; nothing else moves.
    let etag = run.emu.get(BUCKET, "src.png").unwrap().etag;
    let a = send(
        &run,
        "PUT",
        "/src.png?metadata",
        &[
            ("x-obs-metadata-directive", b"REPLACE_NEW"),
            ("x-obs-meta-new", b"2"),
        ],
        b"",
    )
    .await;
    assert_eq!(a.0, 200);
    let o = run.emu.get(BUCKET, "src.png").unwrap();
    assert_eq!(o.meta.keys().collect::<Vec<_>>(), ["new"]);
    assert_eq!(
        (o.acl.as_str(), o.sse.as_deref()),
        ("public-read", Some("kms"))
    );
    assert_eq!(o.etag, etag);
    assert_eq!(
        (o.storage_class(), o.headers["content-language"].as_str()),
        ("WARM", "zh-CN")
    );
    run.emu.0.lock().unwrap().replace_new_merges_meta = true;
    let a = send(
        &run,
        "PUT",
        "/src.png?metadata",
        &[
            ("x-obs-metadata-directive", b"REPLACE_NEW"),
            ("x-obs-meta-more", b"3"),
        ],
        b"",
    )
    .await;
    assert_eq!(a.0, 200);
    assert_eq!(run.emu.get(BUCKET, "src.png").unwrap().meta.len(), 2);
    let a = send(
        &run,
        "PUT",
        "/src.png?metadata",
        &[
            ("x-obs-metadata-directive", b"REPLACE"),
            ("x-obs-storage-class", b"COLD"),
        ],
        b"",
    )
    .await;
    assert_eq!(a.0, 400, "a storage class change needs REPLACE_NEW");
    let a = send(
        &run,
        "PUT",
        "/src.png?metadata",
        &[("x-obs-metadata-directive", b"REPLACE")],
        b"",
    )
    .await;
    assert_eq!(a.0, 200);
    let o = run.emu.get(BUCKET, "src.png").unwrap();
    assert!(o.meta.is_empty());
    assert_eq!(
        o.headers.keys().collect::<Vec<_>>(),
        ["x-obs-storage-class"],
        "all but the class deleted"
    );
    assert_eq!(
        run.emu.0.lock().unwrap().events.len(),
        1,
        "SetObjectMetadata fires nothing"
    );

    // Copy to another key: ACL private, class STANDARD, no SSE unless asked; metadata copied.
    let a = send(
        &run,
        "PUT",
        "/dst.png",
        &[("x-obs-copy-source", b"/selftest/src.png")],
        b"",
    )
    .await;
    assert_eq!(a.0, 200, "{}", String::from_utf8_lossy(&a.2));
    let d = run.emu.get(BUCKET, "dst.png").unwrap();
    assert_eq!(
        (d.acl.as_str(), d.storage_class(), d.sse.as_deref()),
        ("private", "STANDARD", None)
    );
    // Onto itself: REPLACE required, and the encryption cannot change.
    let me = [("x-obs-copy-source", &b"/selftest/src.png"[..])];
    assert_eq!(send(&run, "PUT", "/src.png", &me, b"").await.0, 400);
    let replace = [me[0], ("x-obs-metadata-directive", b"REPLACE")];
    assert_eq!(
        send(&run, "PUT", "/src.png", &replace, b"").await.0,
        400,
        "SSE dropped"
    );
    let kms = [
        replace[0],
        replace[1],
        ("x-obs-server-side-encryption", b"kms"),
    ];
    assert_eq!(send(&run, "PUT", "/src.png", &kms, b"").await.0, 200);
    assert_eq!(run.emu.0.lock().unwrap().copy_events, 2);
}
