//! The OCI Distribution Spec v1.1 over HTTP for berth.
//!
//! It will map `http::Request`s to registry-engine calls and their results to `http::Response`s:
//! a pure route parser, authentication (Basic and the Docker token flow), and the single table
//! from engine errors to HTTP statuses and OCI error codes.
