//! Keyword lists (`TRIAGE_KEYWORDS`): placeholder, being written.
