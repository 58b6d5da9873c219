//! `kamaelia fetch https://...` against a local TLS server (rustls, on
//! 127.0.0.1) whose certificate is signed by a CA the test makes with
//! `openssl`: trusted with `--cacert` (PEM and DER) the body arrives
//! byte-exact; without it the fetch fails with one line. The PKI and the
//! server are those of tests/http_client_https.rs.

#![cfg(feature = "cli")]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
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

/// A CA (ca.pem, ca.der in `dir`) and a leaf certificate for 127.0.0.1
/// signed by it, as DER.
struct Pki {
    dir: PathBuf,
    leaf_der: Vec<u8>,
    key_der: Vec<u8>,
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn make_pki(name: &str) -> Pki {
    let dir = std::env::temp_dir().join(format!("kamaelia-https-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=kamaelia test CA",
    ]);
    openssl(&dir, &ca);
    let mut leaf = vec!["req"];
    leaf.extend(ec);
    leaf.extend([
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(&dir, &leaf);
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
        ],
    );
    openssl(
        &dir,
        &["x509", "-in", "ca.pem", "-outform", "der", "-out", "ca.der"],
    );
    openssl(
        &dir,
        &[
            "x509", "-in", "leaf.pem", "-outform", "der", "-out", "leaf.der",
        ],
    );
    openssl(
        &dir,
        &[
            "pkcs8", "-topk8", "-nocrypt", "-in", "leaf.key", "-outform", "der", "-out", "leaf.p8",
        ],
    );
    Pki {
        leaf_der: std::fs::read(dir.join("leaf.der")).unwrap(),
        key_der: std::fs::read(dir.join("leaf.p8")).unwrap(),
        dir,
    }
}

/// A TLS server thread on 127.0.0.1 serving `conns` connections one after
/// another: reads a request head (and its Content-Length body), answers
/// `answer`, closes. A failed handshake ends that connection only.
/// Returns the port and the requests read.
fn tls_server(
    pki: &Pki,
    answer: Vec<u8>,
    conns: usize,
) -> (u16, std::thread::JoinHandle<Vec<Vec<u8>>>) {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(pki.leaf_der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.key_der.clone())),
        )
        .unwrap();
    let config = Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let mut requests = Vec::new();
        for _ in 0..conns {
            let (tcp, _) = listener.accept().unwrap();
            tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            let mut ok = false;
            // Bounded: a request of at most 64 KiB.
            while req.len() < 65536 {
                match tls.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
                if let Some(end) = req.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&req[..end]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    if req.len() >= end + 4 + len {
                        ok = true;
                        break;
                    }
                }
            }
            if ok {
                let _ = tls.write_all(&answer);
                tls.conn.send_close_notify();
                let _ = tls.flush();
                requests.push(req);
            }
        }
        requests
    });
    (port, handle)
}

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
