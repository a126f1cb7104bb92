//! The text detector (PP-OCR's DB net): its input, and the boxes read from its probability map
//! the way rapidocr's `DBPostProcess` reads them.

use image::RgbImage;

use super::geom::{self, Point};
use super::sample::{self, Planes};
use super::Quad;
use crate::analyzers::local::model::Input;

/// Short side the detector works at (rapidocr `limit_side_len 736, limit_type min`)...
const LIMIT_SIDE: f64 = 736.0;
/// ...without the long side passing this (rapidocr's global `max_side_len`; it lets the
/// detector scale past it, we do not: the detector's cost and memory grow with its area).
const MAX_SIDE: f64 = 2000.0;
/// A wide strip (more than this many times as wide as high, or at most `MIN_HEIGHT` px high)
/// is padded with black above and below (rapidocr `width_height_ratio`, `min_height`): the
/// detector misses text that touches the top and bottom edges of its input.
const STRIP_RATIO: f64 = 8.0;
const MIN_HEIGHT: f64 = 30.0;
/// Map value above which a pixel is text.
const THRESH: f32 = 0.3;
/// Mean map value inside a box below which the box is dropped.
const BOX_THRESH: f32 = 0.5;
/// Regions beyond this count (raster order) are not looked at.
const MAX_CANDIDATES: usize = 1000;
/// The net is trained on shrunken text regions; boxes grow back by area × ratio / perimeter.
const UNCLIP_RATIO: f64 = 1.6;
/// Regions with a short side below this (map pixels) are noise.
const MIN_SIZE: f64 = 3.0;

/// How the input image maps onto the detector's input.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// The detector's input size, multiples of 32.
    pub width: usize,
    pub height: usize,
    /// Black rows above the image (and as many below) on the canvas the detector sees.
    pub pad: usize,
    pub image_w: usize,
    pub image_h: usize,
}

/// `v` to the nearest multiple of 32 (ties to even, as Python's `round`), at least 32.
fn round32(v: f64) -> usize {
    ((v.floor() / 32.0).round_ties_even() as usize * 32).max(32)
}

/// The most pixels the detector's input may have (1568×832, or 2000×640).
pub const MAX_PIXELS: f64 = 1_300_000.0;

impl Layout {
    pub fn new(image_w: usize, image_h: usize) -> Layout {
        let (w0, h0) = (image_w.max(1) as f64, image_h.max(1) as f64);
        let s1 = (MAX_SIDE / w0.max(h0)).min(1.0);
        let (w1, h1) = (w0 * s1, h0 * s1);
        let pad1 = if h1 <= MIN_HEIGHT || w1 / h1 > STRIP_RATIO {
            let want = ((w1 / STRIP_RATIO).floor()).max(MIN_HEIGHT) * 2.0;
            ((want - h1).abs() / 2.0).floor()
        } else {
            0.0
        };
        let h2 = h1 + 2.0 * pad1;
        let (short, long) = (w1.min(h2), w1.max(h2));
        let r = if short < LIMIT_SIDE {
            (LIMIT_SIDE / short).min(MAX_SIDE / long).max(1.0)
        } else {
            1.0
        };
        // The detector's working memory grows with its input (≈ 470 MB of process at
        // 1984×992): large inputs are scaled down to MAX_PIXELS, a little under rapidocr.
        let area = w1 * r * h2 * r;
        let r = if area > MAX_PIXELS {
            r * (MAX_PIXELS / area).sqrt()
        } else {
            r
        };
        Layout {
            width: round32(w1 * r),
            height: round32(h2 * r),
            pad: (pad1 / s1).round() as usize,
            image_w,
            image_h,
        }
    }

    fn canvas_h(&self) -> usize {
        self.image_h + 2 * self.pad
    }

    /// Image pixels per detector pixel, across and down.
    fn scale(&self) -> (f64, f64) {
        (
            self.image_w as f64 / self.width as f64,
            self.canvas_h() as f64 / self.height as f64,
        )
    }
}

/// The detector's input: the padded image resized to the layout, normalised BGR planes.
pub fn input(img: &RgbImage, layout: &Layout) -> Input {
    let (w, h) = (layout.width, layout.height);
    let mut data = vec![0.0f32; 3 * w * h];
    let pad = layout.pad;
    sample::bilinear_into(
        layout.image_w,
        layout.canvas_h(),
        |y| {
            y.checked_sub(pad)
                .filter(|&y| y < layout.image_h)
                .and_then(|y| sample::image_row(img, y))
        },
        w,
        h,
        Planes {
            data: &mut data,
            width: w,
            height: h,
        },
    );
    Input {
        shape: [1, 3, h, w],
        data,
    }
}

/// One connected region of the bitmap, as the ends of its row runs (enough for its hull).
type Region = Vec<Point>;

/// The text pixels (map above the threshold, dilated by a 2×2 square as rapidocr does),
/// grouped into 8-connected regions in raster order, at most `MAX_CANDIDATES`.
pub fn regions(map: &[f32], w: usize, h: usize) -> Vec<Region> {
    let on = |x: usize, y: usize| map[y * w + x] > THRESH;
    // The dilation's anchor is the kernel's centre (1, 1): a pixel is set when it or its
    // left, upper or upper-left neighbour is.
    let set = |x: usize, y: usize| {
        on(x, y)
            || (x > 0 && on(x - 1, y))
            || (y > 0 && (on(x, y - 1) || (x > 0 && on(x - 1, y - 1))))
    };
    // Runs per row, joined into regions with a union-find over runs.
    let mut runs: Vec<(usize, usize, usize)> = Vec::new(); // (y, x0, x1)
    let mut parent: Vec<usize> = Vec::new();
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut prev_row = 0..0;
    for y in 0..h {
        let row_start = runs.len();
        // Runs of both rows go left to right: one pass over the row above per row.
        let mut above = prev_row.start;
        let mut x = 0;
        while x < w {
            if !set(x, y) {
                x += 1;
                continue;
            }
            let x0 = x;
            while x < w && set(x, y) {
                x += 1;
            }
            let id = runs.len();
            runs.push((y, x0, x - 1));
            parent.push(id);
            // 8-connected: a run above touching this one's columns widened by one.
            while above < prev_row.end && runs[above].2 + 1 < x0 {
                above += 1;
            }
            let mut k = above;
            while k < prev_row.end && runs[k].1 <= x {
                let (ra, rb) = (find(&mut parent, k), find(&mut parent, id));
                if ra != rb {
                    parent[ra.max(rb)] = ra.min(rb);
                }
                k += 1;
            }
        }
        prev_row = row_start..runs.len();
    }
    let mut index_of_root = vec![usize::MAX; runs.len()];
    let mut out: Vec<Region> = Vec::new();
    for (i, &(y, x0, x1)) in runs.iter().enumerate() {
        let root = find(&mut parent, i);
        // Roots are the smallest run of their region: regions come out in raster order.
        if index_of_root[root] == usize::MAX {
            if out.len() == MAX_CANDIDATES {
                continue;
            }
            index_of_root[root] = out.len();
            out.push(Vec::new());
        }
        out[index_of_root[root]].extend([[x0 as f64, y as f64], [x1 as f64, y as f64]]);
    }
    out
}

/// Mean of the map inside `quad` (rapidocr's "fast" score: the box, not the region).
fn box_score(map: &[f32], w: usize, h: usize, quad: &[Point; 4]) -> f32 {
    let clip = |v: f64, hi: usize| v.clamp(0.0, (hi - 1) as f64) as usize;
    let (xs, ys) = (quad.map(|p| p[0]), quad.map(|p| p[1]));
    let fold = |v: [f64; 4], f: fn(f64, f64) -> f64, init: f64| v.into_iter().fold(init, f);
    let (xmin, xmax) = (
        clip(fold(xs, f64::min, f64::MAX).floor(), w),
        clip(fold(xs, f64::max, f64::MIN).ceil(), w),
    );
    let (ymin, ymax) = (
        clip(fold(ys, f64::min, f64::MAX).floor(), h),
        clip(fold(ys, f64::max, f64::MIN).ceil(), h),
    );
    // OpenCV fills the polygon with its corners cut to whole pixels.
    let poly = quad.map(|p| [p[0].trunc(), p[1].trunc()]);
    let (mut sum, mut n) = (0.0f64, 0usize);
    for y in ymin..=ymax {
        let Some((lo, hi)) = geom::row_span(&poly, y as f64) else {
            continue;
        };
        let lo = (lo - 1e-9).ceil().max(xmin as f64) as usize;
        let hi = (hi + 1e-9).floor().min(xmax as f64);
        if hi < lo as f64 {
            continue;
        }
        for x in lo..=hi as usize {
            sum += f64::from(map[y * w + x]);
            n += 1;
        }
    }
    if n == 0 {
        0.0
    } else {
        (sum / n as f64) as f32
    }
}

/// Text boxes from the detector's probability map (`w`×`h`), in the input image's pixels,
/// clockwise from top-left, in no particular order.
pub fn boxes(map: &[f32], w: usize, h: usize, layout: &Layout) -> Vec<Quad> {
    if w == 0 || h == 0 || map.len() < w * h {
        return Vec::new();
    }
    let (sx, sy) = layout.scale();
    let (max_x, max_y) = (
        layout.image_w.saturating_sub(1) as f64,
        layout.image_h.saturating_sub(1) as f64,
    );
    let mut out = Vec::new();
    for region in regions(map, w, h) {
        let Some(rect) = geom::min_area_rect(region) else {
            continue;
        };
        if rect.short_side() < MIN_SIZE {
            continue;
        }
        let corners = geom::mini_box(&rect);
        if box_score(map, w, h, &corners) < BOX_THRESH {
            continue;
        }
        // Grow the box by area × ratio / perimeter, then take the grown outline's rectangle.
        let distance = rect.width * rect.height * UNCLIP_RATIO / (2.0 * (rect.width + rect.height));
        let Some(grown) = geom::min_area_rect(geom::unclip(&corners, distance)) else {
            continue;
        };
        if grown.short_side() < MIN_SIZE + 2.0 {
            continue;
        }
        let quad = geom::mini_box(&grown).map(|[x, y]| {
            [
                (x * sx).round().clamp(0.0, max_x),
                (y * sy - layout.pad as f64).round().clamp(0.0, max_y),
            ]
        });
        let quad = geom::order_clockwise(quad);
        // Boxes squeezed flat against the image's edge are dropped.
        let (bw, bh) = (
            geom::distance(quad[0], quad[1]),
            geom::distance(quad[0], quad[3]),
        );
        if bw.floor() <= 3.0 || bh.floor() <= 3.0 {
            continue;
        }
        out.push(quad.map(|[x, y]| [x as f32, y as f32]));
    }
    out
}
