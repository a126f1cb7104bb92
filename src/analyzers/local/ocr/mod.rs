//! Local OCR: PaddleOCR's PP-OCRv6 small detector and recognizer (the ONNX files the
//! `rapidocr` wheel ships) run through ONNX Runtime, with the pre- and post-processing of
//! rapidocr 3.10 (defaults: DB detector at short side 736, recognizer at height 48, no
//! direction classifier) rewritten without OpenCV.
//!
//! [`Ocr::read`] finds the text boxes (`det`), straightens each into an upright crop and
//! reads it (`rec`). The work is bounded whatever the image holds: the detector's input is at
//! most 2000 px on its long side, at most [`MAX_LINES`] boxes are read, each at most 1920
//! input columns wide (`rec::MAX_WIDTH`), [`MAX_COLUMNS`] in all. The recognizer reads each
//! line on its own (rapidocr batches six, padded to the widest, which can change a
//! borderline line's reading); no direction classifier (rapidocr's flips upright lines).

mod det;
mod geom;
mod rec;
mod sample;
#[cfg(test)]
mod tests;

use std::path::Path;

use image::RgbImage;

use super::model::{MemoryOptions, Model};

/// Corners of a text box, clockwise from top-left, in the input image's pixels.
pub type Quad = [[f32; 2]; 4];

/// At most this many boxes are read per image: the largest ones (a hostile image full of
/// specks costs no more than a dense poster), reported in reading order.
pub const MAX_LINES: usize = 100;

/// Lines read with a lower mean character probability are dropped (rapidocr's `text_score`):
/// below it the "text" is mostly the recognizer guessing at texture.
pub const MIN_CONFIDENCE: f32 = 0.5;

/// The recognizer's alphabet, stored in its ONNX metadata (one character per line).
const DICT_KEY: &str = "character";

/// Boxes whose top edges are closer than this (px) are on one line (rapidocr's sort).
const SAME_LINE_PX: f32 = 10.0;

/// The recognizer's input columns one image may cost in all (about 6 s on one core): a
/// dense poster of 2000×1000 px needs a third of it; only an image made of long thin boxes
/// reaches it, and then its smallest boxes go unread.
pub const MAX_COLUMNS: usize = 64 * 1024;

/// The sessions' memory. Measured on a 2000×1000 image of 22 lines, peak RSS of the process
/// with both models loaded (≈ 95 MB before the first run): ONNX Runtime's default (arena and
/// memory pattern) peaks at ≈ 760 MB and keeps it, as the pattern plans anew for every
/// recognizer width; no arena peaks at ≈ 500–550 MB (glibc keeps the freed blocks,
/// fragmented) and detects 1.5–2× slower; the arena alone peaks at ≈ 470 MB and keeps it for
/// the next image. Shrinking the arena after each run hands ≈ 250 MB back between images but
/// raises the peak to ≈ 550 MB (the arena regrows on fragmented pages) and costs ≈ 15 % more
/// detection time; as the next object's decode is held while its own OCR runs, the lower
/// peak is what keeps a 1 GiB function alive.
const MEMORY: MemoryOptions = MemoryOptions {
    cpu_arena: true,
    memory_pattern: false,
    shrink_arena: false,
};

pub struct Ocr {
    det: Model,
    rec: Model,
    /// "blank" (CTC's class 0), the dictionary's characters, then the space.
    classes: Vec<Box<str>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OcrLine {
    pub text: String,
    /// 0..=1, mean of the kept characters' probabilities.
    pub confidence: f32,
    /// Corners of the text box (clockwise from top-left) in the input image's pixels.
    pub quad: Quad,
}

impl Ocr {
    /// Load both models (the runtime library from `runtime_lib`) and the dictionary.
    pub fn load(det: &Path, rec: &Path, runtime_lib: &Path) -> Result<Ocr, String> {
        let load = |path: &Path| {
            Model::load_with(path, runtime_lib, MEMORY)
                .map_err(|e| format!("loading {}: {e}", path.display()))
        };
        let (det, rec) = (load(det)?, load(rec)?);
        let dict = rec
            .metadata(DICT_KEY)?
            .ok_or_else(|| format!("the recognizer has no `{DICT_KEY}` metadata"))?;
        let classes = classes(&dict);
        Ok(Ocr { det, rec, classes })
    }

    /// Text boxes only (what an image without text costs), in reading order.
    pub fn detect(&self, image: &RgbImage) -> Result<Vec<Quad>, String> {
        let (w, h) = (image.width() as usize, image.height() as usize);
        if w == 0 || h == 0 {
            return Ok(Vec::new());
        }
        let started = std::time::Instant::now();
        let layout = det::Layout::new(w, h);
        let (mw, mh) = (layout.width, layout.height);
        let map = self
            .det
            .run_with(det::input(image, &layout), |shape, values| {
                // One probability map the size of the input: [1, 1, h, w].
                if shape != [1, 1, mh, mw] || values.len() != mw * mh {
                    return Err(format!(
                        "the detector returned shape {shape:?}, expected [1, 1, {mh}, {mw}]"
                    ));
                }
                Ok(values.to_vec())
            })?;
        let mut quads = det::boxes(&map, mw, mh, &layout);
        reading_order(&mut quads);
        tracing::debug!(
            input = %format!("{mw}x{mh}"),
            boxes = quads.len(),
            ms = started.elapsed().as_millis() as u64,
            "ocr detection"
        );
        Ok(quads)
    }

    /// Detect, then recognise each box; lines in reading order (top to bottom, then left to
    /// right); empty lines and lines below [`MIN_CONFIDENCE`] dropped, text trimmed. At most
    /// [`MAX_LINES`] boxes are read, the largest first, within [`MAX_COLUMNS`] of recognizer
    /// input. Blocking (callers use spawn_blocking).
    pub fn read(&self, image: &RgbImage) -> Result<Vec<OcrLine>, String> {
        let quads = chosen(self.detect(image)?, MAX_LINES, MAX_COLUMNS);
        let started = std::time::Instant::now();
        let mut lines = Vec::with_capacity(quads.len());
        for quad in &quads {
            let Some(crop) = rec::crop(image, quad) else {
                continue;
            };
            let (text, confidence) = self.recognise(&crop)?;
            let text = text.trim();
            if !text.is_empty() && confidence >= MIN_CONFIDENCE {
                lines.push(OcrLine {
                    text: text.to_string(),
                    confidence,
                    quad: *quad,
                });
            }
        }
        tracing::debug!(
            boxes = quads.len(),
            lines = lines.len(),
            ms = started.elapsed().as_millis() as u64,
            "ocr recognition"
        );
        Ok(lines)
    }

    /// Read one upright crop of a line.
    fn recognise(&self, crop: &RgbImage) -> Result<(String, f32), String> {
        let classes = &self.classes;
        self.rec.run_with(rec::input(crop), |shape, values| {
            // [1, timesteps, classes], already softmaxed.
            match shape {
                [1, steps, n] if *n == classes.len() && values.len() == steps * n => {
                    Ok(rec::decode(values, classes))
                }
                _ => Err(format!(
                    "the recognizer returned shape {shape:?}, expected [1, T, {}]",
                    classes.len()
                )),
            }
        })
    }
}

/// The classes of the recognizer's output from its dictionary text.
fn classes(dict: &str) -> Vec<Box<str>> {
    std::iter::once("blank")
        .chain(dict.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)))
        .chain(std::iter::once(" "))
        .map(Box::from)
        .collect()
}

/// Reading order as rapidocr sorts: by top-left y; boxes whose y is within
/// [`SAME_LINE_PX`] of the previous box's share a line; each line left to right.
fn reading_order(quads: &mut [Quad]) {
    quads.sort_by(|a, b| a[0][1].total_cmp(&b[0][1]));
    let mut line = 0usize;
    let mut keyed: Vec<(usize, Quad)> = Vec::with_capacity(quads.len());
    for (i, q) in quads.iter().enumerate() {
        if i > 0 && q[0][1] - quads[i - 1][0][1] >= SAME_LINE_PX {
            line += 1;
        }
        keyed.push((line, *q));
    }
    keyed.sort_by(|a, b| a.0.cmp(&b.0).then(a.1[0][0].total_cmp(&b.1[0][0])));
    for (slot, (_, q)) in quads.iter_mut().zip(keyed) {
        *slot = q;
    }
}

/// The boxes to read: the largest first, at most `max_lines` of them and `max_columns` of
/// recognizer input in all; returned in their original (reading) order.
fn chosen(quads: Vec<Quad>, max_lines: usize, max_columns: usize) -> Vec<Quad> {
    let f64s = |q: &Quad| q.map(|[x, y]| [f64::from(x), f64::from(y)]);
    let mut by_size: Vec<usize> = (0..quads.len()).collect();
    by_size.sort_by(|&a, &b| geom::area(&f64s(&quads[b])).total_cmp(&geom::area(&f64s(&quads[a]))));
    let mut keep = vec![false; quads.len()];
    let (mut lines, mut columns) = (0, 0);
    for i in by_size {
        let cost = rec::planned_width(&quads[i]);
        if lines == max_lines || columns + cost > max_columns {
            continue;
        }
        keep[i] = true;
        lines += 1;
        columns += cost;
    }
    quads
        .into_iter()
        .zip(keep)
        .filter_map(|(q, k)| k.then_some(q))
        .collect()
}
