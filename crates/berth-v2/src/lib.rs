//! The OCI Distribution Spec v1.1 over HTTP for berth.
//!
//! It maps `http::Request`s to registry-engine calls and their results to `http::Response`s.
//! Today it holds the pure route parser ([`route`]); the handlers, authentication (Basic and the
//! Docker token flow) and the single table from engine errors to HTTP statuses and OCI error codes
//! arrive with the protocol issue.

pub mod route;
