//! The OCI Distribution Spec v1.1 over HTTP for berth.
//!
//! It maps `http::Request`s to registry-engine calls and their results to `http::Response`s.
//! Today it holds the pure route parser ([`route`]) and the single table from failures to HTTP
//! statuses and OCI error codes ([`errors`]); the handlers and authentication (Basic and the
//! Docker token flow) arrive with the protocol issue.

pub mod errors;
pub mod route;
