//! The name of a repository on a remote registry.

use std::fmt;
use std::str::FromStr;

use berth_model::{ImageName, NameError};

/// A repository path on an upstream registry (`library/alpine`, `team/app/sub`, `alpine`): the
/// OCI name grammar, `component ("/" component)*` of at most 255 characters, checked when it is
/// made. Unlike berth's own [`berth_model::Name`], one component is enough: the upstream decides
/// what its names mean.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RemoteName(ImageName);

impl RemoteName {
    /// Parses an OCI repository path.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        // ImageName's rule is exactly the distribution spec's name grammar.
        ImageName::parse(s).map(RemoteName)
    }

    /// The path as a string.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for RemoteName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RemoteName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RemoteName({:?})", self.as_str())
    }
}

impl FromStr for RemoteName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RemoteName::parse(s)
    }
}

impl AsRef<str> for RemoteName {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oci_names() {
        for ok in ["alpine", "library/alpine", "team/app/sub", "a.b_c__d--e/f"] {
            assert_eq!(RemoteName::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "",
            "Alpine",
            "/a",
            "a/",
            "a//b",
            "a/-b",
            "a:b",
            &"a".repeat(256),
        ] {
            assert!(RemoteName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
