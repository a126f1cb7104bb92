//! `image-triage demo`: upload the demo photos into a local bucket, process, show the results.

use std::path::PathBuf;
use std::process::ExitCode;

use image_triage::config::default_cache_dir;
use image_triage::{demo, inspect, store};

use super::{config_or_exit, init_logs, Exit};

#[derive(clap::Args)]
pub struct Args {
    /// Where the local bucket lives (also TRIAGE_LOCAL_ROOT).
    #[arg(long, env = "TRIAGE_LOCAL_ROOT", default_value = "demo-out")]
    root: PathBuf,
    /// Folder of photos to upload (default: the ones scripts/fetch-models.sh fetched).
    #[arg(long)]
    photos: Option<PathBuf>,
}

pub async fn run(args: Args) -> Exit {
    init_logs("warn", false);
    let config = config_or_exit()?;
    let root = args.root;
    let photos = args
        .photos
        .unwrap_or_else(|| default_cache_dir().join("photos"));
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
    if config.libraries.keywords.is_none() {
        println!(
            "(keyword list: the built-in example {}; set TRIAGE_KEYWORDS to use yours)\n",
            demo::EXAMPLE_KEYWORDS
        );
    }
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
