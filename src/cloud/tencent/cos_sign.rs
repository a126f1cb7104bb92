//! COS request signing (`q-sign-algorithm=sha1`), reference tencent.md §3: small pure functions,
//! tested against the documentation's worked examples (E1–E3) and the official Python SDK's
//! output (C1–C6). Hand-written because no maintained crate reproduced those vectors with the
//! decoded-path rule and header subset we need (reqsign's COS signer pulls in its own HTTP stack).

use hmac::{Hmac, Mac};
use sha1::{Digest, Sha1};

use crate::client::sign::uri_encode;

/// UrlEncode of the signing rules (§3.1 step 3): everything except `A–Z a–z 0–9 - _ . ~`
/// (space → `%20`, `/` → `%2F`).
pub fn encode(s: &str) -> String {
    uri_encode(s, false)
}

/// The request path for `key` as sent on the wire (leading `/`). `./` becomes `.%2F` so that
/// URL normalisation cannot eat `.`/`..` segments of a key (the Python SDK does the same).
pub fn wire_path(key: &str) -> String {
    format!("/{}", uri_encode(key, true)).replace("./", ".%2F")
}

/// `start;end` in Unix seconds.
pub fn key_time(start: i64, end: i64) -> String {
    format!("{start};{end}")
}

fn hmac_sha1_hex(key: &[u8], msg: &[u8]) -> String {
    // HMAC accepts keys of any length; this cannot fail.
    let mut mac = Hmac::<Sha1>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(msg);
    hex::encode(mac.finalize().into_bytes())
}

/// `SignKey = hex(HMAC-SHA1(SecretKey, KeyTime))`.
pub fn sign_key(secret_key: &str, key_time: &str) -> String {
    hmac_sha1_hex(secret_key.as_bytes(), key_time.as_bytes())
}

/// Lower-cased, encoded, sorted pairs: `(list "k1;k2", joined "k1=v1&k2=v2")`. Used for both the
/// query parameters and the headers. Values are the decoded ones; header values are trimmed
/// (HTTP does not carry their outer whitespace), parameter values are signed as sent.
pub fn canonical_pairs<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> (String, String) {
    canonical(pairs, false)
}

fn canonical<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)], trim: bool) -> (String, String) {
    let mut enc: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| {
            let v = v.as_ref();
            (
                encode(k.as_ref()).to_ascii_lowercase(),
                encode(if trim { v.trim() } else { v }),
            )
        })
        .collect();
    enc.sort();
    let list = enc
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let joined = enc
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    (list, joined)
}

/// One request's signing inputs. `path` is the DECODED path with its leading `/`.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub params: &'a [(String, String)],
    /// The headers to sign (names in any case), values exactly as sent.
    pub headers: &'a [(String, String)],
}

/// `HttpString` (§3.1 step 6).
pub fn http_string(req: &Request<'_>) -> String {
    let (_, params) = canonical(req.params, false);
    let (_, headers) = canonical(req.headers, true);
    format!(
        "{}\n{}\n{}\n{}\n",
        req.method.to_ascii_lowercase(),
        req.path,
        params,
        headers
    )
}

/// `StringToSign` (§3.1 step 7).
pub fn string_to_sign(key_time: &str, http_string: &str) -> String {
    format!(
        "sha1\n{key_time}\n{}\n",
        hex::encode(Sha1::digest(http_string.as_bytes()))
    )
}

/// `q-signature`.
pub fn signature(secret_key: &str, key_time: &str, req: &Request<'_>) -> String {
    let key = sign_key(secret_key, key_time);
    hmac_sha1_hex(
        key.as_bytes(),
        string_to_sign(key_time, &http_string(req)).as_bytes(),
    )
}

/// The `q-*` pairs, in the documented order: the `Authorization` header value joins them with
/// `&`; a presigned URL carries them as query parameters.
pub fn auth_pairs(
    secret_id: &str,
    secret_key: &str,
    key_time: &str,
    req: &Request<'_>,
) -> Vec<(&'static str, String)> {
    let (header_list, _) = canonical_pairs(req.headers);
    let (param_list, _) = canonical_pairs(req.params);
    vec![
        ("q-sign-algorithm", "sha1".to_string()),
        ("q-ak", secret_id.to_string()),
        ("q-sign-time", key_time.to_string()),
        ("q-key-time", key_time.to_string()),
        ("q-header-list", header_list),
        ("q-url-param-list", param_list),
        ("q-signature", signature(secret_key, key_time, req)),
    ]
}

/// The `Authorization` header value.
pub fn authorization(
    secret_id: &str,
    secret_key: &str,
    key_time: &str,
    req: &Request<'_>,
) -> String {
    auth_pairs(secret_id, secret_key, key_time, req)
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The query string (no `?`) of a presigned GET URL for `key` on `host`: the `q-*` pairs of a
/// signature over `host` alone, values URL-encoded, in the documented order; with temporary
/// credentials `x-cos-security-token` follows, unsigned (as the JS and Go SDKs append it).
pub fn presigned_query(
    secret_id: &str,
    secret_key: &str,
    token: Option<&str>,
    key_time: &str,
    host: &str,
    key: &str,
) -> String {
    let path = format!("/{key}");
    let headers = [("host".to_string(), host.to_string())];
    let mut query: Vec<String> = auth_pairs(
        secret_id,
        secret_key,
        key_time,
        &Request {
            method: "GET",
            path: &path,
            params: &[],
            headers: &headers,
        },
    )
    .into_iter()
    .map(|(k, v)| format!("{k}={}", encode(&v)))
    .collect();
    if let Some(t) = token {
        query.push(format!("x-cos-security-token={}", encode(t)));
    }
    query.join("&")
}

/// Parse an `Authorization` value (or a presigned URL's query) back into its `q-*` fields
/// (for servers that verify, like the test emulator).
pub fn parse_authorization(value: &str) -> std::collections::BTreeMap<String, String> {
    value
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC_ID: &str = "AKIDQjz3ltompVjBni5LitkWHFlFpwkn9U5q";
    const DOC_KEY: &str = "BQYIM75p8x0iWVFSIgqEKwFprpRSVHlz";

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn e1_doc_put_with_non_ascii_path() {
        let kt = "1557989151;1557996351";
        assert_eq!(
            sign_key(DOC_KEY, kt),
            "eb2519b498b02ac213cb1f3d1a3d27a3b3c9bc5f"
        );
        let headers = pairs(&[
            ("Date", "Thu, 16 May 2019 06:45:51 GMT"),
            (
                "Host",
                "examplebucket-1250000000.cos.ap-beijing.myqcloud.com",
            ),
            ("Content-Type", "text/plain"),
            ("Content-Length", "13"),
            ("Content-MD5", "mQ/fVh815F3k6TAUm8m0eg=="),
            ("x-cos-acl", "private"),
            ("x-cos-grant-read", "uin=\"100000000011\""),
        ]);
        let req = Request {
            method: "PUT",
            path: "/exampleobject(腾讯云)",
            params: &[],
            headers: &headers,
        };
        assert_eq!(
            wire_path("exampleobject(腾讯云)"),
            "/exampleobject%28%E8%85%BE%E8%AE%AF%E4%BA%91%29"
        );
        let (list, joined) = canonical_pairs(&headers);
        assert_eq!(
            list,
            "content-length;content-md5;content-type;date;host;x-cos-acl;x-cos-grant-read"
        );
        assert_eq!(joined, "content-length=13&content-md5=mQ%2FfVh815F3k6TAUm8m0eg%3D%3D&content-type=text%2Fplain&date=Thu%2C%2016%20May%202019%2006%3A45%3A51%20GMT&host=examplebucket-1250000000.cos.ap-beijing.myqcloud.com&x-cos-acl=private&x-cos-grant-read=uin%3D%22100000000011%22");
        assert_eq!(
            hex::encode(Sha1::digest(http_string(&req).as_bytes())),
            "8b2751e77f43a0995d6e9eb9477f4b685cca4172"
        );
        assert_eq!(
            signature(DOC_KEY, kt, &req),
            "3b8851a11a569213c17ba8fa7dcf2abec6935172"
        );
    }

    #[test]
    fn e2_doc_get_with_params() {
        let kt = "1557989753;1557996953";
        assert_eq!(
            sign_key(DOC_KEY, kt),
            "937914bf490e9e8c189836aad2052e4feeb35eaf"
        );
        let params = pairs(&[
            ("response-content-type", "application/octet-stream"),
            ("response-cache-control", "max-age=600"),
        ]);
        let headers = pairs(&[
            ("Date", "Thu, 16 May 2019 06:55:53 GMT"),
            (
                "Host",
                "examplebucket-1250000000.cos.ap-beijing.myqcloud.com",
            ),
        ]);
        let req = Request {
            method: "GET",
            path: "/exampleobject(腾讯云)",
            params: &params,
            headers: &headers,
        };
        let (list, joined) = canonical_pairs(&params);
        assert_eq!(list, "response-cache-control;response-content-type");
        assert_eq!(
            joined,
            "response-cache-control=max-age%3D600&response-content-type=application%2Foctet-stream"
        );
        assert_eq!(
            hex::encode(Sha1::digest(http_string(&req).as_bytes())),
            "54ecfe22f59d3514fdc764b87a32d8133ea611e6"
        );
        assert_eq!(
            signature(DOC_KEY, kt, &req),
            "01681b8c9d798a678e43b685a9f1bba0f6c0e012"
        );
    }

    #[test]
    fn e3_older_doc_ranged_get() {
        let headers = pairs(&[
            ("host", "bucket1-1254000000.cos.ap-beijing.myqcloud.com"),
            ("range", "bytes=0-3"),
        ]);
        let req = Request {
            method: "GET",
            path: "/testfile",
            params: &[],
            headers: &headers,
        };
        assert_eq!(
            signature(DOC_KEY, "1417773892;1417853898", &req),
            "4b6cbab14ce01381c29032423481ebffd514e8be"
        );
    }

    const KT: &str = "1699999940;1700010000";
    const HOST: &str = "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com";
    const PATH: &str = "/uploads/猫 photo(1).jpg";

    fn sdk(method: &str, params: &[(&str, &str)], headers: &[(&str, &str)]) -> (String, String) {
        let params = pairs(params);
        let headers = pairs(headers);
        let req = Request {
            method,
            path: PATH,
            params: &params,
            headers: &headers,
        };
        (
            signature(DOC_KEY, KT, &req),
            authorization(DOC_ID, DOC_KEY, KT, &req),
        )
    }

    #[test]
    fn c1_to_c6_python_sdk_vectors() {
        assert_eq!(
            sign_key(DOC_KEY, KT),
            "1d1e4980f055b2c867bb9b7d31f493c78b2f1dbe"
        );
        assert_eq!(
            wire_path("uploads/猫 photo(1).jpg"),
            "/uploads/%E7%8C%AB%20photo%281%29.jpg"
        );

        let (c1, auth) = sdk("GET", &[], &[("host", HOST)]);
        assert_eq!(c1, "92d60efaeec7de047587a161981f78984f084a62");
        assert_eq!(auth, "q-sign-algorithm=sha1&q-ak=AKIDQjz3ltompVjBni5LitkWHFlFpwkn9U5q&q-sign-time=1699999940;1700010000&q-key-time=1699999940;1700010000&q-header-list=host&q-url-param-list=&q-signature=92d60efaeec7de047587a161981f78984f084a62");

        let label = [("ci-process", "detect-label"), ("scenes", "web,camera")];
        let (c2, auth) = sdk("GET", &label, &[("host", HOST)]);
        assert_eq!(c2, "ef7a0f9c7da0ad203166d99814895790e679f406");
        assert!(
            auth.contains("&q-url-param-list=ci-process;scenes&"),
            "{auth}"
        );

        let copy_source = format!("{HOST}/uploads/%E7%8C%AB%20photo%281%29.jpg");
        let c3_headers = [
            ("content-length", "0"),
            ("content-type", "image/jpeg"),
            ("host", HOST),
            ("x-cos-copy-source", copy_source.as_str()),
            ("x-cos-meta-labels", "cat,animal"),
            ("x-cos-meta-suggestion", "Pass"),
            ("x-cos-metadata-directive", "Replaced"),
        ];
        let hs = pairs(&c3_headers);
        let req = Request {
            method: "PUT",
            path: PATH,
            params: &[],
            headers: &hs,
        };
        assert_eq!(http_string(&req), "put\n/uploads/猫 photo(1).jpg\n\ncontent-length=0&content-type=image%2Fjpeg&host=examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com&x-cos-copy-source=examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com%2Fuploads%2F%25E7%258C%25AB%2520photo%25281%2529.jpg&x-cos-meta-labels=cat%2Canimal&x-cos-meta-suggestion=Pass&x-cos-metadata-directive=Replaced\n");
        assert_eq!(
            sdk("PUT", &[], &c3_headers).0,
            "d73823f9fb3c2b0770205260b66e3fc591030800"
        );

        let c4 = sdk(
            "PUT",
            &[("tagging", "")],
            &[("content-length", "171"), ("host", HOST)],
        );
        assert_eq!(c4.0, "f5dcab12a33a1a8c736b66ff6802c51dc94629ea");
        assert!(c4
            .1
            .contains("q-header-list=content-length;host&q-url-param-list=tagging&"));

        let token = [("host", HOST), ("x-cos-security-token", "EXAMPLETOKEN")];
        assert_eq!(
            sdk("GET", &[], &token).0,
            "2663872cdf5ea13087bce77b23ff57f6c6d1cd13"
        );
        let (c6, auth) = sdk("GET", &label, &token);
        assert_eq!(c6, "92d8de81b08d1e356d0cbb555f845962a6de6722");
        assert!(
            auth.contains("q-header-list=host;x-cos-security-token&"),
            "{auth}"
        );
        assert_eq!(parse_authorization(&auth)["q-signature"], c6);
    }

    /// cos-python-sdk-v5 1.9.44, `time.time` frozen at 1700000000:
    /// `CosS3Client(CosConfig(Region='ap-guangzhou', SecretId, SecretKey)).get_presigned_url(
    /// Bucket='examplebucket-1250000000', Key='uploads/猫 photo(1).jpg', Method='GET',
    /// Expired=900)` (`get_presigned_download_url` gives the same URL).
    const SDK_PRESIGNED: &str = "https://examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com/uploads/%E7%8C%AB%20photo%281%29.jpg?q-sign-algorithm=sha1&q-ak=AKIDQjz3ltompVjBni5LitkWHFlFpwkn9U5q&q-sign-time=1699999940%3B1700000900&q-key-time=1699999940%3B1700000900&q-header-list=host&q-url-param-list=&q-signature=a5d56059286032c25077f8b1e3c3cd4b63b94a4a";

    #[test]
    fn presigned_url_assembly_matches_the_python_sdk() {
        let kt = key_time(1_700_000_000 - 60, 1_700_000_000 + 900);
        let key = "uploads/猫 photo(1).jpg";
        let q = presigned_query(DOC_ID, DOC_KEY, None, &kt, HOST, key);
        assert_eq!(
            format!("https://{HOST}{}?{q}", wire_path(key)),
            SDK_PRESIGNED
        );
        // Temporary credentials: the same signature, the token appended unsigned. (The Python
        // SDK, given the token in `Params`, signs it as a parameter instead; COS takes both.)
        let q = presigned_query(DOC_ID, DOC_KEY, Some("EXAMPLE/TOKEN=="), &kt, HOST, key);
        assert_eq!(
            format!("https://{HOST}{}?{q}", wire_path(key)),
            format!("{SDK_PRESIGNED}&x-cos-security-token=EXAMPLE%2FTOKEN%3D%3D")
        );
    }

    /// The SDK's `get_auth(Method='GET', Bucket='examplebucket-1250000000', Key='/',
    /// Params={'prefix': 'uploads/2024/', 'marker': 'uploads/2024/b c.jpg', 'max-keys': '2'},
    /// Headers=...)` (same SDK and clock as above), without and with
    /// `x-cos-security-token: EXAMPLETOKEN`: a bucket listing with this crate's parameters.
    #[test]
    fn bucket_listing_matches_the_python_sdk() {
        let params = pairs(&[
            ("prefix", "uploads/2024/"),
            ("max-keys", "2"),
            ("marker", "uploads/2024/b c.jpg"),
        ]);
        let list = |headers: &[(String, String)]| {
            authorization(
                DOC_ID,
                DOC_KEY,
                KT,
                &Request {
                    method: "GET",
                    path: "/",
                    params: &params,
                    headers,
                },
            )
        };
        assert_eq!(list(&pairs(&[("host", HOST)])), "q-sign-algorithm=sha1&q-ak=AKIDQjz3ltompVjBni5LitkWHFlFpwkn9U5q&q-sign-time=1699999940;1700010000&q-key-time=1699999940;1700010000&q-header-list=host&q-url-param-list=marker;max-keys;prefix&q-signature=eab48caad022e4ad0cbf63e8e173ded50ccff2bf");
        let with_token = pairs(&[("host", HOST), ("x-cos-security-token", "EXAMPLETOKEN")]);
        assert_eq!(list(&with_token), "q-sign-algorithm=sha1&q-ak=AKIDQjz3ltompVjBni5LitkWHFlFpwkn9U5q&q-sign-time=1699999940;1700010000&q-key-time=1699999940;1700010000&q-header-list=host;x-cos-security-token&q-url-param-list=marker;max-keys;prefix&q-signature=e797cdb3fa770dff50708a9978728b5b0a4b97d5");
        // `list_objects` itself also sends (and signs) `delimiter=` and `encoding-type=url`.
        let sdk_params = pairs(&[
            ("prefix", "uploads/2024/"),
            ("delimiter", ""),
            ("marker", "uploads/2024/b c.jpg"),
            ("max-keys", "2"),
            ("encoding-type", "url"),
        ]);
        let hs = pairs(&[("host", HOST)]);
        let req = Request {
            method: "GET",
            path: "/",
            params: &sdk_params,
            headers: &hs,
        };
        assert_eq!(
            signature(DOC_KEY, KT, &req),
            "a19b561095ec8d09e203329998e9224717e1fb8b"
        );
    }

    #[test]
    fn dot_segments_survive_on_the_wire() {
        assert_eq!(wire_path("a/../b/./c"), "/a/..%2Fb/.%2Fc");
    }
}
