//! The Vorbis comment header (Vorbis I §5): the vendor string and the
//! `NAME=value` pairs (TITLE, ARTIST, ...).
//!
//! Read here rather than by lewton's `read_header_comment`, which allocates
//! whatever length the packet claims before checking it is there (a
//! garbage header could ask for 4 GiB); this reader checks every length
//! against the packet first, and takes text as lossy UTF-8.

use std::fmt;

/// The comments of one Vorbis stream, with the stream's format.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VorbisComments {
    /// The logical stream's serial number.
    pub serial: u32,
    /// Its sample rate.
    pub rate: u32,
    /// Its channel count.
    pub channels: u16,
    /// The encoder's vendor string.
    pub vendor: String,
    /// The comments in order, as (name, value); names as written.
    pub comments: Vec<(String, String)>,
}

impl VorbisComments {
    /// The first value of comment `name` (names compare ASCII
    /// case-insensitively, as the specification says).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.comments
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The TITLE comment.
    pub fn title(&self) -> Option<&str> {
        self.get("TITLE")
    }
}

/// Why a comment header was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommentError {
    /// Not a comment header (wrong type byte or magic).
    NotComment,
    /// A length points past the packet's end.
    Truncated,
}

impl fmt::Display for CommentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommentError::NotComment => write!(f, "not a Vorbis comment header"),
            CommentError::Truncated => write!(f, "Vorbis comment header cut short"),
        }
    }
}

impl std::error::Error for CommentError {}

struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn u32(&mut self) -> Result<u32, CommentError> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes(b.try_into().expect("4 bytes")))
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], CommentError> {
        if self.data.len() < n {
            return Err(CommentError::Truncated);
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Ok(head)
    }
}

/// Reads a comment header packet: the vendor and the comments. The format
/// fields (`serial`, `rate`, `channels`) are left at zero for the caller.
pub fn read_comments(packet: &[u8]) -> Result<VorbisComments, CommentError> {
    if packet.len() < 7 || packet[0] != 3 || &packet[1..7] != b"vorbis" {
        return Err(CommentError::NotComment);
    }
    let mut r = Reader { data: &packet[7..] };
    let vendor_len = r.u32()? as usize;
    let vendor = String::from_utf8_lossy(r.bytes(vendor_len)?).into_owned();
    let count = r.u32()? as usize;
    // Each comment takes at least its 4-byte length: a count larger than
    // that allows is a lie, found before anything is allocated for it.
    if count > r.data.len() / 4 {
        return Err(CommentError::Truncated);
    }
    let mut comments = Vec::with_capacity(count);
    for _ in 0..count {
        let len = r.u32()? as usize;
        let text = String::from_utf8_lossy(r.bytes(len)?);
        let (k, v) = match text.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (text.into_owned(), String::new()),
        };
        comments.push((k, v));
    }
    // The framing bit is not checked: some encoders leave it out, and
    // nothing after it depends on it.
    Ok(VorbisComments {
        vendor,
        comments,
        ..VorbisComments::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(vendor: &str, comments: &[&str]) -> Vec<u8> {
        let mut p = b"\x03vorbis".to_vec();
        p.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
        p.extend_from_slice(vendor.as_bytes());
        p.extend_from_slice(&(comments.len() as u32).to_le_bytes());
        for c in comments {
            p.extend_from_slice(&(c.len() as u32).to_le_bytes());
            p.extend_from_slice(c.as_bytes());
        }
        p.push(1);
        p
    }

    #[test]
    fn reads_title() {
        let c = read_comments(&header("v", &["title=Hi", "ARTIST=Me", "odd"])).unwrap();
        assert_eq!(c.vendor, "v");
        assert_eq!(c.title(), Some("Hi"));
        assert_eq!(c.get("artist"), Some("Me"));
        assert_eq!(c.comments[2], ("odd".to_string(), String::new()));
    }

    #[test]
    fn refuses_lies() {
        let mut p = header("v", &["a=b"]);
        p[7..11].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(read_comments(&p), Err(CommentError::Truncated));
        let mut p = header("v", &[]);
        p[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(read_comments(&p), Err(CommentError::Truncated));
        assert_eq!(read_comments(b"\x01vorbis"), Err(CommentError::NotComment));
        assert_eq!(read_comments(b""), Err(CommentError::NotComment));
    }
}
