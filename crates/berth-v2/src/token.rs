//! Registry tokens: short-lived JWTs (HS256) carrying what the token endpoint granted.
//!
//! A token is verified by its signature and expiry alone, with no store lookup, so every node
//! holding the same [`TokenKey`] accepts it. The claims follow the Docker token specification
//! (`iss`, `sub`, `aud`, `exp`, `nbf`, `iat`, `jti`, `access`), plus berth's own `berth` claim:
//! the subject's account and what was asked for and refused, with the reason, so a refused
//! push is answered with that reason (403 DENIED) instead of a new login prompt.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use berth_model::{AccountId, Name, RepositoryName, Timestamp};
use berth_policy::{Action, TokenFacts};
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The key tokens are signed with. Nodes sharing a store must share it.
#[derive(Clone)]
pub struct TokenKey(Vec<u8>);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

impl TokenKey {
    /// Shortest key accepted, in bytes.
    pub const MIN_LEN: usize = 32;

    /// A key from secret bytes (at least [`TokenKey::MIN_LEN`]).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, String> {
        let bytes = bytes.into();
        if bytes.len() < Self::MIN_LEN {
            return Err(format!(
                "a token key needs at least {} bytes, got {}",
                Self::MIN_LEN,
                bytes.len()
            ));
        }
        Ok(TokenKey(bytes))
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; 32];
        getrandom::fill(&mut bytes).expect("the operating system's random generator failed");
        TokenKey(bytes)
    }

    fn mac(&self) -> hmac::Hmac<Sha256> {
        hmac::Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length")
    }
}

/// One entry of the `access` claim: actions on a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    /// `repository` or `registry`.
    #[serde(rename = "type")]
    pub kind: String,
    /// An OCI name, or `catalog`.
    pub name: String,
    /// `pull`, `push`, `delete`, or `*`.
    pub actions: Vec<String>,
}

/// An action asked for and refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// The OCI name.
    pub name: String,
    /// The action.
    pub action: String,
    /// Why, in words for the user.
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Extra {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    account: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    refused: Vec<Refusal>,
}

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Subject (empty for an anonymous token).
    pub sub: String,
    /// Audience: the service.
    pub aud: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Not before, seconds since the epoch.
    pub nbf: i64,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// A unique id.
    pub jti: String,
    /// What the token grants.
    pub access: Vec<Access>,
    #[serde(default)]
    berth: Extra,
}

impl Claims {
    /// Claims for `subject` on `service`, valid for `ttl` from `now`.
    pub fn new(
        service: &str,
        subject: &str,
        account: Option<AccountId>,
        now: Timestamp,
        ttl: Duration,
    ) -> Self {
        let iat = now.unix_millis().div_euclid(1000);
        let mut jti = [0u8; 12];
        getrandom::fill(&mut jti).expect("the operating system's random generator failed");
        Claims {
            iss: service.to_owned(),
            sub: subject.to_owned(),
            aud: service.to_owned(),
            exp: iat + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2),
            // A little slack for clocks of other nodes running behind.
            nbf: iat - 10,
            iat,
            jti: URL_SAFE_NO_PAD.encode(jti),
            access: Vec::new(),
            berth: Extra {
                account: account.map(|a| a.0),
                refused: Vec::new(),
            },
        }
    }

    /// Adds granted actions on a resource.
    pub fn grant(&mut self, kind: &str, name: &str, actions: Vec<String>) {
        self.access.push(Access {
            kind: kind.to_owned(),
            name: name.to_owned(),
            actions,
        });
    }

    /// Records an action asked for and refused.
    pub fn refuse(&mut self, name: &str, action: Action, reason: String) {
        self.berth.refused.push(Refusal {
            name: name.to_owned(),
            action: action.as_str().to_owned(),
            reason,
        });
    }

    /// Whether the token grants `action` on resource `kind`/`name`.
    pub fn allows(&self, kind: &str, name: &str, action: &str) -> bool {
        self.access.iter().any(|a| {
            a.kind == kind && a.name == name && a.actions.iter().any(|x| x == action || x == "*")
        })
    }

    /// The policy's view: grants and refusals per repository.
    pub fn facts(&self) -> TokenFacts {
        let repository = |name: &str| {
            Name::parse(name)
                .ok()
                .map(|n| n.repository().clone())
                .or_else(|| RepositoryName::parse(name).ok())
        };
        let mut grants = Vec::new();
        for access in self.access.iter().filter(|a| a.kind == "repository") {
            let Some(repo) = repository(&access.name) else {
                continue;
            };
            for action in &access.actions {
                let actions: &[Action] = match action.as_str() {
                    "pull" => &[Action::Pull],
                    "push" => &[Action::Push],
                    "delete" => &[Action::Delete],
                    "*" => &[Action::Pull, Action::Push, Action::Delete],
                    _ => &[],
                };
                for a in actions {
                    if !grants.contains(&(repo.clone(), *a)) {
                        grants.push((repo.clone(), *a));
                    }
                }
            }
        }
        let refusals = self
            .berth
            .refused
            .iter()
            .filter_map(|r| {
                let action = Action::ALL.into_iter().find(|a| a.as_str() == r.action)?;
                Some((repository(&r.name)?, action, r.reason.clone()))
            })
            .collect();
        TokenFacts {
            // The wire's `sub` is empty for an anonymous token.
            subject: (!self.sub.is_empty()).then(|| self.sub.clone()),
            account: self.berth.account.map(AccountId),
            grants,
            refusals,
        }
    }

    /// Seconds the token lives.
    pub fn expires_in(&self) -> i64 {
        self.exp - self.iat
    }
}

/// Why a token is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a JWT of ours.
    #[error("malformed token")]
    Malformed,
    /// The signature does not verify.
    #[error("token signature invalid")]
    BadSignature,
    /// Expired, or not yet valid.
    #[error("token expired")]
    Expired,
    /// Issued for another service.
    #[error("token is for another service")]
    WrongAudience,
}

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// Signs `claims` into a compact JWT.
pub fn sign(key: &TokenKey, claims: &Claims) -> String {
    let payload = serde_json::to_vec(claims).expect("claims serialise");
    let mut token = URL_SAFE_NO_PAD.encode(HEADER);
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(payload));
    let mut mac = key.mac();
    mac.update(token.as_bytes());
    let signature = mac.finalize().into_bytes();
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(signature));
    token
}

/// Verifies a compact JWT made by [`sign`] for `service`, valid at `now`.
pub fn verify(
    key: &TokenKey,
    service: &str,
    token: &str,
    now: Timestamp,
) -> Result<Claims, TokenError> {
    let (signed, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
    let (header, payload) = signed.split_once('.').ok_or(TokenError::Malformed)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| TokenError::Malformed)?;
    let mut mac = key.mac();
    mac.update(signed.as_bytes());
    // `verify_slice` compares in constant time.
    mac.verify_slice(&signature)
        .map_err(|_| TokenError::BadSignature)?;
    let header = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| TokenError::Malformed)?;
    if header != HEADER.as_bytes() {
        return Err(TokenError::Malformed);
    }
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| TokenError::Malformed)?;
    let claims: Claims = serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)?;
    let seconds = now.unix_millis().div_euclid(1000);
    if seconds >= claims.exp || seconds < claims.nbf {
        return Err(TokenError::Expired);
    }
    if claims.aud != service {
        return Err(TokenError::WrongAudience);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TokenKey {
        TokenKey::new(vec![7u8; 32]).unwrap()
    }

    fn claims(now: Timestamp) -> Claims {
        let mut c = Claims::new(
            "berth",
            "10042-ci",
            Some(AccountId(10042)),
            now,
            Duration::from_secs(300),
        );
        c.grant(
            "repository",
            "team-a/app",
            vec!["pull".into(), "push".into()],
        );
        c.refuse("team-a/app", Action::Delete, "pull only".into());
        c
    }

    #[test]
    fn tokens_round_trip_until_they_expire() {
        let now = Timestamp::from_unix_millis(1_700_000_000_000);
        let c = claims(now);
        let token = sign(&key(), &c);
        assert_eq!(verify(&key(), "berth", &token, now), Ok(c.clone()));
        let later = now.plus(Duration::from_secs(299));
        assert!(verify(&key(), "berth", &token, later).is_ok());
        let expired = now.plus(Duration::from_secs(300));
        assert_eq!(
            verify(&key(), "berth", &token, expired),
            Err(TokenError::Expired)
        );
        assert_eq!(
            verify(&key(), "other", &token, now),
            Err(TokenError::WrongAudience)
        );
        let facts = c.facts();
        let repo = RepositoryName::parse("team-a").unwrap();
        assert_eq!(
            facts.grants,
            vec![(repo.clone(), Action::Pull), (repo.clone(), Action::Push)]
        );
        assert_eq!(
            facts.refusals,
            vec![(repo, Action::Delete, "pull only".into())]
        );
        assert!(c.allows("repository", "team-a/app", "push"));
        assert!(!c.allows("repository", "team-a/app", "delete"));
    }

    #[test]
    fn forged_or_altered_tokens_are_refused() {
        let now = Timestamp::from_unix_millis(1_700_000_000_000);
        let token = sign(&key(), &claims(now));
        let other = TokenKey::new(vec![8u8; 32]).unwrap();
        assert_eq!(
            verify(&other, "berth", &token, now),
            Err(TokenError::BadSignature)
        );
        // Grant more in the payload, keep the signature.
        let (_, payload, signature) = {
            let mut parts = token.split('.');
            (
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap(),
            )
        };
        let mut c: Claims =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        c.grant("repository", "team-b/app", vec!["*".into()]);
        let forged = format!(
            "{}.{}.{signature}",
            URL_SAFE_NO_PAD.encode(HEADER),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).unwrap())
        );
        assert_eq!(
            verify(&key(), "berth", &forged, now),
            Err(TokenError::BadSignature)
        );
        // `alg: none` tokens are not ours.
        let none = format!("{}.{payload}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#));
        assert!(verify(&key(), "berth", &none, now).is_err());
        for junk in ["", ".", "..", "a.b.c", "a.b"] {
            assert!(verify(&key(), "berth", junk, now).is_err(), "{junk:?}");
        }
        assert!(TokenKey::new(vec![0u8; 31]).is_err());
    }
}
