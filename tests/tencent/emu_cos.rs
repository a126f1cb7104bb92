//! The emulator's COS side: objects, ranged reads, metadata copies, tags, ACLs, listing, and the
//! CI processes on the bucket host.

use super::attrs::{
    acl_from_body, acl_from_headers, acl_xml, object_acl_reply, request_attrs, request_content,
    set_attrs, sse_headers,
};
use super::*;

/// HEAD/GET headers: content type, ETag, user metadata byte for byte, the stored standard
/// headers, storage class (when not STANDARD) and encryption.
pub(super) fn object_headers(o: &Object, len: usize) -> axum::http::response::Builder {
    let mut b = Response::builder()
        .header("content-type", o.content_type.as_str())
        .header("content-length", len.to_string())
        .header("etag", format!("\"{}\"", o.etag))
        .header("last-modified", "Sat, 21 Nov 2026 21:00:00 GMT");
    for (k, v) in &o.meta {
        b = b.header(format!("x-cos-meta-{k}"), v.as_bytes());
    }
    for (k, v) in o.headers.iter().filter(|(k, _)| *k != STORAGE_CLASS) {
        b = b.header(k.as_str(), v.as_bytes());
    }
    // HEAD Object: x-cos-storage-class "仅当对象不是标准存储（STANDARD）时才会返回".
    if o.storage_class() != "STANDARD" {
        b = b.header(STORAGE_CLASS, o.storage_class());
    }
    sse_headers(o, b)
}

pub(super) fn serve_cos(
    inner: &Mutex<Inner>,
    method: &Method,
    bucket: &str,
    key: &str,
    params: &[(String, String)],
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let mut st = inner.lock().unwrap();
    let id = (bucket.to_string(), key.to_string());
    let has = |p: &str| params.iter().any(|(k, _)| k == p);
    let param = |p: &str| params.iter().find(|(k, _)| k == p).map(|(_, v)| v.clone());
    if key.is_empty() && *method == Method::GET && has("acl") {
        let acl = st
            .bucket_acls
            .get(bucket)
            .cloned()
            .unwrap_or_else(|| "private".into());
        return reply(200, "application/xml", acl_xml(&acl, &[]));
    }
    if key.is_empty() && *method == Method::GET {
        let prefix = param("prefix").unwrap_or_default();
        let marker = param("marker").unwrap_or_default();
        let max: usize = param("max-keys")
            .and_then(|m| m.parse().ok())
            .unwrap_or(1000);
        let mut matching = st.objects.iter().filter(|((b, k), _)| {
            b == bucket && k.starts_with(&prefix) && k.as_str() > marker.as_str()
        });
        let mut x = String::from("<ListBucketResult>");
        let mut last = None;
        for ((_, k), o) in matching.by_ref().take(max) {
            x.push_str(&format!(
                "<Contents><Key>{}</Key><Size>{}</Size><ETag>\"{}\"</ETag></Contents>",
                quick_xml::escape::escape(k.as_str()),
                o.body.len(),
                o.etag
            ));
            last = Some(k.clone());
        }
        // As COS: a truncated page names the key the next one starts after.
        match (matching.next(), last) {
            (Some(_), Some(k)) => x.push_str(&format!(
                "<IsTruncated>true</IsTruncated><NextMarker>{}</NextMarker>",
                quick_xml::escape::escape(k.as_str())
            )),
            _ => x.push_str("<IsTruncated>false</IsTruncated>"),
        }
        x.push_str("</ListBucketResult>");
        return reply(200, "application/xml", x);
    }
    if let Some(process) = param("ci-process") {
        let Some(o) = st.objects.get(&id) else {
            return cos_error(404, "NoSuchKey", "no such object");
        };
        return match process.as_str() {
            "detect-label" => {
                let scenes = param("scenes").unwrap_or_else(|| "camera".into());
                let mut x = String::from("<RecognitionResult>");
                for s in scenes.split(',') {
                    let tag = format!("{}{}Labels", s[..1].to_ascii_uppercase(), &s[1..]);
                    x.push_str(&format!("<{tag}><Labels><Confidence>91</Confidence><FirstCategory>动物</FirstCategory><Name>猫</Name><SecondCategory>宠物</SecondCategory></Labels><Labels><Confidence>64</Confidence><FirstCategory>物品</FirstCategory><Name>Sofa</Name><SecondCategory>Furniture</SecondCategory></Labels></{tag}>"));
                }
                x.push_str("</RecognitionResult>");
                reply(200, "application/xml", x)
            }
            "sensitive-content-recognition" => {
                let (s, label, score) = st
                    .moderation
                    .get(key)
                    .copied()
                    .unwrap_or(("Pass", "Normal", 0));
                let result = match s {
                    "Block" => 1,
                    "Review" => 2,
                    _ => 0,
                };
                let read = super::text::text_in(&o.body);
                let Some(text) = read else {
                    return reply(200, "application/xml", format!("<RecognitionResult><JobId>j</JobId><Result>{result}</Result><Label>{label}</Label><SubLabel></SubLabel><Score>{score}</Score><PornInfo><Code>0</Code><HitFlag>{result}</HitFlag><Score>{score}</Score><Label>{label}</Label></PornInfo></RecognitionResult>"));
                };
                // An image with text: the root `Text` (the policy reads text), and each scene a
                // keyword hits carries its `OcrResults` ("returned if there is non-compliant
                // content"), with that scene's hit; the top result is the most severe.
                let hits = super::text::hits(&text);
                let ocr_score = super::text::OCR_SCORE;
                let mut porn = (result, score, label.to_string(), String::new());
                let mut ads = None;
                for (l, keywords) in &hits {
                    let (container, ci_label) = super::text::ci_scene(l);
                    let ocr = super::text::ci_ocr_results(&text, keywords);
                    if container == "PornInfo" {
                        if porn.0 == 0 {
                            porn = (1, ocr_score, ci_label.to_string(), String::new());
                        }
                        porn.3 = ocr;
                    } else {
                        ads = Some(format!("<AdsInfo><Code>0</Code><Msg>OK</Msg><HitFlag>1</HitFlag><Score>{ocr_score}</Score><Label>{ci_label}</Label><SubLabel></SubLabel>{ocr}</AdsInfo>"));
                    }
                }
                let (mut top, mut top_label, mut top_score) = (result, label.to_string(), score);
                if result == 0 {
                    if let Some((l, _)) = hits.first() {
                        (top, top_label, top_score) =
                            (1, super::text::ci_scene(l).1.to_string(), ocr_score);
                    }
                }
                let (p_flag, p_score, p_label, p_ocr) = porn;
                reply(200, "application/xml", format!("<RecognitionResult><JobId>j</JobId><Result>{top}</Result><Label>{top_label}</Label><SubLabel></SubLabel><Score>{top_score}</Score><Text>{}</Text><PornInfo><Code>0</Code><HitFlag>{p_flag}</HitFlag><Score>{p_score}</Score><Label>{p_label}</Label>{p_ocr}</PornInfo>{}</RecognitionResult>", quick_xml::escape::escape(&text), ads.unwrap_or_default()))
            }
            _ => cos_error(400, "InvalidArgument", "unknown ci-process"),
        };
    }
    match method.as_str() {
        "HEAD" => match st.objects.get(&id) {
            Some(o) => object_headers(o, o.body.len())
                .status(200)
                .body(Body::empty())
                .unwrap(),
            None => Response::builder().status(404).body(Body::empty()).unwrap(),
        },
        "GET" if has("acl") => match st.objects.get(&id) {
            Some(o) => object_acl_reply(o),
            None => cos_error(404, "NoSuchKey", "no such object"),
        },
        "GET" if has("tagging") => match st.objects.get(&id) {
            Some(o) => reply(
                200,
                "application/xml",
                image_triage::store::xml::tagging_xml(&o.tags, true),
            ),
            None => cos_error(404, "NoSuchKey", "no such object"),
        },
        "GET" => {
            let Some(o) = st.objects.get(&id) else {
                return cos_error(404, "NoSuchKey", "no such object");
            };
            if let Some(r) = header(headers, "range").and_then(|r| r.strip_prefix("bytes=")) {
                let (a, b) = r.split_once('-').unwrap_or((r, ""));
                let a: usize = a.parse().unwrap_or(0);
                if a >= o.body.len() {
                    return cos_error(416, "InvalidRange", "range not satisfiable");
                }
                let b: usize = b.parse().unwrap_or(usize::MAX).min(o.body.len() - 1);
                let part = o.body[a..=b].to_vec();
                return object_headers(o, part.len())
                    .status(206)
                    .body(Body::from(part))
                    .unwrap();
            }
            object_headers(o, o.body.len())
                .status(200)
                .body(Body::from(o.body.clone()))
                .unwrap()
        }
        "PUT" if has("tagging") => {
            let Ok(tags) = image_triage::store::xml::parse_tagging(body) else {
                return cos_error(400, "MalformedXML", "bad tagging");
            };
            if let Err(why) = cos_tag_check(&tags) {
                return cos_error(400, "InvalidTag", &quick_xml::escape::escape(&why));
            }
            match st.objects.get_mut(&id) {
                Some(o) => {
                    o.tags = tags;
                    reply(200, "application/xml", "")
                }
                None => cos_error(404, "NoSuchKey", "no such object"),
            }
        }
        // PUT Object acl (7748): headers or an XML body, "两种方式只能选择其中一种"; an overwrite:
        // no ACL headers and no body is `default`.
        "PUT" if has("acl") => {
            let from_headers = match acl_from_headers(headers) {
                Ok(a) => a,
                Err(r) => return r,
            };
            let acl = match (from_headers, body.is_empty()) {
                (Some(_), false) => {
                    return cos_error(
                        400,
                        "InvalidRequest",
                        "ACL headers and an ACL body are mutually exclusive",
                    )
                }
                (Some(a), true) => a,
                (None, true) => (None, vec![]),
                (None, false) => match acl_from_body(body) {
                    Ok(a) => a,
                    Err(r) => return r,
                },
            };
            match st.objects.get_mut(&id) {
                Some(o) => {
                    (o.acl, o.grants) = acl;
                    reply(200, "application/xml", "")
                }
                None => cos_error(404, "NoSuchKey", "no such object"),
            }
        }
        "PUT" if headers.contains_key("x-cos-copy-source") => copy(&mut st, id, headers),
        "PUT" => {
            // PUT Object (https://cloud.tencent.com/document/product/436/7749) documents no
            // If-Match / If-None-Match (sent ones are ignored here, as headers COS does not know);
            // `x-cos-forbid-overwrite: true` refuses to replace an existing key "for buckets with
            // versioning disabled" (the emulator has no versioning). The refusal is 409
            // FileAlreadyExists (UNVERIFIED: from descriptions of the PUT Object page; COS's
            // error-code table lists no such code). Checked and inserted under one lock, as
            // COS's own check is one step with the write.
            let forbid = header(headers, "x-cos-forbid-overwrite")
                .is_some_and(|v| v.eq_ignore_ascii_case("true"));
            if forbid && st.objects.contains_key(&id) {
                return cos_error(409, "FileAlreadyExists", "the object already exists");
            }
            let (content_type, meta, stored) = match request_content(headers) {
                Ok(c) => c,
                Err(r) => return r,
            };
            let attrs = match request_attrs(headers) {
                Ok(a) => a,
                Err(r) => return r,
            };
            let etag = format!("{:x}", md5_like(body));
            let mut o = Object {
                body: body.to_vec(),
                content_type,
                meta,
                headers: stored,
                etag: etag.clone(),
                ..Object::default()
            };
            set_attrs(&mut o, attrs);
            let b = sse_headers(&o, Response::builder());
            st.objects.insert(id.clone(), o);
            st.events
                .push(("cos:ObjectCreated:Put".into(), id.0.clone(), id.1.clone()));
            b.status(200)
                .header("etag", format!("\"{etag}\""))
                .body(Body::empty())
                .unwrap()
        }
        "DELETE" => {
            st.objects.remove(&id);
            Response::builder().status(204).body(Body::empty()).unwrap()
        }
        _ => cos_error(405, "MethodNotAllowed", "not emulated"),
    }
}

/// PUT Object - Copy (10881). `x-cos-metadata-directive`: `Copy` (the default) copies the
/// source's Content-Type, standard headers and `x-cos-meta-*`; `Replaced` takes them from the
/// request only, and copying an object onto itself requires it. Whatever the directive, ACL,
/// storage class and SSE come from the request alone: "除非在此接口请求中显式指定存储类型、访问控制列表
/// （ACL）和服务端加密（SSE），否则无论何种处理方式，目标对象均保持为标准存储，继承（default）目标存储桶的
/// ACL 且不会使用 SSE". Tags are copied with the object. Fires `cos:ObjectCreated:Copy`.
fn copy(st: &mut Inner, id: (String, String), headers: &HeaderMap) -> Response {
    let src = header(headers, "x-cos-copy-source").unwrap_or_default();
    let Some((src_host, src_path)) = src.split_once('/') else {
        return cos_error(400, "InvalidCopySource", "bad copy source");
    };
    let src_bucket = src_host
        .split(".cos.")
        .next()
        .unwrap_or_default()
        .to_string();
    // The source key is URL-encoded in the header ("其中对象键需经过 URLEncode"): decoded once.
    let src_id = (src_bucket, decode(src_path));
    let Some(mut o) = st.objects.get(&src_id).cloned() else {
        return cos_error(404, "NoSuchKey", "copy source missing");
    };
    // x-cos-copy-source-If-Match copies only while the source's ETag is the given one, else
    // 412 PreconditionFailed.
    if let Some(want) = header(headers, "x-cos-copy-source-if-match") {
        if want.trim_matches('"') != o.etag {
            return cos_error(412, "PreconditionFailed", "copy source ETag differs");
        }
    }
    let replaced = match header(headers, "x-cos-metadata-directive") {
        None | Some("Copy") => false,
        Some("Replaced") => true,
        Some(d) => {
            return cos_error(
                400,
                "InvalidArgument",
                &format!("x-cos-metadata-directive {d:?}: Copy or Replaced"),
            )
        }
    };
    if src_id == id && !replaced {
        return cos_error(
            400,
            "InvalidRequest",
            "copying an object onto itself needs x-cos-metadata-directive: Replaced",
        );
    }
    if replaced {
        (o.content_type, o.meta, o.headers) = match request_content(headers) {
            Ok(c) => c,
            Err(r) => return r,
        };
    }
    match request_attrs(headers) {
        Ok(a) => set_attrs(&mut o, a),
        Err(r) => return r,
    }
    let etag = o.etag.clone();
    let b = sse_headers(&o, Response::builder());
    st.objects.insert(id.clone(), o);
    st.events
        .push(("cos:ObjectCreated:Copy".into(), id.0.clone(), id.1.clone()));
    b.status(200)
        .header("content-type", "application/xml")
        .body(Body::from(format!(
            "<CopyObjectResult><ETag>\"{etag}\"</ETag></CopyObjectResult>"
        )))
        .unwrap()
}

/// COS's documented object-tag limits (PUT Object tagging). Three official pages disagree; the
/// emulator enforces a limit one page states unless another page explicitly allows more (so it
/// never refuses a request an official page documents as valid):
/// - API doc, English: https://www.tencentcloud.com/document/product/436/35709 (request body
///   table): ≤ 10 tags; key "up to 128 characters", value "up to 256 characters"; letters,
///   digits, space and `+ - _ = . : /`.
/// - API doc, Chinese: https://cloud.tencent.cn/document/product/436/42997 (请求体 table): key
///   不可为空, 长度小于128字节 (< 128 bytes), value 长度小于256字节; 英文字母、数字、空格 and the same
///   seven symbols.
/// - Object tag overview: https://www.tencentcloud.com/document/product/436/35665
///   ("Specifications and Restrictions"): key 1–127 and value 1–255 UTF-8 characters, "UTF-8
///   letters", digits, space and `+ - = . _ : / @`, case-sensitive, up to ten unique tags.
///
/// So: lengths 128/256 characters (English API doc), characters as the overview (the only page
/// with `@` and non-ASCII letters), key and value non-empty (overview, Chinese API doc; no page
/// says either may be empty). Duplicate keys: no page says what happens ("ten unique/different tags" is not
/// a statement about keys), so they are not refused. Error code: 400 InvalidTag (COS error
/// codes, /work/shared/reference/vendor-doc_tencent_cos_error_codes.md, "InvalidTag"; the
/// tagging page lists no error codes of its own).
fn cos_tag_check(tags: &[(String, String)]) -> Result<(), String> {
    // API doc (both languages), Tag: "Up to 10 tags are supported" / 最多支持10个标签.
    if tags.len() > 10 {
        return Err(format!("{} tags; at most 10", tags.len()));
    }
    // Overview, tag key/value restrictions: UTF-8 letters, spaces, digits, `+ - = . _ : / @`.
    let allowed = |s: &str| {
        s.chars()
            .all(|c| c.is_alphanumeric() || c == ' ' || "+-=._:/@".contains(c))
    };
    for (k, v) in tags {
        // English API doc: key up to 128 characters; overview / Chinese doc: non-empty.
        if k.is_empty() || k.chars().count() > 128 {
            return Err(format!("tag key {k:?}: 1 to 128 characters"));
        }
        // English API doc: value up to 256 characters; overview: at least 1.
        if v.is_empty() || v.chars().count() > 256 {
            return Err(format!("tag value {v:?}: 1 to 256 characters"));
        }
        if !allowed(k) || !allowed(v) {
            return Err(format!("tag {k:?}={v:?}: a character COS does not allow"));
        }
    }
    Ok(())
}
