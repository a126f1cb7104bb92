//! The perceptual hash of one reduced frame, and when two hashes are the same picture.
//!
//! Solid margins are trimmed first, so a border added by a re-upload is gone before hashing;
//! the rest is box-averaged into a 64×64 grid, from which `image_hasher` computes
//! - a DCT hash (pHash: median of the 16×16 lowest frequencies, 256 bits), which separated
//!   unrelated photos best of the hashes tried (mean 127 differing bits, none under 100 in the
//!   test set, while a re-upload of a photo stays under 20), and
//! - a double gradient hash (dHash of rows and columns, 144 bits), which pHash needs beside it
//!   on drawn images with few frequencies (stripes one way and the other: 0 bits of pHash
//!   apart, 63 of this);
//!
//! and a 4×4 grid of mean colours (`tone`), which tells apart what both hashes see as the same
//! shape: two plain gradients of different range or colour, flat images of different colours.
//!
//! How the hash was chosen: the demo photos re-uploaded (half, 70% and double size, JPEG q30-90,
//! GIF, 4 px borders on full, half and quarter size) against the photos, their quarters and the
//! generated images of `tests/image_lists.rs`, as worst re-upload / nearest unrelated photo
//! pair, in differing bits, after trimming:
//!
//! | hash                     | bits | worst re-upload | nearest unrelated |
//! |--------------------------|------|-----------------|-------------------|
//! | gradient (dHash) 8×8     |   64 |               5 |                 8 |
//! | gradient 16×16           |  256 |              24 |                59 |
//! | double gradient 16       |  144 |              10 |                26 |
//! | mean of DCT 16×16        |  256 |              18 |                24 |
//! | median of DCT 8×8        |   64 |               4 |                20 |
//! | median of DCT 16×16      |  256 |              26 |               104 |
//! | blockhash 16×16          |  256 |              12 |                12 |
//!
//! (Measured with `image`'s decoders; through the project's decoder, as `tests/image_lists.rs`
//! prints, the worst re-upload of the chosen pHash is 16 bits.)
//!
//! Without trimming, the 4 px border on a quarter-size copy alone moved dHash 8×8 by 20 of 64
//! bits and pHash 16×16 by 102 of 256: as far as unrelated photos.

use std::sync::OnceLock;

use image::{GrayImage, RgbImage};
use image_hasher::{HashAlg, Hasher, HasherConfig};

/// Side of the grid the hashes are computed from: a cheap box average of the whole frame that
/// keeps more than the 32×32 the DCT hash resizes to.
const GRID: usize = 64;
/// A margin line is trimmed when its pixels stay this close to its own mean (mean over the line
/// of the largest channel deviation). Measured on 4 px borders of JPEG re-uploads: 0-6, and up
/// to 11 on the line beside the picture, where JPEG blocks mix the two (that line may stay: one
/// pixel); the flattest edge of the demo photos (the rocket's night sky) is at 12-13, and a
/// natural edge must not be trimmed in one copy and kept in another.
const MARGIN_SPREAD: u32 = 10;
/// ... and its mean colour stays this close to the outermost line's (per channel).
const MARGIN_DRIFT: u32 = 16;
/// At most this share (percent) of each side is trimmed: a border, not a letterbox or a layout.
const MARGIN_MAX_PERCENT: u32 = 10;
/// Below this luma standard deviation at the DCT hash's 32×32 scale, a frame has no shape for a
/// hash to follow (the bits would be rounding noise); photos are at 13 and more, flat colours 0.
const PLAIN_STD: f32 = 2.0;
/// A plain frame whose neighbouring pixels differ by less than this on average (luma) is flat;
/// above it, a fine texture (stripes, noise) that averages out to one colour at hash scale.
const FLAT_DETAIL: f32 = 4.0;

/// Match thresholds: all three must hold. Measured (`tests/image_lists.rs`,
/// `cargo bench --bench lists`): re-uploads of the demo photos (down to a quarter-size copy with
/// a 4 px border at JPEG q50) differ by at most 16 of 256 DCT bits, 6 of 144 gradient bits and
/// tone 1; 48 px JPEG copies of the bench's 5,000 smooth 96 px pictures, the hardest case met,
/// by up to 84 DCT bits (the median of a smooth picture's frequencies splits near-equal ones),
/// 10 gradient bits and tone 4. Unrelated photos differ by 104 DCT bits and more (mean 127,
/// sd 8, as random 256-bit strings would) and by 26 gradient bits and more. The 12.5 million
/// pairs of bench pictures, which share one style, come as close as 24 DCT bits and 0 gradient
/// bits, but no pair is within all three thresholds: tone parts those the hashes do not.
pub const MAX_DCT_BITS: u32 = 96;
pub const MAX_GRADIENT_BITS: u32 = 24;
/// Mean absolute difference of the 48 tone values (0-255): flat greys of 128 and 140 are 12
/// apart.
pub const MAX_TONE: u32 = 8;

/// What a hash can say about a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Has shape at hash scale: compared by both hashes and tone.
    Shaped,
    /// One colour: compared by tone only (its hash bits are zero).
    Flat,
    /// Detail too fine for the hashes (they see one colour): matches nothing.
    Texture,
}

/// One frame's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub kind: Kind,
    pub dct: [u64; 4],
    pub gradient: [u64; 3],
    pub tone: [u8; 48],
}

/// Versions the cache: change it whenever anything above changes what a signature is.
pub const VERSION: &str = "trim10-grid64-phash16-dgrad16-tone4x4-v1";

fn hashers() -> &'static (Hasher, Hasher) {
    static HASHERS: OnceLock<(Hasher, Hasher)> = OnceLock::new();
    HASHERS.get_or_init(|| {
        let dct = HasherConfig::new()
            .hash_alg(HashAlg::Median)
            .hash_size(16, 16)
            .preproc_dct()
            .to_hasher();
        let gradient = HasherConfig::new()
            .hash_alg(HashAlg::DoubleGradient)
            .hash_size(16, 16)
            .to_hasher();
        (dct, gradient)
    })
}

impl Signature {
    pub fn of(image: &RgbImage) -> Signature {
        let rect = trim(image);
        let grid = box_grid(image, rect);
        let luma = GrayImage::from_fn(GRID as u32, GRID as u32, |x, y| {
            let [r, g, b] = grid[y as usize * GRID + x as usize];
            image::Luma([luma(r, g, b)])
        });
        let tone = tone(&grid);
        let kind = if plain_std(&luma) >= PLAIN_STD {
            Kind::Shaped
        } else if detail(image, rect) < FLAT_DETAIL {
            Kind::Flat
        } else {
            Kind::Texture
        };
        if kind != Kind::Shaped {
            // No shape: the bits would be rounding noise, which must not make two flat
            // frames of one colour look different.
            return Signature {
                kind,
                dct: [0; 4],
                gradient: [0; 3],
                tone,
            };
        }
        let (dct, gradient) = hashers();
        Signature {
            kind,
            dct: words(dct.hash_image(&luma).as_bytes()),
            gradient: words(gradient.hash_image(&luma).as_bytes()),
            tone,
        }
    }

    /// Differing bits of the two hashes (DCT, gradient).
    pub fn bits(&self, other: &Signature) -> (u32, u32) {
        (
            xor_ones(&self.dct, &other.dct),
            xor_ones(&self.gradient, &other.gradient),
        )
    }

    /// The mean tone difference, rounded (0-255).
    pub fn tone_distance(&self, other: &Signature) -> u32 {
        let n = self.tone.len() as u32;
        (self.tone_sum(other) + n / 2) / n
    }

    fn tone_sum(&self, other: &Signature) -> u32 {
        self.tone
            .iter()
            .zip(&other.tone)
            .map(|(a, b)| u32::from(a.abs_diff(*b)))
            .sum()
    }

    /// Differing bits when `self` (an upload) is the same picture as `other` (a sample).
    /// The DCT bits are compared first: they alone rule out nearly every sample.
    pub fn matches(&self, other: &Signature, dct_bits: u32) -> Option<u32> {
        if dct_bits > MAX_DCT_BITS || self.kind != other.kind || self.kind == Kind::Texture {
            return None;
        }
        let gradient_bits = xor_ones(&self.gradient, &other.gradient);
        let tone_ok = self.tone_sum(other) <= MAX_TONE * self.tone.len() as u32;
        (gradient_bits <= MAX_GRADIENT_BITS && tone_ok).then_some(dct_bits + gradient_bits)
    }

    /// A fixed-length text form for the cache: kind, then the words and the tone in hex.
    pub fn encode(&self) -> String {
        let kind = match self.kind {
            Kind::Shaped => 's',
            Kind::Flat => 'f',
            Kind::Texture => 't',
        };
        let mut out = String::with_capacity(1 + 7 * 16 + 96);
        out.push(kind);
        for w in self.dct.iter().chain(&self.gradient) {
            out.push_str(&format!("{w:016x}"));
        }
        out.push_str(&hex::encode(self.tone));
        out
    }

    pub fn decode(text: &str) -> Option<Signature> {
        let kind = match text.as_bytes().first()? {
            b's' => Kind::Shaped,
            b'f' => Kind::Flat,
            b't' => Kind::Texture,
            _ => return None,
        };
        let rest = text.get(1..)?;
        if rest.len() != 7 * 16 + 96 {
            return None;
        }
        let word = |i: usize| u64::from_str_radix(rest.get(i * 16..i * 16 + 16)?, 16).ok();
        let mut tone = [0u8; 48];
        hex::decode_to_slice(rest.get(7 * 16..)?, &mut tone).ok()?;
        Some(Signature {
            kind,
            dct: [word(0)?, word(1)?, word(2)?, word(3)?],
            gradient: [word(4)?, word(5)?, word(6)?],
            tone,
        })
    }
}

pub fn xor_ones<const N: usize>(a: &[u64; N], b: &[u64; N]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

/// Hash bytes (least significant bit first) into little-endian words; extra bytes cannot occur
/// (the sizes are fixed above) and missing ones are zero.
fn words<const N: usize>(bytes: &[u8]) -> [u64; N] {
    let mut out = [0u64; N];
    for (i, b) in bytes.iter().take(N * 8).enumerate() {
        out[i / 8] |= u64::from(*b) << ((i % 8) * 8);
    }
    out
}

fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((299 * u32::from(r) + 587 * u32::from(g) + 114 * u32::from(b) + 500) / 1000) as u8
}

/// (x, y, width, height) of the frame without its solid margins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

/// Trim each side's solid margin: lines that are nearly one colour, the colour of the outermost
/// line. A border is solid where it was added, but JPEG blocks straddle it and the picture, so
/// a line is judged by its spread and mean, not pixel by pixel.
pub fn trim(image: &RgbImage) -> Rect {
    let (w, h) = image.dimensions();
    let raw = image.as_raw().as_slice();
    let stride = w as usize * 3;
    let mut cut = [0u32; 4];
    for (side, cut) in cut.iter_mut().enumerate() {
        let (across, along) = if side < 2 { (h, w) } else { (w, h) };
        // Line `i` from this side (top, bottom, left, right) in the raw bytes: the offset of
        // its first pixel and the step to the next.
        let line = |i: u32| -> Line<'_> {
            let (first, step) = match side {
                0 => (i as usize * stride, 3),
                1 => ((h - 1 - i) as usize * stride, 3),
                2 => (i as usize * 3, stride),
                _ => ((w - 1 - i) as usize * 3, stride),
            };
            Line {
                raw,
                first,
                step,
                len: along as usize,
            }
        };
        let cap = across * MARGIN_MAX_PERCENT / 100;
        let (outer, _) = line(0).stats();
        while *cut < cap {
            let (mean, spread) = line(*cut).stats();
            let drift = (0..3)
                .map(|c| mean[c].abs_diff(outer[c]))
                .max()
                .unwrap_or(0);
            if spread > MARGIN_SPREAD || drift > MARGIN_DRIFT {
                break;
            }
            *cut += 1;
        }
    }
    let [top, bottom, left, right] = cut;
    Rect {
        x: left,
        y: top,
        w: w - left - right,
        h: h - top - bottom,
    }
}

/// One row or column of a frame's RGB bytes.
struct Line<'a> {
    raw: &'a [u8],
    first: usize,
    step: usize,
    len: usize,
}

impl Line<'_> {
    fn pixels(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.len).map(move |j| {
            let at = self.first + j * self.step;
            &self.raw[at..at + 3]
        })
    }

    /// Mean colour and spread (mean over the pixels of the largest channel deviation).
    fn stats(&self) -> ([u32; 3], u32) {
        let mut sum = [0u64; 3];
        for p in self.pixels() {
            for c in 0..3 {
                sum[c] += u64::from(p[c]);
            }
        }
        let n = self.len.max(1) as u64;
        let mean = sum.map(|s| (s / n) as u32);
        let spread: u64 = self
            .pixels()
            .map(|p| {
                (0..3)
                    .map(|c| u64::from(u32::from(p[c]).abs_diff(mean[c])))
                    .max()
                    .unwrap_or(0)
            })
            .sum();
        (mean, (spread / n) as u32)
    }
}

/// The source pixels `[a, b)` of grid cell `cell` along a side of `n` pixels from `offset`:
/// disjoint and covering when `n >= GRID`, the nearest pixel when smaller.
fn span(cell: usize, n: u32, offset: u32) -> (u32, u32) {
    let n = n as usize;
    let a = cell * n / GRID;
    let b = ((cell + 1) * n / GRID).max(a + 1);
    (a as u32 + offset, b as u32 + offset)
}

/// Box averages of `rect` in a GRID×GRID grid, row by row.
pub(super) fn box_grid(image: &RgbImage, rect: Rect) -> Vec<[u8; 3]> {
    if (rect.w as usize) < GRID || (rect.h as usize) < GRID {
        return small_grid(image, rect);
    }
    // Every pixel is in one cell: sum each source row into its band's cells in one pass over
    // the raw bytes (a frame holds up to 2 million pixels).
    let columns: Vec<(usize, usize)> = (0..GRID)
        .map(|cell| {
            let (a, b) = span(cell, rect.w, rect.x);
            (a as usize * 3, b as usize * 3)
        })
        .collect();
    let stride = image.width() as usize * 3;
    let raw = image.as_raw();
    let mut grid = Vec::with_capacity(GRID * GRID);
    for band in 0..GRID {
        let (y0, y1) = span(band, rect.h, rect.y);
        let mut sums = [[0u32; 3]; GRID];
        for y in y0..y1 {
            let row = &raw[y as usize * stride..(y as usize + 1) * stride];
            for (sum, &(a, b)) in sums.iter_mut().zip(&columns) {
                let (mut r, mut g, mut bl) = (0u32, 0u32, 0u32);
                for px in row[a..b].chunks_exact(3) {
                    r += u32::from(px[0]);
                    g += u32::from(px[1]);
                    bl += u32::from(px[2]);
                }
                sum[0] += r;
                sum[1] += g;
                sum[2] += bl;
            }
        }
        for (sum, &(a, b)) in sums.iter().zip(&columns) {
            let n = ((b - a) / 3) as u32 * (y1 - y0);
            grid.push(sum.map(|s| (s / n) as u8));
        }
    }
    grid
}

/// [`box_grid`] for a rectangle narrower or lower than the grid: cell by cell.
pub(super) fn small_grid(image: &RgbImage, rect: Rect) -> Vec<[u8; 3]> {
    let mut grid = Vec::with_capacity(GRID * GRID);
    for cy in 0..GRID {
        let (y0, y1) = span(cy, rect.h, rect.y);
        for cx in 0..GRID {
            let (x0, x1) = span(cx, rect.w, rect.x);
            let mut sum = [0u32; 3];
            for y in y0..y1 {
                for x in x0..x1 {
                    let p = image.get_pixel(x, y).0;
                    for c in 0..3 {
                        sum[c] += u32::from(p[c]);
                    }
                }
            }
            let n = (x1 - x0) * (y1 - y0);
            grid.push(sum.map(|s| (s / n) as u8));
        }
    }
    grid
}

/// Mean colours of the 4×4 blocks of the grid, as 48 bytes (RGB per block, row by row).
fn tone(grid: &[[u8; 3]]) -> [u8; 48] {
    let block = GRID / 4;
    let mut sums = [[0u32; 3]; 16];
    for (i, p) in grid.iter().enumerate() {
        let (x, y) = (i % GRID, i / GRID);
        let cell = &mut sums[(y / block) * 4 + x / block];
        for c in 0..3 {
            cell[c] += u32::from(p[c]);
        }
    }
    let n = (block * block) as u32;
    let mut out = [0u8; 48];
    for (i, s) in sums.iter().enumerate() {
        for c in 0..3 {
            out[i * 3 + c] = (s[c] / n) as u8;
        }
    }
    out
}

/// Standard deviation of the luma at the DCT hash's 32×32 scale (2×2 means of the grid).
fn plain_std(luma: &GrayImage) -> f32 {
    let half = GRID as u32 / 2;
    let mut values = Vec::with_capacity((half * half) as usize);
    for y in 0..half {
        for x in 0..half {
            let sum: u32 = [(0, 0), (1, 0), (0, 1), (1, 1)]
                .iter()
                .map(|(dx, dy)| u32::from(luma.get_pixel(2 * x + dx, 2 * y + dy)[0]))
                .sum();
            values.push(sum as f32 / 4.0);
        }
    }
    let n = values.len() as f32;
    let mean = values.iter().sum::<f32>() / n;
    (values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n).sqrt()
}

/// Mean luma difference between neighbouring pixels of `rect` (right and below).
fn detail(image: &RgbImage, rect: Rect) -> f32 {
    let l = |x: u32, y: u32| {
        let [r, g, b] = image.get_pixel(x, y).0;
        i32::from(luma(r, g, b))
    };
    let mut sum = 0u64;
    let mut n = 0u64;
    for y in rect.y..rect.y + rect.h {
        for x in rect.x..rect.x + rect.w {
            let here = l(x, y);
            if x + 1 < rect.x + rect.w {
                sum += u64::from(here.abs_diff(l(x + 1, y)));
                n += 1;
            }
            if y + 1 < rect.y + rect.h {
                sum += u64::from(here.abs_diff(l(x, y + 1)));
                n += 1;
            }
        }
    }
    sum as f32 / n.max(1) as f32
}
