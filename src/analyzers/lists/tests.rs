use image::{Rgb, RgbImage};

use super::cache;
use super::hash::{trim, Kind, Rect, Signature};
use super::work::{lock, Budget};
use super::*;
use std::sync::atomic::Ordering;

/// A picture whose every edge line varies (nothing to trim): diagonal bands plus a pattern.
fn picture(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let v = ((x * 7 + y * 3) % 200) as u8;
        Rgb([v, 255 - v, ((x ^ y) % 256) as u8])
    })
}

fn with_border(img: &RgbImage, px: u32, colour: [u8; 3]) -> RgbImage {
    let mut out = RgbImage::from_pixel(img.width() + 2 * px, img.height() + 2 * px, Rgb(colour));
    image::imageops::replace(&mut out, img, i64::from(px), i64::from(px));
    out
}

#[test]
fn trim_takes_off_a_solid_border_and_nothing_of_a_picture() {
    let p = picture(200, 150);
    let full = Rect {
        x: 0,
        y: 0,
        w: 200,
        h: 150,
    };
    assert_eq!(trim(&p), full);
    for colour in [[255; 3], [0; 3], [90, 140, 200]] {
        let b = with_border(&p, 4, colour);
        assert_eq!(trim(&b), Rect { x: 4, y: 4, ..full }, "{colour:?}");
    }
    // A border on one side only.
    let mut top = RgbImage::from_pixel(200, 160, Rgb([255; 3]));
    image::imageops::replace(&mut top, &p, 0, 10);
    assert_eq!(trim(&top), Rect { y: 10, ..full });
}

#[test]
fn trim_takes_at_most_a_tenth_of_each_side() {
    // A small picture in the middle of a wide white page: a layout, not a border.
    let mut page = RgbImage::from_pixel(400, 300, Rgb([255; 3]));
    image::imageops::replace(&mut page, &picture(100, 80), 150, 110);
    assert_eq!(
        trim(&page),
        Rect {
            x: 40,
            y: 30,
            w: 320,
            h: 240
        }
    );
}

#[test]
fn the_same_picture_matches_itself_at_distance_zero() {
    let a = Signature::of(&picture(300, 200));
    assert_eq!(a.kind, Kind::Shaped);
    assert_eq!(a.matches(&a, 0), Some(0));
    let other = Signature::of(&image::imageops::rotate180(&picture(300, 200)));
    let (dct, _) = a.bits(&other);
    assert_eq!(a.matches(&other, dct), None, "{dct} bits apart");
}

#[test]
fn flat_frames_are_compared_by_colour_only() {
    let grey = Signature::of(&RgbImage::from_pixel(120, 90, Rgb([128; 3])));
    let grey_big = Signature::of(&RgbImage::from_pixel(640, 480, Rgb([129; 3])));
    let light = Signature::of(&RgbImage::from_pixel(120, 90, Rgb([150; 3])));
    assert_eq!(grey.kind, Kind::Flat);
    assert_eq!((grey.dct, grey.gradient), ([0; 4], [0; 3]), "no noise bits");
    assert_eq!(grey.matches(&grey_big, 0), Some(0));
    assert_eq!(grey.matches(&light, 0), None);
    // A flat frame never matches a shaped one, whatever their bits.
    let shaped = Signature::of(&picture(120, 90));
    assert_eq!(grey.matches(&shaped, 0), None);
}

#[test]
fn fine_texture_matches_nothing_not_even_itself() {
    let checks = RgbImage::from_fn(300, 200, |x, y| {
        Rgb(if (x + y) % 2 == 0 { [0; 3] } else { [255; 3] })
    });
    let s = Signature::of(&checks);
    assert_eq!(s.kind, Kind::Texture);
    assert_eq!(s.matches(&s, 0), None);
    assert!(!ImageLists::hash(&checks).is_matchable());
}

#[test]
fn signatures_round_trip_through_the_cache_text() {
    for img in [
        picture(300, 200),
        RgbImage::from_pixel(50, 50, Rgb([1, 2, 3])),
    ] {
        let s = Signature::of(&img);
        let text = s.encode();
        assert_eq!(text.len(), 1 + 7 * 16 + 96);
        assert_eq!(Signature::decode(&text), Some(s));
    }
    let good = Signature::of(&picture(64, 64)).encode();
    for bad in [
        String::new(),
        format!("x{}", &good[1..]),
        good[..good.len() - 1].to_string(),
        format!("{}g", &good[..good.len() - 1]),
        format!("{good}0"),
    ] {
        assert_eq!(Signature::decode(&bad), None, "{bad}");
    }
}

#[test]
fn the_cache_file_keeps_valid_entries_of_its_version_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = cache::file_for(dir.path(), Path::new("/srv/lists"));
    assert_ne!(path, cache::file_for(dir.path(), Path::new("/srv/other")));
    let sig = Signature::of(&picture(100, 100));
    let sha = "ab".repeat(32);
    cache::write(&path, &[(&sha, &sig), (&sha, &sig)]).expect("write");
    let read = cache::read(&path);
    assert_eq!(read.len(), 1);
    assert_eq!(read.get(&sha), Some(&sig));

    let text = std::fs::read_to_string(&path).expect("read");
    let header = text.lines().next().expect("header");
    let lines = format!(
        "{header}\nshort {}\n{sha} garbage\n{} {}\n",
        sig.encode(),
        "cd".repeat(32),
        sig.encode()
    );
    std::fs::write(&path, lines).expect("write");
    assert_eq!(cache::read(&path).len(), 1, "bad lines are skipped");
    std::fs::write(&path, format!("other header\n{sha} {}\n", sig.encode())).expect("write");
    assert!(cache::read(&path).is_empty());
    assert!(cache::read(&dir.path().join("missing")).is_empty());
}

#[test]
fn the_decode_budget_is_shared_by_the_workers() {
    let budget = Budget::default();
    let held = budget.reserve(MAX_DECODE_BYTES);
    let waited = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let t = s.spawn(|| {
            let _second = budget.reserve(1);
            waited.load(Ordering::SeqCst)
        });
        std::thread::sleep(std::time::Duration::from_millis(50));
        waited.store(true, Ordering::SeqCst);
        drop(held);
        assert!(t.join().expect("thread"), "the second reservation waited");
    });
    assert_eq!(*lock(&budget.used), 0);
}

#[test]
fn the_row_by_row_grid_equals_the_cell_by_cell_one() {
    for (w, h) in [(64, 64), (451, 300), (97, 1000)] {
        let p = picture(w, h);
        let rect = Rect {
            x: 3,
            y: 2,
            w: w - 7,
            h: h - 5,
        };
        let rect = if w - 7 < 64 {
            Rect { x: 0, y: 0, w, h }
        } else {
            rect
        };
        assert_eq!(
            super::hash::box_grid(&p, rect),
            super::hash::small_grid(&p, rect),
            "{w}x{h}"
        );
    }
}
