//! The OCR engine's pieces without the models: decoding, boxes from a map, geometry, crops.

use image::{Rgb, RgbImage};

use super::*;

fn close(a: [f32; 2], b: [f32; 2], tol: f32) -> bool {
    (a[0] - b[0]).abs() <= tol && (a[1] - b[1]).abs() <= tol
}

fn assert_quad(got: &Quad, want: [[f32; 2]; 4], tol: f32) {
    assert!(
        got.iter().zip(want).all(|(g, w)| close(*g, w, tol)),
        "got {got:?}, want {want:?}"
    );
}

// --- CTC -----------------------------------------------------------------------------------

/// One timestep per class index, the index's probability `p`, the rest shared.
fn steps(indices: &[usize], n: usize, p: f32) -> Vec<f32> {
    let mut out = Vec::new();
    for &i in indices {
        let rest = (1.0 - p) / (n - 1) as f32;
        out.extend((0..n).map(|c| if c == i { p } else { rest }));
    }
    out
}

#[test]
fn ctc_collapses_repeats_and_drops_blanks() {
    let classes = classes("a\nb");
    assert_eq!(classes.len(), 4);
    assert_eq!(&*classes[3], " ");
    // a a _ a b b ␠ _ b: repeats collapse, a blank separates a doubled letter.
    let probs = steps(&[1, 1, 0, 1, 2, 2, 3, 0, 2], 4, 0.9);
    let (text, conf) = rec::decode(&probs, &classes);
    assert_eq!(text, "aab b");
    assert!((conf - 0.9).abs() < 1e-5);
    // The confidence is the mean over the characters kept (first of each run).
    let mut probs = steps(&[1, 2], 4, 0.9);
    probs.extend(steps(&[2], 4, 0.3));
    probs.extend(steps(&[0, 3], 4, 0.5));
    let (text, conf) = rec::decode(&probs, &classes);
    assert_eq!(text, "ab ");
    assert!((conf - (0.9 + 0.9 + 0.5) / 3.0).abs() < 1e-5, "{conf}");
    // Only blanks: nothing, confidence 0.
    assert_eq!(
        rec::decode(&steps(&[0, 0, 0], 4, 0.99), &classes),
        (String::new(), 0.0)
    );
    assert_eq!(rec::decode(&[], &classes), (String::new(), 0.0));
}

#[test]
fn dictionary_becomes_blank_characters_space() {
    let c = classes("x\ny\r\nz");
    let c: Vec<&str> = c.iter().map(|s| &**s).collect();
    assert_eq!(c, ["blank", "x", "y", "z", " "]);
}

// --- detection -----------------------------------------------------------------------------

#[test]
fn layout_follows_rapidocr() {
    // Short side up to 736, sides to multiples of 32 (Python's round: ties to even).
    let l = det::Layout::new(1000, 600);
    assert_eq!((l.width, l.height, l.pad), (1216, 736, 0));
    // Over det::MAX_PIXELS (rapidocr would use 1984×992): scaled down for memory.
    let l = det::Layout::new(2000, 1000);
    assert_eq!((l.width, l.height, l.pad), (1600, 800, 0));
    assert!((l.width * l.height) as f64 <= det::MAX_PIXELS);
    // Upscaling stops at a long side of 2000.
    let l = det::Layout::new(1800, 500);
    assert_eq!((l.width, l.height), (1984, 544));
    // A wide strip: reduced to 2000 px, padded to a quarter of its width, not upscaled.
    let l = det::Layout::new(3000, 100);
    assert_eq!((l.width, l.height, l.pad), (1984, 512, 324));
}

/// A map of `w`×`h` with rectangles `(x0, y0, x1, y1, p)` (inclusive) on 0.
fn map_with(w: usize, h: usize, rects: &[(usize, usize, usize, usize, f32)]) -> Vec<f32> {
    let mut map = vec![0.0; w * h];
    for &(x0, y0, x1, y1, p) in rects {
        for y in y0..=y1 {
            map[y * w + x0..=y * w + x1].fill(p);
        }
    }
    map
}

#[test]
fn two_rectangles_give_two_unclipped_boxes() {
    let (w, h) = (736, 736);
    let map = map_with(
        w,
        h,
        &[
            (100, 100, 299, 129, 0.9),
            (400, 300, 499, 359, 0.8),
            // Above the pixel threshold but below the box threshold: dropped.
            (100, 500, 299, 529, 0.4),
            // Too small a speck.
            (600, 600, 601, 601, 0.9),
        ],
    );
    assert_eq!(det::regions(&map, w, h).len(), 4);
    let layout = det::Layout::new(w, h);
    assert_eq!((layout.width, layout.height), (w, h));
    let mut boxes = det::boxes(&map, w, h, &layout);
    reading_order(&mut boxes);
    assert_eq!(boxes.len(), 2, "{boxes:?}");
    // The dilation adds a column and a row: 200×30 between pixel centres (100..=300,
    // 100..=130); grown by 200·30·1.6 / (2·230) = 20.87 px on every side.
    assert_quad(
        &boxes[0],
        [[79.0, 79.0], [321.0, 79.0], [321.0, 151.0], [79.0, 151.0]],
        1.0,
    );
    // 100×60 from (400, 300): grown by 100·60·1.6 / 320 = 30 px.
    assert_quad(
        &boxes[1],
        [
            [370.0, 270.0],
            [530.0, 270.0],
            [530.0, 390.0],
            [370.0, 390.0],
        ],
        1.0,
    );
}

#[test]
fn boxes_map_back_to_the_image_and_stay_inside_it() {
    // The same map for an image half the size: coordinates halve; a box touching the edge
    // is clipped to the last pixel.
    let (w, h) = (736, 736);
    let map = map_with(
        w,
        h,
        &[(100, 100, 299, 129, 0.9), (650, 700, 735, 735, 0.9)],
    );
    let layout = det::Layout::new(368, 368);
    assert_eq!((layout.width, layout.height), (w, h));
    let boxes = det::boxes(&map, w, h, &layout);
    assert_eq!(boxes.len(), 2);
    assert_quad(
        &boxes[0],
        [[39.5, 39.5], [160.5, 39.5], [160.5, 75.5], [39.5, 75.5]],
        1.0,
    );
    assert!(boxes[1].iter().all(|p| p[0] <= 367.0 && p[1] <= 367.0));
}

#[test]
fn diagonal_touch_joins_regions_and_gaps_split_them() {
    let (w, h) = (40, 20);
    // Dilated, the first two squares (2..=4 and 5..=7) touch only at a corner: one region
    // (8-connectivity). The third, two empty columns away, is another.
    let map = map_with(
        w,
        h,
        &[(2, 2, 3, 3, 0.9), (5, 5, 6, 6, 0.9), (10, 2, 13, 5, 0.9)],
    );
    assert_eq!(det::regions(&map, w, h).len(), 2);
}

#[test]
fn reading_order_is_lines_then_left_to_right() {
    let at =
        |x: f32, y: f32| -> Quad { [[x, y], [x + 50.0, y], [x + 50.0, y + 20.0], [x, y + 20.0]] };
    let mut quads = vec![
        at(500.0, 100.0),
        at(10.0, 300.0),
        at(50.0, 105.0),
        at(900.0, 50.0),
    ];
    reading_order(&mut quads);
    let xs: Vec<f32> = quads.iter().map(|q| q[0][0]).collect();
    // y 100 and 105 are one line, read left to right.
    assert_eq!(xs, [900.0, 50.0, 500.0, 10.0]);
}

#[test]
fn the_largest_boxes_are_read_within_the_budgets() {
    let at = |i: usize, w: f32| -> Quad {
        let y = i as f32 * 30.0;
        [[0.0, y], [w, y], [w, y + 20.0], [0.0, y + 20.0]]
    };
    // 150 boxes; every tenth is larger.
    let quads: Vec<Quad> = (0..150)
        .map(|i| at(i, if i % 10 == 0 { 120.0 } else { 60.0 }))
        .collect();
    let kept = chosen(quads.clone(), 100, usize::MAX);
    assert_eq!(kept.len(), 100);
    assert_eq!(kept.iter().filter(|q| q[1][0] == 120.0).count(), 15);
    // Still in reading order.
    assert!(kept.windows(2).all(|p| p[0][0][1] < p[1][0][1]));
    // Each costs at least 320 columns: the column budget stops at 10.
    assert_eq!(chosen(quads, 100, 3200).len(), 10);
    // A long thin box costs its width (capped), a tall one is read turned.
    assert_eq!(rec::planned_width(&at(0, 500.0)), 1200);
    assert_eq!(rec::planned_width(&at(0, 5000.0)), rec::MAX_WIDTH);
    let tall: Quad = [[0.0, 0.0], [20.0, 0.0], [20.0, 200.0], [0.0, 200.0]];
    assert_eq!(rec::planned_width(&tall), 480);
}

// --- geometry ------------------------------------------------------------------------------

#[test]
fn min_area_rect_of_a_turned_rectangle() {
    let (c, s) = (30f64.to_radians().cos(), 30f64.to_radians().sin());
    let mut pts = Vec::new();
    for i in 0..=20 {
        for j in 0..=4 {
            let (u, v) = (f64::from(i) * 10.0, f64::from(j) * 10.0);
            pts.push([100.0 + u * c - v * s, 50.0 + u * s + v * c]);
        }
    }
    let r = geom::min_area_rect(pts).unwrap();
    let (long, short) = (r.width.max(r.height), r.width.min(r.height));
    assert!(
        (long - 200.0).abs() < 1e-6 && (short - 40.0).abs() < 1e-6,
        "{r:?}"
    );
    assert!(geom::min_area_rect(vec![]).is_none());
    assert_eq!(
        geom::min_area_rect(vec![[3.0, 4.0]]).unwrap().short_side(),
        0.0
    );
}

#[test]
fn unclip_matches_pyclipper() {
    // pyclipper 1.4: PyclipperOffset, JT_ROUND, ET_CLOSEDPOLYGON, Execute(3.3).
    let mut got = geom::unclip(&[[0.0, 0.0], [10.0, 0.0], [10.0, 5.0], [0.0, 5.0]], 3.3);
    let mut want = vec![
        [12.0, -2.0],
        [13.0, 0.0],
        [13.0, 5.0],
        [12.0, 7.0],
        [10.0, 8.0],
        [0.0, 8.0],
        [-2.0, 7.0],
        [-3.0, 5.0],
        [-3.0, 0.0],
        [-2.0, -2.0],
        [0.0, -3.0],
        [10.0, -3.0],
    ];
    let key = |p: &[f64; 2]| (p[0] as i64, p[1] as i64);
    got.sort_by_key(key);
    got.dedup();
    want.sort_by_key(key);
    assert_eq!(got, want);
}

#[test]
fn perspective_maps_corners() {
    let from = [[0.0, 0.0], [100.0, 0.0], [100.0, 20.0], [0.0, 20.0]];
    let to = [[10.0, 50.0], [96.0, 0.0], [106.0, 17.0], [20.0, 67.0]];
    let h = geom::perspective(from, to).unwrap();
    for (f, t) in from.iter().zip(to) {
        let p = geom::apply(&h, f[0], f[1]);
        assert!((p[0] - t[0]).abs() < 1e-9 && (p[1] - t[1]).abs() < 1e-9);
    }
    let line = [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]];
    assert!(geom::perspective(line, to).is_none());
}

// --- crops and inputs ----------------------------------------------------------------------

const DARK: Rgb<u8> = Rgb([20, 20, 20]);
const GREY: Rgb<u8> = Rgb([150, 150, 150]);
const WHITE: Rgb<u8> = Rgb([255, 255, 255]);

fn luma(p: &Rgb<u8>) -> u8 {
    p.0[1]
}

#[test]
fn crop_straightens_a_turned_box() {
    // A 200×40 bar turned 30°, dark in its first half and grey in its second.
    let (c, s) = (30f64.to_radians().cos(), 30f64.to_radians().sin());
    let origin = [60.0, 40.0];
    let img = RgbImage::from_fn(400, 300, |x, y| {
        let (dx, dy) = (f64::from(x) - origin[0], f64::from(y) - origin[1]);
        let (u, v) = (dx * c + dy * s, -dx * s + dy * c);
        match (u, v) {
            (u, v) if (0.0..200.0).contains(&u) && (0.0..40.0).contains(&v) => {
                if u < 100.0 {
                    DARK
                } else {
                    GREY
                }
            }
            _ => WHITE,
        }
    });
    let corner = |u: f64, v: f64| {
        [
            (origin[0] + u * c - v * s) as f32,
            (origin[1] + u * s + v * c) as f32,
        ]
    };
    let quad = [
        corner(0.0, 0.0),
        corner(200.0, 0.0),
        corner(200.0, 40.0),
        corner(0.0, 40.0),
    ];
    let crop = rec::crop(&img, &quad).unwrap();
    assert!((199..=200).contains(&crop.width()) && (39..=40).contains(&crop.height()));
    assert!(
        luma(crop.get_pixel(50, 20)) < 40,
        "{:?}",
        crop.get_pixel(50, 20)
    );
    assert!((130..170).contains(&luma(crop.get_pixel(150, 20))));
}

#[test]
fn tall_crops_are_turned_to_read_left_to_right() {
    // A column of vertical text, its top dark and its bottom grey: turned a quarter
    // counter-clockwise, the top comes first (left).
    let img = RgbImage::from_fn(100, 300, |x, y| match (x, y) {
        (30..70, 20..120) => DARK,
        (30..70, 120..220) => GREY,
        _ => WHITE,
    });
    let quad = [[30.0, 20.0], [70.0, 20.0], [70.0, 220.0], [30.0, 220.0]];
    let crop = rec::crop(&img, &quad).unwrap();
    assert_eq!(crop.dimensions(), (200, 40));
    assert!(luma(crop.get_pixel(50, 20)) < 40);
    assert!((130..170).contains(&luma(crop.get_pixel(150, 20))));
    // A box with no area gives no crop.
    assert!(rec::crop(&img, &[[5.0, 5.0]; 4]).is_none());
}

#[test]
fn big_crops_are_made_at_the_recognizer_scale() {
    let img = RgbImage::from_pixel(1000, 600, DARK);
    let quad = [[0.0, 0.0], [900.0, 0.0], [900.0, 300.0], [0.0, 300.0]];
    let (w, h) = rec::crop(&img, &quad).unwrap().dimensions();
    assert!((287..=288).contains(&w) && h == 96, "{w}x{h}");
}

#[test]
fn recognizer_input_is_bgr_padded_to_320() {
    // Red on the left half.
    let crop = RgbImage::from_fn(96, 48, |x, _| if x < 48 { Rgb([255, 0, 0]) } else { WHITE });
    let t = rec::input(&crop);
    assert_eq!(t.shape, [1, 3, 48, 320]);
    let plane = 48 * 320;
    let at = |p: usize, x: usize| t.data[p * plane + 10 * 320 + x];
    // Plane 0 is blue, plane 2 red; white is 1; the padding is 0.
    assert_eq!((at(0, 10), at(2, 10)), (-1.0, 1.0));
    assert_eq!((at(0, 80), at(2, 80)), (1.0, 1.0));
    assert_eq!(at(1, 200), 0.0);
    // Wide lines keep their aspect up to the cap.
    let wide = RgbImage::from_pixel(2000, 40, WHITE);
    assert_eq!(rec::input(&wide).shape, [1, 3, 48, 1920]);
}

#[test]
fn detector_input_pads_strips_with_black() {
    let img = RgbImage::from_pixel(3000, 100, WHITE);
    let layout = det::Layout::new(3000, 100);
    let t = det::input(&img, &layout);
    assert_eq!(t.shape, [1, 3, layout.height, layout.width]);
    let col = |y: usize| t.data[y * layout.width + 100];
    // Black above, the white strip in the middle, black below.
    for (y, want) in [
        (5, -1.0),
        (layout.height / 2, 1.0),
        (layout.height - 5, -1.0),
    ] {
        assert!((col(y) - want).abs() < 1e-4, "row {y}: {}", col(y));
    }
}

#[test]
fn the_engine_can_be_shared_across_blocking_tasks() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<Ocr>();
}
