//! `kamaelia fetch https://...` against a local TLS server (rustls, on
//! 127.0.0.1) whose certificate is signed by a CA the test makes with
//! `openssl`: trusted with `--cacert` (PEM and DER) the body arrives
//! byte-exact; without it the fetch fails with one line. The PKI and the
//! server are those of tests/http_client_https.rs.

#![cfg(feature = "cli")]

use std::io::Read;

use std::process::{Command, Stdio};

use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_kamaelia");

/// `kamaelia args`, to its end within 20 s (killed past it): exit code,
/// stdout, stderr.
fn kamaelia(args: &[&str]) -> (Option<i32>, Vec<u8>, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = String::new();
        let _ = err.read_to_string(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("kamaelia {args:?} still running after 20 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    (status.code(), t_out.join().unwrap(), t_err.join().unwrap())
}

mod tls_support;
use tls_support::{make_pki, tls_server};

fn answer(body: &[u8]) -> Vec<u8> {
    let mut a = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    a.extend_from_slice(body);
    a
}

#[test]
fn fetch_over_https_with_a_trusted_ca_is_byte_exact() {
    let pki = make_pki("cli");
    let body: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let (port, server) = tls_server(&pki, answer(&body), 2);
    let url = format!("https://127.0.0.1:{port}/data");
    let pem = pki.dir.join("ca.pem");
    let der = pki.dir.join("ca.der");

    let (code, out, err) = kamaelia(&["fetch", &url, "--cacert", pem.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out == body, "got {} bytes", out.len());

    let file = pki.dir.join("got.bin");
    let (code, out, err) = kamaelia(&[
        "fetch",
        &url,
        "--cacert",
        der.to_str().unwrap(),
        "-o",
        file.to_str().unwrap(),
    ]);
    assert_eq!((code, out.len(), err.as_str()), (Some(0), 0, ""));
    assert!(std::fs::read(&file).unwrap() == body);

    let requests = server.join().unwrap();
    assert_eq!(requests.len(), 2);
    assert!(requests[0].starts_with(b"GET /data HTTP/1.1\r\n"));
}

#[test]
fn fetch_over_https_without_the_ca_fails_with_one_line() {
    let pki = make_pki("cli-untrusted");
    let (port, server) = tls_server(&pki, answer(b"never"), 1);
    let url = format!("https://127.0.0.1:{port}/");
    let (code, out, err) = kamaelia(&["fetch", &url]);
    assert_eq!(code, Some(1));
    assert!(out.is_empty());
    assert!(
        err.starts_with(&format!(
            "kamaelia: fetching {url}: TLS handshake or certificate failed"
        )),
        "{err:?}"
    );
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(server.join().unwrap().is_empty());
}

#[test]
fn a_cacert_that_is_not_a_certificate_fails_with_one_line() {
    let dir = std::env::temp_dir().join(format!("kamaelia-cli-cacert-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.pem");
    std::fs::write(
        &bad,
        "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let (code, _, err) = kamaelia(&[
        "fetch",
        "https://127.0.0.1:1/",
        "--cacert",
        bad.to_str().unwrap(),
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(1));
    assert_eq!(
        err,
        format!(
            "kamaelia: {}: a certificate that is not base64\n",
            bad.display()
        )
    );
}
