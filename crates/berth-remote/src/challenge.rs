//! The `WWW-Authenticate` header (RFC 7235 section 4.1): a list of challenges, each a scheme
//! followed by a token68 or by comma-separated `name=value` auth-params.
//!
//! ```text
//! WWW-Authenticate = 1#challenge
//! challenge        = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//! auth-param       = token BWS "=" BWS ( token / quoted-string )
//! ```
//!
//! Commas separate both challenges and the params of one challenge, so after a comma the next
//! element is a param when it reads `token BWS "="`, else a new challenge. Scheme and param
//! names are case-insensitive: names are kept in lowercase. One leniency: an unquoted value
//! runs to the next comma or blank even if it holds characters a token may not (`realm=https://…`
//! unquoted is seen from registries), since refusing it would refuse the whole login.

use std::fmt;

/// One challenge of a `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    /// The scheme as sent (`Bearer`, `basic`); compare with [`Challenge::is`].
    pub(crate) scheme: String,
    /// The token68 form (`Negotiate abc==`), when the challenge has it instead of params.
    pub(crate) token68: Option<String>,
    /// Params in order, names in lowercase, values unquoted.
    pub(crate) params: Vec<(String, String)>,
}

impl Challenge {
    /// Whether the scheme is `scheme`, ignoring case.
    pub(crate) fn is(&self, scheme: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(scheme)
    }

    /// The value of the first param named `name` (in lowercase).
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Prints the challenge in the form [`parse`] reads back: every value quoted, `"` and `\`
/// escaped.
impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.scheme)?;
        if let Some(token68) = &self.token68 {
            return write!(f, " {token68}");
        }
        for (i, (name, value)) in self.params.iter().enumerate() {
            f.write_str(if i == 0 { " " } else { ", " })?;
            write!(f, "{name}=\"")?;
            for c in value.chars() {
                if c == '"' || c == '\\' {
                    f.write_str("\\")?;
                }
                write!(f, "{c}")?;
            }
            f.write_str("\"")?;
        }
        Ok(())
    }
}

/// Why a header is not a list of challenges: what was expected, and at which byte.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed WWW-Authenticate header at byte {at}: {expected}")]
pub(crate) struct ChallengeError {
    at: usize,
    expected: &'static str,
}

fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

fn is_token68_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-._~+/".contains(&c)
}

fn is_blank(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// Parses one `WWW-Authenticate` value into its challenges (at least one).
pub(crate) fn parse(header: &str) -> Result<Vec<Challenge>, ChallengeError> {
    let mut p = Parser {
        s: header,
        b: header.as_bytes(),
        i: 0,
    };
    let mut challenges: Vec<Challenge> = Vec::new();
    loop {
        p.skip_list_separators();
        if p.at_end() {
            break;
        }
        let scheme = p.token().ok_or(p.error("an auth scheme"))?;
        let mut challenge = Challenge {
            scheme: scheme.to_owned(),
            token68: None,
            params: Vec::new(),
        };
        let had_space = p.skip_blanks();
        if had_space && !p.at_end() && p.peek() != Some(b',') {
            if let Some(token68) = p.token68() {
                challenge.token68 = Some(token68.to_owned());
            } else {
                let param = p.param()?.ok_or(p.error("an auth-param or token68"))?;
                challenge.params.push(param);
                // Further params of this challenge: after a comma, a `token BWS "="`.
                loop {
                    let save = p.i;
                    p.skip_list_separators();
                    if p.at_end() {
                        break;
                    }
                    match p.param()? {
                        Some(param) => challenge.params.push(param),
                        None => {
                            p.i = save;
                            break;
                        }
                    }
                }
            }
        }
        challenges.push(challenge);
        p.skip_blanks();
        match p.peek() {
            None => break,
            Some(b',') => {}
            Some(_) => return Err(p.error("a comma between challenges")),
        }
    }
    if challenges.is_empty() {
        return Err(ChallengeError {
            at: 0,
            expected: "at least one challenge",
        });
    }
    Ok(challenges)
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn error(&self, expected: &'static str) -> ChallengeError {
        ChallengeError {
            at: self.i,
            expected,
        }
    }

    fn at_end(&self) -> bool {
        self.i >= self.b.len()
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn skip_blanks(&mut self) -> bool {
        let start = self.i;
        while self.peek().is_some_and(is_blank) {
            self.i += 1;
        }
        self.i > start
    }

    /// Blanks and commas: the `#` list rule allows empty elements.
    fn skip_list_separators(&mut self) {
        while self.peek().is_some_and(|c| is_blank(c) || c == b',') {
            self.i += 1;
        }
    }

    fn token(&mut self) -> Option<&'a str> {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        (self.i > start).then(|| &self.s[start..self.i])
    }

    /// A token68 that makes up the whole rest of the challenge (followed by blanks and then a
    /// comma or the end); otherwise nothing is consumed.
    fn token68(&mut self) -> Option<&'a str> {
        let start = self.i;
        let mut j = self.i;
        while self.b.get(j).copied().is_some_and(is_token68_char) {
            j += 1;
        }
        if j == start {
            return None;
        }
        while self.b.get(j) == Some(&b'=') {
            j += 1;
        }
        let end = j;
        while self.b.get(j).copied().is_some_and(is_blank) {
            j += 1;
        }
        if j < self.b.len() && self.b[j] != b',' {
            return None;
        }
        self.i = end;
        Some(&self.s[start..end])
    }

    /// `token BWS "=" BWS (token / quoted-string)`: `None` (nothing consumed) when the input
    /// does not start with `token BWS "="`, an error when the value is malformed.
    fn param(&mut self) -> Result<Option<(String, String)>, ChallengeError> {
        let start = self.i;
        let Some(name) = self.token() else {
            return Ok(None);
        };
        self.skip_blanks();
        if self.peek() != Some(b'=') {
            self.i = start;
            return Ok(None);
        }
        self.i += 1;
        self.skip_blanks();
        let value = if self.peek() == Some(b'"') {
            self.quoted_string()?
        } else {
            let from = self.i;
            while self
                .peek()
                .is_some_and(|c| !is_blank(c) && c != b',' && c != b'"')
            {
                self.i += 1;
            }
            if self.i == from {
                return Err(self.error("a param value"));
            }
            self.s[from..self.i].to_owned()
        };
        Ok(Some((name.to_ascii_lowercase(), value)))
    }

    /// A quoted string, `"` first; `\` escapes the next character.
    fn quoted_string(&mut self) -> Result<String, ChallengeError> {
        self.i += 1;
        let mut value = String::new();
        let mut chars = self.s[self.i..].char_indices();
        while let Some((offset, c)) = chars.next() {
            match c {
                '"' => {
                    self.i += offset + 1;
                    return Ok(value);
                }
                '\\' => match chars.next() {
                    Some((_, escaped)) => value.push(escaped),
                    None => break,
                },
                _ => value.push(c),
            }
        }
        self.i = self.b.len();
        Err(self.error("the closing quote of a quoted string"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn c(scheme: &str, params: &[(&str, &str)]) -> Challenge {
        Challenge {
            scheme: scheme.into(),
            token68: None,
            params: params
                .iter()
                .map(|(n, v)| ((*n).into(), (*v).into()))
                .collect(),
        }
    }

    #[test]
    fn challenges_registries_send() {
        let cases: &[(&str, Vec<Challenge>)] = &[
            (
                "Basic realm=\"berth\"",
                vec![c("Basic", &[("realm", "berth")])],
            ),
            (
                // Docker Hub.
                "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:library/alpine:pull\"",
                vec![c(
                    "Bearer",
                    &[
                        ("realm", "https://auth.docker.io/token"),
                        ("service", "registry.docker.io"),
                        ("scope", "repository:library/alpine:pull"),
                    ],
                )],
            ),
            (
                // Two scopes, an error, blanks around `=` and after commas.
                "bearer  REALM = \"http://h/token\" , scope=\"repository:a/b:pull repository:c/d:pull,push\",error=insufficient_scope",
                vec![c(
                    "bearer",
                    &[
                        ("realm", "http://h/token"),
                        ("scope", "repository:a/b:pull repository:c/d:pull,push"),
                        ("error", "insufficient_scope"),
                    ],
                )],
            ),
            (
                "Basic realm=\"a \\\"quoted\\\" \\\\ realm, with comma\"",
                vec![c(
                    "Basic",
                    &[("realm", "a \"quoted\" \\ realm, with comma")],
                )],
            ),
            (
                "Negotiate, Basic realm=\"x\", Bearer realm=\"y\",service=z",
                vec![
                    c("Negotiate", &[]),
                    c("Basic", &[("realm", "x")]),
                    c("Bearer", &[("realm", "y"), ("service", "z")]),
                ],
            ),
            (
                "Negotiate abc+/Def==, Basic realm=x",
                vec![
                    Challenge {
                        token68: Some("abc+/Def==".into()),
                        ..c("Negotiate", &[])
                    },
                    c("Basic", &[("realm", "x")]),
                ],
            ),
            (
                // Unquoted URL (lenient) and empty list elements.
                ", Bearer realm=https://h:5000/token,,service=svc ,",
                vec![c(
                    "Bearer",
                    &[("realm", "https://h:5000/token"), ("service", "svc")],
                )],
            ),
            ("Basic realm=\"\"", vec![c("Basic", &[("realm", "")])]),
        ];
        for (header, expected) in cases {
            assert_eq!(&parse(header).unwrap(), expected, "{header}");
        }
    }

    #[test]
    fn malformed_headers_are_errors() {
        for header in [
            "",
            " , ",
            "Basic realm=\"unterminated",
            "Basic realm=\"x\\",
            "Bearer realm=\"x\", =y",
            "Bearer realm=\"x\" junk",
            "Bearer realm=\"x\"\"y\"",
            "\"quoted\" realm=x",
            "Basic =x",
        ] {
            assert!(parse(header).is_err(), "{header:?} parsed");
        }
    }

    #[test]
    fn lookups_ignore_case_of_the_scheme_only() {
        let challenge = &parse("BEARER Realm=\"r\"").unwrap()[0];
        assert!(challenge.is("bearer") && !challenge.is("basic"));
        assert_eq!(challenge.param("realm"), Some("r"));
        assert_eq!(challenge.param("service"), None);
    }

    fn token() -> impl Strategy<Value = String> {
        "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}"
    }

    fn challenge() -> impl Strategy<Value = Challenge> {
        let params =
            prop::collection::vec((token(), "[\t\\x20-\\x7e\u{80}-\u{10ffff}]{0,24}"), 0..5);
        let token68 = prop::option::weighted(0.2, "[A-Za-z0-9._~+/-]{1,16}=*");
        (token(), token68, params).prop_map(|(scheme, token68, params)| Challenge {
            scheme,
            params: if token68.is_some() {
                Vec::new()
            } else {
                params
                    .into_iter()
                    .map(|(n, v)| (n.to_ascii_lowercase(), v))
                    .collect()
            },
            token68,
        })
    }

    proptest! {
        #[test]
        fn never_panics(header in any::<String>()) {
            let _ = parse(&header);
        }

        #[test]
        fn never_panics_on_near_misses(header in "[A-Za-z \t,=\"\\\\/:]{0,40}") {
            let _ = parse(&header);
        }

        #[test]
        fn round_trips_what_it_prints(challenges in prop::collection::vec(challenge(), 1..4)) {
            let header = challenges.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
            prop_assert_eq!(parse(&header).unwrap(), challenges, "{}", header);
        }
    }
}
