//! The OCI Distribution Spec v1.1 over HTTP for berth.
//!
//! It maps `http::Request`s to registry-engine calls and their results to `http::Response`s.
//! It holds the pure route parser ([`route`]), the single table from failures to HTTP statuses
//! and OCI error codes ([`errors`]), and the endpoints ([`V2::handle`], which takes the caller's
//! principal). Authentication (Basic and the Docker token flow) arrives with the protocol issue.

pub mod errors;
mod handlers;
pub mod route;

pub use handlers::{Body, V2, error_response};
