//! Preflight: learn what the object really is from its first bytes, before any analyzer runs.
//!
//! Only a ranged read of [`HEADER_BYTES`] is needed: the format comes from magic bytes (never
//! the extension or Content-Type) and the size from the header, without decoding the image.

pub mod limits;

use serde::{Deserialize, Serialize};

pub use limits::{check, LimitViolation, Limits};

/// How much of the object preflight reads.
pub const HEADER_BYTES: u64 = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    Jpeg,
    Png,
    Gif,
    Bmp,
    Webp,
    Tiff,
    Heic,
    Avif,
    /// ICO and CUR (Windows icons and cursors).
    Ico,
    Svg,
    /// JPEG XL.
    Jxl,
    /// Photoshop (PSD, PSB).
    Psd,
}

impl ImageFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "jpeg",
            ImageFormat::Png => "png",
            ImageFormat::Gif => "gif",
            ImageFormat::Bmp => "bmp",
            ImageFormat::Webp => "webp",
            ImageFormat::Tiff => "tiff",
            ImageFormat::Heic => "heic",
            ImageFormat::Avif => "avif",
            ImageFormat::Ico => "ico",
            ImageFormat::Svg => "svg",
            ImageFormat::Jxl => "jxl",
            ImageFormat::Psd => "psd",
        }
    }

    /// Formats that browsers or apps display beyond the common six: an analyzer that cannot
    /// read one declines it with `unreadable_format` (fail-closed: the object gets the
    /// `TRIAGE_ON_ERROR` verdict) instead of calling it not an image.
    pub fn displayed_elsewhere(self) -> bool {
        matches!(
            self,
            ImageFormat::Heic
                | ImageFormat::Avif
                | ImageFormat::Ico
                | ImageFormat::Svg
                | ImageFormat::Jxl
                | ImageFormat::Psd
        )
    }
}

/// What preflight learned about the object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageFacts {
    pub format: ImageFormat,
    /// `None` when the header lies beyond the bytes read (possible for JPEGs with large EXIF).
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Object size in bytes.
    pub bytes: u64,
}

impl ImageFacts {
    /// Base64 grows 3 bytes to 4, padded.
    pub fn base64_bytes(&self) -> u64 {
        self.bytes.div_ceil(3) * 4
    }
}

/// Why an object cannot be triaged at all (as opposed to one analyzer skipping it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAnImage {
    #[error("empty object (0 bytes)")]
    Empty,
    #[error("not an image: the content starts with {magic} (JPEG, PNG, GIF, BMP, WEBP, TIFF, HEIC, AVIF, ICO, SVG, JPEG XL or PSD expected; the file name and Content-Type are not trusted)")]
    UnknownFormat { magic: String },
    #[error("truncated or corrupt {format} header: the image size could not be read from the whole {bytes}-byte object")]
    TruncatedHeader { format: &'static str, bytes: u64 },
}

impl NotAnImage {
    pub fn code(&self) -> &'static str {
        match self {
            NotAnImage::Empty => "empty_object",
            NotAnImage::UnknownFormat { .. } => "not_an_image",
            NotAnImage::TruncatedHeader { .. } => "truncated_header",
        }
    }
}

/// Identify the format from magic bytes.
pub fn sniff(head: &[u8]) -> Option<ImageFormat> {
    match head {
        [0xFF, 0xD8, 0xFF, ..] => Some(ImageFormat::Jpeg),
        [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Some(ImageFormat::Png),
        [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => Some(ImageFormat::Gif),
        [b'B', b'M', ..] if head.len() >= 26 => Some(ImageFormat::Bmp),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some(ImageFormat::Webp),
        [b'I', b'I', 0x2A, 0x00, ..] | [b'M', b'M', 0x00, 0x2A, ..] => Some(ImageFormat::Tiff),
        [_, _, _, _, b'f', b't', b'y', b'p', ..] => sniff_iso_bmff(head),
        [0xFF, 0x0A, ..] | [0, 0, 0, 0x0C, b'J', b'X', b'L', b' ', 0x0D, 0x0A, 0x87, 0x0A, ..] => {
            Some(ImageFormat::Jxl)
        }
        [b'8', b'B', b'P', b'S', 0, 1 | 2, ..] => Some(ImageFormat::Psd),
        // Reserved 0, type 1 (icon) or 2 (cursor), 1-255 images, first entry's reserved byte 0.
        [0, 0, 1 | 2, 0, 1..=255, 0, _, _, _, 0, ..] => Some(ImageFormat::Ico),
        _ if is_svg(head) => Some(ImageFormat::Svg),
        _ => None,
    }
}

/// An SVG document: optional BOM, XML declaration, comments and doctype (internal subset
/// included), then an `<svg` root, possibly prefixed (`<svg:svg`). Read over the whole head, so
/// a long comment cannot push the root out of sight.
fn is_svg(head: &[u8]) -> bool {
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let text = String::from_utf8_lossy(text);
    let mut rest = text.trim_start();
    loop {
        let root = rest.strip_prefix('<').map(|r| {
            let name: String = r
                .chars()
                .take_while(|c| c.is_alphanumeric() || matches!(c, ':' | '_' | '-' | '.'))
                .collect();
            name == "svg" || name.ends_with(":svg")
        });
        if root == Some(true) {
            return true;
        }
        let skip_to = if rest.starts_with("<?") {
            rest.find("?>").map(|i| i + 2)
        } else if rest.starts_with("<!--") {
            rest.find("-->").map(|i| i + 3)
        } else if rest.starts_with("<!") {
            // A doctype's internal subset ends with `]>`.
            match (rest.find('['), rest.find('>')) {
                (Some(open), Some(close)) if open < close => rest.find("]>").map(|i| i + 2),
                (_, close) => close.map(|i| i + 1),
            }
        } else {
            None
        };
        match skip_to {
            Some(i) => rest = rest[i..].trim_start(),
            None => return false,
        }
    }
}

/// HEIF and AVIF share the ISO-BMFF `ftyp` box; the brands tell them apart.
fn sniff_iso_bmff(head: &[u8]) -> Option<ImageFormat> {
    let box_len = u32::from_be_bytes(head.get(0..4)?.try_into().ok()?) as usize;
    let ftyp = head.get(8..box_len.min(head.len()).max(12))?;
    let brands: Vec<&[u8]> = std::iter::once(&ftyp[0..4])
        .chain(ftyp.get(8..).unwrap_or(&[]).chunks_exact(4))
        .collect();
    if brands.iter().any(|b| *b == b"avif" || *b == b"avis") {
        Some(ImageFormat::Avif)
    } else if brands.iter().any(|b| {
        matches!(
            *b,
            b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" | b"mif1" | b"msf1"
        )
    }) {
        Some(ImageFormat::Heic)
    } else {
        None
    }
}

/// Look at the first bytes of an object of `object_size` bytes and say what it is.
pub fn inspect_header(head: &[u8], object_size: u64) -> Result<ImageFacts, NotAnImage> {
    if object_size == 0 || head.is_empty() {
        return Err(NotAnImage::Empty);
    }
    let format = sniff(head).ok_or_else(|| NotAnImage::UnknownFormat {
        magic: describe_magic(head),
    })?;
    let (width, height) = match imagesize::blob_size(head) {
        Ok(size) if size.width > 0 && size.height > 0 => (
            u32::try_from(size.width).ok(),
            u32::try_from(size.height).ok(),
        ),
        // Nothing to decode here anyway: their size is not needed to give them the on-error
        // verdict, and SVG has none in binary form.
        _ if format.displayed_elsewhere() => (None, None),
        _ if (head.len() as u64) >= object_size => {
            // We saw the whole object and still found no size: it is broken, not just long.
            return Err(NotAnImage::TruncatedHeader {
                format: format.as_str(),
                bytes: object_size,
            });
        }
        _ => (None, None),
    };
    Ok(ImageFacts {
        format,
        width,
        height,
        bytes: object_size,
    })
}

/// A short, log-safe description of the first bytes: printable ASCII as text, else hex.
fn describe_magic(head: &[u8]) -> String {
    let first = &head[..head.len().min(8)];
    if first.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        format!("text {:?}", String::from_utf8_lossy(first))
    } else {
        format!("bytes {}", hex::encode(first))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn png_header(w: u32, h: u32) -> Vec<u8> {
        let mut v = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13];
        v.extend_from_slice(b"IHDR");
        v.extend_from_slice(&w.to_be_bytes());
        v.extend_from_slice(&h.to_be_bytes());
        v.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
        v
    }

    fn gif_header(w: u16, h: u16) -> Vec<u8> {
        let mut v = b"GIF89a".to_vec();
        v.extend_from_slice(&w.to_le_bytes());
        v.extend_from_slice(&h.to_le_bytes());
        v.extend_from_slice(&[0, 0, 0]);
        v
    }

    #[test]
    fn sniffs_formats_by_magic_not_name() {
        assert_eq!(sniff(&png_header(1, 1)), Some(ImageFormat::Png));
        assert_eq!(sniff(&gif_header(1, 1)), Some(ImageFormat::Gif));
        assert_eq!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]),
            Some(ImageFormat::Jpeg)
        );
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(ImageFormat::Webp));
        assert_eq!(sniff(b"II*\0\x08\0\0\0"), Some(ImageFormat::Tiff));
        assert_eq!(
            sniff(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"),
            Some(ImageFormat::Heic)
        );
        assert_eq!(
            sniff(b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf"),
            Some(ImageFormat::Avif)
        );
        assert_eq!(sniff(b"\0\0\0\x18ftypmp42\0\0\0\0isommp42"), None);
        assert_eq!(
            sniff(b"\xEF\xBB\xBF<?xml version=\"1.0\"?>\n<!-- made by hand -->\n<!DOCTYPE svg>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
            Some(ImageFormat::Svg)
        );
        assert_eq!(sniff(b"<?xml version=\"1.0\"?><html/>"), None);
        assert_eq!(
            sniff(b"<?xml version=\"1.0\"?>\n<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" \"x\" [\n<!ENTITY ns \"a>b\">\n]>\n<svg:svg xmlns:svg=\"http://www.w3.org/2000/svg\"/>"),
            Some(ImageFormat::Svg)
        );
        let mut long_comment = b"<!--".to_vec();
        long_comment.extend(std::iter::repeat_n(b'x', 10_000));
        long_comment.extend_from_slice(b"--><svg/>");
        assert_eq!(sniff(&long_comment), Some(ImageFormat::Svg));
        assert_eq!(sniff(b"<svgfoo/>"), None);
        assert_eq!(sniff(b"\xFF\x0A\xFA\x7F"), Some(ImageFormat::Jxl));
        assert_eq!(
            sniff(b"\0\0\0\x0cJXL \r\n\x87\n\0\0"),
            Some(ImageFormat::Jxl)
        );
        assert_eq!(
            sniff(b"8BPS\0\x01\0\0\0\0\0\0\0\x03"),
            Some(ImageFormat::Psd)
        );
        assert_eq!(
            sniff(b"\0\0\x01\0\x01\0\x20\x20\0\0\x01\0"),
            Some(ImageFormat::Ico)
        );
        assert_eq!(
            sniff(b"\0\0\x02\0\x01\0\x20\x20\0\0\x01\0"),
            Some(ImageFormat::Ico)
        );
        // MPEG program stream: 00 00 01 BA.
        assert_eq!(sniff(b"\0\0\x01\xBA\x44\0\x04\0\x04\x01"), None);
        assert_eq!(sniff(b"%PDF-1.4\n"), None);
        assert_eq!(sniff(b"hello, I am a text file"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn reads_dimensions_without_decoding() {
        let f = inspect_header(&png_header(640, 480), 50_000).unwrap();
        assert_eq!(
            (f.format, f.width, f.height),
            (ImageFormat::Png, Some(640), Some(480))
        );
        let f = inspect_header(&gif_header(1, 20000), 100).unwrap();
        assert_eq!((f.width, f.height), (Some(1), Some(20000)));
    }

    #[test]
    fn text_named_jpg_is_not_an_image() {
        let e = inspect_header(b"just some notes\n", 16).unwrap_err();
        assert_eq!(e.code(), "not_an_image");
        assert!(e.to_string().contains("\"just som\""), "{e}");
    }

    #[test]
    fn truncated_header_is_reported_when_we_saw_the_whole_object() {
        let head = &png_header(10, 10)[..14];
        let e = inspect_header(head, head.len() as u64).unwrap_err();
        assert_eq!(e.code(), "truncated_header");
        // A long object whose header is not in the first bytes keeps going, size unknown.
        let f = inspect_header(&[0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF], 10_000_000).unwrap();
        assert_eq!((f.format, f.width), (ImageFormat::Jpeg, None));
    }

    #[test]
    fn arbitrary_bytes_after_any_magic_never_panic() {
        let magics: [&[u8]; 9] = [
            &[0xFF, 0xD8, 0xFF],
            b"\x89PNG\r\n\x1a\n",
            b"GIF89a",
            b"BM",
            b"RIFF\0\0\0\0WEBP",
            b"II*\0",
            b"MM\0*",
            b"\0\0\0\x18ftypheic",
            b"\0\0\0\x1cftypavif",
        ];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for round in 0..3000 {
            let magic = magics[round % magics.len()];
            let mut buf = magic.to_vec();
            for _ in 0..(round % 200) {
                // xorshift: deterministic noise, no dependency.
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                buf.push(x as u8);
            }
            let _ = inspect_header(&buf, buf.len() as u64);
            let _ = inspect_header(&buf, u64::MAX);
        }
    }

    #[test]
    fn empty_and_base64() {
        assert_eq!(inspect_header(b"", 0).unwrap_err(), NotAnImage::Empty);
        let f = ImageFacts {
            format: ImageFormat::Png,
            width: None,
            height: None,
            bytes: 3_000_001,
        };
        assert_eq!(f.base64_bytes(), 4_000_004);
    }
}
