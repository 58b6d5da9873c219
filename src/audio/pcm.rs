//! Decoded audio as it travels between components.
/// A run of interleaved 16-bit samples at one rate and channel count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioChunk {
    /// Frames per second.
    pub rate: u32,
    /// Interleaved channels per frame.
    pub channels: u16,
    /// Samples, `channels` per frame, interleaved.
    pub samples: Vec<i16>,
}
impl AudioChunk { pub fn frames(&self) -> usize { if self.channels == 0 { 0 } else { self.samples.len() / self.channels as usize } } }
