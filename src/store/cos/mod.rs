//! Tencent COS over its native XML API, signed with `q-sign-algorithm=sha1`.

pub mod credential;
