//! Secrets berth must use again later (remote registries' passwords), sealed at rest.
//!
//! A sealed value is `1 || nonce (24 bytes) || XChaCha20-Poly1305 ciphertext and tag`, under a
//! key derived from the configured key material with HMAC-SHA256 and a fixed label, so the same
//! material never keys two purposes. Random 192-bit nonces make repeats negligible without any
//! counter to keep across nodes. A value sealed under another key, or changed at rest, does not
//! open ([`SealError`]), and nothing about it is revealed.

use std::fmt;
use std::sync::Arc;

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

const VERSION: u8 = 1;
const NONCE: usize = 24;
const LABEL: &[u8] = b"berth sealed secrets v1";

/// The key that seals and opens stored secrets. Cheap to clone; never printed.
#[derive(Clone)]
pub struct SealingKey {
    cipher: Arc<XChaCha20Poly1305>,
}

/// Why a sealed value did not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The key material is too short.
    #[error("the sealing key needs at least 32 bytes, got {0}")]
    ShortKey(usize),
    /// The value was sealed under another key, or changed since.
    #[error("a stored secret does not open with the configured key (was the key changed?)")]
    DoesNotOpen,
}

impl SealingKey {
    /// A key derived from `material` (at least 32 bytes: the configured text, or a key file).
    pub fn new(material: &[u8]) -> Result<Self, SealError> {
        if material.len() < 32 {
            return Err(SealError::ShortKey(material.len()));
        }
        let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(material)
            .expect("HMAC takes a key of any length");
        mac.update(LABEL);
        let derived: [u8; 32] = mac.finalize().into_bytes().into();
        Ok(SealingKey {
            cipher: Arc::new(XChaCha20Poly1305::new(&Key::from(derived))),
        })
    }

    /// A random key that lives as long as the process (for an in-memory registry).
    pub fn ephemeral() -> Self {
        let mut material = [0u8; 32];
        getrandom::fill(&mut material).expect("the system's random source");
        Self::new(&material).expect("32 bytes")
    }

    /// Seals `secret`.
    pub fn seal(&self, secret: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE];
        getrandom::fill(&mut nonce).expect("the system's random source");
        let sealed = self
            .cipher
            .encrypt(&XNonce::from(nonce), secret)
            .expect("XChaCha20-Poly1305 seals any length berth stores");
        let mut out = Vec::with_capacity(1 + NONCE + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens a value [`seal`](Self::seal) made with the same key.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        let Some((&VERSION, rest)) = sealed.split_first() else {
            return Err(SealError::DoesNotOpen);
        };
        if rest.len() < NONCE {
            return Err(SealError::DoesNotOpen);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE);
        let nonce: [u8; NONCE] = nonce.try_into().map_err(|_| SealError::DoesNotOpen)?;
        self.cipher
            .decrypt(&XNonce::from(nonce), ciphertext)
            .map_err(|_| SealError::DoesNotOpen)
    }
}

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealingKey(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_with_their_key_only() {
        let key = SealingKey::new(&[7; 32]).unwrap();
        let sealed = key.seal(b"hunter2");
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"), "no clear text");
        assert_eq!(key.open(&sealed).unwrap(), b"hunter2");
        assert_ne!(key.seal(b"hunter2"), sealed, "a fresh nonce each time");
        let same_material = SealingKey::new(&[7; 32]).unwrap();
        assert_eq!(
            same_material.open(&sealed).unwrap(),
            b"hunter2",
            "another node"
        );
        let other = SealingKey::new(&[8; 32]).unwrap();
        assert_eq!(other.open(&sealed), Err(SealError::DoesNotOpen));
        for i in 0..sealed.len() {
            let mut changed = sealed.clone();
            changed[i] ^= 1;
            assert_eq!(key.open(&changed), Err(SealError::DoesNotOpen), "byte {i}");
        }
        assert_eq!(key.open(&sealed[..10]), Err(SealError::DoesNotOpen));
        assert_eq!(key.open(&[]), Err(SealError::DoesNotOpen));
        assert_eq!(
            SealingKey::new(&[1; 31]).unwrap_err(),
            SealError::ShortKey(31)
        );
        assert_eq!(format!("{key:?}"), "SealingKey(…)");
    }
}
