//! The S3 store against scripted stand-in servers. Region discovery: a request signed for the
//! wrong region is answered with `x-amz-bucket-region`; the store learns it, signs the retry for
//! that region and keeps using it. Retry policy: SlowDown/5xx retried, AccessDenied not.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use image_triage::config::Config;
use image_triage::store;
use image_triage::Provider;

fn fake_s3(scopes: Arc<Mutex<Vec<String>>>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let req = String::from_utf8_lossy(&buf).to_ascii_lowercase();
            let scope = req
                .split("credential=")
                .nth(1)
                .and_then(|c| c.split('/').nth(2))
                .unwrap_or("")
                .to_string();
            scopes.lock().unwrap().push(scope.clone());
            let reply = if scope == "eu-west-1" {
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello".to_string()
            } else {
                let body = "<Error><Code>AuthorizationHeaderMalformed</Code><Message>the region 'us-east-1' is wrong; expecting 'eu-west-1'</Message><Region>eu-west-1</Region></Error>";
                format!("HTTP/1.1 400 Bad Request\r\nx-amz-bucket-region: eu-west-1\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
            };
            let _ = s.write_all(reply.as_bytes());
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread")]
async fn learns_the_bucket_region_from_s3_and_signs_for_it() {
    let scopes = Arc::new(Mutex::new(Vec::new()));
    let port = fake_s3(scopes.clone());
    let cfg = Config::from_vars(
        [
            ("TRIAGE_S3_ENDPOINT", format!("http://127.0.0.1:{port}")),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE".into()),
            ("AWS_SECRET_ACCESS_KEY", "secret".into()),
        ]
        .map(|(k, v)| (k.to_string(), v)),
    )
    .unwrap();
    let s3 = store::for_provider(&cfg, Provider::S3).unwrap();
    assert_eq!(&s3.get("photos", "k").await.unwrap()[..], b"hello");
    assert_eq!(*scopes.lock().unwrap(), ["us-east-1", "eu-west-1"]);
    // Remembered: the next call goes straight to the right region.
    assert_eq!(&s3.get("photos", "k2").await.unwrap()[..], b"hello");
    assert_eq!(scopes.lock().unwrap().len(), 3);
    // Presigned URLs for that bucket are signed for its region too.
    let url = s3
        .presign("photos", "k", std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert!(url.contains("%2Feu-west-1%2Fs3%2F"), "{url}");
}

/// Answers with `replies` in turn (then the last one again), counting requests.
fn scripted_s3(replies: Vec<String>, count: Arc<Mutex<usize>>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let n = {
                let mut c = count.lock().unwrap();
                *c += 1;
                *c
            };
            let reply = &replies[(n - 1).min(replies.len() - 1)];
            let _ = s.write_all(reply.as_bytes());
        }
    });
    port
}

fn error_reply(status: &str, code: &str) -> String {
    let body = format!("<Error><Code>{code}</Code><Message>m</Message></Error>");
    format!("HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
}

fn store_at(port: u16, attempts: &str) -> std::sync::Arc<dyn image_triage::store::ObjectStore> {
    let cfg = Config::from_vars(
        [
            ("TRIAGE_S3_ENDPOINT", format!("http://127.0.0.1:{port}")),
            ("TRIAGE_S3_MAX_ATTEMPTS", attempts.into()),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE".into()),
            ("AWS_SECRET_ACCESS_KEY", "secret".into()),
        ]
        .map(|(k, v)| (k.to_string(), v)),
    )
    .unwrap();
    store::for_provider(&cfg, Provider::S3).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_down_is_retried_access_denied_is_not() {
    let ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".to_string();
    let count = Arc::new(Mutex::new(0));
    let port = scripted_s3(
        vec![
            error_reply("503 Slow Down", "SlowDown"),
            error_reply("500 Internal Server Error", "InternalError"),
            ok,
        ],
        count.clone(),
    );
    assert_eq!(&store_at(port, "4").get("b", "k").await.unwrap()[..], b"ok");
    assert_eq!(*count.lock().unwrap(), 3);

    let count = Arc::new(Mutex::new(0));
    let port = scripted_s3(
        vec![error_reply("403 Forbidden", "AccessDenied")],
        count.clone(),
    );
    let e = store_at(port, "4").get("b", "k").await.unwrap_err();
    assert!(
        !e.retryable() && e.to_string().contains("AccessDenied"),
        "{e}"
    );
    assert_eq!(*count.lock().unwrap(), 1);

    // Retries stop at TRIAGE_S3_MAX_ATTEMPTS, and the error still says a retry could help.
    let count = Arc::new(Mutex::new(0));
    let port = scripted_s3(
        vec![error_reply("503 Slow Down", "SlowDown")],
        count.clone(),
    );
    let e = store_at(port, "2").get("b", "k").await.unwrap_err();
    assert!(e.retryable(), "{e}");
    assert_eq!(*count.lock().unwrap(), 2);
}
