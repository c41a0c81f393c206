#![allow(dead_code)] // Each test binary uses its own part.

pub(crate) mod openapi;
pub(crate) mod world;
