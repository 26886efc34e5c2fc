//! The server's integration tests, gathered into one test binary so the
//! whole server is linked once rather than once per file (the layout of
//! zero-to-production's `tests/api/main.rs`). Each module is one area; run
//! one with `cargo test -p proofsheet-server --test api stripe::`.
//!
//! `tests/logs.rs` stays a binary of its own: it installs the process's
//! global log subscriber.

#[path = "../common/mod.rs"]
mod common;

mod bad_input;
mod cli;
mod find_me;
mod fuzz_regressions;
mod gallery;
mod hostile_bodies;
mod jobs_service;
mod lists;
mod mail;
mod multi_process;
mod observability;
mod sale;
mod security;
mod selling;
mod stripe;
mod tus;
mod watermarks;
mod web_matrix;
mod webhooks;
mod worker;
