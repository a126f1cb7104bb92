//! What the function trusts, checked at start: the secret its markers are signed with
//! (`TRIAGE_MARKER_SECRET`), the buckets it serves (`TRIAGE_BUCKETS`), and the combinations
//! that would let a moderation failure destroy uploads.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{BlockAction, ConfigError, SinkKind};
use crate::verdict::Decision;

pub const MARKER_SECRET_VAR: &str = "TRIAGE_MARKER_SECRET";
pub const BUCKETS_VAR: &str = "TRIAGE_BUCKETS";
pub const CONFIRM_DELETE_VAR: &str = "TRIAGE_CONFIRM_DELETE_ON_ERROR";

/// The secret the guard's marker is signed with. Never printed.
#[derive(Clone, Default)]
pub struct MarkerSecret(Vec<u8>);

impl std::fmt::Debug for MarkerSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MarkerSecret(<redacted>)")
    }
}

/// What a marker claims: this content of this object was triaged under this configuration,
/// with this verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub etag: &'a str,
    pub config_hash: &'a str,
    /// `sha256:<hex>` where the write-back changed the ETag, else empty.
    pub content: &'a str,
    /// `pass`, `review`, `block` or `skipped`: a skip reports it, and a `block` is enforced
    /// again, so an uploader must not be able to choose it.
    pub verdict: &'a str,
}

impl MarkerSecret {
    /// The marker's signature: HMAC-SHA256 over what the marker claims, 32 hex digits.
    pub fn sign(&self, claim: &Claim<'_>) -> String {
        self.sign_parts(&[
            "image-triage marker v2",
            claim.bucket,
            claim.key,
            claim.etag,
            claim.config_hash,
            claim.content,
            claim.verdict,
        ])
    }

    /// Whether `signature` is [`MarkerSecret::sign`]'s for these values (constant time).
    pub fn verify(&self, signature: &str, claim: &Claim<'_>) -> bool {
        self.verify_parts(
            signature,
            &[
                "image-triage marker v2",
                claim.bucket,
                claim.key,
                claim.etag,
                claim.config_hash,
                claim.content,
                claim.verdict,
            ],
        )
    }

    /// HMAC-SHA256 over `parts` (each NUL-terminated, so no two lists sign alike), 32 hex
    /// digits. The first part names what is signed, so a signature of one kind of record is
    /// never valid for another.
    pub fn sign_parts(&self, parts: &[&str]) -> String {
        // The secret's length is checked at start; HMAC takes keys of any length.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            return String::new();
        };
        for part in parts {
            mac.update(part.as_bytes());
            mac.update(&[0]);
        }
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// Whether `signature` is [`MarkerSecret::sign_parts`]'s for `parts` (constant time).
    pub fn verify_parts(&self, signature: &str, parts: &[&str]) -> bool {
        let want = self.sign_parts(parts);
        want.len() == signature.len()
            && want
                .bytes()
                .zip(signature.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// `None`: markers are checked against the function's own sidecar instead.
    pub marker_secret: Option<MarkerSecret>,
    /// Bucket names or `*` globs; empty: every bucket.
    pub buckets: Vec<String>,
}

impl Trust {
    pub fn from_get(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut t = Trust::default();
        if let Some(v) = get(MARKER_SECRET_VAR) {
            if v.len() < 16 {
                // The value is a secret: never echoed.
                return Err(ConfigError::new(
                    MARKER_SECRET_VAR,
                    "",
                    "at least 16 bytes (e.g. `openssl rand -hex 32`)",
                ));
            }
            t.marker_secret = Some(MarkerSecret(v.into_bytes()));
        }
        if let Some(v) = get(BUCKETS_VAR) {
            for name in v.split(',').map(str::trim) {
                let ok = !name.is_empty()
                    && name.len() <= 255
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._*".contains(&b));
                if !ok {
                    return Err(ConfigError::new(
                        BUCKETS_VAR,
                        &v,
                        "a comma list of bucket names (letters, digits, `-`, `.`, `_`), `*` matching any run of characters",
                    ));
                }
                t.buckets.push(name.to_string());
            }
        }
        Ok(t)
    }

    /// Whether events for `bucket` are served (always, without `TRIAGE_BUCKETS`).
    pub fn bucket_allowed(&self, bucket: &str) -> bool {
        self.buckets.is_empty() || self.buckets.iter().any(|p| glob(p, bucket))
    }
}

/// `pattern` with `*` matching any run of characters (none included).
fn glob(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, rest)) => {
            let Some(tail) = name.strip_prefix(head) else {
                return false;
            };
            (0..=tail.len())
                .filter(|&i| tail.is_char_boundary(i))
                .any(|i| glob(rest, &tail[i..]))
        }
    }
}

/// Refuse combinations that turn a failure into harm or an open door, naming the variable.
pub fn check_combinations(
    get: impl Fn(&str) -> Option<String>,
    on_error: Decision,
    block_action: BlockAction,
    sinks: &[SinkKind],
    trust: &Trust,
) -> Result<(), ConfigError> {
    if on_error == Decision::Block
        && block_action == BlockAction::Delete
        && get(CONFIRM_DELETE_VAR).as_deref() != Some("yes")
    {
        return Err(ConfigError::new(
            "TRIAGE_ON_ERROR",
            "block",
            format!(
                "with TRIAGE_BLOCK_ACTION=delete every upload a moderation failure touches is \
                 deleted (an outage would delete them all); set {CONFIRM_DELETE_VAR}=yes if \
                 that is intended"
            ),
        ));
    }
    // The guard must tell its own marker from one an uploader wrote: by its signature, or by
    // the sidecar only the function writes. Without either, a copy event could never be known
    // for our own (the metadata write would trigger itself without end), and without metadata
    // and sidecar the only record of finished work is a tag, which an uploader can set too.
    // `TRIAGE_SINKS=none` writes nothing at all, not even that record.
    if !sinks.is_empty() && !sinks.contains(&SinkKind::Sidecar) && trust.marker_secret.is_none() {
        let why = if sinks.contains(&SinkKind::Metadata) {
            "TRIAGE_SINKS writes metadata but no sidecar: set a marker secret so the function \
             can tell its own marker from one an uploader set (or add `sidecar` to TRIAGE_SINKS)"
        } else {
            "TRIAGE_SINKS writes neither metadata nor a sidecar: the record of finished work is \
             then a signed `triage-marker` object tag; set a marker secret so a re-delivered \
             event is not triaged twice (or add `sidecar` to TRIAGE_SINKS)"
        };
        return Err(ConfigError::new(MARKER_SECRET_VAR, "", why));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trust(pairs: &[(&str, &str)]) -> Result<Trust, ConfigError> {
        Trust::from_get(|n| {
            pairs
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn buckets_globs() {
        let t = trust(&[(BUCKETS_VAR, "photos, uploads-*-1250000000,*.media")]).unwrap();
        for ok in [
            "photos",
            "uploads-a-1250000000",
            "uploads--1250000000",
            "x.media",
        ] {
            assert!(t.bucket_allowed(ok), "{ok}");
        }
        for no in ["photos2", "uploads-a-1250000001", "media", "x@127.0.0.1"] {
            assert!(!t.bucket_allowed(no), "{no}");
        }
        assert!(trust(&[]).unwrap().bucket_allowed("anything"));
        assert!(trust(&[(BUCKETS_VAR, "a,,b")]).is_err());
        assert!(trust(&[(BUCKETS_VAR, "a/b")]).is_err());
    }

    #[test]
    fn marker_signatures() {
        assert!(trust(&[(MARKER_SECRET_VAR, "short")]).is_err());
        let t = trust(&[(MARKER_SECRET_VAR, "0123456789abcdef0123")]).unwrap();
        let s = t.marker_secret.unwrap();
        let claim = Claim {
            bucket: "b",
            key: "k",
            etag: "etag",
            config_hash: "hash",
            content: "",
            verdict: "block",
        };
        let sig = s.sign(&claim);
        assert_eq!(sig.len(), 32);
        assert!(s.verify(&sig, &claim));
        for other in [
            Claim {
                bucket: "c",
                ..claim
            },
            Claim { key: "k2", ..claim },
            Claim {
                etag: "etag2",
                ..claim
            },
            Claim {
                config_hash: "hash2",
                ..claim
            },
            Claim {
                content: "sha",
                ..claim
            },
            Claim {
                verdict: "pass",
                ..claim
            },
        ] {
            assert!(!s.verify(&sig, &other), "{other:?}");
        }
        assert!(!format!("{s:?}").contains("0123"));
    }

    #[test]
    fn dangerous_combinations() {
        let none = |_: &str| None;
        let t = Trust::default();
        let all = [SinkKind::Metadata, SinkKind::Sidecar];
        assert!(check_combinations(none, Decision::Block, BlockAction::Delete, &all, &t).is_err());
        let yes = |n: &str| (n == CONFIRM_DELETE_VAR).then(|| "yes".to_string());
        assert!(check_combinations(yes, Decision::Block, BlockAction::Delete, &all, &t).is_ok());
        assert!(check_combinations(none, Decision::Review, BlockAction::Delete, &all, &t).is_ok());
        let e = check_combinations(
            none,
            Decision::Review,
            BlockAction::None,
            &[SinkKind::Metadata],
            &t,
        )
        .unwrap_err();
        assert_eq!(e.var, MARKER_SECRET_VAR);
        for sinks in [&[SinkKind::Tags][..], &[SinkKind::Queue]] {
            let e = check_combinations(none, Decision::Review, BlockAction::None, sinks, &t)
                .unwrap_err();
            assert!(e.to_string().contains("triage-marker"), "{e}");
        }
        let signed = trust(&[(MARKER_SECRET_VAR, "0123456789abcdef0123")]).unwrap();
        let tags = [SinkKind::Tags];
        assert!(
            check_combinations(none, Decision::Review, BlockAction::None, &tags, &signed).is_ok()
        );
        assert!(check_combinations(none, Decision::Review, BlockAction::None, &[], &t).is_ok());
    }
}
