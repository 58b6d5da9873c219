//! The HTTP client's values: URLs (parse, refuse, resolve references)
//! and the request writer (exact bytes; heads that would break refused).

use bytes::Bytes;
use kamaelia::protocol::http::client::{Request, RequestError, Scheme, Url, UrlError};

// ----- URLs -----

#[test]
fn urls_parse_into_scheme_host_port_target() {
    let cases: &[(&str, Scheme, &str, u16, &str, &str)] = &[
        (
            "http://example.org",
            Scheme::Http,
            "example.org",
            80,
            "/",
            "http://example.org/",
        ),
        (
            "HTTP://Example.ORG:80/",
            Scheme::Http,
            "example.org",
            80,
            "/",
            "http://example.org/",
        ),
        (
            "http://a:8080/x/y?q=1&r#frag",
            Scheme::Http,
            "a",
            8080,
            "/x/y?q=1&r",
            "http://a:8080/x/y?q=1&r",
        ),
        ("http://a?q", Scheme::Http, "a", 80, "/?q", "http://a/?q"),
        (
            "https://a.b.c./p",
            Scheme::Https,
            "a.b.c.",
            443,
            "/p",
            "https://a.b.c./p",
        ),
        ("https://a:443/", Scheme::Https, "a", 443, "/", "https://a/"),
        (
            "http://127.0.0.1:1/%20x",
            Scheme::Http,
            "127.0.0.1",
            1,
            "/%20x",
            "http://127.0.0.1:1/%20x",
        ),
        (
            "http://[::1]:8080/",
            Scheme::Http,
            "::1",
            8080,
            "/",
            "http://[::1]:8080/",
        ),
        (
            "http://[::1]/a/../b/./c",
            Scheme::Http,
            "::1",
            80,
            "/b/c",
            "http://[::1]/b/c",
        ),
        ("http://h:/", Scheme::Http, "h", 80, "/", "http://h/"),
    ];
    for &(s, scheme, host, port, target, shown) in cases {
        let u = Url::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(
            (u.scheme(), u.host(), u.port(), u.target()),
            (scheme, host, port, target),
            "{s}"
        );
        assert_eq!(u.to_string(), shown, "{s}");
        assert_eq!(Url::parse(shown).unwrap(), u, "{s} shown and parsed back");
    }
    assert_eq!(
        Url::parse("http://[::1]:8080/").unwrap().host_header(),
        "[::1]:8080"
    );
    assert_eq!(Url::parse("http://a:80/").unwrap().host_header(), "a");
    assert_eq!(Url::parse("https://a:80/").unwrap().host_header(), "a:80");
}

#[test]
fn urls_a_client_cannot_fetch_are_typed_errors() {
    let cases: &[(&str, UrlError)] = &[
        ("", UrlError::MissingScheme),
        ("example.org/x", UrlError::MissingScheme),
        ("/x", UrlError::MissingScheme),
        ("1http://a/", UrlError::MissingScheme),
        ("ftp://a/", UrlError::UnsupportedScheme("ftp".into())),
        (
            "FILE:///etc/passwd",
            UrlError::UnsupportedScheme("file".into()),
        ),
        ("http:/a", UrlError::MissingHost),
        ("http://", UrlError::MissingHost),
        ("http:///x", UrlError::MissingHost),
        ("http://:80/", UrlError::MissingHost),
        ("http://u:p@a/", UrlError::UserInfo),
        ("http://a@b/", UrlError::UserInfo),
        ("http://a b/", UrlError::BadChar),
        ("http://a/b c", UrlError::BadChar),
        ("http://a/\r\nX: y", UrlError::BadChar),
        ("http://ä/", UrlError::BadChar),
        ("http://a:0/", UrlError::BadPort),
        ("http://a:65536/", UrlError::BadPort),
        ("http://a:123456/", UrlError::BadPort),
        ("http://a:8x/", UrlError::BadPort),
        ("http://a:-1/", UrlError::BadPort),
        ("http://a..b/", UrlError::BadHost),
        ("http://a:b:80/", UrlError::BadHost),
        ("http://[::1/", UrlError::BadHost),
        ("http://[zz]/", UrlError::BadHost),
        ("http://[::1]x/", UrlError::BadHost),
        ("http://a%2f/", UrlError::BadHost),
    ];
    for (s, want) in cases {
        assert_eq!(Url::parse(s).as_ref(), Err(want), "{s:?}");
    }
}

#[test]
fn references_resolve_against_a_base() {
    let base = Url::parse("http://a:81/b/c/d?q").unwrap();
    let cases: &[(&str, &str)] = &[
        ("g", "http://a:81/b/c/g"),
        ("./g", "http://a:81/b/c/g"),
        ("g/", "http://a:81/b/c/g/"),
        ("/g", "http://a:81/g"),
        ("//other/g", "http://other/g"),
        ("?y", "http://a:81/b/c/d?y"),
        ("g?y", "http://a:81/b/c/g?y"),
        ("#s", "http://a:81/b/c/d?q"),
        ("", "http://a:81/b/c/d?q"),
        (".", "http://a:81/b/c/"),
        ("..", "http://a:81/b/"),
        ("../g", "http://a:81/b/g"),
        ("../../../g", "http://a:81/g"),
        ("https://s/x", "https://s/x"),
        ("  /padded\t", "http://a:81/padded"),
    ];
    for (r, want) in cases {
        assert_eq!(base.join(r).unwrap().to_string(), *want, "{r:?}");
    }
    assert_eq!(
        base.join("ftp://x/"),
        Err(UrlError::UnsupportedScheme("ftp".into()))
    );
    assert_eq!(base.join("/a b"), Err(UrlError::BadChar));
}

// ----- the request writer -----

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

#[test]
fn requests_are_written_exactly() {
    let get = Request::get(url("http://h/p?q"));
    assert_eq!(
        &get.to_bytes(true).unwrap()[..],
        b"GET /p?q HTTP/1.1\r\nHost: h\r\nUser-Agent: kamaelia-rs/0.1\r\nConnection: keep-alive\r\n\r\n"
    );
    let put = Request::new("PUT", url("http://[::1]:8080/f"))
        .header("User-Agent", "mine")
        .header("Host", "virtual")
        .header("X-A", " spaced ")
        .with_body(&b"\x00\xff"[..]);
    assert_eq!(
        &put.to_bytes(false).unwrap()[..],
        &b"PUT /f HTTP/1.1\r\nUser-Agent: mine\r\nHost: virtual\r\nX-A: spaced\r\n\
           Content-Length: 2\r\nConnection: close\r\n\r\n\x00\xff"[..]
    );
    // An empty POST still says its length; an empty DELETE does not.
    let post = Request::post(url("http://h/"), Bytes::new());
    assert!(post
        .to_bytes(false)
        .unwrap()
        .ends_with(b"Content-Length: 0\r\nConnection: close\r\n\r\n"));
    let del = Request::new("DELETE", url("http://h/"));
    assert!(!del
        .to_bytes(false)
        .unwrap()
        .windows(14)
        .any(|w| w == b"Content-Length"));
}

#[test]
fn requests_that_would_break_the_head_are_refused() {
    let u = url("http://h/");
    let bad = |r: Request| r.to_bytes(false).unwrap_err();
    assert_eq!(
        bad(Request::new("G T", u.clone())),
        RequestError::BadMethod("G T".into())
    );
    assert_eq!(
        bad(Request::new("", u.clone())),
        RequestError::BadMethod("".into())
    );
    assert_eq!(
        bad(Request::get(u.clone()).header("X:Y", "1")),
        RequestError::BadHeaderName("X:Y".into())
    );
    assert_eq!(
        bad(Request::get(u.clone()).header("X", "a\r\nEvil: 1")),
        RequestError::BadHeaderValue("X".into())
    );
    assert_eq!(
        bad(Request::get(u.clone()).header("X", "a\0")),
        RequestError::BadHeaderValue("X".into())
    );
    for h in ["Content-Length", "transfer-encoding", "Connection"] {
        assert_eq!(
            bad(Request::get(u.clone()).header(h, "1")),
            RequestError::FramingHeader(h.into())
        );
    }
}
