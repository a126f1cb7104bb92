//! The `image-triage` command: the same pipeline the function runs, driven from a shell.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};

use image_triage::config::{default_cache_dir, Config, StoreKind};
use image_triage::pipeline::Pipeline;
use image_triage::{demo, inspect, preflight, runtime, scan, store, Provider};

#[derive(Parser)]
#[command(
    name = "image-triage",
    version,
    about = "Tag and moderate every image uploaded to a bucket"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Clone, Copy, ValueEnum)]
enum ProviderArg {
    Cos,
    Obs,
    S3,
    Local,
}

impl From<ProviderArg> for Provider {
    fn from(p: ProviderArg) -> Self {
        match p {
            ProviderArg::Cos => Provider::Cos,
            ProviderArg::Obs => Provider::Obs,
            ProviderArg::S3 => Provider::S3,
            ProviderArg::Local => Provider::Local,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Handle one platform event exactly as the function would; one JSON outcome per record on stdout.
    /// Exit 0 unless a retryable failure remains (1); 2 when the command itself cannot run.
    Process {
        /// The event JSON file (`-` for stdin).
        event: PathBuf,
        /// The platform the event came from, for S3-shaped events that could be OBS or S3.
        #[arg(long, value_enum)]
        provider: Option<ProviderArg>,
    },
    /// Show the stored triage result of one object (metadata, tags, sidecar).
    Inspect {
        bucket: String,
        key: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Which store to read when TRIAGE_STORE is not `local`.
        #[arg(long, value_enum, default_value = "local")]
        provider: ProviderArg,
    },
    /// Upload the demo photos into a local bucket, process their events, and show the results.
    Demo {
        /// Where the local bucket lives (also TRIAGE_LOCAL_ROOT).
        #[arg(long, env = "TRIAGE_LOCAL_ROOT", default_value = "demo-out")]
        root: PathBuf,
        /// Folder of photos to upload (default: the ones scripts/fetch-models.sh fetched).
        #[arg(long)]
        photos: Option<PathBuf>,
    },
    /// Print every analyzer's input limits as a Markdown table.
    Limits,
    /// Run as an AWS Lambda function (also the default when AWS_LAMBDA_RUNTIME_API is set).
    Lambda,
    /// Run as a Tencent SCF custom runtime (`bootstrap`; also the default when SCF_RUNTIME_API is set).
    Scf,
    /// Run as a Tencent SCF image function: HTTP server answering POST /event-invoke.
    ScfHttp {
        /// Address to listen on.
        #[arg(long, default_value = "0.0.0.0:9000")]
        listen: String,
    },
    /// Backfill: triage the objects already in a bucket that have no current result.
    /// One JSON outcome per object on stdout, a summary on stderr.
    /// Exit 0, or 1 when a retryable failure remains; 2 when the command cannot run.
    Scan(ScanArgs),
    /// Run as a Huawei FunctionGraph custom runtime (`bootstrap`; the default when
    /// RUNTIME_API_ADDR is set).
    Functiongraph,
    /// Run as a FunctionGraph container-image HTTP function (`POST /init`, `POST /invoke`).
    FunctiongraphHttp {
        /// Listen address; FunctionGraph requires port 8000.
        #[arg(long, default_value = "0.0.0.0:8000")]
        listen: std::net::SocketAddr,
    },
    /// HTTP endpoint for S3-style bucket notifications (MinIO, SNS HTTP subscriptions, moto);
    /// GET /healthz. SIGTERM or ctrl-c drains in-flight requests.
    Serve {
        /// Address to listen on (default TRIAGE_SERVE_BIND, else 127.0.0.1:8080).
        #[arg(long)]
        bind: Option<std::net::SocketAddr>,
    },
    /// Consume S3 notifications from an SQS queue (`sqs://HOST/ACCOUNT/NAME` or its http(s) URL;
    /// TRIAGE_SQS_ENDPOINT overrides the host). One JSON outcome per record on stdout.
    PollSqs {
        queue: String,
        /// Long-poll wait per receive, seconds (at most 20).
        #[arg(long, default_value_t = 20)]
        wait: u32,
        /// Exit once a receive returns no message (drain the queue, then stop).
        #[arg(long)]
        exit_when_empty: bool,
        /// Messages handled at once (1-10).
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=10))]
        concurrency: u32,
        /// Seconds allowed per message, retries included; keep it below the queue's visibility
        /// timeout (SQS's default is 30).
        #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u64).range(1..=43200))]
        timeout: u64,
    },
}

#[derive(clap::Args)]
struct ScanArgs {
    bucket: String,
    /// Only keys starting with this.
    #[arg(default_value = "")]
    prefix: String,
    /// Which store holds the bucket (default: `local` with TRIAGE_STORE=local, else `s3`).
    #[arg(long, value_enum)]
    provider: Option<ProviderArg>,
    /// Objects triaged at the same time.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
    /// Start after this key (the resume marker an interrupted scan printed).
    #[arg(long)]
    start_after: Option<String>,
    /// Keep the resume marker in this JSON file while scanning, and resume from it.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Objects per listing request (1-1000).
    #[arg(long, default_value_t = scan::PAGE_SIZE, value_parser = clap::value_parser!(u16).range(1..=1000))]
    page_size: u16,
}

fn init_logs(default: &str, json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TRIAGE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json || std::env::var("TRIAGE_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().init();
    } else {
        builder.with_target(false).init();
    }
}

/// `image-triage CMD: ERROR` on stderr, then exit with `code`.
fn fail<E: std::fmt::Display>(cmd: &'static str, code: u8) -> impl FnOnce(E) -> ExitCode {
    move |e| {
        eprintln!("image-triage {cmd}: {e}");
        ExitCode::from(code)
    }
}

/// Logs on, configuration read, one pipeline for the life of the process: what every platform
/// runtime and server starts with.
fn start_pipeline(log: &str, json: bool) -> Result<Arc<Pipeline>, ExitCode> {
    init_logs(log, json);
    Ok(Arc::new(Pipeline::new(config_or_exit()?)))
}

fn config_or_exit() -> Result<Config, ExitCode> {
    Config::from_env().map_err(|e| {
        eprintln!("image-triage: {e}");
        ExitCode::from(2)
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = match cli.command {
        Some(c) => c,
        None if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() => Command::Lambda,
        None if std::env::var_os("SCF_RUNTIME_API").is_some() => Command::Scf,
        None if std::env::var_os("RUNTIME_API_ADDR").is_some() => Command::Functiongraph,
        None => {
            eprintln!("image-triage: no command given; try `image-triage --help`");
            return ExitCode::from(2);
        }
    };
    match run(command).await {
        Ok(code) | Err(code) => code,
    }
}

async fn run(command: Command) -> Result<ExitCode, ExitCode> {
    match command {
        Command::Process { event, provider } => {
            init_logs("warn", false);
            let config = config_or_exit()?;
            let body = if event.as_os_str() == "-" {
                let mut buf = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf).map(|_| buf)
            } else {
                std::fs::read(&event)
            }
            .map_err(|e| {
                eprintln!("image-triage: cannot read {}: {e}", event.display());
                ExitCode::from(2)
            })?;
            let pipeline = Pipeline::new(config);
            let outcomes = pipeline
                .handle_event(&body, provider.map(Provider::from))
                .await;
            let mut out = std::io::stdout().lock();
            for o in &outcomes {
                let _ = writeln!(out, "{}", serde_json::to_string(o).unwrap_or_default());
            }
            Ok(if runtime::needs_retry(&outcomes) {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Inspect {
            bucket,
            key,
            json,
            provider,
        } => {
            init_logs("warn", false);
            let config = config_or_exit()?;
            let store = match (&config.store, Provider::from(provider)) {
                (StoreKind::Auto, Provider::Local) => {
                    eprintln!("image-triage: set TRIAGE_LOCAL_ROOT (and TRIAGE_STORE=local) to inspect the embedded bucket");
                    return Err(ExitCode::from(2));
                }
                (_, p) => store::for_provider(&config, p),
            }
            .map_err(|e| {
                eprintln!("image-triage: {e}");
                ExitCode::from(2)
            })?;
            let report = inspect::inspect(&*store, &bucket, &key, &config.results_prefix)
                .await
                .map_err(|e| {
                    eprintln!("image-triage: {e}");
                    ExitCode::from(if e.retryable() { 1 } else { 2 })
                })?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).unwrap_or_default()
                );
            } else {
                print!("{}", inspect::render(&report));
            }
            Ok(if report.found_anything() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Demo { root, photos } => {
            init_logs("warn", false);
            let config = config_or_exit()?;
            let photos = photos.unwrap_or_else(|| default_cache_dir().join("photos"));
            let outcomes = demo::run(&root, &photos, config.clone())
                .await
                .map_err(|e| {
                    eprintln!("image-triage demo: {e}");
                    ExitCode::from(2)
                })?;
            let store = store::local::LocalStore::new(&root);
            println!(
                "Processed {} upload events into {}/{}:\n",
                outcomes.len(),
                root.display(),
                demo::BUCKET
            );
            for (key, outcome) in &outcomes {
                println!("{}", serde_json::to_string(outcome).unwrap_or_default());
                if let Ok(report) =
                    inspect::inspect(&store, demo::BUCKET, key, &config.results_prefix).await
                {
                    println!("{}", inspect::render(&report));
                }
            }
            println!(
                "Inspect again with: TRIAGE_STORE=local TRIAGE_LOCAL_ROOT={} image-triage inspect {} <key>",
                root.display(),
                demo::BUCKET
            );
            let failed = outcomes.iter().any(|(_, o)| o.status == "failed");
            Ok(if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Limits => {
            println!("| service | formats | bytes | base64 bytes | sides (px) | aspect |");
            println!("|---|---|---|---|---|---|");
            for l in preflight::limits::ALL {
                let fmts: Vec<&str> = l.formats.iter().map(|f| f.as_str()).collect();
                let range = |min: u64, max: Option<u64>| match max {
                    Some(max) => format!("{min}–{max}"),
                    None => format!("≥ {min}"),
                };
                let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
                println!(
                    "| {} | {} | {} | {} | {} | {} |",
                    l.service,
                    fmts.join(", "),
                    range(l.min_bytes, l.max_bytes),
                    or_dash(l.max_base64_bytes.map(|b| format!("≤ {b}"))),
                    range(l.min_side.into(), l.max_side.map(u64::from)),
                    or_dash(l.max_aspect.map(|a| format!("below {a}:1"))),
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Scan(args) => {
            init_logs("warn", false);
            let config = config_or_exit()?;
            run_scan(config, args).await
        }
        Command::Serve { bind } => {
            let pipeline = start_pipeline("info", false)?;
            let opts = runtime::serve::Options::from_config(pipeline.config(), bind)
                .map_err(fail("serve", 2))?;
            let listener = tokio::net::TcpListener::bind(opts.bind)
                .await
                .map_err(|e| fail("serve", 2)(format!("cannot listen on {}: {e}", opts.bind)))?;
            runtime::serve::serve(listener, pipeline, &opts, runtime::serve::shutdown_signal())
                .await
                .map_err(fail("serve", 1))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::PollSqs {
            queue,
            wait,
            exit_when_empty,
            concurrency,
            timeout,
        } => {
            let pipeline = start_pipeline("info", false)?;
            let client = image_triage::sinks::sqs::SqsClient::new(&queue, pipeline.config())
                .map_err(fail("poll-sqs", 2))?;
            let opts = runtime::sqs_poll::PollOptions {
                wait_secs: wait.min(20),
                exit_when_empty,
                concurrency,
                timeout: std::time::Duration::from_secs(timeout),
            };
            runtime::sqs_poll::run(
                pipeline,
                client,
                opts,
                runtime::serve::shutdown_signal(),
                |o| println!("{}", serde_json::to_string(o).unwrap_or_default()),
            )
            .await
            .map_err(fail("poll-sqs", 1))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Lambda => {
            // lambda_runtime panics on a missing variable; say which one instead.
            let missing: Vec<&str> = [
                "AWS_LAMBDA_RUNTIME_API",
                "AWS_LAMBDA_FUNCTION_NAME",
                "AWS_LAMBDA_FUNCTION_VERSION",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            ]
            .into_iter()
            .filter(|v| std::env::var_os(v).is_none())
            .collect();
            if !missing.is_empty() {
                return Err(fail("lambda", 2)(format!(
                    "not running under a Lambda Runtime API: {} not set",
                    missing.join(", ")
                )));
            }
            let pipeline = start_pipeline("info", true)?;
            runtime::lambda::run(pipeline)
                .await
                .map_err(fail("lambda", 1))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Scf => {
            let api = runtime::scf::runtime_api_from_env().ok_or_else(|| {
                fail("scf", 2)("not running under the SCF custom runtime: SCF_RUNTIME_API not set")
            })?;
            let pipeline = start_pipeline("info", true)?;
            runtime::scf::run_custom(pipeline, &api)
                .await
                .map_err(fail("scf", 1))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::ScfHttp { listen } => {
            let pipeline = start_pipeline("info", true)?;
            runtime::scf::serve_http(pipeline, &listen)
                .await
                .map_err(fail("scf-http", 1))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Functiongraph => {
            let addr = std::env::var("RUNTIME_API_ADDR").map_err(|_| {
                fail("functiongraph", 2)(
                    "not running under FunctionGraph: RUNTIME_API_ADDR not set",
                )
            })?;
            let pipeline = start_pipeline("info", true)?;
            runtime::functiongraph::run_custom(pipeline, &addr)
                .await
                .map_err(|e| fail("functiongraph", 1)(format!("runtime API at {addr}: {e}")))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::FunctiongraphHttp { listen } => {
            let pipeline = start_pipeline("info", true)?;
            runtime::functiongraph::run_http(pipeline, listen)
                .await
                .map_err(|e| fail("functiongraph-http", 1)(format!("on {listen}: {e}")))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn run_scan(config: Config, args: ScanArgs) -> Result<ExitCode, ExitCode> {
    let provider = match (args.provider, &config.store) {
        (Some(p), _) => Provider::from(p),
        (None, StoreKind::Local(_)) => Provider::Local,
        (None, StoreKind::Auto) => Provider::S3,
    };
    let fail = |msg: String| {
        eprintln!("image-triage scan: {msg}");
        ExitCode::from(2)
    };
    let store = store::for_provider(&config, provider).map_err(|e| fail(e.to_string()))?;
    let mut start_after = args.start_after.clone();
    if let Some(path) = &args.state {
        match scan::ScanState::load(path).map_err(|e| fail(e.to_string()))? {
            Some(s) if s.bucket != args.bucket || s.prefix != args.prefix => {
                return Err(fail(format!(
                    "{} belongs to a scan of {}/{}, not {}/{}",
                    path.display(),
                    s.bucket,
                    s.prefix,
                    args.bucket,
                    args.prefix
                )));
            }
            // A finished scan has nothing to resume: this run checks everything again (cheap).
            Some(s) if start_after.is_none() && !s.complete => {
                eprintln!(
                    "image-triage scan: resuming after {:?} from {}",
                    s.start_after.as_deref().unwrap_or(""),
                    path.display()
                );
                start_after = s.start_after;
            }
            _ => {}
        }
    }
    let opts = scan::ScanOptions {
        bucket: args.bucket,
        prefix: args.prefix,
        provider,
        concurrency: args.concurrency.into(),
        start_after,
        state: args.state,
        page_size: args.page_size.into(),
    };
    let pipeline = Arc::new(Pipeline::with_store(config, store.clone()));
    let mut progress = scan::ConsoleProgress::new();
    let (summary, result) = scan::scan(pipeline, store, &opts, &mut progress).await;
    progress.finish();
    eprintln!("{}", summary.render());
    if let Err(e) = result {
        eprintln!("image-triage scan: {e}");
        return Err(ExitCode::from(if e.retryable() { 1 } else { 2 }));
    }
    Ok(if summary.failed_retryable > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
