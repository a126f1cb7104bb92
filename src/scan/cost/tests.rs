//! The arithmetic of the estimate, per service.

use super::*;

fn settings(scenes: &[&str]) -> Settings {
    Settings {
        scenes: scenes.iter().map(|s| s.to_string()).collect(),
        gif: FrameSampling::default(),
        huawei_tagging_limits: limits::HUAWEI_TAGGING,
        celebrity: false,
        main_object: false,
    }
}

fn run(services: &[Service], objects: &[(&str, Option<&str>, u64)]) -> Estimate {
    let mut tally = Tally::new(services);
    for (key, ct, bytes) in objects {
        tally.add(services, guess_kind(key, *ct), *bytes);
    }
    estimate(services, &tally)
}

#[test]
fn kinds_from_content_type_then_extension() {
    use ImageFormat::*;
    assert_eq!(guess_kind("a/b.JPG", None), Kind::Image(Jpeg));
    assert_eq!(guess_kind("x", Some("image/gif; q=1")), Kind::Image(Gif));
    assert_eq!(
        guess_kind("a.png", Some("application/octet-stream")),
        Kind::Image(Png)
    );
    assert_eq!(guess_kind("readme.txt", None), Kind::NotImage);
    assert_eq!(guess_kind("doc", Some("application/pdf")), Kind::NotImage);
    assert_eq!(guess_kind("blob", None), Kind::Unknown);
    assert_eq!(guess_kind("x.raw", Some("image/x-raw")), Kind::Unknown);
    assert_eq!(guess_kind("dir.v2/file", None), Kind::Unknown);
}

#[test]
fn ci_detect_label_bills_scenes_times_images_and_ims_bounds_frames() {
    let s = services(
        LabelerKind::CosCi,
        ModeratorKind::Ims,
        &settings(&["camera", "web"]),
    );
    let e = run(
        &s,
        &[
            ("a.jpg", None, 100_000),
            ("b.png", None, 200_000),
            ("c.gif", None, 50_000),
            ("d.webp", None, 50_000),
            ("big.jpg", None, 4 * 1024 * 1024), // over CI tagging's 3 MB
            ("notes.txt", None, 10),
        ],
    );
    assert_eq!(e.objects, 6);
    assert_eq!(e.not_images, 1);
    let ci = &e.services[0];
    // a, b: JPEG/PNG under 3 MB; GIF and WebP are not CI tagging formats.
    assert_eq!((ci.objects, ci.calls, ci.calls_max), (2, 4, None));
    let ims = &e.services[1];
    assert_eq!(ims.objects, 5);
    // 5 still; the GIF up to 5 frames (4 more), the WebP up to 5 (4 more).
    assert_eq!((ims.calls, ims.calls_max), (5, Some(13)));
    assert!(
        ims.render().contains("5–13 billable calls"),
        "{}",
        ims.render()
    );
    assert_eq!(e.total_calls(), (9, 17));
}

#[test]
fn gif_sampling_setting_bounds_the_frames() {
    let mut st = settings(&["camera"]);
    st.gif = FrameSampling {
        interval: 0,
        max_frames: 5,
    };
    let s = services(LabelerKind::None, ModeratorKind::Ims, &st);
    let e = run(&s, &[("c.gif", None, 1000)]);
    assert_eq!(
        (e.services[0].calls, e.services[0].calls_max),
        (1, None),
        "interval 0: first frame only"
    );
    st.gif = FrameSampling {
        interval: 2,
        max_frames: 3,
    };
    let s = services(LabelerKind::None, ModeratorKind::Ims, &st);
    let e = run(&s, &[("c.gif", None, 1000), ("d.gif", None, 1000)]);
    assert_eq!(e.services[0].calls_max, Some(6));
}

#[test]
fn tiia_bills_each_scene_and_legacy_one_per_image() {
    let st = settings(&["camera", "album", "news"]);
    let e = run(
        &services(LabelerKind::Tiia, ModeratorKind::None, &st),
        &[("a.jpg", None, 1000), ("b.bmp", None, 1000)],
    );
    assert_eq!(e.services[0].calls, 6);
    let e = run(
        &services(LabelerKind::TencentLegacy, ModeratorKind::None, &st),
        &[("a.jpg", None, 1000), ("b.bmp", None, 1000)],
    );
    assert_eq!(e.services[0].calls, 2);
}

#[test]
fn ci_moderation_is_a_lower_bound_plus_large_image_compression() {
    let s = services(
        LabelerKind::None,
        ModeratorKind::CosCi,
        &settings(&["camera"]),
    );
    let e = run(
        &s,
        &[("a.jpg", None, 1000), ("b.jpg", None, 6 * 1024 * 1024)],
    );
    assert!(e.services[0].at_least);
    assert_eq!(e.services[0].calls, 2);
    assert!(e.services[0]
        .render()
        .starts_with("cos ci sensitive-content-recognition (moderation): ≥ 2 billable calls"));
    assert_eq!(e.services[1].service, "cos ci large-image compression");
    assert_eq!(e.services[1].calls, 1);
}

#[test]
fn huawei_one_call_each_plus_extras_and_local_bills_nothing() {
    let mut st = settings(&["camera"]);
    st.celebrity = true;
    st.main_object = true;
    let s = services(LabelerKind::Huawei, ModeratorKind::Huawei, &st);
    let e = run(
        &s,
        &[
            ("a.jpg", None, 1000),
            ("b.gif", None, 1000), // moderation reads GIF, tagging does not
            ("c.tif", None, 1000), // moderation reads TIFF, tagging does not
            ("huge.png", None, 9 * 1024 * 1024), // over 7.5 MB: nobody
        ],
    );
    let by: Vec<(&str, u64)> = e.services.iter().map(|s| (s.service, s.calls)).collect();
    assert_eq!(
        by,
        [
            ("huawei image tagging", 1),
            ("huawei celebrity recognition", 1),
            ("huawei main-object detection", 1),
            ("huawei moderation", 3),
        ]
    );
    let s = services(LabelerKind::Local, ModeratorKind::Local, &st);
    let e = run(&s, &[("a.jpg", None, 1000)]);
    // The extras still run beside the local labeler and still bill.
    assert_eq!(e.total_calls(), (2, 2));
    let local = e.services.iter().find(|s| !s.billable).unwrap();
    assert_eq!(local.calls, 0);
    assert!(local.render().contains("0 billable calls"));
    let none = services(
        LabelerKind::None,
        ModeratorKind::None,
        &settings(&["camera"]),
    );
    let e = run(&none, &[("a.jpg", None, 1000)]);
    assert!(e.render().iter().any(|l| l.contains("no analyzer")));
}

#[test]
fn tallies_merge_and_bytes_read_humanly() {
    let s = services(
        LabelerKind::CosCi,
        ModeratorKind::Ims,
        &settings(&["camera"]),
    );
    let mut a = Tally::new(&s);
    a.add(&s, Kind::Image(ImageFormat::Jpeg), 1000);
    let mut b = Tally::new(&s);
    b.add(&s, Kind::Unknown, 2000);
    a.merge(&b);
    assert_eq!((a.objects, a.bytes, a.unknown_type), (2, 3000, 1));
    assert_eq!(a.per_service[0].objects, 2);
    assert_eq!(human_bytes(512), "512 B");
    assert_eq!(human_bytes(1536), "1.5 KiB");
    assert_eq!(human_bytes(3 * 1024 * 1024 + 400 * 1024), "3.4 MiB");
}

#[test]
fn settings_come_from_the_analyzers_own_parsers() {
    let cfg = Config::from_vars(
        [
            ("TRIAGE_LABEL_SCENES", "web,camera"),
            ("TRIAGE_MODERATION_GIF_MAX_FRAMES", "3"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    )
    .unwrap();
    let s = services_for(&cfg, Provider::Cos).unwrap();
    assert_eq!(s[0].name, "cos ci detect-label");
    assert_eq!(s[0].per_image, 2);
    assert_eq!(s[1].gif_frames, 3);
    let s = services_for(&cfg, Provider::S3).unwrap();
    assert!(s.iter().all(|s| !s.billable), "{s:?}");
}
