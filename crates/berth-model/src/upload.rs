//! Upload session identifiers.

use std::fmt;
use std::str::FromStr;

/// Why a string is not an upload id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UploadIdError {
    /// The id does not have 32 characters.
    #[error("upload id must have 32 hex characters, found {0}")]
    InvalidLength(usize),
    /// The id has a character other than lowercase hex.
    #[error("upload id must be lowercase hex, found {0:?}")]
    InvalidChar(char),
}

/// The identifier of a resumable upload session: 128 random bits as 32 lowercase hex
/// characters, safe to use in URLs and as a file or object name.
///
/// This crate does no IO, so it does not draw the random bits: the storage layer passes them to
/// [`UploadId::from_random`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UploadId([u8; 32]);

impl UploadId {
    /// The id made of these random bytes.
    pub fn from_random(bytes: [u8; 16]) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = [0u8; 32];
        for (i, byte) in bytes.iter().enumerate() {
            text[2 * i] = HEX[usize::from(byte >> 4)];
            text[2 * i + 1] = HEX[usize::from(byte & 0xf)];
        }
        UploadId(text)
    }

    /// Parses an id as it appears in an upload URL.
    pub fn parse(s: &str) -> Result<Self, UploadIdError> {
        if let Some(bad) = s.chars().find(|c| !matches!(c, '0'..='9' | 'a'..='f')) {
            return Err(UploadIdError::InvalidChar(bad));
        }
        let text: [u8; 32] = s
            .as_bytes()
            .try_into()
            .map_err(|_| UploadIdError::InvalidLength(s.len()))?;
        Ok(UploadId(text))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        // Invariant: only ASCII hex digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UploadId({})", self.as_str())
    }
}

impl FromStr for UploadId {
    type Err = UploadIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        UploadId::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_with_the_rule() {
        let id = UploadId::from_random([0xab; 16]);
        assert_eq!(id.as_str(), "ab".repeat(16));
        assert_eq!(UploadId::parse(id.as_str()), Ok(id));
        assert_eq!(UploadId::parse("abc"), Err(UploadIdError::InvalidLength(3)));
        assert_eq!(
            UploadId::parse(&"A".repeat(32)),
            Err(UploadIdError::InvalidChar('A'))
        );
        assert_eq!(
            UploadId::parse("../etc/passwd"),
            Err(UploadIdError::InvalidChar('.'))
        );
    }
}
