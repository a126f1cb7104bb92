//! The CLI subcommands, one module each; `main.rs` parses the arguments and dispatches here.

pub mod demo;
pub mod functiongraph;
pub mod inspect;
pub mod lambda;
pub mod limits;
pub mod poll_sqs;
pub mod process;
pub mod review;
pub mod scan;
pub mod scf;
pub mod serve;

use std::process::ExitCode;
use std::sync::Arc;

use image_triage::config::Config;
use image_triage::pipeline::Pipeline;
use image_triage::Provider;

/// What a subcommand ends with: the exit code either way (`Err` for early exits).
pub type Exit = Result<ExitCode, ExitCode>;

/// `--provider`: one of [`Provider`]'s string forms (listed in `--help`).
pub fn provider_arg() -> impl clap::builder::TypedValueParser<Value = Provider> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(Provider::ALL.iter().map(|p| p.as_str()))
        .try_map(|s: String| Provider::parse(&s).ok_or("unknown provider"))
}

pub fn init_logs(default: &str, json: bool) {
    image_triage::logging::init(default, json);
}

/// `image-triage CMD: ERROR` on stderr, then exit with `code`.
pub fn fail<E: std::fmt::Display>(cmd: &'static str, code: u8) -> impl FnOnce(E) -> ExitCode {
    move |e| {
        eprintln!("image-triage {cmd}: {e}");
        ExitCode::from(code)
    }
}

/// Logs on, configuration read, one pipeline for the life of the process: what every platform
/// runtime and server starts with.
pub fn start_pipeline(log: &str, json: bool) -> Result<Arc<Pipeline>, ExitCode> {
    init_logs(log, json);
    Ok(Arc::new(Pipeline::new(config_or_exit()?)))
}

/// For the self-hosted commands (`serve`, `poll-sqs`, `scan`), after their own settings are
/// checked: on EC2/ECS/EKS, a CVM or an ECS the keys come from the machine's role and expire, so
/// find them the way each cloud's SDKs do and refresh them in the background. Exit 2 naming the
/// sources tried when the run signs for AWS and none yields.
pub async fn self_hosted_credentials(
    config: &Config,
    providers: &[Provider],
    queues: &[&str],
) -> Result<(), ExitCode> {
    use image_triage::runtime::credentials;
    let needed = credentials::clouds_used(config, providers, queues);
    credentials::provide(config, &needed).await.map_err(|e| {
        eprintln!("image-triage: {e}");
        ExitCode::from(2)
    })
}

/// The store a bucket-wide command (`scan`, `review`) works on: `--provider`, else the local
/// store when `TRIAGE_STORE=local`, else S3.
pub fn bucket_provider(given: Option<Provider>, config: &Config) -> Provider {
    use image_triage::config::StoreKind;
    match (given, &config.store) {
        (Some(p), _) => p,
        (None, StoreKind::Local(_)) => Provider::Local,
        (None, StoreKind::Auto) => Provider::S3,
    }
}

/// The configuration, every setting checked; exit 2 naming the variable otherwise.
pub fn config_or_exit() -> Result<Config, ExitCode> {
    Config::from_env().map_err(|e| {
        eprintln!("image-triage: {e}");
        ExitCode::from(2)
    })
}

/// Every model file the configured local analyzers need is in `TRIAGE_MODEL_DIR`, or the
/// message a function runtime stops with at init.
pub fn require_models(config: &Config, provider: Provider) -> Result<(), String> {
    let missing = config.missing_model_files(provider);
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "the local analyzers need {} in TRIAGE_MODEL_DIR={} (attach the models layer, or run \
         scripts/fetch-models.sh), or set TRIAGE_LABELER / TRIAGE_MODERATOR to another analyzer",
        missing.join(", "),
        config.model_dir.display()
    ))
}
