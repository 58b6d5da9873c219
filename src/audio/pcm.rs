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
/// scaled by 32768, rounded to the nearest, clipped. Branch-free and
/// without a libm call (the decoder converts every sample through here):
/// clamped first, then rounded by adding and taking away 1.5 * 2^23, which
/// leaves the float holding an integer (ties to even, as `lrintf`) in its
/// low mantissa bits: the integer is read from the bits rather than by a
/// float-to-int cast, whose saturating form keeps the loops over a
/// packet's samples from being vectorised.
#[inline(always)]
pub fn f32_to_sample(f: f32) -> i16 {
    const MAGIC: f32 = 12_582_912.0;
    let v = (f * 32768.0).clamp(-32768.0, 32767.0);
    // `clamp` keeps NaN; it becomes 0.
    let v = if v.is_nan() { 0.0 } else { v };
    // For |v| <= 2^22, v + 1.5 * 2^23 has the exponent of 2^23 and the
    // rounded v added to the mantissa of MAGIC.
    ((v + MAGIC).to_bits() as i32 - MAGIC.to_bits() as i32) as i16
}

/// Converts planar float channels (`planar[c][i]`, frames `range`) to
/// interleaved 16-bit samples, appended to `out`.
pub fn interleave_f32(planar: &[Vec<f32>], range: std::ops::Range<usize>, out: &mut Vec<i16>) {
    let channels = planar.len();
    let frames = range.len();
    let start = out.len();
    out.resize(start + frames * channels, 0);
    let dst = &mut out[start..];
    match planar {
        [mono] => {
            for (d, &s) in dst.iter_mut().zip(&mono[range]) {
                *d = f32_to_sample(s);
            }
        }
        [l, r] => {
            let (l, r) = (&l[range.clone()], &r[range]);
            for ((d, &a), &b) in dst.chunks_exact_mut(2).zip(l).zip(r) {
                d[0] = f32_to_sample(a);
                d[1] = f32_to_sample(b);
            }
        }
        _ => {
            for (c, ch) in planar.iter().enumerate() {
                for (d, &s) in dst.chunks_exact_mut(channels).zip(&ch[range.clone()]) {
                    d[c] = f32_to_sample(s);
                }
            }
        }
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
        assert_eq!(f32_to_sample(-1.0), -32768);
        assert_eq!(f32_to_sample(2.5 / 32768.0), 2);
        assert_eq!(f32_to_sample(-3.7 / 32768.0), -4);
        assert_eq!(f32_to_sample(f32::INFINITY), 32767);
        assert_eq!(f32_to_sample(f32::NEG_INFINITY), -32768);
        // The bit trick against the plain rounding, over a spread of float
        // bit patterns from 0 to beyond 2, both signs, and the ties.
        let ties = (-64..64).map(|k| (k as f32 + 0.5) / 32768.0);
        let spread = (0..=0x4000_1000u32).step_by(4099).map(f32::from_bits);
        for f in ties.chain(spread) {
            for f in [f, -f] {
                let want = (f * 32768.0).clamp(-32768.0, 32767.0).round_ties_even() as i16;
                assert_eq!(f32_to_sample(f), want, "{f:e}");
            }
        }
        let mut out = vec![9];
        interleave_f32(
            &[vec![0.0, 0.5, 1.0], vec![0.0, -0.5, -1.0]],
            1..3,
            &mut out,
        );
        assert_eq!(out, [9, 16384, -16384, 32767, -32768]);
        let mut out = Vec::new();
        let three = [vec![0.0; 2], vec![1.0 / 32768.0; 2], vec![2.0 / 32768.0; 2]];
        interleave_f32(&three, 0..2, &mut out);
        assert_eq!(out, [0, 1, 2, 0, 1, 2]);
        let c = AudioChunk::new(48_000, 2, vec![0; 96]);
        assert_eq!(c.frames(), 48);
        assert_eq!(c.duration(), std::time::Duration::from_millis(1));
    }
}
