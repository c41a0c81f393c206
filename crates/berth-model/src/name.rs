//! Repository, image and tag names.
//!
//! The OCI name in `/v2/<name>/…` follows the distribution spec's grammar
//!
//! ```text
//! name       ::= component ("/" component)*
//! component  ::= [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
//! ```
//!
//! and berth reads it as `<repository>/<image>`: the first component is the [`RepositoryName`]
//! (a tenant's namespace), the rest is the [`ImageName`], which may hold further slashes. A
//! [`Name`] is the pair. The whole name is at most [`Name::MAX_LEN`] characters.
//!
//! A [`Tag`] follows `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// Why a string is not a valid name. Each variant names the rule that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// The name is empty.
    #[error("name is empty")]
    Empty,
    /// The whole name is longer than the limit.
    #[error("name is {len} characters long, over the limit of {max}")]
    TooLong {
        /// Length found.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A path component is empty (a leading, trailing or doubled `/`).
    #[error("name has an empty path component")]
    EmptyComponent,
    /// A component does not match `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
    #[error("name component {0:?} does not match [a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*")]
    InvalidComponent(String),
    /// A repository name holds a `/`.
    #[error("a repository name is a single path component, without '/'")]
    RepositoryHasSlash,
    /// The name has only a repository component: an image name must follow it.
    #[error("name {0:?} has no image after the repository (expected <repository>/<image>)")]
    MissingImage(String),
}

/// Whether `s` matches `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn is_component(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let mut i = 0;
    let mut expect_alnum = true;
    while i < b.len() {
        if alnum(b[i]) {
            expect_alnum = false;
            i += 1;
            continue;
        }
        if expect_alnum {
            return false;
        }
        // A separator: ".", "_", "__" or one or more "-".
        match b[i] {
            b'.' => i += 1,
            b'_' => i += if b.get(i + 1) == Some(&b'_') { 2 } else { 1 },
            b'-' => {
                while b.get(i) == Some(&b'-') {
                    i += 1;
                }
            }
            _ => return false,
        }
        expect_alnum = true;
    }
    !expect_alnum
}

fn check_component(s: &str) -> Result<(), NameError> {
    if s.is_empty() {
        Err(NameError::EmptyComponent)
    } else if is_component(s) {
        Ok(())
    } else {
        Err(NameError::InvalidComponent(s.to_owned()))
    }
}

fn check_path(s: &str) -> Result<(), NameError> {
    if s.is_empty() {
        return Err(NameError::Empty);
    }
    if s.len() > Name::MAX_LEN {
        return Err(NameError::TooLong {
            len: s.len(),
            max: Name::MAX_LEN,
        });
    }
    s.split('/').try_for_each(check_component)
}

macro_rules! string_newtype {
    ($ty:ident) => {
        impl $ty {
            /// The name as a string.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($ty), "({:?})"), &*self.0)
            }
        }
        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl FromStr for $ty {
            type Err = NameError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $ty::parse(s)
            }
        }
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                $ty::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// The name of a repository: a tenant's namespace, the first component of an OCI name
/// (`team-a` in `team-a/backend/api`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepositoryName(Arc<str>);

impl RepositoryName {
    /// Parses a single path component.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        if s.contains('/') {
            return Err(NameError::RepositoryHasSlash);
        }
        check_path(s)?;
        Ok(RepositoryName(Arc::from(s)))
    }
}
string_newtype!(RepositoryName);

/// The name of an image inside a repository: the OCI name after its first component
/// (`backend/api` in `team-a/backend/api`); it may contain slashes.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageName(Arc<str>);

impl ImageName {
    /// Parses one or more path components separated by `/`.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        check_path(s)?;
        Ok(ImageName(Arc::from(s)))
    }
}
string_newtype!(ImageName);

/// A full OCI name, `<repository>/<image>`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name {
    repository: RepositoryName,
    image: ImageName,
}

impl Name {
    /// Upper bound on the length of a whole name, as the reference registry enforces it.
    pub const MAX_LEN: usize = 255;

    /// Parses `<repository>/<image>`.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        check_path(s)?;
        let (repository, image) = s
            .split_once('/')
            .ok_or_else(|| NameError::MissingImage(s.to_owned()))?;
        Ok(Name {
            repository: RepositoryName(Arc::from(repository)),
            image: ImageName(Arc::from(image)),
        })
    }

    /// Joins a repository and an image name, checking the length limit of the whole.
    pub fn new(repository: RepositoryName, image: ImageName) -> Result<Self, NameError> {
        let len = repository.as_str().len() + 1 + image.as_str().len();
        if len > Self::MAX_LEN {
            return Err(NameError::TooLong {
                len,
                max: Self::MAX_LEN,
            });
        }
        Ok(Name { repository, image })
    }

    /// The repository: the first component.
    pub fn repository(&self) -> &RepositoryName {
        &self.repository
    }

    /// The image: everything after the first component.
    pub fn image(&self) -> &ImageName {
        &self.image
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.repository, self.image)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({:?})", self.to_string())
    }
}

impl FromStr for Name {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Name::parse(s)
    }
}

/// Why a string is not a valid tag. Each variant names the rule that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TagError {
    /// The tag is empty.
    #[error("tag is empty")]
    Empty,
    /// The tag is longer than 128 characters.
    #[error("tag is {0} characters long, over the limit of 128")]
    TooLong(usize),
    /// The first character is not in `[a-zA-Z0-9_]`.
    #[error("tag must start with [a-zA-Z0-9_], found {0:?}")]
    InvalidFirst(char),
    /// A later character is not in `[a-zA-Z0-9._-]`.
    #[error("tag may only contain [a-zA-Z0-9._-], found {0:?}")]
    InvalidChar(char),
}

/// A tag: a movable name for one artifact of an image, `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(Arc<str>);

impl Tag {
    /// Longest tag accepted.
    pub const MAX_LEN: usize = 128;

    /// Parses a tag.
    pub fn parse(s: &str) -> Result<Self, TagError> {
        let mut chars = s.chars();
        let first = chars.next().ok_or(TagError::Empty)?;
        if !(first.is_ascii_alphanumeric() || first == '_') {
            return Err(TagError::InvalidFirst(first));
        }
        if let Some(bad) =
            chars.find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(TagError::InvalidChar(bad));
        }
        if s.len() > Self::MAX_LEN {
            return Err(TagError::TooLong(s.len()));
        }
        Ok(Tag(Arc::from(s)))
    }

    /// The tag as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag({:?})", &*self.0)
    }
}

impl FromStr for Tag {
    type Err = TagError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Tag::parse(s)
    }
}

impl AsRef<str> for Tag {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl serde::Serialize for Tag {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Tag {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Tag::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_follow_the_grammar() {
        for ok in [
            "a",
            "a0",
            "a.b",
            "a_b",
            "a__b",
            "a-b",
            "a---b",
            "0",
            "a.b-c_d__e",
        ] {
            assert!(is_component(ok), "{ok} should be valid");
        }
        for bad in [
            "", "A", "a.", ".a", "a..b", "a___b", "a_.b", "-a", "a-", "a b", "ä", "a/b", "a-.b",
        ] {
            assert!(!is_component(bad), "{bad:?} should be invalid");
        }
    }

    #[test]
    fn names_split_at_the_first_slash() {
        let name = Name::parse("team-a/backend/api").unwrap();
        assert_eq!(name.repository().as_str(), "team-a");
        assert_eq!(name.image().as_str(), "backend/api");
        assert_eq!(name.to_string(), "team-a/backend/api");
    }

    #[test]
    fn names_reject_with_the_rule() {
        let cases: &[(&str, NameError)] = &[
            ("", NameError::Empty),
            ("team", NameError::MissingImage("team".into())),
            ("team/", NameError::EmptyComponent),
            ("/img", NameError::EmptyComponent),
            ("team//img", NameError::EmptyComponent),
            ("Team/img", NameError::InvalidComponent("Team".into())),
            (
                "team/img:latest",
                NameError::InvalidComponent("img:latest".into()),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(Name::parse(input).as_ref(), Err(expected), "{input:?}");
        }
        let long = format!("a/{}", "b".repeat(254));
        assert_eq!(
            Name::parse(&long),
            Err(NameError::TooLong { len: 256, max: 255 })
        );
        assert_eq!(
            RepositoryName::parse("a/b"),
            Err(NameError::RepositoryHasSlash)
        );
    }

    #[test]
    fn tags_reject_with_the_rule() {
        assert!(Tag::parse("v1.2.3-rc_1").is_ok());
        assert!(Tag::parse("_x").is_ok());
        assert_eq!(Tag::parse(""), Err(TagError::Empty));
        assert_eq!(Tag::parse(".x"), Err(TagError::InvalidFirst('.')));
        assert_eq!(Tag::parse("-x"), Err(TagError::InvalidFirst('-')));
        assert_eq!(Tag::parse("a:b"), Err(TagError::InvalidChar(':')));
        assert_eq!(
            Tag::parse(&"a".repeat(128)).map(|t| t.as_str().len()),
            Ok(128)
        );
        assert_eq!(Tag::parse(&"a".repeat(129)), Err(TagError::TooLong(129)));
    }
}
