//! The `kamaelia` binary, run for real: the no-argument demo, `serve` on a
//! temporary folder (fetched by curl and by `kamaelia fetch`, byte-exact,
//! with its log lines), `fetch` failures and exit codes, `--help`.
//!
//! Every child process is killed by a guard when the test ends, however it
//! ends; every wait is bounded by a deadline; readiness is read from the
//! server's first line ("listening on http://ADDR/"), not slept for.

#![cfg(feature = "cli")]

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

mod cli_support;
use cli_support::{run_within, Guard, Output, BIN};

const CURL: &str = "/usr/bin/curl";
const DEADLINE: Duration = Duration::from_secs(20);

/// Runs `program args` to its end, within [`DEADLINE`] (killed past it).
fn run(program: &str, args: &[&str]) -> Output {
    run_within(program, args, DEADLINE)
}

/// A fresh temporary folder, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("kamaelia-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `kamaelia serve DIR --listen 127.0.0.1:0`, its address, and its
/// stdout lines after the first.
struct Server {
    _guard: Guard,
    base: String,
    lines: Receiver<String>,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let child = Command::new(BIN)
            .args(["serve", dir.to_str().unwrap(), "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut guard = Guard(child);
        let out = guard.0.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = lines
            .recv_timeout(DEADLINE)
            .expect("serve prints its address first");
        let base = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .trim_end_matches('/')
            .to_string();
        assert!(base.starts_with("http://127.0.0.1:"), "{first}");
        Server {
            _guard: guard,
            base,
            lines,
        }
    }

    /// The next log line, within the deadline.
    fn log_line(&self) -> String {
        self.lines
            .recv_timeout(DEADLINE)
            .expect("a log line for the request")
    }
}

/// Checks a log line's exact form: `127.0.0.1:PORT "REQUEST" STATUS BYTES`.
fn assert_log(line: &str, request: &str, status: u16, bytes: usize) {
    let (peer, rest) = line.split_once(' ').unwrap_or_else(|| panic!("{line:?}"));
    let port = peer
        .strip_prefix("127.0.0.1:")
        .unwrap_or_else(|| panic!("{line:?}"));
    assert!(port.parse::<u16>().is_ok(), "{line:?}");
    assert_eq!(rest, format!("\"{request}\" {status} {bytes}"), "{line:?}");
}

/// Bytes of every value, in a pattern that does not repeat in step with
/// the read sizes: several chunks' worth.
fn data() -> Vec<u8> {
    (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect()
}

const TOP_WORDS: &str = "\
47 lines, 490 words, 243 different words
top 10:
   1. a              36
   2. the            35
   3. and            23
   4. to             18
   5. in              9
   6. component       8
   7. is              7
   8. of              7
   9. that            7
  10. it              6
";

fn check_demo(o: &Output) {
    assert_eq!(o.code, Some(0), "stderr: {}", o.stderr);
    assert_eq!(o.stderr, "");
    let text = o.text();
    assert!(text.contains(TOP_WORDS), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let first = lines[0];
    assert!(
        first.starts_with("served 2691 bytes of text on http://127.0.0.1:")
            && first.ends_with("/kamaelia.txt: status 200, 2691 bytes"),
        "{first}"
    );
    let log_at = lines
        .iter()
        .position(|l| *l == "--- request log ---")
        .unwrap();
    assert_log(lines[log_at + 1], "GET /kamaelia.txt HTTP/1.1", 200, 2691);
    assert_eq!(
        lines[log_at + 2],
        "--- the running graph, as the first words arrived ---"
    );
    for name in ["ServerCore#0", "WordSplitter#3", "HttpConnection#"] {
        assert!(text.contains(name), "{name} missing from\n{text}");
    }
    assert!(text.contains("#2.outbox -> #3.inbox (Normal)"), "{text}");
    let sched = lines
        .iter()
        .position(|l| *l == "--- scheduler ---")
        .unwrap();
    let counters = lines[sched + 1];
    assert!(counters.starts_with("ended Completed: "), "{counters}");
    assert!(
        counters.contains(" 10 components spawned, 10 finished, 0 panicked, 0 undelivered,"),
        "{counters}"
    );
}

#[test]
fn no_arguments_runs_the_demo() {
    let start = Instant::now();
    let o = run(BIN, &[]);
    check_demo(&o);
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn demo_subcommand_is_the_same_job() {
    check_demo(&run(BIN, &["demo"]));
    let o = run(BIN, &["demo", "--top", "2"]);
    assert_eq!(o.code, Some(0));
    assert!(o
        .text()
        .contains("top 2:\n   1. a              36\n   2. the            35\n--- scheduler ---\n"));
}

#[test]
fn serve_a_folder_to_curl_and_to_fetch_byte_exact() {
    let dir = TempDir::new("serve");
    let body = data();
    std::fs::write(dir.path().join("data.bin"), &body).unwrap();
    std::fs::write(dir.path().join("hello.txt"), "hello, world\n").unwrap();
    let server = Server::start(dir.path());

    // Real curl.
    let url = format!("{}/data.bin", server.base);
    let o = run(CURL, &["-sS", "--max-time", "10", &url]);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(o.stdout == body, "curl got {} bytes", o.stdout.len());
    assert_log(
        &server.log_line(),
        "GET /data.bin HTTP/1.1",
        200,
        body.len(),
    );

    // kamaelia fetch -o FILE.
    let out = dir.path().join("got.bin");
    let o = run(BIN, &["fetch", &url, "-o", out.to_str().unwrap()]);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert_eq!(o.stdout, b"");
    assert_eq!(
        o.stderr, "",
        "no progress bar when stderr is not a terminal"
    );
    assert!(std::fs::read(&out).unwrap() == body);
    assert_log(
        &server.log_line(),
        "GET /data.bin HTTP/1.1",
        200,
        body.len(),
    );

    // kamaelia fetch to stdout.
    let o = run(BIN, &["fetch", &url]);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(o.stdout == body, "fetch printed {} bytes", o.stdout.len());
    assert_eq!(o.stderr, "");
    assert_log(
        &server.log_line(),
        "GET /data.bin HTTP/1.1",
        200,
        body.len(),
    );

    // A small text, HEAD, and a missing file.
    let hello = format!("{}/hello.txt", server.base);
    let o = run(BIN, &["fetch", &hello]);
    assert_eq!((o.code, o.text().as_str()), (Some(0), "hello, world\n"));
    assert_log(&server.log_line(), "GET /hello.txt HTTP/1.1", 200, 13);
    let o = run(CURL, &["-sS", "-I", "--max-time", "10", &hello]);
    assert_eq!(o.code, Some(0));
    assert!(o.text().starts_with("HTTP/1.1 200 OK\r\n"), "{}", o.text());
    assert_log(&server.log_line(), "HEAD /hello.txt HTTP/1.1", 200, 0);

    // A reader of stdout that goes away: one line, and the fetch stops.
    let mut child = Guard(
        Command::new(BIN)
            .args(["fetch", &url])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut head = [0u8; 10];
    child
        .0
        .stdout
        .take()
        .unwrap()
        .read_exact(&mut head)
        .unwrap(); // and closed
    assert_eq!(head[..], body[..10]);
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(start.elapsed() < DEADLINE, "fetch did not stop");
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut err = String::new();
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(1));
    assert!(err.starts_with("kamaelia: writing to stdout: "), "{err:?}");
    assert_eq!(err.lines().count(), 1, "{err:?}");
    let line = server.log_line();
    assert!(line.contains("\"GET /data.bin HTTP/1.1\" 200 "), "{line}");

    // A file that cannot be made.
    let o = run(BIN, &["fetch", &url, "-o", "/no/such/dir/kamaelia.bin"]);
    assert_eq!(o.code, Some(1));
    assert!(
        o.stderr
            .starts_with("kamaelia: cannot open /no/such/dir/kamaelia.bin: "),
        "{:?}",
        o.stderr
    );
    assert_eq!(o.stderr.lines().count(), 1, "{:?}", o.stderr);

    let missing = format!("{}/missing.txt", server.base);
    let o = run(BIN, &["fetch", &missing]);
    assert_eq!(o.code, Some(1));
    assert_eq!(
        o.stderr,
        format!("kamaelia: fetching {missing}: status 404\n")
    );
    // (The failed -o fetch may or may not have got as far as a request.)
    let mut line = server.log_line();
    while line.contains("/data.bin") {
        line = server.log_line();
    }
    assert_log(&line, "GET /missing.txt HTTP/1.1", 404, 14);
}

#[test]
fn fetch_of_a_refused_port_fails_with_one_line() {
    // A port that was free a moment ago: nothing listens on it now.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/x");
    let o = run(BIN, &["fetch", &url]);
    assert_eq!(o.code, Some(1));
    assert_eq!(o.stdout, b"");
    assert!(
        o.stderr
            .starts_with(&format!("kamaelia: fetching {url}: connection refused")),
        "{:?}",
        o.stderr
    );
    assert!(
        o.stderr.ends_with('\n') && o.stderr.lines().count() == 1,
        "{:?}",
        o.stderr
    );
}

#[test]
fn fetch_of_a_bad_url_fails_with_one_line() {
    let o = run(BIN, &["fetch", "example.org/x"]);
    assert_eq!(o.code, Some(1));
    assert_eq!(o.stderr.lines().count(), 1, "{:?}", o.stderr);
    assert!(
        o.stderr.starts_with("kamaelia: bad URL example.org/x: "),
        "{:?}",
        o.stderr
    );
}

#[test]
fn serve_a_missing_folder_fails_with_one_line() {
    let o = run(
        BIN,
        &[
            "serve",
            "/no/such/folder/kamaelia",
            "--listen",
            "127.0.0.1:0",
        ],
    );
    assert_eq!(o.code, Some(1));
    assert_eq!(o.stderr.lines().count(), 1, "{:?}", o.stderr);
    assert!(
        o.stderr
            .starts_with("kamaelia: cannot serve /no/such/folder/kamaelia: "),
        "{:?}",
        o.stderr
    );
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    for args in [
        &["fetch"][..],
        &["serve"],
        &["nosuchcommand"],
        &["serve", "x", "--listen", "nope"],
    ] {
        let o = run(BIN, args);
        assert_eq!(o.code, Some(2), "{args:?}: {}", o.stderr);
        assert!(o.stderr.starts_with("error: "), "{args:?}: {}", o.stderr);
    }
    for args in [
        &["--help"][..],
        &["demo", "--help"],
        &["serve", "--help"],
        &["fetch", "--help"],
    ] {
        let o = run(BIN, args);
        assert_eq!(o.code, Some(0), "{args:?}");
        assert!(
            o.text().contains("Usage: kamaelia"),
            "{args:?}: {}",
            o.text()
        );
    }
    let o = run(BIN, &["serve", "--help"]);
    assert!(o.text().contains("--listen <ADDR>"), "{}", o.text());
    assert!(
        o.text().contains("[default: 127.0.0.1:8080]"),
        "{}",
        o.text()
    );
    let o = run(BIN, &["fetch", "--help"]);
    assert!(o.text().contains("-o, --output <FILE>"), "{}", o.text());
}
