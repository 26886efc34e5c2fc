//! The Proofsheet reference server: the REST API of `API.md`, the test
//! gateway's pages, the preview and zip workers, and the `proofsheet`
//! command line. Start one in-process with [`runtime::start`].
//!
//! By concern: [`state`] (the shared state and the backends it is built
//! from), [`routes`] (HTTP routing and middleware), [`runtime`] (roles,
//! start and shutdown), [`api`] (the REST handlers), [`pages`].
#![warn(missing_docs)]

pub mod api;
pub mod auth;
pub mod config;
pub mod limits;
pub mod mail;
pub mod pages;
pub mod routes;
pub mod runtime;
pub mod serve;
pub mod state;
pub mod urls;
pub mod web;

pub use runtime::{Running, start};
pub use state::AppState;

/// The README's Rust examples, compiled by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
pub use config::Config;
