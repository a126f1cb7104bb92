//! The lists directory's layout: which files are samples, of which list and category.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{io_error, ListsError, IMAGE_EXTENSIONS, MAX_SAMPLE_BYTES};
use crate::result::ListKind;

/// A sample file found by the walk.
pub struct Entry {
    pub rel: String,
    pub path: PathBuf,
    pub list: ListKind,
    pub category: Option<String>,
}

/// The samples under `dir`, sorted by relative path.
pub fn walk(dir: &Path) -> Result<Vec<Entry>, ListsError> {
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ListsError::Missing(dir.to_path_buf()))
        }
        Err(e) => return Err(io_error(dir)(e)),
        Ok(m) if !m.is_dir() => return Err(ListsError::NotADirectory(dir.to_path_buf())),
        Ok(_) => {}
    }
    let mut entries = Vec::new();
    for (name, path, is_dir) in list_dir(dir)? {
        match name.as_str() {
            "allow" | "block" if !is_dir => {
                return Err(ListsError::Unexpected {
                    path,
                    why: "a file where the allow/ or block/ folder goes",
                })
            }
            "allow" => samples_in(&path, "allow", ListKind::Allow, None, &mut entries)?,
            "block" => {
                for (sub, sub_path, sub_is_dir) in list_dir(&path)? {
                    if !sub_is_dir {
                        let rel = format!("block/{sub}");
                        entries.push(sample(sub_path, rel, ListKind::Block, None)?);
                        continue;
                    }
                    let category = sub.to_lowercase();
                    let valid = (1..=32).contains(&category.len())
                        && category
                            .bytes()
                            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'));
                    if !valid {
                        return Err(ListsError::BadCategory(sub_path));
                    }
                    let rel = format!("block/{sub}");
                    samples_in(
                        &sub_path,
                        &rel,
                        ListKind::Block,
                        Some(category),
                        &mut entries,
                    )?;
                }
            }
            _ => return Err(ListsError::Unexpected {
                path,
                why: "only allow/ and block/ (and dot-files) belong at the top of the image lists",
            }),
        }
    }
    if entries.is_empty() {
        return Err(ListsError::Empty(dir.to_path_buf()));
    }
    entries.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(entries)
}

/// The sample files directly in `folder` (a folder in it is an error).
fn samples_in(
    folder: &Path,
    rel: &str,
    list: ListKind,
    category: Option<String>,
    out: &mut Vec<Entry>,
) -> Result<(), ListsError> {
    for (name, path, is_dir) in list_dir(folder)? {
        if is_dir {
            return Err(ListsError::Unexpected {
                path,
                why: match list {
                    ListKind::Allow => "a folder in allow/ (allow has no categories)",
                    ListKind::Block => "a folder in a category folder (one level only)",
                },
            });
        }
        out.push(sample(
            path,
            format!("{rel}/{name}"),
            list,
            category.clone(),
        )?);
    }
    Ok(())
}

fn sample(
    path: PathBuf,
    rel: String,
    list: ListKind,
    category: Option<String>,
) -> Result<Entry, ListsError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if !ext.is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.as_str())) {
        return Err(ListsError::Unexpected {
            path,
            why: "not an image file (.jpg, .jpeg, .png, .gif, .webp, .bmp, .tif, .tiff or .ico)",
        });
    }
    Ok(Entry {
        rel,
        path,
        list,
        category,
    })
}

/// (name, path, is a directory) of the entries of `dir` that are not dot-files.
fn list_dir(dir: &Path) -> Result<Vec<(String, PathBuf, bool)>, ListsError> {
    let mut out = Vec::new();
    for item in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let item = item.map_err(io_error(dir))?;
        let path = item.path();
        let Some(name) = item.file_name().to_str().map(str::to_string) else {
            return Err(ListsError::Unexpected {
                path,
                why: "a name that is not UTF-8 (results name samples by path)",
            });
        };
        if name.starts_with('.') {
            continue;
        }
        // Followed through symbolic links: a layer or volume may link its folders.
        let meta = std::fs::metadata(&path).map_err(io_error(&path))?;
        out.push((name, path, meta.is_dir()));
    }
    Ok(out)
}

pub fn read_sample(path: &Path) -> Result<Vec<u8>, ListsError> {
    let file = std::fs::File::open(path).map_err(io_error(path))?;
    let mut bytes = Vec::new();
    // One byte more than allowed tells a file that is too large, even one still growing.
    file.take(MAX_SAMPLE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error(path))?;
    if bytes.len() as u64 > MAX_SAMPLE_BYTES {
        let bytes = std::fs::metadata(path).map_or(bytes.len() as u64, |m| m.len());
        return Err(ListsError::TooLarge {
            path: path.to_path_buf(),
            bytes,
        });
    }
    Ok(bytes)
}
