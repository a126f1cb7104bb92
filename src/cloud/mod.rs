//! One home per cloud: what a cloud's roles (store, analyzers, sinks, runtimes) share — request
//! signing, its API client, its error-code table and retry classification, its region rules and
//! the names of its variables. Roles import from here, never from each other's vendor folders.

pub mod aws;
pub mod huawei;
pub mod tencent;
