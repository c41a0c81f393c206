//! The OCI Distribution Spec v1.1 over HTTP for berth.
//!
//! [`V2`] is a `tower::Service`: an axum app mounts the registry (and `berth-console`'s
//! `Console`, at the root) over an in-memory engine like this (`examples/axum.rs`, which the
//! tests run):
//!
//! ```ignore
#![doc = include_str!("../../../examples/axum.rs")]
//! ```
//!
//! and hyper serves it directly through `hyper_util`'s `TowerToHyperService`
//! (`examples/hyper.rs`). The caller of each request is the [`Principal`] in its extensions
//! (put there by the host's own authentication), else [`V2::with_principal`]'s, else anonymous;
//! [`Gateway`] is berth's own authentication in front of [`V2::handle`].
//!
//! It maps `http::Request`s to registry-engine calls and their results to `http::Response`s.
//! It holds the pure route parser ([`route`]), the single table from failures to HTTP statuses
//! and OCI error codes ([`errors`]), and the endpoints ([`V2::handle`], which takes the caller's
//! principal). In front of them, [`Gateway`] authenticates: Basic credentials, the Docker token
//! flow with short-lived signed tokens ([`token`]), and the `WWW-Authenticate` challenge.

pub mod errors;
mod gateway;
mod handlers;
pub mod route;
mod service;
pub mod token;

/// Who a request acts as: what [`V2::handle`] takes, and what an embedder puts in a request's
/// extensions for the [`tower_service::Service`] surface.
pub use berth_policy::Principal;
pub use gateway::{AuthConfig, AuthMode, Gateway};
pub use handlers::{Body, V2, error_response};
