//! The COS emulator against raw, hand-signed HTTP requests (no client that could normalise a
//! path or re-encode a header): keys byte for byte, and attributes across PUT, copy and ACLs.

use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BUCKET: &str = "selftest-1250000000";

/// Status, headers (raw value bytes) and body of one raw HTTP/1.1 exchange.
type Answer = (u16, Vec<(String, Vec<u8>)>, Vec<u8>);

/// Send `method path` (path and query exactly as given) signed as COS documents it, with
/// `headers` (raw bytes, unsigned) and `body`.
async fn send(
    emu: &Emulator,
    method: &str,
    path_query: &str,
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> Answer {
    let host = cos_host(BUCKET);
    let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
    let params: Vec<(String, String)> = parse_query(query);
    let signed = vec![
        ("host".to_string(), host.clone()),
        ("x-cos-security-token".to_string(), TOKEN.to_string()),
    ];
    let now = chrono::Utc::now().timestamp();
    let key_time = format!("{};{}", now - 60, now + 600);
    let sig = vendor_sign::cos::signature(
        SECRET_KEY,
        &key_time,
        method,
        &vendor_sign::pct_decode(path),
        &params,
        &signed,
    );
    let auth = format!(
        "q-sign-algorithm=sha1&q-ak={SECRET_ID}&q-sign-time={key_time}&q-key-time={key_time}&q-header-list={}&q-url-param-list={}&q-signature={sig}",
        vendor_sign::cos::canonical(&signed).0,
        vendor_sign::cos::canonical(&params).0,
    );
    let mut req = format!(
        "{method} {path_query} HTTP/1.1\r\nhost: {host}\r\nx-cos-security-token: {TOKEN}\r\nauthorization: {auth}\r\ncontent-length: {}\r\nconnection: close\r\n",
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
    let mut s = tokio::net::TcpStream::connect(emu.addr).await.unwrap();
    s.write_all(&req).await.unwrap();
    let mut raw = vec![];
    s.read_to_end(&mut raw).await.unwrap();
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = &raw[..end];
    let mut lines = head
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
    let emu = Emulator::start().await;
    let cases = [
        ("/uploads/./x.jpg", "uploads/./x.jpg"),
        ("/uploads/../x.jpg", "uploads/../x.jpg"),
        ("/uploads//x.jpg", "uploads//x.jpg"),
        ("/uploads/.", "uploads/."),
        ("//lead", "/lead"),
        ("/a/%2E%2E/b%2Fc%25", "a/../b/c%"),
        ("/uploads/.%2Fy.jpg", "uploads/./y.jpg"),
    ];
    for (path, key) in cases {
        let a = send(&emu, "PUT", path, &[], b"k").await;
        assert_eq!(a.0, 200, "{path}: {}", String::from_utf8_lossy(&a.2));
        assert!(
            emu.object(BUCKET, key).is_some(),
            "{path} stored as {key:?}"
        );
        assert_eq!(send(&emu, "HEAD", path, &[], b"").await.0, 200, "{path}");
    }
    let keys: Vec<String> = emu
        .inner
        .lock()
        .unwrap()
        .objects
        .keys()
        .map(|(_, k)| k.clone())
        .collect();
    assert_eq!(keys.len(), cases.len(), "{keys:?}");
}

#[tokio::test]
async fn attributes_are_kept_and_a_copy_drops_acl_class_and_encryption() {
    let emu = Emulator::start().await;
    let put = send(
        &emu,
        "PUT",
        "/src.png",
        &[
            ("content-type", b"image/png"),
            ("cache-control", b"max-age=60"),
            ("x-cos-meta-author", "张三 é".as_bytes()),
            ("x-cos-acl", b"public-read"),
            ("x-cos-grant-read-acp", b"id=\"100000000002\""),
            ("x-cos-server-side-encryption", b"cos/kms"),
            ("x-cos-server-side-encryption-cos-kms-key-id", b"key-1"),
            ("x-cos-storage-class", b"STANDARD_IA"),
        ],
        b"png",
    )
    .await;
    assert_eq!(put.0, 200);
    assert_eq!(
        get(&put, "x-cos-server-side-encryption"),
        Some(&b"cos/kms"[..])
    );
    let head = send(&emu, "HEAD", "/src.png", &[], b"").await;
    assert_eq!(get(&head, "x-cos-meta-author"), Some("张三 é".as_bytes()));
    assert_eq!(get(&head, "x-cos-storage-class"), Some(&b"STANDARD_IA"[..]));
    assert_eq!(
        get(&head, "x-cos-server-side-encryption-cos-kms-key-id"),
        Some(&b"key-1"[..])
    );
    let acl = send(&emu, "GET", "/src.png?acl", &[], b"").await;
    let xml = String::from_utf8(acl.2).unwrap();
    assert!(
        xml.contains(&format!(
            "<URI>{ALL_USERS}</URI></Grantee><Permission>READ<"
        )),
        "{xml}"
    );
    assert!(
        xml.contains("<ID>qcs::cam::uin/100000000002:uin/100000000002</ID>"),
        "{xml}"
    );

    let source = format!("{}/src.png", cos_host(BUCKET));
    let copy = send(
        &emu,
        "PUT",
        "/dst.png",
        &[("x-cos-copy-source", source.as_bytes())],
        b"",
    )
    .await;
    assert_eq!(copy.0, 200, "{}", String::from_utf8_lossy(&copy.2));
    let d = emu.object(BUCKET, "dst.png").unwrap();
    assert_eq!(
        (d.acl.as_deref(), d.grants.len()),
        (None, 0),
        "ACL not copied"
    );
    assert_eq!((d.sse.as_deref(), d.storage_class()), (None, "STANDARD"));
    assert_eq!(d.meta["author"], "张三 é", "Copy keeps user metadata");
    assert_eq!(d.headers["cache-control"], "max-age=60");
    let head = send(&emu, "HEAD", "/dst.png", &[], b"").await;
    assert_eq!(
        get(&head, "x-cos-storage-class"),
        None,
        "STANDARD is not sent"
    );
    let acl = send(&emu, "GET", "/dst.png?acl", &[], b"").await;
    assert_eq!(get(&acl, "x-cos-acl"), Some(&b"default"[..]));
    assert!(!String::from_utf8(acl.2).unwrap().contains(ALL_USERS));
    emu.set_bucket_acl(BUCKET, "public-read");
    assert_eq!(
        emu.effective_acl(BUCKET, "dst.png").as_deref(),
        Some("public-read")
    );

    for (directive, status) in [(&b"Copy"[..], 400), (b"Copied", 400), (b"Replaced", 200)] {
        let hs = [
            ("x-cos-copy-source", source.as_bytes()),
            ("x-cos-metadata-directive", directive),
        ];
        let a = send(&emu, "PUT", "/src.png", &hs, b"").await;
        assert_eq!(
            a.0,
            status,
            "onto itself with {}",
            String::from_utf8_lossy(directive)
        );
    }
    let s = emu.object(BUCKET, "src.png").unwrap();
    assert!(s.meta.is_empty() && s.headers.is_empty() && s.sse.is_none() && s.acl.is_none());
    assert_eq!(s.content_type, "application/octet-stream");
    let events: Vec<String> = emu.events().into_iter().map(|e| e.0).collect();
    assert_eq!(
        events,
        [
            "cos:ObjectCreated:Put",
            "cos:ObjectCreated:Copy",
            "cos:ObjectCreated:Copy"
        ]
    );
}

#[tokio::test]
async fn put_acl_takes_headers_or_a_body() {
    let emu = Emulator::start().await;
    assert_eq!(send(&emu, "PUT", "/o", &[], b"x").await.0, 200);
    let body = format!("<AccessControlPolicy><Owner><ID>{OWNER}</ID></Owner><AccessControlList><Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"Group\"><URI>{ALL_USERS}</URI></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>");
    assert_eq!(
        send(&emu, "PUT", "/o?acl", &[], body.as_bytes()).await.0,
        200
    );
    assert_eq!(
        emu.object(BUCKET, "o").unwrap().acl.as_deref(),
        Some("public-read")
    );
    let both = send(
        &emu,
        "PUT",
        "/o?acl",
        &[("x-cos-acl", b"private")],
        body.as_bytes(),
    )
    .await;
    assert_eq!(both.0, 400, "headers and body together");
    assert_eq!(
        send(
            &emu,
            "PUT",
            "/o?acl",
            &[("x-cos-acl", b"public-read-write")],
            b""
        )
        .await
        .0,
        400
    );
    assert_eq!(
        send(&emu, "PUT", "/o?acl", &[("x-cos-grant-read", b"id=1")], b"")
            .await
            .0,
        400
    );
    assert_eq!(send(&emu, "PUT", "/o?acl", &[], b"").await.0, 200);
    assert_eq!(
        emu.object(BUCKET, "o").unwrap().acl,
        None,
        "an empty PUT ?acl is default"
    );
}

#[tokio::test]
async fn presigned_urls_name_the_exact_key() {
    let emu = Emulator::start().await;
    emu.put_object(BUCKET, "a/./b.png", b"dot".to_vec(), "image/png");
    let host = cos_host(BUCKET);
    let now = chrono::Utc::now().timestamp();
    let kt = format!("{};{}", now - 60, now + 600);
    let signed = [("host".to_string(), host.clone())];
    let sig = vendor_sign::cos::signature(SECRET_KEY, &kt, "GET", "/a/./b.png", &[], &signed);
    let url = format!("https://{host}/a/./b.png?q-sign-algorithm=sha1&q-ak={SECRET_ID}&q-sign-time={kt}&q-key-time={kt}&q-header-list=host&q-url-param-list=&q-signature={sig}&x-cos-security-token={TOKEN}");
    assert_eq!(emu.fetch_presigned(&url).unwrap(), b"dot");
    let folded = url.replace("/a/./b.png", "/a/b.png");
    assert!(
        emu.fetch_presigned(&folded).is_err(),
        "signed for another path"
    );
}

/// A presigned GET URL for `/<path>` on `host`, as COS documents it (token unsigned, in the
/// query, as the SDK adds it).
fn presign(host: &str, path: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    let kt = format!("{};{}", now - 60, now + 600);
    let signed = [("host".to_string(), host.to_string())];
    let sig = vendor_sign::cos::signature(SECRET_KEY, &kt, "GET", path, &[], &signed);
    format!("https://{host}{path}?q-sign-algorithm=sha1&q-ak={SECRET_ID}&q-sign-time={kt}&q-key-time={kt}&q-header-list=host&q-url-param-list=&q-signature={sig}&x-cos-security-token={TOKEN}")
}

const APPID: &str = "1250000000";

/// The SDK's signature for `APPID`, made now, valid 5 minutes.
fn legacy_auth(secret_id: &str, secret_key: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    vendor_sign::legacy::sign(APPID, "", secret_id, secret_key, now, now + 300, 7)
}

/// POST imagetag as the SDK does; the answer must be HTTP 200 JSON.
async fn imagetag(emu: &Emulator, auth: &str, body: Value) -> Value {
    let r = reqwest::Client::new()
        .post(format!("{}{IMAGETAG_PATH}", emu.url()))
        .header("host", LEGACY_HOST)
        .header("content-type", "application/json")
        .header("authorization", auth)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
}

fn b64(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\0\x10\0\0\0\x10\x08\x02\0\0\0";

#[tokio::test]
async fn imagetag_tags_presigned_cos_urls_and_inline_images() {
    let emu = Emulator::start().await;
    emu.put_object(BUCKET, "in/cat.png", PNG.to_vec(), "image/png");
    emu.put_object(BUCKET, "in/sky.png", PNG.to_vec(), "image/png");
    emu.tag_as("in/cat.png", &[("猫", 91), ("宠物", 60)]);
    let auth = legacy_auth(SECRET_ID, SECRET_KEY);
    let url = presign(&cos_host(BUCKET), "/in/cat.png");
    // `url` wins over `image` (a GIF here, which alone would be refused).
    let a = imagetag(
        &emu,
        &auth,
        json!({"appid": APPID, "bucket": "", "url": url, "image": b64(b"GIF89a")}),
    )
    .await;
    assert_eq!(
        a,
        json!({"code": 0, "message": "success", "tags": [
            {"tag_name": "猫", "tag_confidence": 91}, {"tag_name": "宠物", "tag_confidence": 60}]})
    );
    assert_eq!(emu.url_bytes_served("imagetag"), PNG.len() as u64);
    let url = presign(&cos_host(BUCKET), "/in/sky.png");
    let a = imagetag(&emu, &auth, json!({"appid": APPID, "url": url})).await;
    assert_eq!(
        a["tags"][0],
        json!({"tag_name": "天空", "tag_confidence": 27})
    );

    let inline = json!({"appid": APPID, "image": b64(PNG)});
    let a = imagetag(&emu, &auth, inline.clone()).await;
    assert_eq!(
        (a["code"].as_i64(), a["tags"].as_array().map(Vec::len)),
        (Some(0), Some(2))
    );
    emu.tag_inline_as(&[("文本", 80)]);
    let a = imagetag(&emu, &auth, inline).await;
    assert_eq!(
        a["tags"],
        json!([{"tag_name": "文本", "tag_confidence": 80}])
    );
    assert_eq!(emu.count("imagetag"), 4);
    assert_eq!(emu.url_bytes_served("imagetag"), 2 * PNG.len() as u64);

    // Faults queue like every other operation's.
    emu.inject("imagetag", Fault::LegacyError(15), 1);
    emu.inject(
        "imagetag",
        Fault::Reply(502, "text/html", "<html/>".into()),
        1,
    );
    let a = imagetag(&emu, &auth, json!({"appid": APPID, "image": b64(PNG)})).await;
    assert_eq!(a["code"], 15, "{a}");
    let r = reqwest::Client::new()
        .post(format!("{}{IMAGETAG_PATH}", emu.url()))
        .header("host", LEGACY_HOST)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 502);
    assert_eq!(emu.count("imagetag"), 6);
}

#[tokio::test]
async fn imagetag_refuses_as_the_service_documents() {
    let emu = Emulator::start().await;
    emu.put_object(BUCKET, "in/a.png", PNG.to_vec(), "image/png");
    emu.put_object(BUCKET, "in/bad.png", PNG.to_vec(), "image/png");
    emu.put_object(
        BUCKET,
        "in/a.gif",
        b"GIF89a\x01\0\x01\0".to_vec(),
        "image/gif",
    );
    emu.mark_bad("in/bad.png");
    let good = legacy_auth(SECRET_ID, SECRET_KEY);
    let url = presign(&cos_host(BUCKET), "/in/a.png");
    let body = json!({"appid": APPID, "url": url});
    let code = |v: Value| v["code"].as_i64().unwrap();

    // Signature: tampered HMAC, wrong key, expired, unknown SecretId, none.
    let mut raw = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(&good)
            .unwrap()
    };
    raw[3] ^= 1;
    assert_eq!(code(imagetag(&emu, &b64(&raw), body.clone()).await), 14);
    let wrong_key = legacy_auth(SECRET_ID, "not-the-key");
    assert_eq!(code(imagetag(&emu, &wrong_key, body.clone()).await), 14);
    let now = chrono::Utc::now().timestamp();
    let expired =
        vendor_sign::legacy::sign(APPID, "", SECRET_ID, SECRET_KEY, now - 600, now - 1, 7);
    assert_eq!(code(imagetag(&emu, &expired, body.clone()).await), 9);
    let unknown = legacy_auth("AKIDsomeoneelse", SECRET_KEY);
    assert_eq!(code(imagetag(&emu, &unknown, body.clone()).await), 11);
    assert_eq!(code(imagetag(&emu, "", body.clone()).await), 4);

    // appid: not the signed one (12); a URL of another appid (6); a bucket not signed (6).
    let other = json!({"appid": "1250000001", "url": url});
    assert_eq!(code(imagetag(&emu, &good, other).await), 12);
    let foreign = presign(&cos_host("x-1250000001"), "/in/a.png");
    let a = imagetag(&emu, &good, json!({"appid": APPID, "url": foreign})).await;
    assert_eq!(code(a), 6);
    let a = imagetag(
        &emu,
        &good,
        json!({"appid": APPID, "bucket": "b", "url": url}),
    )
    .await;
    assert_eq!(code(a), 6);

    // Hosts other than public COS are never contacted: -1507.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    for u in [
        format!("https://127.0.0.1:{port}/in/a.png"),
        format!("http://localhost:{port}/in/a.png"),
        format!("https://{}@127.0.0.1:{port}/in/a.png", cos_host(BUCKET)),
        url.replace(".myqcloud.com", ".myqcloud.com.evil.example"),
    ] {
        let a = imagetag(&emu, &good, json!({"appid": APPID, "url": u})).await;
        assert_eq!(code(a), -1507, "{u}");
    }
    let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
    assert!(
        accepted.is_err(),
        "the emulator connected to a non-COS host"
    );
    // COS hosts, but no such object, a bad presigned signature or plain http: -1308.
    for u in [
        presign(&cos_host(BUCKET), "/in/none.png"),
        url.replace("q-signature=", "q-signature=0"),
        url.replace("https://", "http://"),
    ] {
        let a = imagetag(&emu, &good, json!({"appid": APPID, "url": u})).await;
        assert_eq!(code(a), -1308, "{u}");
    }
    assert_eq!(
        code(imagetag(&emu, &good, json!({"appid": APPID, "url": "ftp://h/x"})).await),
        -1505
    );
    let bad = presign(&cos_host(BUCKET), "/in/bad.png");
    let a = imagetag(&emu, &good, json!({"appid": APPID, "url": bad})).await;
    assert_eq!((code(a.clone()), a.get("tags")), (-5062, None), "{a}");
    let gif = presign(&cos_host(BUCKET), "/in/a.gif");
    assert_eq!(
        code(imagetag(&emu, &good, json!({"appid": APPID, "url": gif})).await),
        -1400
    );
    assert_eq!(
        emu.url_bytes_served("imagetag"),
        0,
        "nothing was tagged by URL"
    );

    // Inline: GIF, not Base64, empty, over 4M.
    let inline = |image: Value| json!({"appid": APPID, "image": image});
    for (image, want) in [
        (json!(b64(b"GIF89a\x01\0\x01\0")), -1400),
        (json!("%%%not base64"), -1400),
        (json!(""), -1300),
        (json!(null), -1300),
        (json!("A".repeat(MAX_BASE64 + 4)), -1400),
    ] {
        assert_eq!(code(imagetag(&emu, &good, inline(image)).await), want);
    }
    assert_eq!(
        code(imagetag(&emu, &good, json!(["not an object"])).await),
        3
    );
}
