//! The CLI subcommands, one module each; `main.rs` parses the arguments and dispatches here.

pub mod demo;
pub mod functiongraph;
pub mod inspect;
pub mod lambda;
pub mod limits;
pub mod poll_sqs;
pub mod process;
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

/// The configuration, every setting checked; exit 2 naming the variable otherwise.
pub fn config_or_exit() -> Result<Config, ExitCode> {
    Config::from_env().map_err(|e| {
        eprintln!("image-triage: {e}");
        ExitCode::from(2)
    })
}
