//! Credential sources for the self-hosted commands, each against a local endpoint on 127.0.0.1
//! that follows the vendor's documented protocol (written from the docs cited in each source's
//! module, not from our client): EC2 IMDSv2 (token PUT with a TTL header; GETs without a valid
//! token are refused with 401), the ECS/EKS container endpoint (checks `Authorization`), STS
//! `AssumeRoleWithWebIdentity` (moto, and a local endpoint answering the documented XML),
//! Tencent's CVM role metadata and Huawei's ECS agency metadata. Then the whole path: `serve`
//! started with short-lived container credentials refreshes them and signs its S3 requests with
//! the new key; with no AWS source at all it stops at start naming the sources it tried.

mod common;
mod credential_fakes;

use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use image_triage::client::refresh::{resolve, CredentialSource, SourceError};
use image_triage::cloud::aws::credential::{chain, container, imds, web_identity};
use image_triage::config::Config;

use credential_fakes::{aws_json, env, fake_imds, in_an_hour, Endpoint, Seen};

#[tokio::test]
async fn imds_v2_token_then_role_then_credentials() {
    let ep = fake_imds("triage-instance-role", "ASIAIMDSEXAMPLE");
    let source = imds::Imds::from_env(&env(&[(imds::ENDPOINT_VAR, &ep.url())]));
    let got = source.load().await.unwrap();
    assert_eq!(got.credentials.access_key, "ASIAIMDSEXAMPLE");
    assert_eq!(got.credentials.secret_key, "secret-of-ASIAIMDSEXAMPLE");
    assert_eq!(
        got.credentials.token.as_deref(),
        Some("token-of-ASIAIMDSEXAMPLE")
    );
    assert!(got.expires.unwrap() > chrono::Utc::now());
    let seen = ep.seen();
    let steps: Vec<_> = seen
        .iter()
        .map(|s| (s.method.as_str(), s.path.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("PUT", "/latest/api/token"),
            ("GET", "/latest/meta-data/iam/security-credentials/"),
            (
                "GET",
                "/latest/meta-data/iam/security-credentials/triage-instance-role"
            ),
        ]
    );

    // The endpoint really refuses a GET without the token (what makes it v2).
    let (status, _, _) = common::http(ep.port, "GET", imds::CREDENTIALS_PATH, &[], b"");
    assert_eq!(status, 401);

    // Switched off: not even a connection.
    let off = imds::Imds::from_env(&env(&[
        (imds::ENDPOINT_VAR, &ep.url()),
        (imds::DISABLED_VAR, "true"),
    ]));
    let before = ep.seen().len();
    assert!(matches!(
        off.load().await,
        Err(SourceError::NotAvailable(_))
    ));
    assert_eq!(ep.seen().len(), before, "no call when switched off");

    // An instance without a role: nothing here, the chain goes on.
    let no_role = Endpoint::start(|r| match r.method.as_str() {
        "PUT" => (200, "t".into()),
        _ => (404, String::new()),
    });
    let source = imds::Imds::from_env(&env(&[(imds::ENDPOINT_VAR, &no_role.url())]));
    assert!(
        matches!(source.load().await, Err(SourceError::NotAvailable(m)) if m.contains("no IAM role"))
    );
}

/// The container endpoint as the SDK reference describes it: a GET with the authorization token
/// in `Authorization`; errors as `{"code", "message"}`.
#[tokio::test]
async fn container_endpoint_sends_the_authorization_token_and_rereads_its_file() {
    let expected = Arc::new(Mutex::new("Bearer eks-pod-identity-1".to_string()));
    let want = expected.clone();
    let ep = Endpoint::start(move |r| {
        if r.method != "GET" || r.path != "/v1/credentials" {
            return (404, String::new());
        }
        if r.headers.get("authorization") != Some(&want.lock().unwrap()) {
            let e = r#"{"code":"AccessDenied","message":"invalid authorization token"}"#;
            return (401, e.into());
        }
        (200, aws_json("ASIACONTAINER", &in_an_hour()))
    });
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("eks-pod-identity-token");
    std::fs::write(&token_file, "Bearer eks-pod-identity-1\n").unwrap();
    let full = format!("{}/v1/credentials", ep.url());
    let file = token_file.display().to_string();
    let source = container::Container::from_env(&env(&[
        (container::FULL_URI_VAR, &full),
        (container::TOKEN_FILE_VAR, &file),
        (container::TOKEN_VAR, "ignored-when-the-file-is-set"),
    ]));
    let got = source.load().await.unwrap();
    assert_eq!(got.credentials.access_key, "ASIACONTAINER");

    // The agent rotates the token: the file is read again for the next fetch.
    *expected.lock().unwrap() = "Bearer eks-pod-identity-2".into();
    std::fs::write(&token_file, "Bearer eks-pod-identity-2").unwrap();
    assert!(source.load().await.is_ok());

    // The variable form, and the endpoint's error surfaced by code and message.
    let source = container::Container::from_env(&env(&[
        (container::FULL_URI_VAR, &full),
        (container::TOKEN_VAR, "Bearer wrong"),
    ]));
    match source.load().await {
        Err(SourceError::Failed(m)) => {
            assert!(
                m.contains("AccessDenied: invalid authorization token"),
                "{m}"
            )
        }
        other => panic!("{other:?}"),
    }
    // A full URI to a host the SDKs do not allow is refused without a connection.
    let before = ep.seen().len();
    let source = container::Container::from_env(&env(&[(
        container::FULL_URI_VAR,
        "http://192.0.2.10/v1/credentials",
    )]));
    assert!(matches!(source.load().await, Err(SourceError::Failed(_))));
    assert_eq!(ep.seen().len(), before);
}

/// STS's Query API: a form POST of `AssumeRoleWithWebIdentity`, answered with the documented
/// XML; no signature.
#[tokio::test]
async fn web_identity_posts_the_documented_form_and_reads_the_xml() {
    let ep = Endpoint::start(|r| {
        let form: BTreeMap<String, String> = url::form_urlencoded::parse(r.body.as_bytes())
            .into_owned()
            .collect();
        let ok = r.method == "POST"
            && r.headers
                .get("content-type")
                .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
            && !r.headers.contains_key("authorization")
            && form.get("Action").map(String::as_str) == Some("AssumeRoleWithWebIdentity")
            && form.get("Version").map(String::as_str) == Some("2011-06-15")
            && form.get("RoleArn").map(String::as_str)
                == Some("arn:aws:iam::123456789012:role/triage")
            && form.get("RoleSessionName").map(String::as_str) == Some("triage-pod");
        if !ok {
            return (400, "<ErrorResponse><Error><Code>MissingParameter</Code><Message>bad request</Message></Error></ErrorResponse>".into());
        }
        if form.get("WebIdentityToken").map(String::as_str) != Some("eyJ.jwt-2") {
            return (400, "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>token expired</Message></Error><RequestId>r</RequestId></ErrorResponse>".into());
        }
        let xml = format!(
            "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
             <AssumeRoleWithWebIdentityResult><Credentials><SessionToken>sts-session</SessionToken>\
             <SecretAccessKey>sts-secret</SecretAccessKey><Expiration>{}</Expiration>\
             <AccessKeyId>ASIASTSLOCAL</AccessKeyId></Credentials></AssumeRoleWithWebIdentityResult>\
             <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>",
            in_an_hour()
        );
        (200, xml)
    });
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "eyJ.jwt-1").unwrap();
    let file = token_file.display().to_string();
    let url = ep.url();
    let source = web_identity::WebIdentity::from_env(&env(&[
        (web_identity::TOKEN_FILE_VAR, &file),
        (
            web_identity::ROLE_ARN_VAR,
            "arn:aws:iam::123456789012:role/triage",
        ),
        (web_identity::SESSION_NAME_VAR, "triage-pod"),
        (web_identity::STS_ENDPOINT_VAR, &url),
        (web_identity::ENDPOINT_VAR, "http://127.0.0.1:1"),
    ]));
    match source.load().await {
        Err(SourceError::Failed(m)) => {
            assert!(m.contains("InvalidIdentityToken: token expired"), "{m}");
            assert!(!m.contains("eyJ"), "the token never shows: {m}");
        }
        other => panic!("{other:?}"),
    }
    // The kubelet rotated the token: read again.
    std::fs::write(&token_file, "eyJ.jwt-2\n").unwrap();
    let got = source.load().await.unwrap();
    assert_eq!(got.credentials.access_key, "ASIASTSLOCAL");
    assert_eq!(got.credentials.token.as_deref(), Some("sts-session"));
}

#[tokio::test]
async fn web_identity_against_moto_sts() {
    let moto = common::moto::Moto::start_unenforced();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    // moto accepts any token; an EKS-style JWT shape for realism.
    std::fs::write(
        &token_file,
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2ln",
    )
    .unwrap();
    let file = token_file.display().to_string();
    let source = web_identity::WebIdentity::from_env(&env(&[
        (web_identity::TOKEN_FILE_VAR, &file),
        (
            web_identity::ROLE_ARN_VAR,
            "arn:aws:iam::123456789012:role/triage",
        ),
        (web_identity::ENDPOINT_VAR, &moto.endpoint),
        ("AWS_REGION", "us-east-1"),
    ]));
    let got = source.load().await.unwrap();
    assert!(got.credentials.access_key.starts_with("ASIA"), "{got:?}");
    assert!(got.credentials.token.is_some());
    assert!(got.expires.unwrap() > chrono::Utc::now());
}

#[tokio::test]
async fn environment_keys_win_over_every_other_source() {
    let ep = Endpoint::start(|_| (200, aws_json("ASIANOTUSED", &in_an_hour())));
    let full = format!("{}/creds", ep.url());
    let sources = chain(&env(&[
        ("AWS_ACCESS_KEY_ID", "AKIAENVKEY"),
        ("AWS_SECRET_ACCESS_KEY", "env-secret"),
        (container::FULL_URI_VAR, &full),
        (imds::ENDPOINT_VAR, &ep.url()),
    ]));
    let (source, got) = resolve("AWS", &sources).await.unwrap();
    assert_eq!(source.name(), "environment");
    assert_eq!(got.credentials.access_key, "AKIAENVKEY");
    assert_eq!(got.expires, None);
    assert!(
        ep.seen().is_empty(),
        "no metadata call when the environment has keys"
    );

    // Without them the container endpoint is next, before IMDS.
    let sources = chain(&env(&[
        (container::FULL_URI_VAR, &full),
        (imds::ENDPOINT_VAR, &ep.url()),
    ]));
    let (source, got) = resolve("AWS", &sources).await.unwrap();
    assert_eq!(source.name(), "container credentials endpoint");
    assert_eq!(got.credentials.access_key, "ASIANOTUSED");
}

fn config(pairs: &[(&str, &str)]) -> Config {
    Config::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap()
}

/// Tencent's CVM metadata: the role's name at `cam/security-credentials/`, its keys below it.
#[tokio::test]
async fn tencent_cvm_role_from_metadata_and_env_first() {
    let expired_time = chrono::Utc::now().timestamp() + 7200;
    let ep = Endpoint::start(move |r| match (r.method.as_str(), r.path.as_str()) {
        ("GET", "/latest/meta-data/cam/security-credentials/") => (200, "TriageCvmRole".into()),
        ("GET", "/latest/meta-data/cam/security-credentials/TriageCvmRole") => (
            200,
            serde_json::json!({
                "TmpSecretId": "AKIDcvmrole", "TmpSecretKey": "cvm-secret",
                "ExpiredTime": expired_time, "Expiration": "2099-01-01T00:00:00Z",
                "Token": "cvm-token", "Code": "Success"
            })
            .to_string(),
        ),
        _ => (404, String::new()),
    });
    let url = ep.url();
    let cfg = config(&[(
        image_triage::cloud::tencent::credential::METADATA_ENDPOINT_VAR,
        &url,
    )]);
    let sources = image_triage::cloud::tencent::credential::chain(&cfg);
    let (source, got) = resolve("Tencent Cloud", &sources).await.unwrap();
    assert_eq!(source.name(), "CVM instance role (metadata)");
    assert_eq!(got.credentials.access_key, "AKIDcvmrole");
    assert_eq!(got.credentials.token.as_deref(), Some("cvm-token"));
    assert_eq!(got.expires.unwrap().timestamp(), expired_time);

    let cfg = config(&[
        (
            image_triage::cloud::tencent::credential::METADATA_ENDPOINT_VAR,
            &url,
        ),
        ("TENCENTCLOUD_SECRETID", "AKIDenv"),
        ("TENCENTCLOUD_SECRETKEY", "env-secret"),
    ]);
    let before = ep.seen().len();
    let (_, got) = resolve(
        "Tencent Cloud",
        &image_triage::cloud::tencent::credential::chain(&cfg),
    )
    .await
    .unwrap();
    assert_eq!(got.credentials.access_key, "AKIDenv");
    assert_eq!(ep.seen().len(), before);
}

/// Huawei's ECS metadata `securitykey`, with the session-token handshake Huawei's SDK performs
/// and, for a service without it (404 on the PUT), without.
#[tokio::test]
async fn huawei_ecs_agency_from_metadata_with_and_without_a_session_token() {
    let answer = || {
        serde_json::json!({"credential": {
            "access": "HWTMPAK", "secret": "hw-secret", "securitytoken": "hw-token",
            "expires_at": "2099-01-08T02:05:49.612000Z"}})
        .to_string()
    };
    let with_token = Endpoint::start(move |r| match (r.method.as_str(), r.path.as_str()) {
        ("PUT", "/meta-data/latest/api/token") => {
            match r.headers.get("x-metadata-token-ttl-seconds") {
                Some(_) => (200, "hw-metadata-token".into()),
                None => (400, String::new()),
            }
        }
        ("GET", "/openstack/latest/securitykey") => {
            match r.headers.get("x-metadata-token").map(String::as_str) {
                Some("hw-metadata-token") => (200, answer()),
                _ => (401, String::new()),
            }
        }
        _ => (404, String::new()),
    });
    let without = Endpoint::start(move |r| match (r.method.as_str(), r.path.as_str()) {
        ("GET", "/openstack/latest/securitykey") => (200, answer()),
        _ => (404, String::new()),
    });
    for ep in [&with_token, &without] {
        let url = ep.url();
        let cfg = config(&[(
            image_triage::cloud::huawei::credential::METADATA_ENDPOINT_VAR,
            &url,
        )]);
        let sources = image_triage::cloud::huawei::credential::chain(&cfg);
        let (source, got) = resolve("Huawei Cloud", &sources).await.unwrap();
        assert_eq!(source.name(), "ECS agency (metadata)");
        assert_eq!(got.credentials.access_key, "HWTMPAK");
        assert_eq!(got.credentials.token.as_deref(), Some("hw-token"));
    }
}

/// A fake S3 that records every request's `Authorization` and `x-amz-security-token`, and
/// answers 404 (the object does not matter: the signature does).
fn capturing_s3() -> Endpoint {
    Endpoint::start(|_| (404, String::new()))
}

fn credential_in(auth: &str) -> &str {
    auth.split("Credential=")
        .nth(1)
        .and_then(|c| c.split('/').next())
        .unwrap_or_default()
}

#[test]
fn serve_refreshes_short_lived_container_credentials_and_signs_with_the_new_key() {
    // First answer: a key that expires in 16 s (refreshed at half-life, ~8 s). Afterwards: a
    // key good for an hour.
    let hits = Arc::new(Mutex::new(0u32));
    let count = hits.clone();
    let creds = Endpoint::start(move |r| {
        if r.headers.get("authorization").map(String::as_str) != Some("Bearer ecs-task") {
            return (401, r#"{"code":"Unauthorized","message":"no"}"#.into());
        }
        let mut n = count.lock().unwrap();
        *n += 1;
        if *n == 1 {
            let soon = chrono::Utc::now() + chrono::Duration::seconds(16);
            (
                200,
                aws_json(
                    "ASIAFIRSTKEY",
                    &soon.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                ),
            )
        } else {
            (200, aws_json("ASIASECONDKEY", &in_an_hour()))
        }
    });
    let s3 = capturing_s3();
    let port = common::free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_image-triage"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TRIAGE_SERVE_BIND", format!("127.0.0.1:{port}"))
        .env("TRIAGE_S3_ENDPOINT", s3.url())
        .env("AWS_REGION", "us-east-1")
        .env("TRIAGE_LABELER", "none")
        .env("TRIAGE_MODERATOR", "none")
        .env("TRIAGE_DEDUPE", "off")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            format!("{}/v2/credentials/task", creds.url()),
        )
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer ecs-task")
        .env("TRIAGE_LOG", "image_triage=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    common::wait_for_port(port, "serve");
    let event = |key: &str| common::event_for("uploads-bucket", key, "ObjectCreated:Put");

    let (status, _) = common::post_json(port, "/", &event("first.png"));
    assert!(status < 600, "{status}");
    let first_auth: Vec<String> = s3
        .seen()
        .iter()
        .filter_map(|s| s.headers.get("authorization").cloned())
        .collect();
    let early = *hits.lock().unwrap() == 1;
    assert!(!first_auth.is_empty(), "serve signed an S3 request");
    if early {
        assert!(
            first_auth
                .iter()
                .all(|a| credential_in(a) == "ASIAFIRSTKEY"),
            "{first_auth:?}"
        );
    }

    let deadline = Instant::now() + Duration::from_secs(30);
    while *hits.lock().unwrap() < 2 {
        assert!(Instant::now() < deadline, "no refresh within 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    let before = s3.seen().len();
    let (status, _) = common::post_json(port, "/", &event("second.png"));
    assert!(status < 600, "{status}");
    let later: Vec<Seen> = s3.seen()[before..].to_vec();
    assert!(!later.is_empty());
    for req in &later {
        let auth = req
            .headers
            .get("authorization")
            .cloned()
            .unwrap_or_default();
        assert_eq!(credential_in(&auth), "ASIASECONDKEY", "{auth}");
        assert_eq!(
            req.headers.get("x-amz-security-token").map(String::as_str),
            Some("token-of-ASIASECONDKEY")
        );
    }
    let _ = child.kill();
    let mut logs = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut logs);
    let _ = child.wait();
    for secret in ["secret-of-ASIA", "token-of-ASIA", "ecs-task"] {
        assert!(!logs.contains(secret), "a secret in the logs: {logs}");
    }
    assert!(logs.contains("credentials refreshed"), "{logs}");
}

#[test]
fn without_any_aws_source_serve_stops_at_start_naming_the_sources() {
    let closed = common::free_port();
    let out = Command::new(env!("CARGO_BIN_EXE_image-triage"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env(
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
            format!("http://127.0.0.1:{closed}"),
        )
        .env("TRIAGE_LABELER", "none")
        .env("TRIAGE_MODERATOR", "none")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for source in [
        "no AWS credentials",
        "environment",
        "web identity",
        "container credentials endpoint",
        "EC2 instance metadata",
    ] {
        assert!(err.contains(source), "{source}: {err}");
    }

    // A configuration that signs nothing for AWS starts as before.
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_image-triage"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env(
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
            format!("http://127.0.0.1:{closed}"),
        )
        .env("TRIAGE_STORE", "local")
        .env("TRIAGE_LOCAL_ROOT", dir.path())
        .env("TRIAGE_LABELER", "none")
        .env("TRIAGE_MODERATOR", "none")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    common::wait_for_port(port, "serve");
    let _ = child.kill();
    let _ = child.wait();
}
