//! `image-triage limits`: every analyzer's input limits as a Markdown table.

use std::process::ExitCode;

use image_triage::preflight;

use super::Exit;

pub fn run() -> Exit {
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
