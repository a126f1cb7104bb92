//! `vendor_sign::legacy` (the legacy image service's multi-effective signature) against the
//! official SDK: `qcloud-image` 1.0.0 `Auth.get_sign` with `time.time` and `random.randint`
//! frozen (`tests/vendor_vectors/legacy_image_sign.py` → `legacy_image_sign.json`).

use crate::vendor_sign::legacy::{sign, verify, MAX_SKEW};
use base64::Engine as _;
use serde_json::Value;

struct Vector {
    appid: String,
    secret_id: String,
    secret_key: String,
    bucket: String,
    now: i64,
    expires: i64,
    random: u64,
    authorization: String,
}

fn vectors() -> Vec<Vector> {
    let all: Value =
        serde_json::from_str(include_str!("../vendor_vectors/legacy_image_sign.json")).unwrap();
    let all = all.as_array().unwrap();
    assert!(all.len() >= 4, "{all:?}");
    all.iter()
        .map(|v| {
            let s = |k: &str| v[k].as_str().unwrap().to_string();
            let n = |k: &str| v[k].as_i64().unwrap();
            Vector {
                appid: s("appid"),
                secret_id: s("secret_id"),
                secret_key: s("secret_key"),
                bucket: s("bucket"),
                now: n("now"),
                expires: n("expires"),
                random: v["random"].as_u64().unwrap(),
                authorization: s("authorization"),
            }
        })
        .collect()
}

fn b64(raw: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(raw)
}

fn unb64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn code<T: std::fmt::Debug>(r: Result<T, (i64, String)>) -> i64 {
    r.expect_err("refused").0
}

#[test]
fn sign_reproduces_the_sdk_and_verify_accepts_it() {
    for v in vectors() {
        let ours = sign(
            &v.appid,
            &v.bucket,
            &v.secret_id,
            &v.secret_key,
            v.now,
            v.expires,
            v.random,
        );
        assert_eq!(ours, v.authorization, "appid {}", v.appid);
        let p = verify(&v.authorization, &v.secret_id, &v.secret_key, v.now).unwrap();
        assert_eq!(
            (p.appid.as_str(), p.bucket.as_str(), p.secret_id.as_str()),
            (v.appid.as_str(), v.bucket.as_str(), v.secret_id.as_str())
        );
        assert_eq!((p.expires, p.issued), (v.expires, v.now));
        assert_eq!(p.random, v.random.to_string());
        // Valid up to and including `e`, and from `MAX_SKEW` before `t`.
        assert!(verify(&v.authorization, &v.secret_id, &v.secret_key, v.expires).is_ok());
        assert!(verify(
            &v.authorization,
            &v.secret_id,
            &v.secret_key,
            v.now - MAX_SKEW
        )
        .is_ok());
    }
}

#[test]
fn verify_refuses_tampered_stale_and_foreign_signatures() {
    for v in vectors() {
        let ok = |auth: &str, now: i64| verify(auth, &v.secret_id, &v.secret_key, now);
        let raw = unb64(&v.authorization);

        // Any changed byte of the HMAC.
        for i in [0, 7, 19] {
            let mut t = raw.clone();
            t[i] ^= 0x01;
            assert_eq!(code(ok(&b64(&t), v.now)), 14, "HMAC byte {i}");
        }
        // A changed but still well-formed orig: later expiry, other random, other bucket.
        let text = std::str::from_utf8(&raw[20..]).unwrap();
        let e = format!("&e={}&", v.expires);
        let r = format!("&r={}&", v.random);
        for forged in [
            text.replace(&e, &format!("&e={}&", v.expires + 1)),
            text.replace(&r, &format!("&r={}&", v.random + 1)),
            text.replace("&b=", "&b=z"),
        ] {
            assert_ne!(forged, text);
            let mut t = raw[..20].to_vec();
            t.extend_from_slice(forged.as_bytes());
            assert_eq!(code(ok(&b64(&t), v.now)), 14, "{forged}");
        }
        // Wrong secret key; a SecretId the service does not know.
        let wrong_key = verify(&v.authorization, &v.secret_id, "another-key", v.now);
        assert_eq!(code(wrong_key), 14);
        assert_eq!(
            code(verify(&v.authorization, "AKIDother", &v.secret_key, v.now)),
            11
        );
        // Expired one second after `e`; from the future beyond the skew.
        assert_eq!(code(ok(&v.authorization, v.expires + 1)), 9);
        assert_eq!(code(ok(&v.authorization, v.now - MAX_SKEW - 1)), 14);
        // Empty, not Base64, truncated, orig not of the SDK's form.
        assert_eq!(code(ok("", v.now)), 4);
        assert_eq!(code(ok("   ", v.now)), 4);
        assert_eq!(code(ok("not base64!", v.now)), 5);
        assert_eq!(code(ok(&b64(&raw[..20]), v.now)), 5);
        assert_eq!(
            code(ok(&v.authorization[..v.authorization.len() - 4], v.now)),
            5
        );
        for broken in [
            text.replace("&f=", ""),
            format!("{text}&x=1"),
            format!("{text}&a=1"),
            text.replace(&e, "&e=soon&"),
            text.replace("&f=", "&f=/1250000000/b/x.png"),
        ] {
            let mut t = raw[..20].to_vec();
            t.extend_from_slice(broken.as_bytes());
            assert_eq!(code(ok(&b64(&t), v.now)), 5, "{broken}");
        }
    }
}
