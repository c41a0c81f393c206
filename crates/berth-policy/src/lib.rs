//! Pure permission and quota decisions for berth: no IO, no async.
//!
//! It will answer two questions: may this principal perform this action on this repository
//! (`authorize`), and may this repository grow by this many bytes (`admit`). The engine gathers
//! the facts and asks; the answers carry the readable reason shown to users.
