//! Hostile images for tests/local_memory.rs and benches/local.rs, generated on the fly with bounded memory: big ones
//! are streamed to a writer row by row (or block by block) and never exist as pixels here.
//!
//! PNG and JPEG are written by hand: the png crate's encoder has no Adam7, and a run-aware zlib
//! writer turns a repeated row into a few bits per 258 bytes in O(row / 258) (a 20000×20000
//! picture is ~1.2 MB and takes well under a second even in a debug build). GIFs go through the
//! gif crate. Every generator is checked by decoding a small instance with the `image` crate.
#![allow(dead_code)]

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

// ------------------------------------------------- peak RSS of one child (for tests, bench) ---

/// argv: TIMEOUT COMMAND...; prints `peak_rss_kib=N` as stderr's last line, exits as the child
/// (124 on timeout, 128 + signal when killed). RUSAGE_CHILDREN after one `subprocess.run` is that
/// child's ru_maxrss; Linux folds in the pages it held between fork and exec, so the figure has a
/// floor of the wrapper's own RSS (~14 MiB), far below the budget.
pub const RSS_WRAPPER: &str = r#"
import resource, subprocess, sys
try:
    code = subprocess.run(sys.argv[2:], timeout=float(sys.argv[1])).returncode
except subprocess.TimeoutExpired:
    sys.stderr.write("\nimage-triage killed after %s s\n" % sys.argv[1])
    code = 124
sys.stderr.write("\npeak_rss_kib=%d\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(code if code >= 0 else 128 - code)
"#;

/// The real interpreter (a pyenv shim would need the HOME that the child does not get).
pub fn python() -> &'static Path {
    static PY: OnceLock<PathBuf> = OnceLock::new();
    PY.get_or_init(|| {
        let out = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("python3 is needed to measure the child's peak RSS (getrusage)");
        assert!(out.status.success(), "python3 failed: {out:?}");
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    })
}

/// The figure [`RSS_WRAPPER`] printed as stderr's last line.
pub fn peak_rss_kib(stderr: &str) -> Option<u64> {
    stderr
        .lines()
        .last()
        .and_then(|l| l.strip_prefix("peak_rss_kib="))
        .and_then(|n| n.parse().ok())
}

// ---------------------------------------------------------------- zlib (one dynamic block) ---

const ADLER: u64 = 65521;

/// zlib with one dynamic-Huffman block whose code is fixed in advance: length 258 (symbol 285)
/// and distance 1 cost one bit each, every other literal/length 9 or 10 bits. Runs of one byte
/// value become distance-1 matches; anything else goes out as literals.
pub struct Zlib {
    pub out: Vec<u8>,
    acc: u64,
    nbits: u32,
    lit: Vec<(u32, u32)>,
    last: Option<u8>,
    a: u64,
    b: u64,
}

const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEN_EXTRA: [u32; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];

/// RFC 1951 canonical codes, bit-reversed for LSB-first output: (code, length).
fn deflate_codes(lengths: &[u32]) -> Vec<(u32, u32)> {
    let mut count = [0u32; 16];
    lengths
        .iter()
        .filter(|&&l| l > 0)
        .for_each(|&l| count[l as usize] += 1);
    let mut next = [0u32; 16];
    let mut code = 0;
    for bits in 1..16 {
        code = (code + count[bits - 1]) << 1;
        next[bits] = code;
    }
    lengths
        .iter()
        .map(|&l| {
            if l == 0 {
                return (0, 0);
            }
            let c = next[l as usize];
            next[l as usize] += 1;
            ((0..l).fold(0, |r, i| (r << 1) | ((c >> i) & 1)), l)
        })
        .collect()
}

impl Zlib {
    pub fn new() -> Zlib {
        // Literal/length lengths: 0..=226 → 9, 227..=284 → 10, 285 → 1 (a complete code).
        let lit_len: Vec<u32> = (0..286)
            .map(|s| match s {
                0..=226 => 9,
                285 => 1,
                _ => 10,
            })
            .collect();
        let mut z = Zlib {
            out: vec![0x78, 0x01],
            acc: 0,
            nbits: 0,
            lit: deflate_codes(&lit_len),
            last: None,
            a: 1,
            b: 0,
        };
        z.put(1, 1); // BFINAL
        z.put(2, 2); // dynamic Huffman
        z.put(286 - 257, 5);
        z.put(2 - 1, 5); // two distance codes (1 bit each), only code 0 (distance 1) is used
        z.put(18 - 4, 4);
        // Code-length code, in the RFC's order 16,17,18,0,8,7,9,6,10,5,11,4,12,3,13,2,14,1:
        // symbol 1 → "0", 9 → "10", 10 → "11".
        let order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1];
        for sym in order {
            z.put(
                match sym {
                    1 => 1,
                    9 | 10 => 2,
                    _ => 0,
                },
                3,
            );
        }
        let cl = |len: u32| match len {
            1 => (0b0, 1),
            9 => (0b01, 2), // "10" reversed
            _ => (0b11, 2),
        };
        for &l in lit_len.iter().chain(&[1, 1]) {
            let (c, n) = cl(l);
            z.put(c, n);
        }
        z
    }

    fn put(&mut self, bits: u32, n: u32) {
        self.acc |= (bits as u64) << self.nbits;
        self.nbits += n;
        while self.nbits >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.nbits -= 8;
        }
    }

    fn sym(&mut self, s: usize) {
        let (c, n) = self.lit[s];
        self.put(c, n);
    }

    fn emit_literal(&mut self, v: u8) {
        self.sym(v as usize);
        self.last = Some(v);
    }

    fn emit_match(&mut self, len: u64) {
        let i = if len == 258 {
            28
        } else {
            LEN_BASE
                .iter()
                .rposition(|&b| b as u64 <= len)
                .unwrap()
                .min(27)
        };
        self.sym(257 + i);
        self.put((len - LEN_BASE[i] as u64) as u32, LEN_EXTRA[i]);
        self.put(0, 1); // distance code 0: distance 1
    }

    pub fn literal(&mut self, v: u8) {
        self.a = (self.a + v as u64) % ADLER;
        self.b = (self.b + self.a) % ADLER;
        self.emit_literal(v);
    }

    /// `n` copies of `v`, in O(n / 258).
    pub fn run(&mut self, v: u8, n: u64) {
        if n == 0 {
            return;
        }
        let tri = ((n as u128 * (n as u128 + 1) / 2) % ADLER as u128) as u64;
        self.b = (self.b + (n % ADLER) * self.a + v as u64 * tri) % ADLER;
        self.a = (self.a + (n % ADLER) * v as u64) % ADLER;
        let mut rem = n;
        if self.last != Some(v) {
            self.emit_literal(v);
            rem -= 1;
        }
        while rem >= 3 {
            let l = rem.min(258);
            self.emit_match(l);
            rem -= l;
        }
        for _ in 0..rem {
            self.emit_literal(v);
        }
    }

    pub fn bytes(&mut self, data: &[u8]) {
        let mut i = 0;
        while i < data.len() {
            let v = data[i];
            let n = data[i..].iter().take_while(|&&b| b == v).count();
            if n >= 4 {
                self.run(v, n as u64);
            } else {
                data[i..i + n].iter().for_each(|&b| self.literal(b));
            }
            i += n;
        }
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.sym(256);
        if self.nbits > 0 {
            self.put(0, 8 - self.nbits);
        }
        let adler = ((self.b << 16) | self.a) as u32;
        self.out.extend_from_slice(&adler.to_be_bytes());
        self.out
    }
}

// --------------------------------------------------------------------------------- PNG ---

const fn crc_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[n] = c;
        n += 1;
    }
    t
}
static CRC: [u32; 256] = crc_table();

fn chunk(out: &mut impl Write, kind: &[u8; 4], data: &[u8]) -> io::Result<()> {
    let crc = kind.iter().chain(data).fold(!0u32, |c, &b| {
        CRC[((c ^ b as u32) & 0xFF) as usize] ^ (c >> 8)
    });
    out.write_all(&(data.len() as u32).to_be_bytes())?;
    out.write_all(kind)?;
    out.write_all(data)?;
    out.write_all(&(!crc).to_be_bytes())
}

#[derive(Clone, Copy, Debug)]
pub struct PngSpec {
    pub width: u32,
    pub height: u32,
    /// 3 (RGB) or 4 (RGBA).
    pub channels: u32,
    pub sixteen_bit: bool,
    pub interlaced: bool,
}

/// The test picture: 16 horizontal bands × 12 vertical stripes of flat colour, so a row is the
/// same as the one above except at band edges. RGBA in 16-bit (8-bit values × 257).
pub fn band_of(spec: &PngSpec, y: u32) -> u64 {
    y as u64 * 16 / spec.height as u64
}

pub fn band_colour(band: u64, stripe: u64) -> [u16; 4] {
    let c = |v: u64| (v % 256) as u16 * 257;
    [
        c(40 + 13 * band + 7 * stripe),
        c(90 + 9 * band),
        c(160 + 11 * stripe),
        65535,
    ]
}

pub fn pixel(spec: &PngSpec, x: u32, y: u32) -> [u16; 4] {
    band_colour(band_of(spec, y), x as u64 * 12 / spec.width as u64)
}

/// Write the banded picture as a PNG, one row at a time (Adam7 passes when `interlaced`).
pub fn write_png(mut out: impl Write, spec: PngSpec) -> io::Result<()> {
    let (w, h) = (spec.width, spec.height);
    let bpp = spec.channels as usize * if spec.sixteen_bit { 2 } else { 1 };
    out.write_all(b"\x89PNG\r\n\x1a\n")?;
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.push(if spec.sixteen_bit { 16 } else { 8 });
    ihdr.push(if spec.channels == 4 { 6 } else { 2 });
    ihdr.extend_from_slice(&[0, 0, spec.interlaced as u8]);
    chunk(&mut out, b"IHDR", &ihdr)?;

    let passes: &[(u32, u32, u32, u32)] = if spec.interlaced {
        &[
            (0, 0, 8, 8),
            (4, 0, 8, 8),
            (0, 4, 4, 8),
            (2, 0, 4, 4),
            (0, 2, 2, 4),
            (1, 0, 2, 2),
            (0, 1, 1, 2),
        ]
    } else {
        &[(0, 0, 1, 1)]
    };
    let mut z = Zlib::new();
    let mut full = vec![0u8; w as usize * bpp];
    let mut filled: Option<u64> = None;
    let mut row = Vec::new();
    let mut filtered = Vec::new();
    for &(x0, y0, dx, dy) in passes {
        let (pw, ph) = (
            w.saturating_sub(x0).div_ceil(dx),
            h.saturating_sub(y0).div_ceil(dy),
        );
        if pw == 0 || ph == 0 {
            continue;
        }
        let mut prev: Option<u64> = None;
        for r in 0..ph {
            let band = band_of(&spec, y0 + r * dy);
            if prev == Some(band) {
                z.literal(2); // Up: identical to the row above, all zeros
                z.run(0, pw as u64 * bpp as u64);
            } else {
                if filled != Some(band) {
                    fill_row(&spec, band, &mut full);
                    filled = Some(band);
                }
                row.clear();
                for x in 0..pw as usize {
                    let at = (x0 as usize + x * dx as usize) * bpp;
                    row.extend_from_slice(&full[at..at + bpp]);
                }
                filtered.clear();
                filtered.extend(
                    (0..row.len())
                        .map(|i| row[i].wrapping_sub(if i >= bpp { row[i - bpp] } else { 0 })),
                );
                z.literal(1); // Sub
                z.bytes(&filtered);
            }
            prev = Some(band);
            if z.out.len() >= 1 << 18 {
                chunk(&mut out, b"IDAT", &z.out)?;
                z.out.clear();
            }
        }
    }
    chunk(&mut out, b"IDAT", &z.finish())?;
    chunk(&mut out, b"IEND", &[])?;
    out.flush()
}

fn fill_row(spec: &PngSpec, band: u64, row: &mut [u8]) {
    let bpp = row.len() / spec.width as usize;
    for (x, px) in row.chunks_exact_mut(bpp).enumerate() {
        let c = band_colour(band, x as u64 * 12 / spec.width as u64);
        for ch in 0..spec.channels as usize {
            if spec.sixteen_bit {
                px[2 * ch..2 * ch + 2].copy_from_slice(&c[ch].to_be_bytes());
            } else {
                px[ch] = (c[ch] >> 8) as u8;
            }
        }
    }
}

// -------------------------------------------------------------------------------- JPEG ---

/// A hand-made JPEG whose blocks carry only a DC coefficient (quantiser 8, so a block's samples
/// are 128 + dc). One DC table and one AC table serve every component: DC category 0 and EOB
/// are 1-bit codes, so a flat block costs 2 bits.
pub struct JpegSpec {
    pub width: u32,
    pub height: u32,
    /// (h, v) sampling factors per component.
    pub sampling: Vec<(u32, u32)>,
    pub progressive: bool,
    /// Adobe APP14 with transform 0 (CMYK as stored), instead of JFIF.
    pub adobe: bool,
}

struct JpegBits<W: Write> {
    out: W,
    acc: u32,
    n: u32,
}

impl<W: Write> JpegBits<W> {
    fn put(&mut self, bits: u32, n: u32) -> io::Result<()> {
        for i in (0..n).rev() {
            self.acc = (self.acc << 1) | ((bits >> i) & 1);
            self.n += 1;
            if self.n == 8 {
                let byte = self.acc as u8;
                let stuffed = [byte, 0]; // a 0xFF in entropy-coded data is followed by 0x00
                self.out
                    .write_all(&stuffed[..1 + (byte == 0xFF) as usize])?;
                self.acc = 0;
                self.n = 0;
            }
        }
        Ok(())
    }
    fn flush(&mut self) -> io::Result<()> {
        if self.n > 0 {
            self.put(0xFF, 8 - self.n)?;
        }
        Ok(())
    }
}

// DC: category 0 → "0", categories 1..=11 → 5 bits from 10000. AC: EOB → "0", EOBRUN symbols
// 0x10..=0xE0 → 5 bits from 10000.
fn dc_code(cat: u32) -> (u32, u32) {
    if cat == 0 {
        (0, 1)
    } else {
        (0b10000 + cat - 1, 5)
    }
}
fn ac_code(sym: u32) -> (u32, u32) {
    if sym == 0 {
        (0, 1)
    } else {
        (0b10000 + (sym >> 4) - 1, 5)
    }
}

fn segment(out: &mut dyn Write, marker: u8, body: &[u8]) -> io::Result<()> {
    out.write_all(&[0xFF, marker])?;
    out.write_all(&(body.len() as u16 + 2).to_be_bytes())?;
    out.write_all(body)
}

/// Write the JPEG; `dc(component, block_x, block_y)` gives each block's DC coefficient.
pub fn write_jpeg(
    mut out: impl Write,
    spec: &JpegSpec,
    dc: impl Fn(usize, u32, u32) -> i32,
) -> io::Result<()> {
    let (hmax, vmax) = spec
        .sampling
        .iter()
        .fold((1, 1), |(h, v), &(a, b)| (h.max(a), v.max(b)));
    out.write_all(&[0xFF, 0xD8])?;
    if spec.adobe {
        segment(&mut out, 0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x00")?;
    } else {
        segment(
            &mut out,
            0xE0,
            b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00",
        )?;
    }
    let mut dqt = vec![0u8];
    dqt.extend_from_slice(&[8; 64]);
    segment(&mut out, 0xDB, &dqt)?;
    let mut sof = vec![8];
    sof.extend_from_slice(&(spec.height as u16).to_be_bytes());
    sof.extend_from_slice(&(spec.width as u16).to_be_bytes());
    sof.push(spec.sampling.len() as u8);
    for (i, &(h, v)) in spec.sampling.iter().enumerate() {
        sof.extend_from_slice(&[i as u8 + 1, (h << 4 | v) as u8, 0]);
    }
    segment(&mut out, if spec.progressive { 0xC2 } else { 0xC0 }, &sof)?;
    let mut dht = vec![0x00, 1, 0, 0, 0, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    dht.extend(0..=11u8);
    dht.extend_from_slice(&[0x10, 1, 0, 0, 0, 14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    dht.extend((0..=14u8).map(|r| r << 4));
    segment(&mut out, 0xC4, &dht)?;

    let sos = |out: &mut dyn Write, comps: &[usize], ss: u8, se: u8| -> io::Result<()> {
        let mut b = vec![comps.len() as u8];
        comps
            .iter()
            .for_each(|&c| b.extend_from_slice(&[c as u8 + 1, 0x00]));
        b.extend_from_slice(&[ss, se, 0]);
        segment(out, 0xDA, &b)
    };
    let all: Vec<usize> = (0..spec.sampling.len()).collect();
    sos(&mut out, &all, 0, if spec.progressive { 0 } else { 63 })?;
    let mut bits = JpegBits {
        out: &mut out,
        acc: 0,
        n: 0,
    };
    let mut pred = vec![0i32; all.len()];
    let mut block = |bits: &mut JpegBits<_>, c: usize, bx: u32, by: u32| -> io::Result<()> {
        let v = dc(c, bx, by);
        let diff = v - pred[c];
        pred[c] = v;
        let cat = 32 - diff.unsigned_abs().leading_zeros();
        let (code, n) = dc_code(cat);
        bits.put(code, n)?;
        bits.put(
            (if diff < 0 { diff - 1 } else { diff }) as u32 & ((1 << cat) - 1),
            cat,
        )?;
        if !spec.progressive {
            bits.put(ac_code(0).0, 1)?; // EOB
        }
        Ok(())
    };
    let comp_blocks = |c: usize| {
        let (h, v) = spec.sampling[c];
        (
            (spec.width * h).div_ceil(hmax).div_ceil(8),
            (spec.height * v).div_ceil(vmax).div_ceil(8),
        )
    };
    if all.len() == 1 {
        let (bw, bh) = comp_blocks(0);
        for by in 0..bh {
            for bx in 0..bw {
                block(&mut bits, 0, bx, by)?;
            }
        }
    } else {
        let (mw, mh) = (
            spec.width.div_ceil(8 * hmax),
            spec.height.div_ceil(8 * vmax),
        );
        for my in 0..mh {
            for mx in 0..mw {
                for (c, &(h, v)) in spec.sampling.iter().enumerate() {
                    for j in 0..v {
                        for i in 0..h {
                            block(&mut bits, c, mx * h + i, my * v + j)?;
                        }
                    }
                }
            }
        }
    }
    bits.flush()?;
    if spec.progressive {
        // One AC scan per component: every block is in one long EOB run.
        for c in all {
            sos(&mut out, &[c], 1, 63)?;
            let (bw, bh) = comp_blocks(c);
            let mut left = bw * bh;
            let mut bits = JpegBits {
                out: &mut out,
                acc: 0,
                n: 0,
            };
            while left > 0 {
                let run = left.min(0x7FFF);
                let r = 31 - run.leading_zeros();
                let (code, n) = ac_code(r << 4);
                bits.put(code, n)?;
                bits.put(run - (1 << r), r)?;
                left -= run;
            }
            bits.flush()?;
        }
    }
    out.write_all(&[0xFF, 0xD9])?;
    out.flush()
}

/// Luma (component 0) is an 8×8 checkerboard of ±40 around mid-grey; the other components use
/// `flat[c]`.
pub fn checker_dc(spec: &JpegSpec, flat: &'static [i32]) -> impl Fn(usize, u32, u32) -> i32 {
    let (hmax, vmax) = spec
        .sampling
        .iter()
        .fold((1, 1), |(h, v), &(a, b)| (h.max(a), v.max(b)));
    let (bw, bh) = (
        spec.width.div_ceil(8 * hmax) * hmax,
        spec.height.div_ceil(8 * vmax) * vmax,
    );
    move |c, bx, by| {
        if c == 0 {
            if (bx * 8 / bw + by * 8 / bh) % 2 == 0 {
                40
            } else {
                -40
            }
        } else {
            flat[c]
        }
    }
}

pub fn ycbcr_420(width: u32, height: u32, progressive: bool) -> JpegSpec {
    JpegSpec {
        width,
        height,
        sampling: vec![(2, 2), (1, 1), (1, 1)],
        progressive,
        adobe: false,
    }
}

pub fn cmyk(width: u32, height: u32) -> JpegSpec {
    JpegSpec {
        width,
        height,
        sampling: vec![(1, 1); 4],
        progressive: false,
        adobe: true,
    }
}

pub const YCBCR_FLAT: &[i32] = &[0, 0, 0];
pub const CMYK_FLAT: &[i32] = &[0, -60, 30, 100];

// --------------------------------------------------------------------------------- GIF ---

const PALETTE: [u8; 24] = [
    255, 255, 255, 0, 0, 0, 220, 40, 40, 40, 180, 60, 40, 70, 220, 240, 210, 40, 40, 200, 210, 200,
    60, 200,
];

/// `frames` frames on a `side`×`side` canvas: a white first frame, then 16×16 patches that
/// wander over it (each frame keeps what came before).
pub fn many_frames_gif(out: impl Write, side: u16, frames: u32) -> io::Result<()> {
    let mut enc = gif::Encoder::new(out, side, side, &PALETTE).map_err(io::Error::other)?;
    enc.set_repeat(gif::Repeat::Infinite)
        .map_err(io::Error::other)?;
    let white = vec![0u8; side as usize * side as usize];
    let first = gif::Frame {
        width: side,
        height: side,
        buffer: white.into(),
        delay: 2,
        ..Default::default()
    };
    enc.write_frame(&first).map_err(io::Error::other)?;
    let span = (side - 16) as u32;
    for i in 1..frames {
        let patch: Vec<u8> = (0..256)
            .map(|p| ((i + p / 16 + p % 16) % 7 + 1) as u8)
            .collect();
        let f = gif::Frame {
            left: (i * 37 % span) as u16,
            top: (i * 53 % span) as u16,
            width: 16,
            height: 16,
            buffer: patch.into(),
            delay: 2,
            ..Default::default()
        };
        enc.write_frame(&f).map_err(io::Error::other)?;
    }
    enc.into_inner().map_err(io::Error::other)?.flush()
}

/// Palette index of pixel (x, y) in frame `i` of [`thirteen_frames_gif`]: frame 0 all white,
/// frame 10 a black/white 8×8 checkerboard, the others a bar of colour growing with `i`.
pub fn thirteen_frames_index(i: u32, x: u32, y: u32) -> u8 {
    match i {
        0 => 0,
        10 => ((x / 8 + y / 8) % 2) as u8,
        _ if x < i * 5 => (i % 6 + 2) as u8,
        _ => 0,
    }
}

pub fn thirteen_frames_gif() -> Vec<u8> {
    let mut enc = gif::Encoder::new(Vec::new(), 64, 64, &PALETTE).unwrap();
    enc.set_repeat(gif::Repeat::Infinite).unwrap();
    for i in 0..13 {
        let buf: Vec<u8> = (0..64 * 64)
            .map(|p| thirteen_frames_index(i, p % 64, p / 64))
            .collect();
        let f = gif::Frame {
            width: 64,
            height: 64,
            buffer: buf.into(),
            delay: 10,
            ..Default::default()
        };
        enc.write_frame(&f).unwrap();
    }
    enc.into_inner().unwrap()
}

// ------------------------------------------------------------- small fixtures by magic ---

pub fn svg() -> Vec<u8> {
    br##"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">
  <rect width="64" height="64" fill="#3c8"/><circle cx="32" cy="32" r="20" fill="#fff"/>
</svg>
"##
    .to_vec()
}

/// An ICO holding one 32×32 PNG (the Vista form).
pub fn ico() -> Vec<u8> {
    let img = image::RgbaImage::from_fn(32, 32, |x, y| {
        image::Rgba([(x * 8) as u8, (y * 8) as u8, 128, 255])
    });
    let mut png = io::Cursor::new(Vec::new());
    img.write_to(&mut png, image::ImageFormat::Png).unwrap();
    let png = png.into_inner();
    let mut v = vec![0, 0, 1, 0, 1, 0]; // reserved, type 1 (icon), 1 image
    v.extend_from_slice(&[32, 32, 0, 0, 1, 0, 32, 0]);
    v.extend_from_slice(&(png.len() as u32).to_le_bytes());
    v.extend_from_slice(&22u32.to_le_bytes());
    v.extend_from_slice(&png);
    v
}

fn bmff_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    v.extend_from_slice(kind);
    v.extend_from_slice(body);
    v
}

fn full_box(kind: &[u8; 4], version: u8, body: &[u8]) -> Vec<u8> {
    bmff_box(kind, &[&[version, 0, 0, 0][..], body].concat())
}

/// A HEIF-family file (AVIF or HEIC by brands): `ftyp`, a `meta` with one item and its `ispe`
/// (64×64), and an `mdat` of junk. Readable for its size, not decodable.
fn heif(brands: &[&[u8; 4]], item_type: &[u8; 4]) -> Vec<u8> {
    let mut ftyp = brands[0].to_vec();
    ftyp.extend_from_slice(&[0; 4]);
    brands[1..].iter().for_each(|b| ftyp.extend_from_slice(*b));
    let hdlr = full_box(b"hdlr", 0, &[&[0; 4][..], b"pict", &[0; 13]].concat());
    let pitm = full_box(b"pitm", 0, &[0, 1]);
    let infe = full_box(b"infe", 2, &[&[0, 1, 0, 0][..], item_type, b"\0"].concat());
    let iinf = full_box(b"iinf", 0, &[&[0, 1][..], &infe].concat());
    let ispe = full_box(
        b"ispe",
        0,
        &[64u32.to_be_bytes(), 64u32.to_be_bytes()].concat(),
    );
    let ipma = full_box(b"ipma", 0, &[0, 0, 0, 1, 0, 1, 1, 0x81]);
    let iprp = bmff_box(b"iprp", &[bmff_box(b"ipco", &ispe), ipma].concat());
    let meta = full_box(b"meta", 0, &[hdlr, pitm, iinf, iprp].concat());
    [
        bmff_box(b"ftyp", &ftyp),
        meta,
        bmff_box(b"mdat", &[0x12, 0, 0x0a, 0x0b, 0, 0, 0, 0x42]),
    ]
    .concat()
}

pub fn avif() -> Vec<u8> {
    heif(&[b"avif", b"avif", b"mif1", b"miaf"], b"av01")
}

pub fn heic() -> Vec<u8> {
    heif(&[b"heic", b"mif1", b"heic"], b"hvc1")
}

/// JPEG XL codestream: FF 0A, then SizeHeader small=1, height (7+1)·8 = 64, ratio 1:1, and
/// all-default ImageMetadata.
pub fn jxl_codestream() -> Vec<u8> {
    let mut v = vec![0xFF, 0x0A, 0x4F, 0x02];
    v.extend_from_slice(&[0; 28]);
    v
}

/// The same codestream in the ISO-BMFF container.
pub fn jxl_container() -> Vec<u8> {
    let mut v = b"\0\0\0\x0cJXL \r\n\x87\n".to_vec();
    v.extend(bmff_box(b"ftyp", b"jxl \0\0\0\0jxl "));
    v.extend(bmff_box(b"jxlc", &jxl_codestream()));
    v
}

/// A complete 64×64 RGB Photoshop file with raw (uncompressed) planar data.
pub fn psd() -> Vec<u8> {
    let mut v = b"8BPS\0\x01\0\0\0\0\0\0\0\x03".to_vec();
    v.extend_from_slice(&64u32.to_be_bytes()); // height
    v.extend_from_slice(&64u32.to_be_bytes()); // width
    v.extend_from_slice(&[0, 8, 0, 3]); // depth 8, RGB
    v.extend_from_slice(&[0; 12]); // colour mode data, image resources, layers: all empty
    v.extend_from_slice(&[0, 0]); // raw image data
    for plane in [200u8, 120, 40] {
        v.extend(std::iter::repeat_n(plane, 64 * 64));
    }
    v
}

pub fn text() -> Vec<u8> {
    b"meeting notes, not a photo\n- budget\n- hiring\n".to_vec()
}

pub fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n\
2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
        .to_vec()
}
