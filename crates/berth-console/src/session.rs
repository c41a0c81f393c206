//! The console's session cookie: a random id, which the engine's `Identity` looks up (its hash
//! is stored), so that logging out, a password change, disabling or deleting the user ends the
//! session on the server at once, on every node.

/// The cookie's name.
pub(crate) const COOKIE: &str = "berth_session";

/// The value of cookie `name` in a `Cookie` header.
pub(crate) fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// The session cookie a request carries, if any.
pub(crate) fn from_headers(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| cookie(h, COOKIE))
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_name() {
        let header = "theme=dark; berth_session=abc.def; other=1";
        assert_eq!(cookie(header, COOKIE), Some("abc.def"));
        assert_eq!(cookie(header, "missing"), None);
        let mut headers = http::HeaderMap::new();
        headers.append(http::header::COOKIE, "a=1".parse().unwrap());
        headers.append(http::header::COOKIE, "berth_session=xyz".parse().unwrap());
        assert_eq!(from_headers(&headers), Some("xyz"));
        headers.clear();
        headers.append(http::header::COOKIE, "berth_session=".parse().unwrap());
        assert_eq!(from_headers(&headers), None);
    }
}
