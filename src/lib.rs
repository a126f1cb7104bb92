//! image-triage: tag and moderate every image uploaded to a bucket.
//!
//! The flow, one module each:
//! `events` (platform event → [`ObjectRef`]) → `store` (read the object) → `preflight`
//! (sniff format and size from the first 64 KiB, check each analyzer's limits) → `analyzers`
//! (labels and moderation, concurrently) → `verdict` → `sinks` (metadata, tags, sidecar,
//! queue, block action). `pipeline` wires them and names no vendor; `runtime` holds the
//! platform entry points (CLI, Lambda).

#[macro_use]
mod macros;

pub mod analyzers;
pub mod client;
pub mod cloud;
pub mod config;
pub mod demo;
pub mod events;
pub mod inspect;
pub mod logging;
pub mod object;
pub mod pipeline;
pub mod preflight;
pub mod result;
pub mod review;
pub mod runtime;
pub mod scan;
pub mod sinks;
pub mod store;
pub mod text;
pub mod verdict;

pub use object::{ObjectRef, Provider};
