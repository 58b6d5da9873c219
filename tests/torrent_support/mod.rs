//! Helpers shared by the torrent tests (maker, metainfo, `kamaelia make`
//! and `show`): temporary folders, file contents that differ at every
//! offset, running `mktorrent`, and the info-hash computed outside Rust
//! (python3's hashlib over the span of the info dictionary that a
//! separate, tiny bencode scanner finds).
#![allow(dead_code)]

pub mod clients;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use kamaelia::protocol::torrent::bencode;
use sha1::{Digest, Sha1};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh temporary folder, removed with all it holds on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let p =
            std::env::temp_dir().join(format!("kamaelia-torrent-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `len` bytes of [`content`] (seeded with `seed`) at `rel`,
    /// creating folders on the way; returns the file's path.
    pub fn file(&self, rel: &str, len: usize, seed: u32) -> PathBuf {
        let p = self.0.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content(len, seed)).unwrap();
        p
    }
}

impl TempDir {
    /// Writes a `len`-byte file quickly: a 64 KiB block of [`content`]
    /// over and over (for tests of size, not of piece contents).
    pub fn big_file(&self, rel: &str, len: usize) -> PathBuf {
        let p = self.0.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let block = content(1 << 16, 77);
        let mut f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
        let mut left = len;
        while left > 0 {
            let n = left.min(block.len());
            f.write_all(&block[..n]).unwrap();
            left -= n;
        }
        f.flush().unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `len` bytes from a xorshift stream seeded by `seed`: no two pieces of
/// any test file are alike, so a piece cut in the wrong place shows.
pub fn content(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 7) as u8
        })
        .collect()
}

/// Whether `program` is on the PATH; if not, prints why the test is
/// skipped and returns false, or fails when KAMAELIA_REQUIRE_INTEROP=1.
pub fn have(program: &str, test: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return true;
    }
    let msg =
        format!("{test}: skipped: {program} not installed (Debian: apt-get install -y {program})");
    if std::env::var_os("KAMAELIA_REQUIRE_INTEROP").is_some_and(|v| v == "1") {
        panic!("{msg}");
    }
    let _ = writeln!(std::io::stderr(), "{msg}");
    false
}

/// Runs `mktorrent ARGS -o OUT TARGET` (replacing OUT) and returns the
/// file it wrote.
pub fn mktorrent(args: &[&str], target: &Path, out: &Path) -> Vec<u8> {
    // mktorrent will not overwrite a file.
    let _ = std::fs::remove_file(out);
    let o = Command::new("mktorrent")
        .args(args)
        .arg("-o")
        .arg(out)
        .arg(target)
        .stdin(Stdio::null())
        .output()
        .expect("mktorrent runs");
    assert!(
        o.status.success(),
        "mktorrent {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::read(out).unwrap()
}

/// The info-hash of a `.torrent` file: SHA-1 of its info dictionary's
/// bytes as found in the file.
pub fn info_hash_of(torrent: &[u8]) -> [u8; 20] {
    let v = bencode::decode(torrent).expect("a bencoded file");
    let info = v
        .as_dict()
        .unwrap()
        .get(b"info")
        .unwrap()
        .as_dict()
        .unwrap();
    Sha1::digest(info.raw()).into()
}

/// An integer field of the info dictionary.
pub fn info_int(torrent: &[u8], key: &[u8]) -> Option<i64> {
    let v = bencode::decode(torrent).unwrap();
    let info = v
        .as_dict()
        .unwrap()
        .get(b"info")
        .unwrap()
        .as_dict()
        .unwrap();
    info.get(key).and_then(|v| v.as_int())
}

/// Lower-case hex, written here rather than taken from the crate.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A bencode scanner of its own (not the crate's) finds the top-level
/// `info` value's bytes; hashlib hashes them.
const INFO_HASH_PY: &str = r#"
import sys, hashlib
b = open(sys.argv[1], 'rb').read()
def skip(i):
    c = b[i:i+1]
    if c == b'i':
        return b.index(b'e', i) + 1
    if c in (b'l', b'd'):
        i += 1
        while b[i:i+1] != b'e':
            i = skip(i)
        return i + 1
    colon = b.index(b':', i)
    return colon + 1 + int(b[i:colon])
assert b[0:1] == b'd'
i = 1
while b[i:i+1] != b'e':
    colon = b.index(b':', i)
    end = colon + 1 + int(b[i:colon])
    key = b[colon+1:end]
    j = skip(end)
    if key == b'info':
        print(hashlib.sha1(b[end:j]).hexdigest())
        break
    i = j
"#;

/// The info-hash of the file at `path`, in hex, computed by python3.
pub fn python_info_hash(path: &Path) -> String {
    let o = Command::new("python3")
        .arg("-c")
        .arg(INFO_HASH_PY)
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .expect("python3 runs");
    assert!(
        o.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

/// A multi-file torrent made in memory: each file's bytes from
/// [`content`] (seeded `seed`, `seed + 1`, ...), the pieces hashed.
pub struct Synthetic {
    pub meta: kamaelia::protocol::torrent::metainfo::Metainfo,
    pub layout: kamaelia::protocol::torrent::pieces::Layout,
    /// The whole byte stream.
    pub data: Vec<u8>,
    /// Each file's bytes.
    pub files: Vec<Vec<u8>>,
}

impl Synthetic {
    /// Files `(name, length)` under a folder `t`, pieces of `piece_length`.
    pub fn new(files: &[(&str, usize)], piece_length: usize, seed: u32) -> Self {
        use kamaelia::protocol::torrent::metainfo::MetainfoBuilder;
        use kamaelia::protocol::torrent::pieces::Layout;
        let contents: Vec<Vec<u8>> = files
            .iter()
            .enumerate()
            .map(|(i, (_, len))| content(*len, seed + i as u32))
            .collect();
        let data = contents.concat();
        let hashes = data
            .chunks(piece_length)
            .map(|c| Sha1::digest(c).into())
            .collect();
        let list = files
            .iter()
            .map(|(name, len)| (vec![name.to_string()], *len as u64))
            .collect();
        let meta = MetainfoBuilder::multi_file("t", list, piece_length as u64, hashes)
            .build()
            .unwrap();
        let layout = Layout::of(&meta).unwrap();
        Synthetic {
            meta,
            layout,
            data,
            files: contents,
        }
    }

    /// A piece's blocks as the peer wire would hand them over.
    pub fn blocks(&self, piece: u32) -> Vec<bytes::Bytes> {
        (0..self.layout.blocks_in_piece(piece))
            .map(|b| {
                bytes::Bytes::copy_from_slice(self.bytes(&self.layout.block(piece, b).unwrap()))
            })
            .collect()
    }

    /// The bytes of one block.
    pub fn bytes(&self, r: &kamaelia::protocol::torrent::pieces::BlockRef) -> &[u8] {
        let at = (self.layout.piece_offset(r.piece) + u64::from(r.offset)) as usize;
        &self.data[at..at + r.len as usize]
    }
}
