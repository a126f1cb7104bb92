//! Huawei Cloud OBS over its native API (`OBS` signatures, `x-obs-*` headers).
//!
//! Metadata is written in place with `PUT ?metadata` (`REPLACE_NEW`), which emits no
//! `ObjectCreated` event, so the trigger does not fire again; a copy onto itself is the fallback
//! for servers without that API.

pub mod builder;
pub mod client;
pub mod credential;
pub mod wire;

pub use builder::ObsSettings;
pub use client::ObsStore;
