//! [`MetainfoBuilder`]: a new .torrent from its parts.

use super::{encode_file, Metainfo, MetainfoError, Outer};
use crate::protocol::torrent::bencode::Owned;

/// Builds a [`Metainfo`] from its parts (the pieces' hashes already
/// computed). The info dictionary is written canonically (keys sorted,
/// only the keys set), then the whole file is read back through
/// [`Metainfo::from_bytes`], so what `build` returns has passed the same
/// checks as a file from elsewhere.
#[derive(Clone, Debug)]
pub struct MetainfoBuilder {
    name: String,
    piece_length: u64,
    pieces: Vec<[u8; 20]>,
    /// The single file's length (when `files` is `None`).
    length: u64,
    files: Option<Vec<(Vec<String>, u64)>>,
    private: bool,
    announce: Option<String>,
    announce_list: Vec<Vec<String>>,
    url_list: Vec<String>,
    creation_date: Option<i64>,
    comment: Option<String>,
    created_by: Option<String>,
    encoding: Option<String>,
}

impl MetainfoBuilder {
    /// One file called `name`, `length` bytes.
    pub fn single_file(
        name: impl Into<String>,
        length: u64,
        piece_length: u64,
        pieces: Vec<[u8; 20]>,
    ) -> Self {
        Self::new(name.into(), length, None, piece_length, pieces)
    }

    /// A folder called `name` holding `files` (path components under the
    /// folder, length), in the order the pieces hash them.
    pub fn multi_file(
        name: impl Into<String>,
        files: Vec<(Vec<String>, u64)>,
        piece_length: u64,
        pieces: Vec<[u8; 20]>,
    ) -> Self {
        Self::new(name.into(), 0, Some(files), piece_length, pieces)
    }

    fn new(
        name: String,
        length: u64,
        files: Option<Vec<(Vec<String>, u64)>>,
        piece_length: u64,
        pieces: Vec<[u8; 20]>,
    ) -> Self {
        MetainfoBuilder {
            name,
            piece_length,
            pieces,
            length,
            files,
            private: false,
            announce: None,
            announce_list: Vec::new(),
            url_list: Vec::new(),
            creation_date: None,
            comment: None,
            created_by: None,
            encoding: None,
        }
    }

    /// `private` 1 (BEP 27); left out when false, as mktorrent does.
    pub fn private(mut self, private: bool) -> Self {
        self.private = private;
        self
    }

    /// `announce` (the one tracker of clients without BEP 12; add the
    /// tiers with [`tier`](Self::tier) too when there are several).
    pub fn announce(mut self, url: impl Into<String>) -> Self {
        self.announce = Some(url.into());
        self
    }

    /// Adds a tier of `announce-list` (BEP 12).
    pub fn tier(mut self, urls: Vec<String>) -> Self {
        self.announce_list.push(urls);
        self
    }

    /// Adds a web seed (`url-list`, BEP 19).
    pub fn web_seed(mut self, url: impl Into<String>) -> Self {
        self.url_list.push(url.into());
        self
    }

    /// `creation date`, seconds since 1970.
    pub fn creation_date(mut self, secs: i64) -> Self {
        self.creation_date = Some(secs);
        self
    }

    /// `comment`.
    pub fn comment(mut self, text: impl Into<String>) -> Self {
        self.comment = Some(text.into());
        self
    }

    /// `created by`.
    pub fn created_by(mut self, text: impl Into<String>) -> Self {
        self.created_by = Some(text.into());
        self
    }

    /// `encoding`.
    pub fn encoding(mut self, text: impl Into<String>) -> Self {
        self.encoding = Some(text.into());
        self
    }

    /// The canonical info dictionary.
    fn info(&self) -> Result<Owned, MetainfoError> {
        let int = |field: &'static str, v: u64| {
            i64::try_from(v)
                .map(Owned::Int)
                .map_err(|_| MetainfoError::Invalid {
                    field,
                    reason: "beyond 2^63",
                })
        };
        let mut info = Owned::dict();
        info.insert("name", self.name.as_str());
        info.insert("piece length", int("info.piece length", self.piece_length)?);
        let mut pieces = Vec::with_capacity(self.pieces.len() * 20);
        for p in &self.pieces {
            pieces.extend_from_slice(p);
        }
        info.insert("pieces", pieces);
        match &self.files {
            None => info.insert("length", int("info.length", self.length)?),
            Some(files) => {
                let mut list = Vec::with_capacity(files.len());
                for (path, length) in files {
                    let mut f = Owned::dict();
                    f.insert("length", int("info.files[].length", *length)?);
                    let comps = path.iter().map(|c| Owned::from(c.as_str())).collect();
                    f.insert("path", Owned::List(comps));
                    list.push(f);
                }
                info.insert("files", Owned::List(list));
            }
        }
        if self.private {
            info.insert("private", 1);
        }
        Ok(info)
    }

    /// The .torrent, checked by reading it back.
    pub fn build(&self) -> Result<Metainfo, MetainfoError> {
        let info = self.info()?.encode();
        let bytes = encode_file(
            &info,
            &Outer {
                announce: self.announce.as_deref(),
                announce_list: &self.announce_list,
                url_list: &self.url_list,
                creation_date: self.creation_date,
                comment: self.comment.as_deref(),
                created_by: self.created_by.as_deref(),
                encoding: self.encoding.as_deref(),
            },
        );
        Metainfo::from_bytes(&bytes)
    }
}
