//! Text formats HTTP carries that more than one protocol layer reads: percent-encoded path
//! segments and query strings, and the `Authorization` header's Basic and Bearer values.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// What `+` means when decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plus {
    /// A space, as in a query string (form encoding).
    Space,
    /// Itself, as in a path segment.
    Literal,
}

/// Decodes `%XX` escapes (and `+` as `plus` says); `None` for a malformed escape or bytes that
/// are not UTF-8.
pub fn percent_decode(s: &str, plus: Plus) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus == Plus::Space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The `name=value` pairs of a query string, decoded; a pair that does not decode is kept as
/// it came.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    let decode = |s: &str| percent_decode(s, Plus::Space).unwrap_or_else(|| s.to_owned());
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Whether a proxy in front says the client came over HTTPS: an `X-Forwarded-Proto` value
/// whose first entry is `https`. Only a host that drops the header from untrusted peers may rely
/// on it (`berth serve` keeps it from its `trusted_proxies` alone); it only chooses the scheme of
/// URLs shown back to the same client (the token realm, console commands).
pub fn forwarded_https(x_forwarded_proto: Option<&str>) -> bool {
    x_forwarded_proto
        .and_then(|v| v.split(',').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// The rest of an `Authorization` value after `scheme` (compared without case) and a space.
pub fn strip_scheme<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let (s, rest) = value.split_once(' ')?;
    s.eq_ignore_ascii_case(scheme).then_some(rest.trim())
}

/// The name and password of a `Basic` `Authorization` value (split at the first colon).
pub fn basic_credentials(value: &str) -> Option<(String, String)> {
    let decoded = STANDARD.decode(strip_scheme(value, "Basic")?).ok()?;
    let (user, password) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_and_paths_decode_like_browsers_encode() {
        assert_eq!(
            query_pairs("service=berth&scope=repository%3Ateam-a%2Fapp%3Apull%2Cpush&x&a=b+c"),
            vec![
                ("service".into(), "berth".into()),
                ("scope".into(), "repository:team-a/app:pull,push".into()),
                ("x".into(), String::new()),
                ("a".into(), "b c".into()),
            ]
        );
        assert_eq!(
            percent_decode("a+b%2B", Plus::Literal).as_deref(),
            Some("a+b+")
        );
        assert_eq!(percent_decode("%zz", Plus::Space), None);
        assert_eq!(percent_decode("%4", Plus::Space), None);
        assert_eq!(percent_decode("%+1", Plus::Space), None);
        assert_eq!(percent_decode("%ff", Plus::Space), None);
        assert_eq!(query_pairs("a=%zz"), vec![("a".into(), "%zz".into())]);
    }

    #[test]
    fn basic_credentials_split_at_the_first_colon() {
        let value = format!("Basic {}", STANDARD.encode("10042-ci:se:cret"));
        assert_eq!(
            basic_credentials(&value),
            Some(("10042-ci".into(), "se:cret".into()))
        );
        assert_eq!(basic_credentials("basic !!!"), None);
        assert_eq!(basic_credentials("Bearer abc"), None);
        assert_eq!(strip_scheme("bearer  tok ", "Bearer"), Some("tok"));
    }
}
