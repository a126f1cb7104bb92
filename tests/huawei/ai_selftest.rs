//! Media tagging, celebrity recognition and main-object detection (`ai_media.rs`) against raw
//! requests signed by `tests/vendor_sign` (`apig_client.rs`): answers for URL and base64 input,
//! and refusals for what the SDK's models and seed 004 do not allow.
// The bench (`benches/triage.rs`) compiles this module too, without its `#[test]` functions.
#![allow(unused_imports)]

use std::io::Cursor;

use base64::Engine;
use serde_json::{json, Value};

use super::ai_media::{
    format_of, sides_of, Api, Format, MainObject, MediaTag, APIS, CELEBRITY, MAIN_OBJECT,
    MEDIA_TAGGING,
};
use super::apig_client::{apig_post, image_host, signed_obs_url};
use super::*;

const BUCKET: &str = "aiself";
const TOKEN: &str = "EMUTOKEN-ai";

/// A PNG header claiming `w`×`h`, padded to 512 bytes.
fn png(w: u32, h: u32) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    v.extend_from_slice(&w.to_be_bytes());
    v.extend_from_slice(&h.to_be_bytes());
    v.resize(512, 0);
    v
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn path(api: &Api) -> String {
    api.path.replace("{project_id}", PROJECT)
}

async fn post(run: &Running, api: &Api, body: Value) -> (u16, Value) {
    apig_post(run, &image_host(REGION), &path(api), &body, SK).await
}

/// Status and error code of a refusal.
async fn refused(run: &Running, api: &Api, body: Value) -> (u16, String) {
    let (s, v) = post(run, api, body).await;
    (s, v["error_code"].as_str().unwrap_or_default().to_string())
}

#[tokio::test]
async fn each_api_answers_url_and_base64() {
    let run = start(Some(TOKEN)).await;
    let img = png(800, 600);
    let size = img.len() as u64;
    for key in ["cat.png", "people/two.png", "shop/item.png"] {
        run.emu.put(BUCKET, key, img.clone(), "image/png");
    }
    let url = |key: &str| signed_obs_url(&run.emu, BUCKET, key);
    let inline = json!({ "image": b64(&img) });

    // Media tagging: per-key tags in English, threshold and limit applied, best first.
    run.emu.media_tags_as(
        "cat.png",
        &[
            MediaTag::new("球", "Ball", "物品", "Object", 50.0),
            MediaTag::new("狗", "Dog", "动物", "Animal", 95.0).with_box([10, 20, 30, 40], 90.0),
            MediaTag::new("天空", "Sky", "自然", "Nature", 20.0),
        ],
    );
    let body = json!({"url": url("cat.png"), "language": "en", "threshold": 40, "limit": 1});
    let (s, v) = post(&run, &MEDIA_TAGGING, body).await;
    assert_eq!(s, 200, "{v}");
    let dog = json!({"confidence": "95.0", "type": "Animal", "tag": "Dog",
        "i18n_tag": {"zh": "狗", "en": "Dog"}, "i18n_type": {"zh": "动物", "en": "Animal"},
        "instances": [{"bounding_box": {"width": 10, "height": 20, "top_left_x": 30, "top_left_y": 40},
                       "confidence": "90.0"}]});
    assert_eq!(v, json!({"result": {"tags": [dog]}}));
    assert_eq!(run.emu.url_bytes_served("media-tagging"), size);
    // Base64: the defaults, in Chinese (the default language), the shadow under 60.
    let (s, v) = post(&run, &MEDIA_TAGGING, inline.clone()).await;
    assert_eq!(s, 200, "{v}");
    let tags = v["result"]["tags"].as_array().unwrap();
    let names: Vec<&str> = tags.iter().map(|t| t["tag"].as_str().unwrap()).collect();
    assert_eq!(names, ["猫", "草地"]);
    assert_eq!(tags[0]["type"], "动物");
    assert_eq!(tags[0]["confidence"], "92.5");
    assert_eq!(
        tags[0]["instances"][0]["bounding_box"],
        json!({"width": 320, "height": 240, "top_left_x": 40, "top_left_y": 60})
    );
    let (_, v) = post(
        &run,
        &MEDIA_TAGGING,
        json!({"image": b64(&img), "threshold": 0}),
    )
    .await;
    assert_eq!(v["result"]["tags"].as_array().unwrap().len(), 3);
    assert_eq!(run.emu.url_bytes_served("media-tagging"), size);

    // Celebrities: per key, threshold 0.9 by default; none by default.
    run.emu
        .celebrities_as("people/two.png", &[("Some Name", 0.97), ("Other One", 0.5)]);
    let (s, v) = post(&run, &CELEBRITY, json!({ "url": url("people/two.png") })).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v,
        json!({"result": [{"label": "Some Name", "confidence": 0.97,
                           "face_detail": {"w": 357, "h": 510, "x": 260, "y": 201}}]})
    );
    let body = json!({"url": url("people/two.png"), "threshold": 0.4});
    let (_, v) = post(&run, &CELEBRITY, body).await;
    assert_eq!(v["result"][1]["label"], "Other One");
    assert_eq!(run.emu.url_bytes_served("celebrity"), 2 * size);
    let (s, v) = post(&run, &CELEBRITY, inline.clone()).await;
    assert_eq!((s, v), (200, json!({"result": []})));

    // Main objects: the default box, strings throughout; per key, threshold 30 by default.
    let (s, v) = post(&run, &MAIN_OBJECT, json!({ "url": url("cat.png") })).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v,
        json!({"result": [{"label": "main_object_box", "confidence": "91.37",
            "location": {"width": "139.58", "height": "261.32", "top_left_x": "256.13", "top_left_y": "85.2"}}]})
    );
    run.emu.main_objects_as(
        "shop/item.png",
        &[
            MainObject::new("main_object_box", [100.0, 50.0, 0.0, 0.0], 80.0),
            MainObject::new("bounding_box", [10.0, 10.0, 5.0, 5.0], 25.0),
        ],
    );
    let (_, v) = post(&run, &MAIN_OBJECT, json!({ "url": url("shop/item.png") })).await;
    assert_eq!(v["result"].as_array().unwrap().len(), 1);
    assert_eq!(v["result"][0]["location"]["width"], "100.0");
    let body = json!({"url": url("shop/item.png"), "threshold": 0});
    let (_, v) = post(&run, &MAIN_OBJECT, body).await;
    assert_eq!(v["result"][1]["label"], "bounding_box");
    let (s, v) = post(&run, &MAIN_OBJECT, inline).await;
    assert_eq!(
        (s, v["result"][0]["label"].clone()),
        (200, json!("main_object_box"))
    );
    assert_eq!(run.emu.url_bytes_served("main-object"), 3 * size);

    for (op, n) in [("media-tagging", 3), ("celebrity", 3), ("main-object", 4)] {
        assert_eq!(run.emu.calls(op, "POST", ""), n, "{op}");
    }
    assert_eq!(run.emu.calls("image", "POST", ""), 0);
    assert_eq!(run.emu.url_bytes_served("image"), 0);
}

#[tokio::test]
async fn requests_refused_as_the_models_and_seed_004_say() {
    let run = start(None).await;
    let img = b64(&png(64, 64));
    run.emu.put(BUCKET, "k.png", png(64, 64), "image/png");
    let url = signed_obs_url(&run.emu, BUCKET, "k.png");
    for api in APIS {
        let p = path(api);
        let (s, v) = apig_post(
            &run,
            &image_host(REGION),
            &p,
            &json!({"image": img}),
            "wrong",
        )
        .await;
        assert_eq!(
            (s, v["error_code"].clone()),
            (401, json!("APIG.0301")),
            "{}",
            api.op
        );
        let cases = [
            (json!({"image": img, "extra": 1}), "AIS.0012"),
            (json!({"image": img, "Threshold": 1}), "AIS.0012"),
            (
                json!({"image": img, "threshold": api.threshold.1 + 0.5}),
                "AIS.0101",
            ),
            (json!({"image": img, "threshold": -1}), "AIS.0101"),
            (json!({"image": img, "threshold": "0.5"}), "AIS.0101"),
            (json!({"image": 5}), "AIS.0101"),
            (json!({"image": img, "url": url}), "AIS.0101"),
            (json!({"image": "", "url": null}), "AIS.0011"),
            (json!({}), "AIS.0011"),
            (json!([img]), "AIS.0014"),
            (json!({"image": "not base64!"}), "AIS.0101"),
            (json!({"image": b64(b"GIF89a\x01\0\x01\0")}), "AIS.0102"),
            (json!({"image": b64(b"plain text")}), "AIS.0102"),
        ];
        for (body, code) in cases {
            let got = refused(&run, api, body.clone()).await;
            assert_eq!(got, (400, code.to_string()), "{} {body}", api.op);
        }
        // Nulls are absent fields; edges of the ranges are in.
        let body = json!({"image": img, "url": null, "threshold": api.threshold.1});
        assert_eq!(post(&run, api, body).await.0, 200, "{}", api.op);
        // Sides: 1–10000 px where seed 004 says so.
        let huge = json!({ "image": b64(&png(10_001, 10)) });
        let want = if api.sides { 400 } else { 200 };
        assert_eq!(post(&run, api, huge).await.0, want, "{}", api.op);
        let edge = json!({ "image": b64(&png(10_000, 1)) });
        assert_eq!(post(&run, api, edge).await.0, 200, "{}", api.op);
    }
    for (body, code) in [
        (json!({"image": img, "limit": 0}), "AIS.0101"),
        (json!({"image": img, "limit": 151}), "AIS.0101"),
        (json!({"image": img, "limit": 2.5}), "AIS.0101"),
        (json!({"image": img, "language": "fr"}), "AIS.0101"),
        (json!({"image": img, "language": "EN"}), "AIS.0101"),
        (json!({"image": b64(&png(0, 10))}), "AIS.0103"),
    ] {
        assert_eq!(
            refused(&run, &MEDIA_TAGGING, body.clone()).await,
            (400, code.into()),
            "{body}"
        );
    }
    let body = json!({"image": img, "limit": 150, "language": "en", "threshold": 0.0});
    assert_eq!(post(&run, &MEDIA_TAGGING, body).await.0, 200);
    // A URL that is not a valid signed OBS URL is a download failure; nothing was served.
    let forged = url.replace("Signature=", "Signature=x");
    let got = refused(&run, &CELEBRITY, json!({ "url": forged })).await;
    assert_eq!(got, (400, "ModelArts.4603".into()));
    for api in APIS {
        assert_eq!(run.emu.url_bytes_served(api.op), 0, "{}", api.op);
    }
}

#[tokio::test]
async fn other_regions_answer_not_published() {
    let run = start(None).await;
    let img = json!({ "image": b64(&png(32, 32)) });
    for api in APIS {
        for (region, sk) in [("cn-east-3", SK), ("ap-southeast-1", "unsigned")] {
            let (s, v) = apig_post(&run, &image_host(region), &path(api), &img, sk).await;
            assert_eq!(s, 404, "{} {region}: {v}", api.op);
            assert_eq!(v["error_code"], "APIG.0101");
        }
        assert_eq!(run.emu.calls(api.op, "POST", ""), 2, "logged on arrival");
    }
    // Image tagging exists in both regions.
    let tagging = format!("/v2/{PROJECT}/image/tagging");
    for region in ["cn-north-4", "cn-east-3"] {
        let (s, v) = apig_post(&run, &image_host(region), &tagging, &img, SK).await;
        assert_eq!(s, 200, "{region}: {v}");
    }
    let (s, _) = apig_post(&run, &image_host("ap-southeast-1"), &tagging, &img, SK).await;
    assert_eq!(s, 401, "not a host of the emulator");
}

#[tokio::test]
async fn faults_apply_per_api() {
    let run = start(None).await;
    let img = json!({ "image": b64(&png(32, 32)) });
    let busy = r#"{"error_code":"AIS.0003","error_msg":"Failed to complete the request because of an internal service error."}"#;
    run.emu.fault("celebrity", Fault::Status(500, busy.into()));
    run.emu
        .fault("main-object", Fault::Status(429, "{}".into()));
    run.emu.fault(
        "media-tagging",
        Fault::Delay(std::time::Duration::from_millis(50)),
    );
    let (s, v) = post(&run, &CELEBRITY, img.clone()).await;
    assert_eq!((s, v["error_code"].clone()), (500, json!("AIS.0003")));
    assert_eq!(
        post(&run, &CELEBRITY, img.clone()).await.0,
        200,
        "one fault, used"
    );
    assert_eq!(post(&run, &MAIN_OBJECT, img.clone()).await.0, 429);
    assert_eq!(
        post(&run, &MEDIA_TAGGING, img.clone()).await.0,
        200,
        "delayed"
    );
    // A fault queued for tagging is not the new APIs'.
    run.emu.fault("image", Fault::Status(503, "{}".into()));
    assert_eq!(post(&run, &MAIN_OBJECT, img).await.0, 200);
    let g = run.emu.0.lock().unwrap();
    let log: Vec<(&str, u16)> = g.log.iter().map(|l| (l.service, l.status)).collect();
    assert_eq!(
        log,
        [
            ("celebrity", 500),
            ("celebrity", 200),
            ("main-object", 429),
            ("media-tagging", 200),
            ("main-object", 200)
        ]
    );
    assert_eq!(g.faults["image"].len(), 1);
}

#[test]
fn formats_and_sides_from_headers() {
    for (encoding, fmt) in [
        (image::ImageFormat::Png, Format::Png),
        (image::ImageFormat::Jpeg, Format::Jpeg),
    ] {
        let mut out = Cursor::new(vec![]);
        image::RgbImage::new(37, 21)
            .write_to(&mut out, encoding)
            .unwrap();
        let b = out.into_inner();
        assert_eq!(format_of(&b), Some(fmt));
        assert_eq!(sides_of(fmt, &b), Some((37, 21)), "{fmt:?}");
    }
    // BMP: BITMAPINFOHEADER (bottom-up and top-down) and BITMAPCOREHEADER.
    let mut bmp = b"BM".to_vec();
    bmp.resize(14, 0);
    bmp.extend_from_slice(&40u32.to_le_bytes());
    bmp.extend_from_slice(&640i32.to_le_bytes());
    bmp.extend_from_slice(&(-480i32).to_le_bytes());
    assert_eq!(format_of(&bmp), Some(Format::Bmp));
    assert_eq!(sides_of(Format::Bmp, &bmp), Some((640, 480)));
    let mut core = b"BM".to_vec();
    core.resize(14, 0);
    core.extend_from_slice(&12u32.to_le_bytes());
    core.extend_from_slice(&[0x20, 0x03, 0x58, 0x02]);
    assert_eq!(sides_of(Format::Bmp, &core), Some((800, 600)));
    // WEBP: lossy, lossless and extended.
    let webp = |chunk: &[u8], payload: &[u8]| {
        let mut v = b"RIFF\0\0\0\0WEBP".to_vec();
        v.extend_from_slice(chunk);
        v.extend_from_slice(&[0; 4]);
        v.extend_from_slice(payload);
        v
    };
    let vp8 = webp(
        b"VP8 ",
        &[0, 0, 0, 0x9d, 0x01, 0x2a, 0x20, 0x03, 0x58, 0x02],
    );
    assert_eq!(format_of(&vp8), Some(Format::Webp));
    assert_eq!(sides_of(Format::Webp, &vp8), Some((800, 600)));
    let bits: u32 = 799 | (599 << 14);
    let mut l = vec![0x2f];
    l.extend_from_slice(&bits.to_le_bytes());
    assert_eq!(sides_of(Format::Webp, &webp(b"VP8L", &l)), Some((800, 600)));
    let x = webp(b"VP8X", &[0, 0, 0, 0, 0x0f, 0x27, 0, 0x01, 0, 0]);
    assert_eq!(sides_of(Format::Webp, &x), Some((10_000, 2)));
    assert_eq!(format_of(b"GIF89a"), None);
    assert_eq!(sides_of(Format::Png, b"\x89PNG\r\n\x1a\n"), None);
}
