//! Reading a .torrent: the bencode decoded leniently, every field checked.

use sha1::{Digest, Sha1};

use super::paths::{component_problem, first_collision};
use super::{FileEntry, Metainfo, MetainfoError};
use crate::protocol::torrent::bencode::{decode, Dict, Value};

type Result<T> = std::result::Result<T, MetainfoError>;

fn wrong(field: &'static str, expected: &'static str) -> MetainfoError {
    MetainfoError::WrongType { field, expected }
}

fn invalid(field: &'static str, reason: &'static str) -> MetainfoError {
    MetainfoError::Invalid { field, reason }
}

/// A text field: UTF-8, or its `<key>.utf-8` twin when that is (old
/// clients wrote names in the system's code page and added the twin).
fn text<'a>(d: &Dict<'a>, key: &'static str, twin: &'static str) -> Result<Option<&'a str>> {
    let Some(v) = d.get(key.as_bytes()) else {
        return Ok(None);
    };
    let b = v.as_bytes().ok_or_else(|| wrong(key, "a string"))?;
    if let Ok(s) = std::str::from_utf8(b) {
        return Ok(Some(s));
    }
    match d.get(twin.as_bytes()).and_then(Value::as_str) {
        Some(s) => Ok(Some(s)),
        None => Err(MetainfoError::NotUtf8(key)),
    }
}

/// An optional free-text field: a non-UTF-8 one is read lossily (it is only
/// shown), a non-string one is an error.
fn note(d: &Dict<'_>, key: &'static str) -> Result<Option<String>> {
    match d.get(key.as_bytes()) {
        None => Ok(None),
        Some(v) => {
            let b = v.as_bytes().ok_or_else(|| wrong(key, "a string"))?;
            Ok(Some(String::from_utf8_lossy(b).into_owned()))
        }
    }
}

fn url(v: &Value<'_>, field: &'static str) -> Result<String> {
    let s = v.as_str().ok_or_else(|| wrong(field, "a UTF-8 string"))?;
    Ok(s.to_string())
}

fn length(v: &Value<'_>, field: &'static str) -> Result<u64> {
    let i = v.as_int().ok_or_else(|| wrong(field, "an integer"))?;
    u64::try_from(i).map_err(|_| invalid(field, "negative"))
}

pub(super) fn from_bytes(buf: &[u8]) -> Result<Metainfo> {
    let top = decode(buf)?;
    let top = top.as_dict().ok_or(MetainfoError::NotADictionary)?;
    let info = top
        .get(b"info")
        .ok_or(MetainfoError::Missing("info"))?
        .as_dict()
        .ok_or_else(|| wrong("info", "a dictionary"))?;

    let version = match info.get(b"meta version") {
        None => 1,
        Some(v) => v
            .as_int()
            .ok_or_else(|| wrong("info.meta version", "an integer"))?,
    };
    if !(version == 1 || version == 2) {
        return Err(invalid("info.meta version", "neither 1 nor 2"));
    }
    let pieces = match info.get(b"pieces") {
        Some(v) => v
            .as_bytes()
            .ok_or_else(|| wrong("info.pieces", "a string"))?,
        None if version == 2 => return Err(MetainfoError::V2Only),
        None => return Err(MetainfoError::Missing("info.pieces")),
    };
    if pieces.len() % 20 != 0 {
        return Err(invalid("info.pieces", "length not a multiple of 20"));
    }
    let piece_length = length(
        info.get(b"piece length")
            .ok_or(MetainfoError::Missing("info.piece length"))?,
        "info.piece length",
    )?;
    if piece_length == 0 {
        return Err(invalid("info.piece length", "zero"));
    }

    let name = text(info, "name", "name.utf-8")?
        .ok_or(MetainfoError::Missing("info.name"))?
        .to_string();
    if let Some(reason) = component_problem(&name) {
        return Err(MetainfoError::BadPath { file: 0, reason });
    }

    let (files, single_file) = match (info.get(b"length"), info.get(b"files")) {
        (Some(_), Some(_)) => return Err(invalid("info", "both `length` and `files`")),
        (None, None) => return Err(MetainfoError::Missing("info.length")),
        (Some(len), None) => {
            let length = length(len, "info.length")?;
            let padding = is_padding(info)?;
            let file = FileEntry {
                path: vec![name.clone()],
                length,
                offset: 0,
                padding,
            };
            (vec![file], true)
        }
        (None, Some(list)) => (file_list(list, &name)?, false),
    };

    let mut total: u64 = 0;
    for f in &files {
        total = total
            .checked_add(f.length)
            .ok_or_else(|| invalid("info.files", "total length overflows"))?;
    }
    if total.div_ceil(piece_length) != (pieces.len() / 20) as u64 {
        return Err(invalid(
            "info.pieces",
            "piece count does not match the total length",
        ));
    }

    let private = match info.get(b"private") {
        None => false,
        Some(v) => match v.as_int() {
            Some(0) => false,
            Some(1) => true,
            Some(_) => return Err(invalid("info.private", "neither 0 nor 1")),
            None => return Err(wrong("info.private", "an integer")),
        },
    };

    let announce = match top.get(b"announce") {
        None => None,
        Some(v) => Some(url(v, "announce")?),
    };
    let announce_list = match top.get(b"announce-list") {
        None => Vec::new(),
        Some(v) => tiers(v)?,
    };
    let url_list = match top.get(b"url-list") {
        None => Vec::new(),
        // BEP 19: one URL or a list of them; an empty string is "none"
        // (some makers write `url-list` with nothing in it).
        Some(Value::Bytes([])) => Vec::new(),
        Some(v @ Value::Bytes(_)) => vec![url(v, "url-list")?],
        Some(Value::List(l)) => l
            .iter()
            .map(|v| url(v, "url-list"))
            .collect::<Result<Vec<_>>>()?,
        Some(_) => return Err(wrong("url-list", "a string or a list")),
    };
    let creation_date = match top.get(b"creation date") {
        None => None,
        Some(v) => Some(
            v.as_int()
                .ok_or_else(|| wrong("creation date", "an integer"))?,
        ),
    };

    let mut hasher = Sha1::new();
    hasher.update(info.raw());
    let info_hash: [u8; 20] = hasher.finalize().into();

    Ok(Metainfo {
        info_hash,
        name,
        piece_length,
        pieces: pieces
            .chunks_exact(20)
            .map(|c| c.try_into().expect("chunks of 20"))
            .collect(),
        files,
        single_file,
        private,
        hybrid: version == 2,
        announce,
        announce_list,
        url_list,
        creation_date,
        comment: note(top, "comment")?,
        created_by: note(top, "created by")?,
        encoding: note(top, "encoding")?,
        raw_info: info.raw().to_vec(),
    })
}

/// BEP 47: `attr` containing `p` marks a padding file.
fn is_padding(d: &Dict<'_>) -> Result<bool> {
    match d.get(b"attr") {
        None => Ok(false),
        Some(v) => {
            let b = v
                .as_bytes()
                .ok_or_else(|| wrong("info.files.attr", "a string"))?;
            Ok(b.contains(&b'p'))
        }
    }
}

fn file_list(list: &Value<'_>, name: &str) -> Result<Vec<FileEntry>> {
    let list = list
        .as_list()
        .ok_or_else(|| wrong("info.files", "a list"))?;
    if list.is_empty() {
        return Err(invalid("info.files", "empty"));
    }
    let mut files = Vec::with_capacity(list.len());
    let mut offset: u64 = 0;
    for (i, f) in list.iter().enumerate() {
        let f = f
            .as_dict()
            .ok_or_else(|| wrong("info.files[]", "a dictionary"))?;
        let length = length(
            f.get(b"length")
                .ok_or(MetainfoError::Missing("info.files[].length"))?,
            "info.files[].length",
        )?;
        let utf8_twin = f.get(b"path.utf-8");
        let raw_path = f
            .get(b"path")
            .ok_or(MetainfoError::Missing("info.files[].path"))?
            .as_list()
            .ok_or_else(|| wrong("info.files[].path", "a list"))?;
        if raw_path.is_empty() {
            return Err(MetainfoError::BadPath {
                file: i,
                reason: "empty path",
            });
        }
        let mut path = Vec::with_capacity(raw_path.len() + 1);
        path.push(name.to_string());
        for (k, c) in raw_path.iter().enumerate() {
            let b = c
                .as_bytes()
                .ok_or_else(|| wrong("info.files[].path[]", "a string"))?;
            let s = match std::str::from_utf8(b) {
                Ok(s) => s,
                Err(_) => utf8_twin
                    .and_then(Value::as_list)
                    .and_then(|l| l.get(k))
                    .and_then(Value::as_str)
                    .ok_or(MetainfoError::NotUtf8("info.files[].path"))?,
            };
            if let Some(reason) = component_problem(s) {
                return Err(MetainfoError::BadPath { file: i, reason });
            }
            path.push(s.to_string());
        }
        files.push(FileEntry {
            path,
            length,
            offset,
            padding: is_padding(f)?,
        });
        offset = offset.saturating_add(length);
    }
    let joined: Vec<String> = files.iter().map(|f| f.path.join("/")).collect();
    if let Some((first, second, case_only)) = first_collision(&joined, |i| files[i].padding) {
        return Err(MetainfoError::DuplicatePath {
            first,
            second,
            case_only,
        });
    }
    Ok(files)
}

/// BEP 12 `announce-list`: a list of tiers, each a list of URLs. Empty
/// tiers are dropped (some makers write `[[]]`).
fn tiers(v: &Value<'_>) -> Result<Vec<Vec<String>>> {
    let list = v
        .as_list()
        .ok_or_else(|| wrong("announce-list", "a list of lists"))?;
    let mut tiers = Vec::with_capacity(list.len());
    for tier in list {
        let tier = tier
            .as_list()
            .ok_or_else(|| wrong("announce-list[]", "a list"))?;
        let urls = tier
            .iter()
            .map(|u| url(u, "announce-list[][]"))
            .collect::<Result<Vec<_>>>()?;
        if !urls.is_empty() {
            tiers.push(urls);
        }
    }
    Ok(tiers)
}
