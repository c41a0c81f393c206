//! The OCI Distribution Spec v1.1 over HTTP for berth.
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
pub mod token;

pub use gateway::{AuthConfig, AuthMode, Gateway};
pub use handlers::{Body, V2, error_response};
