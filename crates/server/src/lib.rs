//! The Proofsheet reference server: the REST API of `API.md`, the test
//! gateway's pages, the preview and zip workers, and the `proofsheet`
//! command line. Start one in-process with [`app::start`].
#![warn(missing_docs)]

pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod limits;
pub mod mail;
pub mod pages;
pub mod serve;
pub mod urls;

pub use app::{AppState, Running, start};

/// The README's Rust examples, compiled by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
pub use config::Config;
