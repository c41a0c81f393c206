//! Embedding berth in another Rust service.
//!
//! The examples are the documentation: `axum.rs` mounts the registry and the console in an axum
//! app (`nest_service("/v2", …)` and `fallback_service`), `hyper.rs` serves the registry with
//! hyper directly. Both stand on [`berth_core::Registry::in_memory`] and on `V2` and `Console`
//! being `tower::Service`s. The tests (`tests/embed.rs`) run the two example programs as a user
//! would and push and pull through each over real HTTP.
