//! The IRC examples (`irc_client`, sketch 26, and `irc_logbot`) run
//! through their `run` functions against a small scripted IRC server on
//! 127.0.0.1 (a thread with blocking reads, each bounded by a time-out):
//! every line each side sent is checked, in order.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::Duration;

use kamaelia::axon::Signal;
use kamaelia::protocol::irc::IrcError;
use kamaelia::util::SharedBuffer;

#[allow(dead_code)]
#[path = "../examples/irc_client.rs"]
mod irc_client;

#[allow(dead_code)]
#[path = "../examples/irc_logbot.rs"]
mod irc_logbot;

/// One connection of a scripted server: reads lines, writes lines.
struct Peer {
    r: BufReader<TcpStream>,
    w: TcpStream,
    got: Vec<String>,
}

impl Peer {
    fn accept(l: &TcpListener) -> Peer {
        let (s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Peer {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
            got: Vec::new(),
        }
    }
    /// Reads lines until one starts with `prefix`; returns it.
    fn until(&mut self, prefix: &str) -> String {
        loop {
            let mut line = String::new();
            let n = self.r.read_line(&mut line).expect("a line within 10 s");
            assert!(n > 0, "closed before {prefix:?}; got {:?}", self.got);
            assert!(line.ends_with("\r\n"), "{line:?}");
            let line = line.trim_end().to_string();
            self.got.push(line.clone());
            if line.starts_with(prefix) {
                return line;
            }
        }
    }
    fn send(&mut self, text: &str) {
        self.w.write_all(text.as_bytes()).unwrap();
    }
}

fn server(
    script: impl FnOnce(Peer) -> Vec<String> + Send + 'static,
) -> (u16, JoinHandle<Vec<String>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let t = std::thread::spawn(move || script(Peer::accept(&l)));
    (port, t)
}

fn register(p: &mut Peer, nick: &str) {
    p.until("NICK");
    p.until("USER");
    p.send(&format!(":irc.test 001 {nick} :Welcome {nick}\r\n"));
}

#[test]
fn the_console_client_registers_joins_talks_and_quits_at_the_end_of_input() {
    let (port, t) = server(|mut p| {
        register(&mut p, "bob");
        p.until("JOIN #k");
        p.send(":bob!bob@127.0.0.1 JOIN #k\r\n:al!a@h PRIVMSG #k :hi bob\r\n:al!a@h PRIVMSG bob :psst\r\n");
        p.until("PRIVMSG #other");
        p.until("QUIT");
        p.send("ERROR :Closing link (bye)\r\n");
        p.got
    });
    let input = "hello all\n/me waves\n/msg al psst back\n/join #other\nnew place\n";
    let screen = SharedBuffer::new();
    let o = irc_client::run(
        "127.0.0.1",
        port,
        "bob",
        "#k",
        std::io::Cursor::new(input),
        screen.clone(),
    );
    let got = t.join().unwrap();
    assert_eq!(
        got,
        [
            "NICK bob",
            "USER bob 0 * :Kamaelia IRC client",
            "JOIN #k",
            "PRIVMSG #k :hello all",
            "PRIVMSG #k :\u{1}ACTION waves\u{1}",
            "PRIVMSG al :psst back",
            "JOIN #other",
            "PRIVMSG #other :new place",
            "QUIT Kamaelia",
        ]
    );
    assert_eq!(o.signals, [Signal::ProducerFinished]);
    let text = screen.text();
    let shown: Vec<&str> = text.lines().collect();
    assert_eq!(
        shown,
        [
            "*** Welcome bob",
            "*** bob has joined #k",
            "[#k] <al> hi bob",
            "*al* psst",
            "*** ERROR: Closing link (bye)",
        ]
    );
}

#[test]
fn the_log_bot_writes_the_channel_to_a_file_and_answers_count() {
    let dir = std::env::temp_dir().join(format!("kamaelia-irc-logbot-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("chan.log");
    let (port, t) = server(|mut p| {
        register(&mut p, "logbot");
        p.until("JOIN #k");
        p.send(concat!(
            ":logbot!l@h JOIN #k\r\n",
            ":al!a@h PRIVMSG #k :first\r\n",
            ":al!a@h PRIVMSG #k :\u{1}ACTION dances\u{1}\r\n",
            ":al!a@h PRIVMSG logbot :private, not logged\r\n",
            ":al!a@h PRIVMSG #elsewhere :not logged\r\n",
            ":cy!c@h JOIN #k\r\n",
            ":cy!c@h PRIVMSG #k :!count\r\n",
        ));
        let answer = p.until("PRIVMSG #k");
        p.send(":al!a@h PART #k :later\r\nERROR :Closing link\r\n");
        drop(p.w);
        vec![answer]
    });
    let o = irc_logbot::run("127.0.0.1", port, "logbot", "#k", &log).unwrap();
    let answer = t.join().unwrap();
    assert_eq!(answer, ["PRIVMSG #k :5 lines logged"]);
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        [
            "*** logbot has joined #k",
            "[#k] <al> first",
            "[#k] * al dances",
            "*** cy has joined #k",
            "[#k] <cy> !count",
            "*** al has left #k (later)",
        ]
    );
    let [Signal::Failed(f)] = o.signals.as_slice() else {
        panic!("{:?}", o.signals)
    };
    assert_eq!(
        f.downcast_ref::<IrcError>(),
        Some(&IrcError::ServerError {
            text: "Closing link".into(),
            registered: true
        })
    );
    let _ = std::fs::remove_dir_all(&dir);
}
