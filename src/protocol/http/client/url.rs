//! URLs a client can fetch: `http://` (and `https://`, fetched by the
//! threaded TLS client), host, port, path with query.
//!
//! Only what a client needs is kept: the fragment is dropped (it never
//! goes on the wire), and anything the client cannot fetch is a typed
//! [`UrlError`], never a guess: user information (`user:pw@`), an empty
//! or malformed host, a port of 0 or above 65535, a byte that is not
//! printable ASCII (no IDNA, no spaces: percent-encode them).
//!
//! ```
//! use kamaelia::protocol::http::client::{Scheme, Url};
//! let u = Url::parse("http://Example.org:8080/a/b?x=1#top").unwrap();
//! assert_eq!(u.scheme(), Scheme::Http);
//! assert_eq!(u.host(), "example.org");
//! assert_eq!(u.port(), 8080);
//! assert_eq!(u.target(), "/a/b?x=1");
//! assert_eq!(u.join("../c").unwrap().to_string(), "http://example.org:8080/c");
//! ```

use std::fmt;

/// The schemes a client fetches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain HTTP (default port 80).
    Http,
    /// HTTP over TLS (default port 443).
    Https,
}

impl Scheme {
    /// The port used when the URL names none.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    /// `"http"` or `"https"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// Why a string is not a URL a client can fetch.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum UrlError {
    /// No `scheme://` at the start.
    MissingScheme,
    /// A scheme other than `http` or `https` (the scheme, lower-cased).
    UnsupportedScheme(String),
    /// User information (`user@host`): never sent.
    UserInfo,
    /// No host.
    MissingHost,
    /// A host that is not a name, an IPv4 address or a bracketed IPv6
    /// address.
    BadHost,
    /// A port that is not a number from 1 to 65535.
    BadPort,
    /// A byte that is not printable ASCII (a space, a control byte,
    /// anything above 0x7e).
    BadChar,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::MissingScheme => f.write_str("no scheme:// at the start"),
            UrlError::UnsupportedScheme(s) => write!(f, "scheme {s:?} is not http or https"),
            UrlError::UserInfo => f.write_str("user information in the URL"),
            UrlError::MissingHost => f.write_str("no host"),
            UrlError::BadHost => f.write_str("malformed host"),
            UrlError::BadPort => f.write_str("port not in 1..=65535"),
            UrlError::BadChar => f.write_str("a byte that is not printable ASCII"),
        }
    }
}

impl std::error::Error for UrlError {}

/// A parsed absolute URL; see the module documentation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Url {
    scheme: Scheme,
    /// Lower-cased; an IPv6 address without its brackets.
    host: String,
    port: u16,
    /// Path and query, starting with `/`.
    target: String,
}

impl Url {
    /// Parses an absolute `http://` or `https://` URL.
    pub fn parse(s: &str) -> Result<Url, UrlError> {
        if !s.bytes().all(|b| (0x21..0x7f).contains(&b)) {
            return Err(UrlError::BadChar);
        }
        let colon = s.find(':').ok_or(UrlError::MissingScheme)?;
        let scheme = &s[..colon];
        let valid_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
        if !valid_scheme {
            return Err(UrlError::MissingScheme);
        }
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => return Err(UrlError::UnsupportedScheme(other.to_string())),
        };
        let rest = s[colon + 1..]
            .strip_prefix("//")
            .ok_or(UrlError::MissingHost)?;
        Self::from_authority(scheme, rest)
    }

    /// `rest` is what follows `scheme://`.
    fn from_authority(scheme: Scheme, rest: &str) -> Result<Url, UrlError> {
        let rest = rest.split('#').next().unwrap_or("");
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, target) = rest.split_at(end);
        if authority.contains('@') {
            return Err(UrlError::UserInfo);
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let close = v6.find(']').ok_or(UrlError::BadHost)?;
            let addr: std::net::Ipv6Addr = v6[..close].parse().map_err(|_| UrlError::BadHost)?;
            let after = &v6[close + 1..];
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or(UrlError::BadHost)?),
            };
            (addr.to_string(), port)
        } else {
            let (host, port) = match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_ascii_lowercase(), Some(p)),
                None => (authority.to_ascii_lowercase(), None),
            };
            if host.is_empty() {
                return Err(UrlError::MissingHost);
            }
            // A name (or IPv4 address): dot-separated labels of letters,
            // digits, '-' and '_', perhaps ending in one dot (the root).
            let labels = host.strip_suffix('.').unwrap_or(&host);
            let name_ok = labels.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
            if !name_ok {
                return Err(UrlError::BadHost);
            }
            (host, port)
        };
        let port = match port {
            None | Some("") => scheme.default_port(),
            Some(p) => {
                if p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(UrlError::BadPort);
                }
                match p.parse::<u16>() {
                    Ok(n) if n > 0 => n,
                    _ => return Err(UrlError::BadPort),
                }
            }
        };
        let target = if target.starts_with('/') {
            remove_dot_segments(target)
        } else {
            format!("/{target}")
        };
        Ok(Url {
            scheme,
            host,
            port,
            target,
        })
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host: lower-cased; an IPv6 address without brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port (the scheme's default when none was given).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The request target: path and query, starting with `/`.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The value of the `Host` header: the host, bracketed if IPv6, with
    /// the port unless it is the scheme's default.
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == self.scheme.default_port() {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// True when `other` has the same scheme, host and port (RFC 6454
    /// origin).
    pub fn same_origin(&self, other: &Url) -> bool {
        self.scheme == other.scheme && self.host == other.host && self.port == other.port
    }

    /// Resolves a reference (such as a `Location` value) against this URL
    /// (RFC 3986 §5.2): absolute, `//host/...`, `/path`, `path`, `?query`.
    pub fn join(&self, reference: &str) -> Result<Url, UrlError> {
        let r = reference.trim_matches([' ', '\t']);
        if !r.bytes().all(|b| (0x21..0x7f).contains(&b)) {
            return Err(UrlError::BadChar);
        }
        let r = r.split('#').next().unwrap_or("");
        if let Some(rest) = r.strip_prefix("//") {
            return Self::from_authority(self.scheme, rest);
        }
        // A scheme: letters, then ':' before any '/', '?'.
        let first_delim = r.find(['/', '?']).unwrap_or(r.len());
        if r[..first_delim].contains(':') {
            return Url::parse(r);
        }
        let mut url = self.clone();
        url.target = if r.is_empty() {
            self.target.clone()
        } else if let Some(q) = r.strip_prefix('?') {
            let path = self.target.split('?').next().unwrap_or("/");
            format!("{path}?{q}")
        } else if r.starts_with('/') {
            remove_dot_segments(r)
        } else {
            let path = self.target.split('?').next().unwrap_or("/");
            let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
            remove_dot_segments(&format!("{dir}{r}"))
        };
        Ok(url)
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        write!(f, "{}://{host}", self.scheme.as_str())?;
        if self.port != self.scheme.default_port() {
            write!(f, ":{}", self.port)?;
        }
        f.write_str(&self.target)
    }
}

impl std::str::FromStr for Url {
    type Err = UrlError;
    fn from_str(s: &str) -> Result<Url, UrlError> {
        Url::parse(s)
    }
}

/// RFC 3986 §5.2.4 on a target starting with `/`; the query is kept as is.
fn remove_dot_segments(target: &str) -> String {
    let (path, query) = match target.find('?') {
        Some(i) => target.split_at(i),
        None => (target, ""),
    };
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    let mut trailing_slash = false;
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." => trailing_slash = i == last,
            ".." => {
                out.pop();
                trailing_slash = i == last;
            }
            s => {
                out.push(s);
                trailing_slash = false;
            }
        }
    }
    let mut p = String::with_capacity(path.len());
    for s in &out {
        p.push('/');
        p.push_str(s);
    }
    if trailing_slash || p.is_empty() {
        p.push('/');
    }
    p.push_str(query);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments() {
        assert_eq!(remove_dot_segments("/a/b/c/./../../g"), "/a/g");
        assert_eq!(remove_dot_segments("/../x"), "/x");
        assert_eq!(remove_dot_segments("/a/.."), "/");
        assert_eq!(remove_dot_segments("/a/b/."), "/a/b/");
        assert_eq!(remove_dot_segments("/a//b"), "/a//b");
        assert_eq!(remove_dot_segments("/a/../b?x=/../y"), "/b?x=/../y");
    }
}
