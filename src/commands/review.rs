//! `image-triage review BUCKET [PREFIX]`: the review page over the bucket's results.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use image_triage::pipeline::Pipeline;
use image_triage::review::{self, access};
use image_triage::{runtime, Provider};

use super::{config_or_exit, init_logs, provider_arg, Exit};

/// Shortest `TRIAGE_REVIEW_TOKEN` accepted: a token is all that guards a page bound beyond
/// loopback.
const MIN_TOKEN: usize = 16;

#[derive(clap::Args)]
#[command(
    after_help = "Bound to loopback by default. Bound elsewhere, every request needs a \
token: TRIAGE_REVIEW_TOKEN, else a random one, printed in the page's URL. Run it with the \
function's settings (TRIAGE_MARKER_SECRET, TRIAGE_BLOCK_ACTION, TRIAGE_SINKS, the prefixes): a \
decision is written the way the function writes. Exit 0 after ctrl-c; 2 when it cannot start."
)]
pub struct Args {
    bucket: String,
    /// Only objects whose keys start with this.
    #[arg(default_value = "")]
    prefix: String,
    /// Which store holds the bucket (default: `local` with TRIAGE_STORE=local, else `s3`).
    #[arg(long, value_parser = provider_arg())]
    provider: Option<Provider>,
    /// Address to serve the page on.
    #[arg(long, default_value = "127.0.0.1:8088")]
    bind: SocketAddr,
    /// Who decides, as recorded in each decision (default: the OS user).
    #[arg(long)]
    reviewer: Option<String>,
}

/// A reviewer name as it goes into results, tags and logs: 1-64 printable characters.
fn reviewer_name(given: Option<String>) -> Result<String, String> {
    let name = given
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .unwrap_or_else(|| "unknown".into());
    let name = name.trim().to_string();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(format!(
            "--reviewer {name:?}: expected 1-64 printable characters"
        ));
    }
    Ok(name)
}

pub async fn run(args: Args) -> Exit {
    init_logs("warn", false);
    let config = config_or_exit()?;
    let fail = |msg: String| {
        eprintln!("image-triage review: {msg}");
        ExitCode::from(2)
    };
    let provider = super::bucket_provider(args.provider, &config);
    let reviewer = reviewer_name(args.reviewer).map_err(fail)?;
    // On EC2/ECS/EKS (or a CVM, an ECS agency) the page signs with the instance's credentials.
    super::self_hosted_credentials(&config, &[provider], &[]).await?;
    let token = match config.env.get("TRIAGE_REVIEW_TOKEN") {
        Some(t) if t.len() < MIN_TOKEN => {
            return Err(fail(format!(
                "TRIAGE_REVIEW_TOKEN: at least {MIN_TOKEN} characters"
            )))
        }
        Some(t) => Some(t.to_string()),
        None if args.bind.ip().is_loopback() => None,
        None => Some(access::random_token().map_err(|e| fail(format!("no random token: {e}")))?),
    };
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|e| fail(format!("cannot listen on {}: {e}", args.bind)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| fail(format!("cannot listen on {}: {e}", args.bind)))?;
    let hosts = if addr.ip().is_loopback() {
        access::Access::loopback_hosts(addr.port())
    } else {
        vec![]
    };
    let csrf = access::random_token().map_err(|e| fail(format!("no random token: {e}")))?;
    let opts = review::Options {
        provider,
        bucket: args.bucket.clone(),
        prefix: args.prefix.clone(),
        reviewer: reviewer.clone(),
        access: access::Access {
            token: token.clone(),
            csrf,
            hosts,
        },
    };
    let pipeline = Arc::new(Pipeline::new(config));
    let store = pipeline.store(provider).map_err(|e| fail(e.to_string()))?;
    if !store.capabilities().list {
        return Err(fail(format!(
            "the {} store cannot list a bucket",
            store.name()
        )));
    }
    let router = review::router(pipeline, opts).map_err(|e| fail(e.to_string()))?;
    let shown = if addr.ip().is_unspecified() {
        format!("<this host>:{}", addr.port())
    } else {
        addr.to_string()
    };
    let query = token.map(|t| format!("?token={t}")).unwrap_or_default();
    println!(
        "image-triage review: http://{shown}/{query} — bucket {}, prefix {:?}, reviewer {reviewer}; ctrl-c stops",
        args.bucket, args.prefix
    );
    review::serve(listener, router, runtime::serve::shutdown_signal())
        .await
        .map_err(|e| fail(e.to_string()))?;
    Ok(ExitCode::SUCCESS)
}
