//! `sre serve`: incidents in over HTTP (signed and token-authenticated webhooks, triggers),
//! investigations dispatched to the response plans' agents, review-mode approvals answered
//! over the API, all kept in the store so that a restart loses nothing.

mod api;
pub mod console;
pub mod dispatch;
pub mod events;
pub mod genai_metrics;
mod runbook;
mod server;
mod stream;

pub use api::{AppState, Metrics, router};
pub use dispatch::Dispatcher;
pub use server::{ServeOptions, serve};
