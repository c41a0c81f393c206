//! Pure permission and quota decisions for berth: no IO, no async.
//!
//! Two questions, each answered from facts the caller gathered:
//! - [`authorize`]: may this principal perform this action on this repository, now?
//! - [`authorize_management`]: may it manage this account, or the system?
//! - [`admit`]: may this repository grow by this many bytes?
//!
//! Denials carry the reason, written for the person who reads it in a client's error message.

mod authorize;
mod quota;

pub use authorize::{
    Action, Decision, Denial, Managed, Principal, RepositoryUserFacts, Target, TokenFacts,
    authorize, authorize_management,
};
pub use quota::{QuotaExceeded, admit, human_bytes};
