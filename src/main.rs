//! The `image-triage` command: the same pipeline the function runs, driven from a shell.
//! Argument parsing and dispatch; each subcommand lives in its own module under `commands/`.

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use commands::Exit;

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

#[derive(Subcommand)]
enum Command {
    /// Handle one platform event exactly as the function would; one JSON outcome per record on stdout.
    /// Exit 0 unless a retryable failure remains (1); 2 when the command itself cannot run.
    Process(commands::process::Args),
    /// Show the stored triage result of one object (metadata, tags, sidecar).
    Inspect(commands::inspect::Args),
    /// Upload the demo photos into a local bucket, process their events, and show the results.
    Demo(commands::demo::Args),
    /// Print every analyzer's input limits as a Markdown table.
    Limits,
    /// Run as an AWS Lambda function (also the default when AWS_LAMBDA_RUNTIME_API is set).
    Lambda,
    /// Run as a Tencent SCF custom runtime (`bootstrap`; also the default when SCF_RUNTIME_API is set).
    Scf,
    /// Run as a Tencent SCF image function: HTTP server answering POST /event-invoke.
    ScfHttp(commands::scf::HttpArgs),
    /// Backfill: triage the objects already in a bucket that have no current result.
    /// One JSON outcome per object on stdout, a summary on stderr.
    /// Exit 0, or 1 when a retryable failure remains; 2 when the command cannot run.
    Scan(commands::scan::Args),
    /// Run as a Huawei FunctionGraph custom runtime (`bootstrap`; the default when
    /// RUNTIME_API_ADDR is set).
    Functiongraph,
    /// Run as a FunctionGraph container-image HTTP function (`POST /init`, `POST /invoke`).
    FunctiongraphHttp(commands::functiongraph::HttpArgs),
    /// HTTP endpoint for S3-style bucket notifications (MinIO, SNS HTTP subscriptions, moto);
    /// GET /healthz. SIGTERM or ctrl-c drains in-flight requests.
    Serve(commands::serve::Args),
    /// Consume S3 notifications from an SQS queue (`sqs://HOST/ACCOUNT/NAME` or its http(s) URL;
    /// TRIAGE_SQS_ENDPOINT overrides the host). One JSON outcome per record on stdout.
    PollSqs(commands::poll_sqs::Args),
    /// A local web page over the bucket's results: `review` items get a human decision
    /// (approve / block), written back where the function writes.
    Review(commands::review::Args),
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

async fn run(command: Command) -> Exit {
    use commands::*;
    match command {
        Command::Process(args) => process::run(args).await,
        Command::Inspect(args) => inspect::run(args).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Limits => limits::run(),
        Command::Scan(args) => scan::run(args).await,
        Command::Serve(args) => serve::run(args).await,
        Command::PollSqs(args) => poll_sqs::run(args).await,
        Command::Review(args) => review::run(args).await,
        Command::Lambda => lambda::run().await,
        Command::Scf => scf::run_custom().await,
        Command::ScfHttp(args) => scf::run_http(args).await,
        Command::Functiongraph => functiongraph::run_custom().await,
        Command::FunctiongraphHttp(args) => functiongraph::run_http(args).await,
    }
}
