//! The `MetadataStore` conformance suite against a real PostgreSQL on loopback (see `support`).
#![cfg(feature = "postgres-server-tests")]

mod support;

berth_meta::meta_conformance_tests!(support::harness);
