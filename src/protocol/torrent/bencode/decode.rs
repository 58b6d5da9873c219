//! The decoder: recursive descent, one level of recursion per nesting
//! level (bounded by [`Limits::max_depth`]), every length checked against
//! the input before it is used.

use super::value::{Dict, Value};
use super::{BencodeError, ErrorKind, Limits, Mode};

/// Decodes a whole buffer in lenient mode with default limits.
pub fn decode(buf: &[u8]) -> Result<Value<'_>, BencodeError> {
    decode_with(buf, Mode::Lenient, &Limits::default())
}

/// Decodes a whole buffer in strict (canonical) mode with default limits.
pub fn decode_strict(buf: &[u8]) -> Result<Value<'_>, BencodeError> {
    decode_with(buf, Mode::Strict, &Limits::default())
}

/// Decodes a whole buffer: bytes after the value are an error.
pub fn decode_with<'a>(
    buf: &'a [u8],
    mode: Mode,
    limits: &Limits,
) -> Result<Value<'a>, BencodeError> {
    let (value, used) = decode_prefix(buf, mode, limits)?;
    if used != buf.len() {
        return Err(BencodeError {
            offset: used,
            kind: ErrorKind::TrailingBytes,
        });
    }
    Ok(value)
}

/// Decodes one value from the start of `buf` and says how many bytes it
/// took; what follows is left alone (the `ut_metadata` message carries a
/// piece of data after its dictionary).
pub fn decode_prefix<'a>(
    buf: &'a [u8],
    mode: Mode,
    limits: &Limits,
) -> Result<(Value<'a>, usize), BencodeError> {
    let mut d = Decoder {
        buf,
        pos: 0,
        strict: mode == Mode::Strict,
        items_left: limits.max_items,
        depth_left: limits.max_depth,
    };
    let value = d.value()?;
    Ok((value, d.pos))
}

struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
    strict: bool,
    items_left: usize,
    depth_left: usize,
}

impl<'a> Decoder<'a> {
    fn err<T>(&self, offset: usize, kind: ErrorKind) -> Result<T, BencodeError> {
        Err(BencodeError { offset, kind })
    }

    fn peek(&self) -> Result<u8, BencodeError> {
        match self.buf.get(self.pos) {
            Some(&b) => Ok(b),
            None => self.err(self.pos, ErrorKind::UnexpectedEnd),
        }
    }

    fn value(&mut self) -> Result<Value<'a>, BencodeError> {
        if self.items_left == 0 {
            return self.err(self.pos, ErrorKind::TooManyItems);
        }
        self.items_left -= 1;
        match self.peek()? {
            b'i' => {
                let start = self.pos;
                self.pos += 1;
                let i = self.integer(b'e', start)?;
                Ok(Value::Int(i))
            }
            b'0'..=b'9' => Ok(Value::Bytes(self.string()?)),
            b'l' => {
                let start = self.pos;
                self.enter(start)?;
                self.pos += 1;
                let mut items = Vec::new();
                while self.peek()? != b'e' {
                    items.push(self.value()?);
                }
                self.pos += 1;
                self.depth_left += 1;
                Ok(Value::List(items))
            }
            b'd' => self.dict().map(Value::Dict),
            b => self.err(self.pos, ErrorKind::UnexpectedByte(b)),
        }
    }

    fn enter(&mut self, at: usize) -> Result<(), BencodeError> {
        if self.depth_left == 0 {
            return self.err(at, ErrorKind::TooDeep);
        }
        self.depth_left -= 1;
        Ok(())
    }

    fn dict(&mut self) -> Result<Dict<'a>, BencodeError> {
        let start = self.pos;
        self.enter(start)?;
        self.pos += 1;
        let mut entries: Vec<(&'a [u8], Value<'a>)> = Vec::new();
        let mut sorted = true;
        loop {
            let key_at = self.pos;
            match self.peek()? {
                b'e' => break,
                b'0'..=b'9' => {}
                _ => return self.err(key_at, ErrorKind::KeyNotString),
            }
            let key = self.string()?;
            if let Some((last, _)) = entries.last() {
                match (*last).cmp(key) {
                    std::cmp::Ordering::Less => {}
                    std::cmp::Ordering::Equal => {
                        return self.err(key_at, ErrorKind::DuplicateKey);
                    }
                    std::cmp::Ordering::Greater if self.strict => {
                        return self.err(key_at, ErrorKind::UnsortedKeys);
                    }
                    // Unsorted: duplicates are looked for once at the end.
                    std::cmp::Ordering::Greater => sorted = false,
                }
            }
            let value = self.value()?;
            entries.push((key, value));
        }
        if !sorted {
            // Sorting a copy of the keys keeps a hostile unsorted
            // dictionary at O(n log n), not a scan per key.
            let base = self.buf.as_ptr() as usize;
            let mut keys: Vec<(&[u8], usize)> = entries
                .iter()
                .map(|(k, _)| (*k, k.as_ptr() as usize - base))
                .collect();
            keys.sort_unstable();
            if let Some(w) = keys.windows(2).find(|w| w[0].0 == w[1].0) {
                return self.err(w[0].1.max(w[1].1), ErrorKind::DuplicateKey);
            }
        }
        self.pos += 1;
        self.depth_left += 1;
        Ok(Dict {
            entries,
            raw: &self.buf[start..self.pos],
            sorted,
        })
    }

    /// A string: `<len>:<bytes>`, the length checked against the input.
    fn string(&mut self) -> Result<&'a [u8], BencodeError> {
        let at = self.pos;
        let len = self.integer(b':', at)?;
        let len = usize::try_from(len).map_err(|_| BencodeError {
            offset: at,
            kind: ErrorKind::BadNumber,
        })?;
        if len > self.buf.len() - self.pos {
            return self.err(at, ErrorKind::LengthBeyondInput);
        }
        let bytes = &self.buf[self.pos..self.pos + len];
        self.pos += len;
        Ok(bytes)
    }

    /// Digits (with a sign unless this is a length) up to `end`, which is
    /// consumed. Canonical form checked in strict mode.
    /// Errors are reported at `start`, where the value began.
    fn integer(&mut self, end: u8, start: usize) -> Result<i64, BencodeError> {
        let negative = end == b'e' && self.peek()? == b'-';
        if negative {
            self.pos += 1;
        }
        let digits_at = self.pos;
        let mut value: i64 = 0;
        loop {
            let b = self.peek()?;
            match b {
                b'0'..=b'9' => {
                    let digit = i64::from(b - b'0');
                    value = value
                        .checked_mul(10)
                        .and_then(|v| {
                            if negative {
                                v.checked_sub(digit)
                            } else {
                                v.checked_add(digit)
                            }
                        })
                        .ok_or(BencodeError {
                            offset: start,
                            kind: ErrorKind::NumberOverflow,
                        })?;
                    self.pos += 1;
                }
                _ if b == end => break,
                _ => return self.err(self.pos, ErrorKind::UnexpectedByte(b)),
            }
        }
        let digits = self.pos - digits_at;
        if digits == 0 {
            return self.err(start, ErrorKind::BadNumber);
        }
        if self.strict {
            let leading_zero = digits > 1 && self.buf[digits_at] == b'0';
            if leading_zero || (negative && value == 0) {
                return self.err(start, ErrorKind::NonCanonicalNumber);
            }
        }
        self.pos += 1; // the terminator
        Ok(value)
    }
}
