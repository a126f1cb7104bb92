//! Image sample lists (`TRIAGE_IMAGE_LISTS`, analyzers/lists): block samples still match after
//! what re-uploads do to them (half size, another JPEG quality, PNG → JPEG or GIF, a 4 px
//! border), unrelated images never match (the false-match rate over the demo photos, their
//! quarters and generated images is printed and must be 0), the directory check's errors, and
//! the hash cache.
//!
//! The demo photos come from scripts/fetch-models.sh (`TRIAGE_PHOTOS_DIR`).
#![cfg(feature = "local")]

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::{imageops, DynamicImage, ImageFormat, Rgb, RgbImage};
use image_triage::analyzers::lists::{Hash, ImageLists, ListsError};
use image_triage::result::ListKind;

const PHOTOS: [&str; 5] = [
    "chelsea.png",
    "coffee.png",
    "astronaut.png",
    "rocket.jpg",
    "motorcycle_left.png",
];

fn photos_dir() -> PathBuf {
    let dir = std::env::var_os("TRIAGE_PHOTOS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| image_triage::config::default_cache_dir().join("photos"));
    assert!(
        PHOTOS.iter().all(|p| dir.join(p).is_file()),
        "the demo photos ({}) are not all in {}: run scripts/fetch-models.sh (scripts/test.sh does) or set TRIAGE_PHOTOS_DIR",
        PHOTOS.join(", "),
        dir.display()
    );
    dir
}

fn photo_bytes(name: &str) -> Vec<u8> {
    std::fs::read(photos_dir().join(name)).expect("demo photo")
}

fn photo(name: &str) -> RgbImage {
    image::load_from_memory(&photo_bytes(name))
        .expect("demo photo decodes")
        .to_rgb8()
}

fn encode(img: &RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(img.clone())
        .write_to(&mut out, format)
        .expect("encode");
    out.into_inner()
}

fn png(img: &RgbImage) -> Vec<u8> {
    encode(img, ImageFormat::Png)
}

fn jpeg(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(img)
        .expect("encode jpeg");
    out
}

fn scaled(img: &RgbImage, percent: u32) -> RgbImage {
    let (w, h) = (img.width() * percent / 100, img.height() * percent / 100);
    imageops::resize(img, w, h, imageops::FilterType::Triangle)
}

fn bordered(img: &RgbImage, px: u32, colour: [u8; 3]) -> RgbImage {
    let mut out = RgbImage::from_pixel(img.width() + 2 * px, img.height() + 2 * px, Rgb(colour));
    imageops::replace(&mut out, img, i64::from(px), i64::from(px));
    out
}

const WHITE: [u8; 3] = [255; 3];
const BLACK: [u8; 3] = [0; 3];

/// What re-uploads do to a picture, each encoded as it would arrive.
fn reuploads(img: &RgbImage) -> Vec<(&'static str, Vec<u8>)> {
    let half = scaled(img, 50);
    let quarter = scaled(img, 25);
    vec![
        ("half size, JPEG q75", jpeg(&half, 75)),
        ("70% size, JPEG q85", jpeg(&scaled(img, 70), 85)),
        ("double size, PNG", png(&scaled(img, 200))),
        ("JPEG q50", jpeg(img, 50)),
        ("JPEG q30", jpeg(img, 30)),
        ("PNG -> JPEG q90", jpeg(img, 90)),
        ("GIF (256 colours)", encode(img, ImageFormat::Gif)),
        ("4 px white border", png(&bordered(img, 4, WHITE))),
        ("4 px black border", png(&bordered(img, 4, BLACK))),
        (
            "half + 4 px white, q75",
            jpeg(&bordered(&half, 4, WHITE), 75),
        ),
        (
            "half + 4 px black, q75",
            jpeg(&bordered(&half, 4, BLACK), 75),
        ),
        (
            "quarter + 4 px white, q75",
            jpeg(&bordered(&quarter, 4, WHITE), 75),
        ),
        (
            "quarter + 4 px black, q50",
            jpeg(&bordered(&quarter, 4, BLACK), 50),
        ),
    ]
}

fn hash(bytes: &[u8]) -> Hash {
    ImageLists::hash_encoded(bytes).expect("hashable")
}

fn write(dir: &Path, rel: &str, bytes: &[u8]) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, bytes).expect("write sample");
}

/// block/chelsea.png, block/ad/coffee.png, block/astronaut.png, allow/rocket.jpg.
fn demo_lists() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "block/chelsea.png", &photo_bytes("chelsea.png"));
    write(
        dir.path(),
        "block/ad/coffee.png",
        &photo_bytes("coffee.png"),
    );
    write(
        dir.path(),
        "block/astronaut.png",
        &photo_bytes("astronaut.png"),
    );
    write(dir.path(), "allow/rocket.jpg", &photo_bytes("rocket.jpg"));
    dir
}

#[test]
fn listed_samples_match_their_reuploads_and_unlisted_photos_do_not() {
    let dir = demo_lists();
    let lists = ImageLists::load(dir.path(), None).expect("load");
    assert_eq!(lists.len(), 4);
    let listed = [
        ("chelsea.png", "block/chelsea.png", ListKind::Block, None),
        (
            "coffee.png",
            "block/ad/coffee.png",
            ListKind::Block,
            Some("ad"),
        ),
        (
            "astronaut.png",
            "block/astronaut.png",
            ListKind::Block,
            None,
        ),
        ("rocket.jpg", "allow/rocket.jpg", ListKind::Allow, None),
    ];
    println!("re-upload distances to the sample (DCT bits of 256, gradient bits of 144, tone):");
    let mut worst = (0, 0, 0);
    for (name, sample, list, category) in listed {
        let original = hash(&photo_bytes(name));
        for (what, bytes) in reuploads(&photo(name)) {
            let h = hash(&bytes);
            let c = h.compare(&original);
            println!(
                "  {name:14} {what:28} dct {:3} gradient {:3} tone {:2}",
                c.dct_bits, c.gradient_bits, c.tone
            );
            worst = (
                worst.0.max(c.dct_bits),
                worst.1.max(c.gradient_bits),
                worst.2.max(c.tone),
            );
            let m = lists
                .find(&h)
                .unwrap_or_else(|| panic!("{name}, {what}: no match ({c:?})"));
            assert_eq!(m.sample, sample, "{name}, {what}");
            assert_eq!(m.list, list, "{name}, {what}");
            assert_eq!(m.category.as_deref(), category, "{name}, {what}");
            assert_eq!(m.distance, c.dct_bits + c.gradient_bits, "{name}, {what}");
        }
    }
    println!(
        "worst re-upload: dct {} gradient {} tone {}",
        worst.0, worst.1, worst.2
    );
    // The photo nobody listed matches nothing, however it is re-uploaded.
    let motorcycle = photo("motorcycle_left.png");
    assert_eq!(lists.find(&hash(&photo_bytes("motorcycle_left.png"))), None);
    for (what, bytes) in reuploads(&motorcycle) {
        assert_eq!(lists.find(&hash(&bytes)), None, "motorcycle, {what}");
    }
}

/// Generated images, chosen for what looks alike to a hash: flat colours, plain gradients of
/// one direction and different range or colour, noise, simple shapes, text-like lines, stripes.
fn generated() -> Vec<(&'static str, RgbImage)> {
    let (w, h) = (320u32, 240u32);
    let f = |g: &dyn Fn(u32, u32) -> [u8; 3]| RgbImage::from_fn(w, h, |x, y| Rgb(g(x, y)));
    let ramp = |v: u32, n: u32, lo: u32, hi: u32| (lo + v * (hi - lo) / n) as u8;
    let disc = |x: u32, y: u32, cx: i64, cy: i64, r: i64| {
        (i64::from(x) - cx).pow(2) + (i64::from(y) - cy).pow(2) < r * r
    };
    let ink = |on: bool| if on { BLACK } else { WHITE };
    let inside = |x: u32, y: u32, x0: u32, y0: u32, side: u32| {
        (x0..x0 + side).contains(&x) && (y0..y0 + side).contains(&y)
    };
    let noise = |seed: u64| {
        let mut rng = fastrand::Rng::with_seed(seed);
        RgbImage::from_fn(w, h, |_, _| Rgb([rng.u8(..), rng.u8(..), rng.u8(..)]))
    };
    // Rows of "words": dark dashes on white, like a page of text.
    let text = |line: u32, word: u32, shift: u32| {
        f(&move |x, y| {
            let on = y % line < line / 2
                && !(x / word + y / line * shift).is_multiple_of(5)
                && x % word < word * 5 / 6
                && (16..w - 16).contains(&x)
                && (12..h - 12).contains(&y);
            ink(on)
        })
    };
    vec![
        ("white", f(&|_, _| WHITE)),
        ("black", f(&|_, _| BLACK)),
        ("grey", f(&|_, _| [128; 3])),
        ("light grey", f(&|_, _| [140; 3])),
        ("red", f(&|_, _| [200, 30, 30])),
        ("gradient", f(&|x, _| [ramp(x, w, 0, 255); 3])),
        ("narrow gradient", f(&|x, _| [ramp(x, w, 64, 192); 3])),
        ("reversed gradient", f(&|x, _| [ramp(x, w, 255, 0); 3])),
        ("vertical gradient", f(&|_, y| [ramp(y, h, 0, 255); 3])),
        (
            "diagonal gradient",
            f(&|x, y| [ramp(x + y, w + h, 0, 255); 3]),
        ),
        ("blue gradient", f(&|x, _| [0, 0, ramp(x, w, 0, 255)])),
        ("noise 1", noise(1)),
        ("noise 2", noise(2)),
        ("circle", f(&|x, y| ink(disc(x, y, 160, 120, 80)))),
        ("small circle", f(&|x, y| ink(disc(x, y, 160, 120, 40)))),
        ("square", f(&|x, y| ink(inside(x, y, 80, 40, 160)))),
        ("square left", f(&|x, y| ink(inside(x, y, 20, 70, 100)))),
        ("text", text(20, 30, 1)),
        ("text, other words", text(16, 40, 3)),
        (
            "text lines",
            f(&|_, y| ink(y % 24 < 6 && (20..220).contains(&y))),
        ),
        ("horizontal stripes", f(&|_, y| ink(y / 12 % 2 == 0))),
        ("vertical stripes", f(&|x, _| ink(x / 10 % 2 == 0))),
        ("checker", f(&|x, y| ink((x / 40 + y / 40) % 2 == 0))),
        ("left half dark", f(&|x, _| ink(x < w / 2))),
        ("top half dark", f(&|_, y| ink(y < h / 2))),
    ]
}

#[test]
fn unrelated_images_do_not_match() {
    // The demo photos, their quarters and centre (different pictures of the same kind), and
    // the generated images.
    let mut images: Vec<(String, RgbImage)> = Vec::new();
    for name in PHOTOS {
        let p = photo(name);
        let (w, h) = (p.width() / 2, p.height() / 2);
        images.push((name.to_string(), p.clone()));
        for (x, y) in [(0, 0), (w, 0), (0, h), (w, h), (w / 2, h / 2)] {
            let crop = imageops::crop_imm(&p, x, y, w, h).to_image();
            images.push((format!("{name} crop at {x},{y}"), crop));
        }
    }
    let photos = images.len();
    images.extend(generated().into_iter().map(|(n, i)| (n.to_string(), i)));
    let hashes: Vec<Hash> = images.iter().map(|(_, i)| hash(&png(i))).collect();

    let (mut pairs, mut matches) = (0, vec![]);
    // The nearest pair of photo images, by each hash.
    let mut nearest = (u32::MAX, u32::MAX);
    let mut closest: Vec<(u32, u32, u32, String)> = vec![];
    for i in 0..images.len() {
        for j in i + 1..images.len() {
            let c = hashes[i].compare(&hashes[j]);
            pairs += 1;
            let pair = format!("{} ~ {}", images[i].0, images[j].0);
            if c.matches {
                matches.push(pair.clone());
            }
            if j < photos {
                nearest = (nearest.0.min(c.dct_bits), nearest.1.min(c.gradient_bits));
            }
            closest.push((c.dct_bits, c.gradient_bits, c.tone, pair));
        }
    }
    closest.sort();
    let unmatchable: Vec<&str> = images
        .iter()
        .zip(&hashes)
        .filter(|(_, h)| !h.is_matchable())
        .map(|((n, _), _)| n.as_str())
        .collect();
    println!(
        "false matches: {} of {pairs} pairs ({:.4}%) over {} images ({photos} from the demo photos)",
        matches.len(),
        100.0 * matches.len() as f64 / f64::from(pairs),
        images.len()
    );
    println!(
        "nearest pair of photo images: {} DCT bits of 256, {} gradient bits of 144",
        nearest.0, nearest.1
    );
    println!("too fine to match anything: {unmatchable:?}");
    println!("closest pairs by DCT bits (dct, gradient, tone):");
    for c in closest.iter().take(12) {
        println!("  {c:?}");
    }
    assert!(matches.is_empty(), "false matches: {matches:?}");
}

#[test]
fn a_block_match_wins_over_an_allow_match() {
    let dir = tempfile::tempdir().expect("tempdir");
    let chelsea = photo_bytes("chelsea.png");
    write(dir.path(), "allow/chelsea.png", &chelsea);
    write(
        dir.path(),
        "block/Porn/chelsea-small.jpg",
        &jpeg(&scaled(&photo("chelsea.png"), 50), 70),
    );
    let lists = ImageLists::load(dir.path(), None).expect("load");
    let m = lists.find(&hash(&chelsea)).expect("match");
    // The allow sample is the closer one (distance 0), the block sample still wins.
    assert_eq!(m.list, ListKind::Block);
    assert_eq!(m.sample, "block/Porn/chelsea-small.jpg");
    assert_eq!(m.category.as_deref(), Some("porn"));
}

#[test]
fn a_sample_that_cannot_be_hashed_fails_the_load_naming_it() {
    // A progressive JPEG keeps every coefficient while decoding: claiming 20000×20000, its
    // header alone plans 2.4 GB (a real JPEG's frame header, marked progressive and enlarged).
    let mut huge = jpeg(&photo("chelsea.png"), 90);
    let sof = huge
        .windows(2)
        .position(|m| m == [0xFF, 0xC0])
        .expect("baseline frame header");
    huge[sof + 1] = 0xC2;
    huge[sof + 5..sof + 9].copy_from_slice(&[0x4E, 0x20, 0x4E, 0x20]);
    let cases: [(&str, Vec<u8>, &str); 4] = [
        (
            "block/huge.jpg",
            huge,
            "more than the 512 MiB a sample may use",
        ),
        (
            "block/ad/truncated.jpg",
            jpeg(&photo("coffee.png"), 80)[..600].to_vec(),
            "jpeg",
        ),
        (
            "allow/notes.png",
            b"just some text, not a picture".to_vec(),
            "not an image",
        ),
        // One-pixel checks average to grey at any size a hash sees: it would match anything
        // grey-ish with fine detail.
        (
            "block/checks.png",
            png(&RgbImage::from_fn(300, 200, |x, y| {
                Rgb(if (x + y) % 2 == 0 { BLACK } else { WHITE })
            })),
            "no shape",
        ),
    ];
    for (rel, bytes, why) in cases {
        let dir = demo_lists();
        write(dir.path(), rel, &bytes);
        // The start-up check does not decode: it passes.
        ImageLists::check(dir.path()).expect("check passes without decoding");
        let err = ImageLists::load(dir.path(), None)
            .err()
            .expect("load fails");
        let msg = err.to_string();
        assert!(matches!(err, ListsError::Sample { .. }), "{rel}: {msg}");
        assert!(
            msg.contains(&dir.path().join(rel).display().to_string()),
            "{msg}"
        );
        assert!(msg.contains(why), "{rel}: {msg}");
    }
}

/// The cache's text: a header, then `<sha256> <signature>` lines.
fn cache_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("cache file")
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn hashes_are_cached_on_disk_and_reused() {
    let dir = demo_lists();
    let cache = tempfile::tempdir().expect("cache dir");
    let first = ImageLists::load(dir.path(), Some(cache.path())).expect("first load");
    assert_eq!(first.decoded(), 4);
    let file = first.cache_file().expect("cache written").to_path_buf();
    assert!(file.starts_with(cache.path()), "{}", file.display());
    assert_eq!(cache_lines(&file).len(), 1 + 4);

    let second = ImageLists::load(dir.path(), Some(cache.path())).expect("second load");
    assert_eq!(second.decoded(), 0, "the second load decodes nothing");

    // The cache is what the second load used: give chelsea's file the signature of the
    // motorcycle, and chelsea's re-uploads stop matching while the motorcycle's start.
    let sha = |bytes: &[u8]| {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(bytes))
    };
    let chelsea_sha = sha(&photo_bytes("chelsea.png"));
    let motorcycle = {
        let other = tempfile::tempdir().expect("tempdir");
        write(
            other.path(),
            "block/m.png",
            &photo_bytes("motorcycle_left.png"),
        );
        let c = tempfile::tempdir().expect("cache");
        let l = ImageLists::load(other.path(), Some(c.path())).expect("load");
        cache_lines(l.cache_file().expect("cache"))[1]
            .split_once(' ')
            .expect("entry")
            .1
            .to_string()
    };
    let forged: Vec<String> = cache_lines(&file)
        .into_iter()
        .map(|l| match l.split_once(' ') {
            Some((s, _)) if s == chelsea_sha => format!("{s} {motorcycle}"),
            _ => l,
        })
        .collect();
    std::fs::write(&file, forged.join("\n") + "\n").expect("forge cache");
    let forged = ImageLists::load(dir.path(), Some(cache.path())).expect("forged load");
    assert_eq!(forged.decoded(), 0);
    let chelsea_half = hash(&jpeg(&scaled(&photo("chelsea.png"), 50), 75));
    assert_eq!(forged.find(&chelsea_half), None);
    let m = forged
        .find(&hash(&photo_bytes("motorcycle_left.png")))
        .expect("match");
    assert_eq!(m.sample, "block/chelsea.png");

    // A changed sample is decoded again, alone; the others still come from the cache.
    write(
        dir.path(),
        "block/chelsea.png",
        &png(&scaled(&photo("chelsea.png"), 90)),
    );
    let changed = ImageLists::load(dir.path(), Some(cache.path())).expect("changed load");
    assert_eq!(changed.decoded(), 1);
    assert!(changed.find(&chelsea_half).is_some());

    // A cache of another version (or garbage) is ignored and replaced.
    std::fs::write(&file, "image-triage image-lists cache v0\nxyz\n").expect("old cache");
    let rebuilt = ImageLists::load(dir.path(), Some(cache.path())).expect("rebuilt");
    assert_eq!(rebuilt.decoded(), 4);
    assert_eq!(cache_lines(&file).len(), 1 + 4);

    // An unwritable cache place (a file where the folder should be): memory only.
    let blocked = cache.path().join("not-a-dir");
    std::fs::write(&blocked, b"x").expect("file");
    let memory = ImageLists::load(dir.path(), Some(&blocked)).expect("load without cache");
    assert_eq!(memory.cache_file(), None);
    assert_eq!(memory.decoded(), 4);
}

#[test]
fn the_start_up_check_names_what_is_wrong() {
    let err = |dir: &Path| ImageLists::check(dir).expect_err("check fails").to_string();
    let root = tempfile::tempdir().expect("tempdir");
    let missing = root.path().join("nope");
    assert!(
        err(&missing).contains("does not exist"),
        "{}",
        err(&missing)
    );

    let file = root.path().join("file");
    std::fs::write(&file, b"x").expect("file");
    assert!(err(&file).contains("not a directory"));

    let empty = root.path().join("empty");
    std::fs::create_dir_all(empty.join("block/ad")).expect("mkdir");
    std::fs::create_dir_all(empty.join("allow")).expect("mkdir");
    write(&empty, ".DS_Store", b"x");
    write(&empty, "block/.keep", b"");
    assert!(err(&empty).contains("holds no sample"), "{}", err(&empty));

    // (file written, the path the error names, why)
    let cases: [(&str, &str, &str); 6] = [
        ("blocked/a.png", "blocked", "only allow/ and block/"),
        ("notes.txt", "notes.txt", "only allow/ and block/"),
        (
            "block/Bad Name!/a.png",
            "block/Bad Name!",
            "category folder",
        ),
        (
            "block/a-category-name-of-thirty-three-c/a.png",
            "block/a-category-name-of-thirty-three-c",
            "category folder",
        ),
        (
            "block/ad/readme.txt",
            "block/ad/readme.txt",
            "not an image file",
        ),
        ("allow/sub/a.png", "allow/sub", "allow has no categories"),
    ];
    for (rel, named, why) in cases {
        let dir = demo_lists();
        write(dir.path(), rel, &png(&photo("chelsea.png")));
        let msg = err(dir.path());
        assert!(msg.contains(why), "{rel}: {msg}");
        let named = dir.path().join(named).display().to_string();
        assert!(msg.contains(&named), "{rel}: {msg}");
    }

    // The fingerprint follows the samples' paths and bytes, nothing else.
    let dir = demo_lists();
    let fp = ImageLists::check(dir.path()).expect("check");
    assert_eq!(fp.len(), 64);
    write(dir.path(), ".hidden", b"ignored");
    assert_eq!(ImageLists::check(dir.path()).expect("check"), fp);
    write(
        dir.path(),
        "allow/rocket.jpg",
        &jpeg(&photo("rocket.jpg"), 60),
    );
    let changed = ImageLists::check(dir.path()).expect("check");
    assert_ne!(changed, fp);
    std::fs::rename(
        dir.path().join("allow/rocket.jpg"),
        dir.path().join("allow/rocket2.jpg"),
    )
    .expect("rename");
    assert_ne!(ImageLists::check(dir.path()).expect("check"), changed);
    // Upper-case category folders are taken lower-cased; extensions in any case.
    write(
        dir.path(),
        "block/SPAM/X.PNG",
        &png(&photo("motorcycle_left.png")),
    );
    let lists = ImageLists::load(dir.path(), None).expect("load");
    let m = lists
        .find(&hash(&photo_bytes("motorcycle_left.png")))
        .expect("match");
    assert_eq!(
        (m.sample.as_str(), m.category.as_deref()),
        ("block/SPAM/X.PNG", Some("spam"))
    );
}
