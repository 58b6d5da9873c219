//! Encoding: [`Owned`] values (always canonical) and single-item writers.

use std::collections::BTreeMap;

/// A bencode value that owns its bytes. Dictionaries are `BTreeMap`s, so
/// keys come out sorted bytewise and unique: the encoding is canonical.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owned {
    /// `i42e`
    Int(i64),
    /// `4:spam`
    Bytes(Vec<u8>),
    /// `l...e`
    List(Vec<Owned>),
    /// `d...e`
    Dict(BTreeMap<Vec<u8>, Owned>),
}

impl Owned {
    /// An empty dictionary.
    pub fn dict() -> Owned {
        Owned::Dict(BTreeMap::new())
    }

    /// Sets `key` in a dictionary (replacing any value there).
    ///
    /// # Panics
    /// If `self` is not a dictionary: a programming error, not bad input.
    pub fn insert(&mut self, key: impl AsRef<[u8]>, value: impl Into<Owned>) {
        match self {
            Owned::Dict(d) => {
                d.insert(key.as_ref().to_vec(), value.into());
            }
            other => panic!("Owned::insert on a {:?}, not a dictionary", other),
        }
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Appends the canonical encoding to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Owned::Int(i) => int(out, *i),
            Owned::Bytes(b) => bytes(out, b),
            Owned::List(l) => {
                out.push(b'l');
                for v in l {
                    v.encode_into(out);
                }
                out.push(b'e');
            }
            Owned::Dict(d) => {
                out.push(b'd');
                for (k, v) in d {
                    bytes(out, k);
                    v.encode_into(out);
                }
                out.push(b'e');
            }
        }
    }
}

impl From<i64> for Owned {
    fn from(i: i64) -> Self {
        Owned::Int(i)
    }
}

impl From<i32> for Owned {
    fn from(i: i32) -> Self {
        Owned::Int(i64::from(i))
    }
}

impl From<u32> for Owned {
    fn from(i: u32) -> Self {
        Owned::Int(i64::from(i))
    }
}

impl From<&str> for Owned {
    fn from(s: &str) -> Self {
        Owned::Bytes(s.as_bytes().to_vec())
    }
}

impl From<String> for Owned {
    fn from(s: String) -> Self {
        Owned::Bytes(s.into_bytes())
    }
}

impl From<&[u8]> for Owned {
    fn from(b: &[u8]) -> Self {
        Owned::Bytes(b.to_vec())
    }
}

impl From<Vec<u8>> for Owned {
    fn from(b: Vec<u8>) -> Self {
        Owned::Bytes(b)
    }
}

impl From<Vec<Owned>> for Owned {
    fn from(l: Vec<Owned>) -> Self {
        Owned::List(l)
    }
}

/// Appends `i<n>e`.
pub fn int(out: &mut Vec<u8>, n: i64) {
    out.push(b'i');
    decimal(out, n);
    out.push(b'e');
}

/// Appends `<len>:<bytes>`.
pub fn bytes(out: &mut Vec<u8>, b: &[u8]) {
    decimal(out, b.len() as i64);
    out.push(b':');
    out.extend_from_slice(b);
}

/// Appends a decimal number without going through `fmt` (no allocation).
fn decimal(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    let mut u = n.unsigned_abs();
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}
