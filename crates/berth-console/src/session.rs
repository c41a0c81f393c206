//! Console sessions: a signed cookie, so any node sharing the key accepts it and nothing is
//! stored. The cookie names the user, its expiry, and a fingerprint of the user's password hash:
//! changing the password ends every session at once.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use berth_model::Timestamp;
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The cookie's name.
pub(crate) const COOKIE: &str = "berth_session";

/// What a session cookie says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Session {
    /// The console user.
    #[serde(rename = "u")]
    pub(crate) username: String,
    /// Expiry, seconds since the epoch.
    #[serde(rename = "e")]
    pub(crate) expires: i64,
    /// A fingerprint of the password hash the session was opened with.
    #[serde(rename = "f")]
    pub(crate) fingerprint: String,
}

/// Signs and checks session cookies.
#[derive(Clone)]
pub(crate) struct Sessions {
    key: Vec<u8>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sessions(..)")
    }
}

impl Sessions {
    pub(crate) fn new(key: &[u8]) -> Self {
        // A key of its own, derived, so a session cookie can never pass as a registry token.
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
        mac.update(b"berth console session v1");
        Sessions {
            key: mac.finalize().into_bytes().to_vec(),
        }
    }

    fn mac(&self) -> hmac::Hmac<Sha256> {
        hmac::Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key")
    }

    /// The fingerprint of a password hash, as sessions carry it.
    pub(crate) fn fingerprint(&self, password_hash: &str) -> String {
        let mut mac = self.mac();
        mac.update(b"fingerprint\0");
        mac.update(password_hash.as_bytes());
        let bytes = mac.finalize().into_bytes();
        URL_SAFE_NO_PAD.encode(&bytes[..12])
    }

    /// The cookie value for `session`.
    pub(crate) fn seal(&self, session: &Session) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(session).expect("serialises"));
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{payload}.{signature}")
    }

    /// The session in a cookie value, if it is ours and not expired at `now`.
    pub(crate) fn open(&self, value: &str, now: Timestamp) -> Option<Session> {
        let (payload, signature) = value.split_once('.')?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        mac.verify_slice(&signature).ok()?;
        let session: Session =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        (now.unix_millis().div_euclid(1000) < session.expires).then_some(session)
    }
}

/// The value of cookie `name` in a `Cookie` header.
pub(crate) fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_verify_until_they_expire_and_resist_tampering() {
        let sessions = Sessions::new(b"0123456789abcdef0123456789abcdef");
        let now = Timestamp::from_unix_millis(1_700_000_000_000);
        let session = Session {
            username: "alice".into(),
            expires: 1_700_000_100,
            fingerprint: sessions.fingerprint("$argon2id$..."),
        };
        let sealed = sessions.seal(&session);
        assert_eq!(sessions.open(&sealed, now), Some(session.clone()));
        let later = Timestamp::from_unix_millis(1_700_000_100_000);
        assert_eq!(sessions.open(&sealed, later), None);
        let other = Sessions::new(b"another key, another deployment!");
        assert_eq!(other.open(&sealed, now), None);
        let (payload, signature) = sealed.split_once('.').unwrap();
        let forged = Session {
            username: "admin".into(),
            ..session
        };
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        assert_eq!(
            sessions.open(&format!("{forged_payload}.{signature}"), now),
            None
        );
        assert_eq!(sessions.open(payload, now), None);
        assert_ne!(sessions.fingerprint("a"), sessions.fingerprint("b"));
    }

    #[test]
    fn cookies_are_found_by_name() {
        let header = "theme=dark; berth_session=abc.def; other=1";
        assert_eq!(cookie(header, COOKIE), Some("abc.def"));
        assert_eq!(cookie(header, "missing"), None);
    }
}
