//! Name and tag patterns, as replication rules (and policies) write them: `*` matches any run of
//! characters except `/`, `**` any run including `/`, `?` one character except `/`; everything
//! else matches itself. `app/*` matches `app/web` but not `app/web/static`; `**` matches every
//! name; `v1.*` matches `v1.0` and `v1.2.3`.

use std::fmt;

/// The longest pattern accepted, in bytes.
pub const MAX_GLOB: usize = 255;

/// A validated pattern.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Glob(String);

/// Why a pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlobError {
    /// Empty.
    #[error("a pattern cannot be empty")]
    Empty,
    /// Longer than [`MAX_GLOB`].
    #[error("a pattern is at most {MAX_GLOB} bytes")]
    TooLong,
    /// A character no name or tag can hold.
    #[error("a pattern cannot contain {0:?}")]
    Character(char),
}

impl Glob {
    /// A pattern of visible ASCII (names and tags are ASCII) without whitespace.
    pub fn parse(s: &str) -> Result<Self, GlobError> {
        if s.is_empty() {
            return Err(GlobError::Empty);
        }
        if s.len() > MAX_GLOB {
            return Err(GlobError::TooLong);
        }
        if let Some(c) = s.chars().find(|c| !c.is_ascii_graphic()) {
            return Err(GlobError::Character(c));
        }
        Ok(Glob(s.to_owned()))
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the pattern has any wildcard (else it matches only itself).
    pub fn is_literal(&self) -> bool {
        !self.0.contains(['*', '?'])
    }

    /// Whether `text` matches the whole pattern.
    pub fn matches(&self, text: &str) -> bool {
        matches(self.0.as_bytes(), text.as_bytes())
    }
}

/// Backtracking over the last star only (linear for `*`; `**` may revisit, bounded by the
/// pattern's length times the text's).
fn matches(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    // Where to resume after the latest star: (pattern after it, text position, crosses `/`).
    let mut star: Option<(usize, usize, bool)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            let double = pattern.get(p + 1) == Some(&b'*');
            p += if double { 2 } else { 1 };
            star = Some((p, t, double));
            continue;
        }
        if p < pattern.len() && (pattern[p] == text[t] || (pattern[p] == b'?' && text[t] != b'/')) {
            p += 1;
            t += 1;
            continue;
        }
        match star {
            // The star takes one more character, unless it is a `/` a single star cannot take.
            Some((after, at, double)) if double || text[at] != b'/' => {
                star = Some((after, at + 1, double));
                p = after;
                t = at + 1;
            }
            _ => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Glob({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(pattern: &str, text: &str) -> bool {
        Glob::parse(pattern).unwrap().matches(text)
    }

    #[test]
    fn stars_stop_at_slashes_and_double_stars_do_not() {
        assert!(m("app/*", "app/web"));
        assert!(!m("app/*", "app/web/static"));
        assert!(m("app/**", "app/web/static"));
        assert!(m("**", "a/b/c"));
        assert!(m("*", "latest"));
        assert!(!m("*", "a/b"));
        assert!(m("v1.*", "v1.2.3"));
        assert!(!m("v1.*", "v2.0"));
        assert!(m("v?", "v1"));
        assert!(!m("v?", "v10"));
        assert!(!m("a?b", "a/b"));
        assert!(m("*-rc*", "1.0-rc2"));
        assert!(m("latest", "latest"));
        assert!(!m("latest", "latest2"));
        assert!(m("a*b*c", "axxbyyc"));
        assert!(!m("a*b*c", "axxbyy"));
        assert!(m("**/web", "team/app/web"));
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert_eq!(Glob::parse(""), Err(GlobError::Empty));
        assert_eq!(Glob::parse("a b"), Err(GlobError::Character(' ')));
        assert_eq!(Glob::parse(&"a".repeat(256)), Err(GlobError::TooLong));
        assert!(Glob::parse("v1.*").unwrap().is_literal().eq(&false));
        assert!(Glob::parse("app/web").unwrap().is_literal());
    }

    proptest! {
        /// A pattern without wildcards matches exactly itself; `**` matches anything.
        #[test]
        fn literals_match_themselves(text in "[a-z0-9./_-]{1,40}", other in "[a-z0-9./_-]{1,40}") {
            let literal = Glob::parse(&text).unwrap();
            prop_assert!(literal.matches(&text));
            prop_assert_eq!(literal.matches(&other), text == other);
            prop_assert!(Glob::parse("**").unwrap().matches(&text));
        }

        /// `*` matches exactly the texts without a slash; a prefix star pattern matches exactly
        /// what starts with the prefix and has no slash after it.
        #[test]
        fn a_star_is_a_slashless_run(prefix in "[a-z]{0,5}", text in "[a-z/]{0,12}") {
            let pattern = Glob::parse(&format!("{prefix}*")).unwrap();
            let expected = text.starts_with(&prefix) && !text[prefix.len()..].contains('/');
            prop_assert_eq!(pattern.matches(&text), expected);
        }
    }
}
