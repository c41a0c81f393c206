#![no_main]
//! Fuzzes `berth_model::check::hasher`; seed corpus: see fuzz/README.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| berth_model::check::hasher(data));
