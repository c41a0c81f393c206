//! Pure permission and quota decisions for berth: no IO, no async.
//!
//! Two questions, each answered from facts the caller gathered:
//! - [`authorize`]: may this principal perform this action on this repository, now?
//! - [`admit`]: may this repository grow by this many bytes?
//!
//! Denials carry the reason, written for the person who reads it in a client's error message.

mod authorize;
mod quota;

pub use authorize::{
    Action, Decision, Denial, Principal, RepositoryUserFacts, Target, TokenFacts, authorize,
};
pub use quota::{QuotaExceeded, admit, human_bytes};
