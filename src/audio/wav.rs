//! WAV files: the 44-byte header of 16-bit PCM ([`wav_header`]), a header
//! parser that finds the audio in any RIFF/WAVE file of 16-bit PCM
//! ([`parse_wav_header`]), and the typed errors ([`WavError`]).
//!
//! The components are [`WavWriter`](crate::audio::wav_writer::WavWriter)
//! and [`PcmFileReader`](crate::audio::raw_reader::PcmFileReader).
//!
//! ```
//! use kamaelia::audio::wav::{parse_wav_header, wav_header};
//! let h = wav_header(44_100, 2, 4);
//! assert_eq!(&h[..4], b"RIFF");
//! let info = parse_wav_header(&h).unwrap().unwrap();
//! assert_eq!((info.rate, info.channels, info.data_offset, info.data_len), (44_100, 2, 44, Some(4)));
//! ```

use std::fmt;

/// Bytes in the canonical header [`wav_header`] makes.
pub const HEADER_LEN: usize = 44;

/// Offset of the RIFF size field (file length - 8).
pub(crate) const RIFF_SIZE_AT: u64 = 4;
/// Offset of the data chunk's size field in the canonical header.
pub(crate) const DATA_SIZE_AT: u64 = 40;

/// The largest data chunk a WAV file can describe (its RIFF size must fit
/// in 32 bits).
pub const MAX_DATA_LEN: u64 = u32::MAX as u64 - 36;

/// The canonical header of a 16-bit PCM WAV file with `data_len` bytes of
/// samples: RIFF, WAVE, a 16-byte `fmt ` chunk (format 1), `data`.
pub fn wav_header(rate: u32, channels: u16, data_len: u32) -> [u8; HEADER_LEN] {
    let block_align = channels.wrapping_mul(2);
    let byte_rate = rate.wrapping_mul(u32::from(block_align));
    let mut h = [0u8; HEADER_LEN];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&data_len.saturating_add(36).to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&1u16.to_le_bytes());
    h[22..24].copy_from_slice(&channels.to_le_bytes());
    h[24..28].copy_from_slice(&rate.to_le_bytes());
    h[28..32].copy_from_slice(&byte_rate.to_le_bytes());
    h[32..34].copy_from_slice(&block_align.to_le_bytes());
    h[34..36].copy_from_slice(&16u16.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_len.to_le_bytes());
    h
}

/// Where a WAV file's samples are and what they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WavInfo {
    /// Frames per second.
    pub rate: u32,
    /// Interleaved channels.
    pub channels: u16,
    /// Offset of the first sample byte.
    pub data_offset: u64,
    /// Bytes of samples; `None` when the header does not say (a size of 0
    /// or 0xFFFFFFFF, as streaming writers leave it): read to the end.
    pub data_len: Option<u64>,
}

/// What is wrong with a WAV file (or a `WavWriter`'s stream).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WavError {
    /// It does not start with `RIFF....WAVE`.
    NotWave,
    /// No `fmt ` chunk before the `data` chunk, or a `fmt ` chunk too short.
    BadFmt,
    /// Not 16-bit integer PCM (the format tag and bits per sample found).
    Unsupported {
        /// 1 for PCM, 0xFFFE for extensible, 3 for float, ...
        format_tag: u16,
        /// Bits per sample.
        bits: u16,
    },
    /// A rate or channel count of 0.
    BadFormat {
        /// The rate found.
        rate: u32,
        /// The channels found.
        channels: u16,
    },
    /// The file ends before its `data` chunk starts.
    Truncated,
    /// The header is larger than the reader accepts before the samples.
    HeaderTooLarge,
    /// A chunk's rate or channels differ from the first chunk's (a WAV
    /// file has one format).
    FormatChanged {
        /// The file's format (rate, channels).
        was: (u32, u16),
        /// The chunk's.
        now: (u32, u16),
    },
    /// The samples would exceed what a WAV header can describe (4 GiB).
    TooLarge,
}

impl fmt::Display for WavError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WavError::NotWave => f.write_str("not a RIFF/WAVE file"),
            WavError::BadFmt => f.write_str("WAV file without a usable fmt chunk"),
            WavError::Unsupported { format_tag, bits } => write!(
                f,
                "WAV format {format_tag:#06x} with {bits}-bit samples (only 16-bit PCM is read)"
            ),
            WavError::BadFormat { rate, channels } => {
                write!(f, "WAV format of {rate} Hz, {channels} channel(s)")
            }
            WavError::Truncated => f.write_str("WAV file ends before its data"),
            WavError::HeaderTooLarge => f.write_str("WAV header too large"),
            WavError::FormatChanged { was, now } => write!(
                f,
                "audio format changed from {} Hz x{} to {} Hz x{} in one WAV file",
                was.0, was.1, now.0, now.1
            ),
            WavError::TooLarge => f.write_str("audio too long for a WAV file (4 GiB)"),
        }
    }
}

impl std::error::Error for WavError {}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// Parses the start of a WAV file: `Ok(None)` if `bytes` ends before the
/// `data` chunk begins (read more and call again), the [`WavInfo`] once it
/// does. Chunks other than `fmt ` and `data` (LIST, fact, ...) are skipped.
pub fn parse_wav_header(bytes: &[u8]) -> Result<Option<WavInfo>, WavError> {
    if bytes.len() < 12 {
        let n = bytes.len().min(4);
        if bytes[..n] != b"RIFF"[..n]
            || (bytes.len() > 8 && bytes[8..] != b"WAVE"[..bytes.len() - 8])
        {
            return Err(WavError::NotWave);
        }
        return Ok(None);
    }
    if &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(WavError::NotWave);
    }
    let mut at = 12usize;
    let mut format: Option<(u32, u16)> = None;
    loop {
        if bytes.len() < at + 8 {
            return Ok(None);
        }
        let id = &bytes[at..at + 4];
        let len = u32_at(bytes, at + 4);
        let body = at + 8;
        if id == b"data" {
            let (rate, channels) = format.ok_or(WavError::BadFmt)?;
            let data_len = (len != 0 && len != u32::MAX).then_some(u64::from(len));
            return Ok(Some(WavInfo {
                rate,
                channels,
                data_offset: body as u64,
                data_len,
            }));
        }
        // Chunks are padded to an even length.
        let next = body as u64 + u64::from(len) + u64::from(len & 1);
        if id == b"fmt " {
            if len < 16 {
                return Err(WavError::BadFmt);
            }
            if bytes.len() < body + 16 {
                return Ok(None);
            }
            let mut tag = u16_at(bytes, body);
            let channels = u16_at(bytes, body + 2);
            let rate = u32_at(bytes, body + 4);
            let bits = u16_at(bytes, body + 14);
            if tag == 0xFFFE {
                // WAVE_FORMAT_EXTENSIBLE: the real tag opens the sub-format GUID.
                if len < 40 {
                    return Err(WavError::BadFmt);
                }
                if bytes.len() < body + 26 {
                    return Ok(None);
                }
                tag = u16_at(bytes, body + 24);
            }
            if tag != 1 || bits != 16 {
                return Err(WavError::Unsupported {
                    format_tag: tag,
                    bits,
                });
            }
            if rate == 0 || channels == 0 {
                return Err(WavError::BadFormat { rate, channels });
            }
            format = Some((rate, channels));
        }
        at = usize::try_from(next).map_err(|_| WavError::HeaderTooLarge)?;
    }
}
