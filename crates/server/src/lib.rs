//! The Proofsheet reference server: the REST API of `docs/api.md`, the test
//! gateway's pages, the preview and zip workers, and the `proofsheet`
//! command line. Start one in-process with [`runtime::start`].
//!
//! By concern: [`state`] (the shared state and the backends it is built
//! from), [`routes`] (HTTP routing and middleware), [`runtime`] (roles,
//! start and shutdown), [`api`] (the REST handlers), [`pages`].
//!
//! A whole server inside your own process (tests do this), on a free port,
//! its data in a folder of your choice:
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! use std::sync::Arc;
//! use proofsheet_server::{config::Config, runtime};
//!
//! let mut config = Config::default();
//! config.server.data_dir = "/var/lib/proofsheet".into();
//! config.server.addr = "127.0.0.1:0".into();
//! let running = runtime::start(config, Arc::new(proofsheet_core::SystemClock)).await?;
//! println!("serving {}", running.url); // the REST API under /api/v1, the web app at /
//! running.shutdown().await; // requests and jobs in flight finish first
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

pub mod api;
pub mod auth;
pub mod bodies;
pub mod client;
pub mod config;
pub mod credentials;
pub mod limits;
pub mod mail;
pub mod pages;
pub mod routes;
pub mod runtime;
pub mod serve;
pub mod state;
pub mod urls;
pub mod web;
pub mod webhooks;

pub use runtime::{Running, start};
pub use state::AppState;

/// The crate guide's Rust examples, compiled by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/crates.md")]
pub struct CrateGuideDoctests;
pub use config::Config;
