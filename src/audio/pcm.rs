//! Decoded audio as it travels between components: [`AudioChunk`].
//!
//! A chunk carries its own sample rate and channel count, so a consumer
//! (a sound device, a WAV writer, a mixer) sees a format change (a chained
//! Ogg stream with another rate) on the chunk where it happens.

/// A run of decoded audio: 16-bit signed samples, channels interleaved
/// (for stereo: left, right, left, right, ...).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AudioChunk {
    /// Frames per second.
    pub rate: u32,
    /// Samples per frame (1 mono, 2 stereo, ...; never 0 in a chunk made by
    /// a decoder).
    pub channels: u16,
    /// Interleaved samples; the length is a multiple of `channels`.
    pub samples: Vec<i16>,
}

impl AudioChunk {
    /// A chunk of `samples` (interleaved) at `rate` with `channels`.
    pub fn new(rate: u32, channels: u16, samples: Vec<i16>) -> Self {
        AudioChunk {
            rate,
            channels,
            samples,
        }
    }

    /// Frames (samples per channel) in the chunk.
    pub fn frames(&self) -> usize {
        if self.channels == 0 {
            0
        } else {
            self.samples.len() / self.channels as usize
        }
    }

    /// Whether the chunk holds no samples.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// How long the chunk plays.
    pub fn duration(&self) -> std::time::Duration {
        if self.rate == 0 {
            return std::time::Duration::ZERO;
        }
        std::time::Duration::from_secs_f64(self.frames() as f64 / self.rate as f64)
    }

    /// The samples as floats in [-1, 1), interleaved.
    pub fn to_f32(&self) -> Vec<f32> {
        self.samples.iter().map(|&s| sample_to_f32(s)).collect()
    }

    /// The samples as little-endian bytes (raw PCM, as `oggdec -R` writes).
    pub fn to_le_bytes(&self) -> Vec<u8> {
        self.samples.iter().flat_map(|s| s.to_le_bytes()).collect()
    }
}

/// One 16-bit sample as a float in [-1, 1).
#[inline]
pub fn sample_to_f32(s: i16) -> f32 {
    s as f32 / 32768.0
}

/// One float sample as 16 bits, as libvorbisfile's `ov_read` does it:
/// scaled by 32768, rounded to the nearest, clipped.
#[inline]
pub fn f32_to_sample(f: f32) -> i16 {
    let v = (f * 32768.0).round();
    if v >= 32767.0 {
        32767
    } else if v <= -32768.0 {
        -32768
    } else {
        v as i16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(f32_to_sample(0.0), 0);
        assert_eq!(f32_to_sample(1.5), 32767);
        assert_eq!(f32_to_sample(-1.5), -32768);
        assert_eq!(f32_to_sample(0.5 / 32768.0 * 0.9), 0);
        assert_eq!(f32_to_sample(1.0 / 32768.0), 1);
        assert_eq!(f32_to_sample(f32::NAN), 0);
        let c = AudioChunk::new(48_000, 2, vec![0; 96]);
        assert_eq!(c.frames(), 48);
        assert_eq!(c.duration(), std::time::Duration::from_millis(1));
    }
}
