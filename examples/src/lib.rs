//! Examples of embedding berth in another Rust service.
//!
//! Each example is a runnable program under `examples/` of this package (`cargo run -p
//! berth-examples --example NAME`); the first, an axum service serving berth's registry with
//! in-memory backends, arrives with the protocol handlers.
