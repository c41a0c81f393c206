#![no_main]
//! Fuzzes `berth_v2::route::check` (input: `METHOD /path?query`); seed corpus:
//! crates/berth-v2/fixtures/routes.

libfuzzer_sys::fuzz_target!(|data: &[u8]| berth_v2::route::check(data));
