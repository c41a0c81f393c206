//! Names of remote registries: the endpoints berth talks to as a client.

use std::fmt;

/// The name of a remote registry inside its account (`dockerhub`, `ghcr.io`, `region-han`):
/// lowercase letters and digits with single `.`, `_` or `-` between them, at most
/// [`RegistryName::MAX_LEN`] characters. It appears in management paths
/// (`/api/v1/registries/{name}`), so nothing else is accepted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegistryName(String);

/// Why a registry name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryNameError {
    /// The name is empty.
    #[error("a registry name cannot be empty")]
    Empty,
    /// The name is too long.
    #[error("registry name is {len} characters long; the limit is {max}")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A character or a separator is out of place.
    #[error(
        "registry name {0:?} must be lowercase letters and digits, with single '.', '_' or '-' between them"
    )]
    Invalid(String),
}

impl RegistryName {
    /// The longest name.
    pub const MAX_LEN: usize = 63;

    /// Parses a name.
    pub fn parse(s: &str) -> Result<Self, RegistryNameError> {
        if s.is_empty() {
            return Err(RegistryNameError::Empty);
        }
        if s.len() > Self::MAX_LEN {
            return Err(RegistryNameError::TooLong {
                len: s.len(),
                max: Self::MAX_LEN,
            });
        }
        let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        let bytes = s.as_bytes();
        let mut previous_separator = true; // the first byte must be a letter or digit
        for &b in bytes {
            if alnum(b) {
                previous_separator = false;
            } else if matches!(b, b'.' | b'_' | b'-') && !previous_separator {
                previous_separator = true;
            } else {
                return Err(RegistryNameError::Invalid(s.chars().take(80).collect()));
            }
        }
        if previous_separator {
            return Err(RegistryNameError::Invalid(s.to_owned()));
        }
        Ok(RegistryName(s.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RegistryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for good in ["dockerhub", "ghcr.io", "region-han", "a", "a_b-c.d9"] {
            assert_eq!(RegistryName::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            "Docker",
            "-a",
            "a-",
            "a--b",
            "a/b",
            "a b",
            &"a".repeat(64),
        ] {
            assert!(RegistryName::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics_and_accepts_what_it_prints(s in "\\PC{0,80}") {
            if let Ok(name) = RegistryName::parse(&s) {
                proptest::prop_assert_eq!(RegistryName::parse(&name.to_string()).unwrap(), name);
            }
        }
    }
}
