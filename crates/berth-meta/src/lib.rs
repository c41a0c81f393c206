//! The `MetadataStore` trait: the contract every metadata backend of berth fulfils.
//!
//! It will hold accounts, repositories, images, artifacts, tags, blob references, upload sessions,
//! repository users, pull statistics and history, with atomic operations shaped by what the
//! registry engine needs (a push recorded in one transaction with its quota check), an in-memory
//! backend and the conformance suite (feature `conformance`) that every backend runs.
