use super::*;

fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

#[test]
fn defaults_follow_the_provider() {
    let c = cfg(&[]).unwrap();
    assert_eq!(c.labeler_for(Provider::Cos), LabelerKind::CosCi);
    assert_eq!(c.moderator_for(Provider::Cos), ModeratorKind::Ims);
    assert_eq!(c.labeler_for(Provider::Obs), LabelerKind::Huawei);
    assert_eq!(c.moderator_for(Provider::Obs), ModeratorKind::Huawei);
    assert_eq!(c.labeler_for(Provider::S3), LabelerKind::Local);
    assert_eq!(c.moderator_for(Provider::Local), ModeratorKind::Local);
    assert_eq!(c.results_prefix, "triage-results/");
    assert_eq!(
        c.sinks,
        vec![SinkKind::Metadata, SinkKind::Tags, SinkKind::Sidecar]
    );
}

#[test]
fn local_store_makes_local_models_the_default() {
    let c = cfg(&[("TRIAGE_STORE", "local"), ("TRIAGE_LOCAL_ROOT", "/tmp/x")]).unwrap();
    assert_eq!(c.labeler_for(Provider::Cos), LabelerKind::Local);
    assert_eq!(c.moderator_for(Provider::Obs), ModeratorKind::Local);
    let c = cfg(&[
        ("TRIAGE_STORE", "local"),
        ("TRIAGE_LOCAL_ROOT", "/tmp/x"),
        ("TRIAGE_MODERATOR", "none"),
    ])
    .unwrap();
    assert_eq!(c.moderator_for(Provider::Cos), ModeratorKind::None);
}

#[test]
fn errors_name_the_variable_and_the_choices() {
    let e = cfg(&[("TRIAGE_LABELER", "clip")]).unwrap_err().to_string();
    assert!(e.contains("TRIAGE_LABELER") && e.contains("cos-ci"), "{e}");
    let e = cfg(&[("TRIAGE_SINKS", "metadata,email")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("email"), "{e}");
    let e = cfg(&[("TRIAGE_STORE", "local")]).unwrap_err().to_string();
    assert!(e.contains("TRIAGE_LOCAL_ROOT"), "{e}");
    let e = cfg(&[("TRIAGE_SINKS", "queue")]).unwrap_err().to_string();
    assert!(e.contains("TRIAGE_QUEUE"), "{e}");
    let e = cfg(&[("TRIAGE_COS_ENDPOINT", "localhost:9")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("TRIAGE_COS_ENDPOINT"), "{e}");
    assert!(cfg(&[("TRIAGE_BLOCK_THRESHOLD", "120")]).is_err());
    assert!(cfg(&[
        ("TRIAGE_REVIEW_THRESHOLD", "90"),
        ("TRIAGE_BLOCK_THRESHOLD", "80")
    ])
    .is_err());
}

#[test]
fn queue_implies_the_queue_sink_and_prefixes_are_normalised() {
    let c = cfg(&[
        ("TRIAGE_QUEUE", "file:/tmp/q.jsonl"),
        ("TRIAGE_RESULTS_PREFIX", "/out"),
        ("TRIAGE_IMS_ENDPOINT", "http://127.0.0.1:9000/"),
    ])
    .unwrap();
    assert!(c.sink_enabled(SinkKind::Queue));
    assert_eq!(c.results_prefix, "out/");
    assert_eq!(c.endpoints["ims"], "http://127.0.0.1:9000");
}

#[test]
fn config_hash_changes_with_what_changes_results() {
    let a = cfg(&[]).unwrap().config_hash(Provider::S3);
    let b = cfg(&[("TRIAGE_BLOCK_THRESHOLD", "99")])
        .unwrap()
        .config_hash(Provider::S3);
    let c = cfg(&[("TRIAGE_SINKS", "sidecar")])
        .unwrap()
        .config_hash(Provider::S3);
    assert_ne!(a, b);
    assert_eq!(a, c, "sinks do not change the result itself");
    assert_eq!(a.len(), 12);
}

#[test]
fn service_tuning_and_analyzer_settings() {
    let d = Tuning::new(Some(20.0), std::time::Duration::from_secs(5), 3);
    let c = cfg(&[
        ("TRIAGE_IMS_QPS", "7.5"),
        ("TRIAGE_IMS_TIMEOUT", "0.25"),
        ("TRIAGE_COS_CI_MAX_ATTEMPTS", "1"),
    ])
    .unwrap();
    let ims = c.tuning("ims", d);
    assert_eq!(ims.qps, Some(7.5));
    assert_eq!(ims.timeout, std::time::Duration::from_millis(250));
    assert_eq!(ims.max_attempts, 3);
    assert_eq!(c.tuning("cos-ci", d).max_attempts, 1);
    assert_eq!(c.tuning("tiia", d), d);

    for (var, value) in [
        ("TRIAGE_IMS_QPS", "0"),
        ("TRIAGE_IMS_TIMEOUT", "soon"),
        ("TRIAGE_X_MAX_ATTEMPTS", "2.5"),
    ] {
        let e = cfg(&[(var, value)]).unwrap_err();
        assert_eq!(e.var, var);
    }

    assert!(
        cfg(&[("TRIAGE_SERVE_TIMEOUT", "1800")]).is_ok(),
        "serve's own timeout is not a service tuning"
    );
    let plain = cfg(&[]).unwrap().config_hash(Provider::Cos);
    let scenes = cfg(&[("TRIAGE_LABEL_SCENES", "web")]).unwrap();
    assert_ne!(scenes.config_hash(Provider::Cos), plain);
    let limits = cfg(&[("TRIAGE_HUAWEI_TAGGING_LIMITS", "current")]).unwrap();
    assert_ne!(
        limits.config_hash(Provider::Obs),
        cfg(&[]).unwrap().config_hash(Provider::Obs)
    );
    let tuned = cfg(&[("TRIAGE_IMS_QPS", "3")]).unwrap();
    assert_eq!(
        tuned.config_hash(Provider::Cos),
        plain,
        "tuning does not change results"
    );
    assert_eq!(
        cfg(&[("TRIAGE_CI_ENDPOINT", "http://127.0.0.1:1")])
            .unwrap()
            .endpoint("CI"),
        Some("http://127.0.0.1:1")
    );
}

#[test]
fn missing_model_files_follow_the_configured_analyzers() {
    use crate::analyzers::{LABELS_MODEL_FILE, NSFW_MODEL_FILE, OCR_DET_FILE, ORT_RUNTIME_FILE};
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().display().to_string();
    let c = |extra: &[(&str, &str)]| {
        let mut pairs = vec![("TRIAGE_MODEL_DIR", root.as_str())];
        pairs.extend_from_slice(extra);
        cfg(&pairs).unwrap()
    };
    let all = c(&[]).missing_model_files(Provider::S3);
    for f in [
        LABELS_MODEL_FILE,
        NSFW_MODEL_FILE,
        OCR_DET_FILE,
        ORT_RUNTIME_FILE,
    ] {
        assert!(all.contains(&f), "{all:?}");
    }
    let labels_only = c(&[("TRIAGE_MODERATOR", "none")]).missing_model_files(Provider::S3);
    assert_eq!(labels_only, vec![LABELS_MODEL_FILE, ORT_RUNTIME_FILE]);
    let no_ocr = c(&[("TRIAGE_LABELER", "none"), ("TRIAGE_OCR", "off")]);
    assert_eq!(
        no_ocr.missing_model_files(Provider::S3),
        vec![NSFW_MODEL_FILE, ORT_RUNTIME_FILE]
    );
    std::fs::write(dir.path().join(NSFW_MODEL_FILE), b"m").unwrap();
    std::fs::write(dir.path().join(ORT_RUNTIME_FILE), b"m").unwrap();
    assert!(no_ocr.missing_model_files(Provider::S3).is_empty());
    let none = c(&[("TRIAGE_LABELER", "none"), ("TRIAGE_MODERATOR", "none")]);
    assert!(none.missing_model_files(Provider::S3).is_empty());
}

#[test]
fn attaching_the_local_models_changes_the_hash() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().display().to_string();
    let c = || {
        cfg(&[
            ("TRIAGE_STORE", "local"),
            ("TRIAGE_LOCAL_ROOT", &root),
            ("TRIAGE_MODEL_DIR", &root),
        ])
        .unwrap()
    };
    let without = c().config_hash(Provider::Local);
    assert_eq!(c().config_hash(Provider::Local), without, "stable");
    std::fs::write(dir.path().join(crate::analyzers::NSFW_MODEL_FILE), b"model").unwrap();
    let with = c().config_hash(Provider::Local);
    assert_ne!(with, without);
    std::fs::write(dir.path().join(crate::analyzers::NSFW_MODEL_FILE), b"other").unwrap();
    assert_ne!(c().config_hash(Provider::Local), with, "another model file");
}

#[test]
fn vendor_settings_are_checked_when_the_config_is_built() {
    for (var, value) in [
        ("TRIAGE_HUAWEI_INPUT", "bogus"),
        ("TRIAGE_LABEL_SCENES", "moon"),
        ("TRIAGE_MODERATION_BIZ_TYPE", "x"),
        ("TRIAGE_LABEL_THRESHOLD", "250"),
        ("TRIAGE_S3_ADDRESSING", "bogus"),
        ("TRIAGE_QUEUE", "ftp://x"),
        ("TRIAGE_LABEL_SCENE", "web"),
        ("TRIAGE_OBS_REGION", "a.b"),
    ] {
        let e = cfg(&[(var, value)]).unwrap_err();
        assert_eq!(e.var, var, "{e}");
    }
    let e = cfg(&[("TRIAGE_QUEUE", "callback+https://h/x")]).unwrap_err();
    assert_eq!(e.var, "TRIAGE_CALLBACK_SECRET");
    // Settings of an analyzer no configuration can select are not checked against its rules.
    assert!(cfg(&[
        ("TRIAGE_STORE", "local"),
        ("TRIAGE_LOCAL_ROOT", "/tmp"),
        ("TRIAGE_LABEL_SCENES", "moon"),
    ])
    .is_ok());
}

#[test]
fn endpoints_are_plain_http_urls() {
    for ok in [
        "http://127.0.0.1:9000",
        "https://cos.ap-guangzhou.myqcloud.com/",
        "http://h/p",
    ] {
        assert!(cfg(&[("TRIAGE_COS_ENDPOINT", ok)]).is_ok(), "{ok}");
    }
    for bad in [
        "ftp://h",
        "http://",
        "127.0.0.1:9000",
        "http://h/?x=1",
        "http://h/#f",
    ] {
        let e = cfg(&[("TRIAGE_COS_ENDPOINT", bad)]).unwrap_err();
        assert_eq!(e.var, "TRIAGE_COS_ENDPOINT", "{bad}");
    }
    let e = cfg(&[("TRIAGE_S3_ENDPOINT", "http://user:hunter2@h:1/")]).unwrap_err();
    assert!(!e.to_string().contains("hunter2"), "{e}");
}

#[test]
fn a_shared_variable_must_suit_every_service_that_can_be_selected() {
    // A Huawei policy name IMS's rule refuses: with COS events possible, that stops the start,
    // and the message says how to name the one service in use.
    let e = cfg(&[("TRIAGE_MODERATION_BIZ_TYPE", "my-policy")]).unwrap_err();
    assert_eq!(e.var, "TRIAGE_MODERATION_BIZ_TYPE");
    assert!(e.reason.contains("TRIAGE_MODERATOR"), "{e}");
    assert!(cfg(&[
        ("TRIAGE_MODERATOR", "huawei"),
        ("TRIAGE_MODERATION_BIZ_TYPE", "my-policy"),
    ])
    .is_ok());
}

#[test]
fn errors_never_echo_secrets() {
    for (var, value, secret) in [
        ("TRIAGE_SERVE_TOKN", "supersecret123", "supersecret123"),
        ("TRIAGE_QUEU", "amqps://u:p4ssw0rd@mq/x", "p4ssw0rd"),
        (
            "TRIAGE_QUEUE",
            "sqs://AKIA:secretkey@sqs.eu-west-1.amazonaws.com/1",
            "secretkey",
        ),
        ("TRIAGE_COS_ENDPOINT", "user:pw9x@cos.example.com", "pw9x"),
        ("TRIAGE_S3_ENDPOINT", "http://user:pw9x@h:1/", "pw9x"),
        ("TRIAGE_HUAWEI_SECRET", "s3cr3t-value", "s3cr3t-value"),
    ] {
        let e = cfg(&[(var, value)]).unwrap_err();
        assert!(!e.to_string().contains(secret), "{var}: {e}");
    }
}

#[test]
fn serve_bind_and_s3_regions_behind_an_endpoint_are_not_refused() {
    // `serve --bind` overrides TRIAGE_SERVE_BIND; only `serve` checks it.
    assert!(cfg(&[("TRIAGE_SERVE_BIND", "localhost:8080")]).is_ok());
    // MinIO region names are only signed, never put in a host name.
    assert!(cfg(&[
        ("TRIAGE_S3_ENDPOINT", "http://minio:9000"),
        ("TRIAGE_S3_REGION", "Home_1"),
    ])
    .is_ok());
    assert_eq!(
        cfg(&[("TRIAGE_S3_REGION", "Home_1")]).unwrap_err().var,
        "TRIAGE_S3_REGION"
    );
}

#[test]
fn debug_output_holds_no_secret() {
    let c = cfg(&[
        (
            "TRIAGE_QUEUE",
            "amqp://triage:hunter2@mq.internal:5672/%2F?queue=qtok3n",
        ),
        ("TRIAGE_MARKER_SECRET", "marker-secret-value-1"),
        ("TRIAGE_SERVE_TOKEN", "serve-token-value-2"),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "aws-secret-value-3"),
        ("AWS_SESSION_TOKEN", "aws-session-value-4"),
        ("TENCENTCLOUD_SECRETID", "AKIDTENCENT"),
        ("TENCENTCLOUD_SECRETKEY", "tencent-secret-value-5"),
        ("HUAWEICLOUD_SDK_AK", "HUAWEIAK"),
        ("HUAWEICLOUD_SDK_SK", "huawei-secret-value-6"),
    ])
    .unwrap();
    let shown = format!("{c:?}");
    for secret in [
        "hunter2",
        "qtok3n",
        "marker-secret-value-1",
        "serve-token-value-2",
        "aws-secret-value-3",
        "aws-session-value-4",
        "tencent-secret-value-5",
        "huawei-secret-value-6",
    ] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(shown.contains("mq.internal"), "{shown}");
    for raw in [
        "amqp://triage:pa/ss@mq:5672/",
        "amqp://triage:p#ss@mq",
        "amqp://triage:p?ss@mq/?queue=q",
    ] {
        let shown = format!("{:?}", QueueUrl(raw.into()));
        assert!(!shown.contains("ss"), "{raw} shown as {shown}");
        assert!(shown.contains("***@mq"), "{raw} shown as {shown}");
    }
}

#[test]
fn huawei_services_only_where_huawei_offers_them() {
    let creds = [("TRIAGE_HUAWEI_REGION", "cn-east-3")];
    // Image tagging exists in cn-east-3; media tagging and celebrity recognition do not.
    assert!(cfg(&[creds[0], ("TRIAGE_LABELER", "huawei")]).is_ok());
    for extra in [
        ("TRIAGE_LABELER", "huawei-media"),
        ("TRIAGE_HUAWEI_CELEBRITY", "on"),
        ("TRIAGE_HUAWEI_MAIN_OBJECT", "on"),
    ] {
        let e = cfg(&[creds[0], extra]).unwrap_err();
        assert_eq!(e.var, "TRIAGE_HUAWEI_REGION", "{extra:?}: {e}");
        assert!(e.to_string().contains("cn-north-4"), "{e}");
    }
    let e = cfg(&[
        ("HUAWEICLOUD_SDK_REGION", "ap-southeast-1"),
        ("TRIAGE_LABELER", "huawei"),
    ])
    .unwrap_err();
    assert_eq!(e.var, "HUAWEICLOUD_SDK_REGION");
    assert!(e.to_string().contains("cn-north-4, cn-east-3"), "{e}");
    // Only the provider default: not held against the configuration.
    assert!(cfg(&[("HUAWEICLOUD_SDK_REGION", "ap-southeast-1")]).is_ok());
    assert!(cfg(&[
        ("TRIAGE_LABELER", "huawei-media"),
        ("TRIAGE_HUAWEI_CELEBRITY", "on")
    ])
    .is_ok());
}

#[test]
fn the_decode_budget_is_checked_at_start_and_follows_the_platform() {
    let e = cfg(&[("TRIAGE_DECODE_BUDGET_MB", "-1")]).unwrap_err();
    assert_eq!(e.var, "TRIAGE_DECODE_BUDGET_MB", "{e}");
    assert_eq!(
        cfg(&[]).unwrap().decode_budget_mb,
        memory::DEFAULT_BUDGET_MB
    );
    let lambda = cfg(&[("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "2048")]).unwrap();
    assert_eq!(lambda.decode_budget_mb, 512);
    // A bad GIF sampling value stops a local-only configuration too.
    let e = cfg(&[
        ("TRIAGE_STORE", "local"),
        ("TRIAGE_LOCAL_ROOT", "/tmp"),
        ("TRIAGE_MODERATOR", "none"),
        ("TRIAGE_MODERATION_GIF_MAX_FRAMES", "lots"),
    ])
    .unwrap_err();
    assert_eq!(e.var, "TRIAGE_MODERATION_GIF_MAX_FRAMES", "{e}");
}
