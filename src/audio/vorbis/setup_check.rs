//! A look at a setup header's codebooks before lewton reads it.
//!
//! lewton sizes its codebook tables from the counts the header claims
//! (entries up to 2^24, dimensions up to 2^16) before reading the data
//! that would back them, so a hostile setup header (with a good page CRC:
//! anyone can make one) could ask for terabytes and abort the process
//! on a failed allocation. libvorbis refuses such books
//! (`ilog(dimensions) + ilog(entries) > 24`, and quantised values that
//! need more bits than the packet has); so do we, and we bound the total
//! over all codebooks, which no real encoder comes near.

/// Most codebook entries over all codebooks of one setup header
/// (oggenc's largest setups have some tens of thousands).
pub const MAX_TOTAL_ENTRIES: u64 = 1 << 20;
/// Most vector-lookup values (entries x dimensions) over all codebooks.
pub const MAX_TOTAL_VALUES: u64 = 1 << 24;

/// Least-significant-bit-first reader, as Vorbis packs its fields.
struct Bits<'a> {
    data: &'a [u8],
    pos: u64,
}

impl Bits<'_> {
    fn left(&self) -> u64 {
        (self.data.len() as u64 * 8).saturating_sub(self.pos)
    }

    fn read(&mut self, n: u32) -> Option<u32> {
        if n == 0 {
            return Some(0);
        }
        if self.left() < n as u64 {
            return None;
        }
        let mut v = 0u64;
        for i in 0..n as u64 {
            let bit = self.pos + i;
            let b = (self.data[(bit / 8) as usize] >> (bit % 8)) & 1;
            v |= (b as u64) << i;
        }
        self.pos += n as u64;
        Some(v as u32)
    }

    fn skip(&mut self, n: u64) -> Option<()> {
        if self.left() < n {
            return None;
        }
        self.pos += n;
        Some(())
    }
}

/// Bits needed to hold `v` (Vorbis's `ilog`).
fn ilog(v: u64) -> u32 {
    64 - v.leading_zeros()
}

/// The largest r with r^dims <= entries (Vorbis's `lookup1_values`).
fn lookup1_values(entries: u64, dims: u32) -> u64 {
    if dims == 0 || entries == 0 {
        return 0;
    }
    let mut r = (entries as f64).powf(1.0 / dims as f64).floor() as u64;
    let fits = |r: u64| r.checked_pow(dims).is_some_and(|p| p <= entries);
    while r > 0 && !fits(r) {
        r -= 1;
    }
    while fits(r + 1) {
        r += 1;
    }
    r
}

/// Whether the codebooks of setup header `packet` are within bounds a
/// decoder can honour. `None` (or `Some(false)`) means refuse the header.
pub fn codebooks_fit(packet: &[u8]) -> bool {
    check(packet).unwrap_or(false)
}

fn check(packet: &[u8]) -> Option<bool> {
    if packet.len() < 7 || packet[0] != 5 || &packet[1..7] != b"vorbis" {
        // Not ours to judge: lewton refuses it with its own error.
        return Some(true);
    }
    let mut r = Bits {
        data: &packet[7..],
        pos: 0,
    };
    let count = r.read(8)? + 1;
    let mut total_entries = 0u64;
    let mut total_values = 0u64;
    for _ in 0..count {
        if r.read(24)? != 0x56_4342 {
            return Some(false);
        }
        let dims = r.read(16)? as u64;
        let entries = r.read(24)? as u64;
        if ilog(dims) + ilog(entries) > 24 {
            return Some(false);
        }
        total_entries += entries;
        if total_entries > MAX_TOTAL_ENTRIES {
            return Some(false);
        }
        let ordered = r.read(1)? == 1;
        if !ordered {
            let sparse = r.read(1)? == 1;
            for _ in 0..entries {
                if !sparse || r.read(1)? == 1 {
                    r.skip(5)?;
                }
            }
        } else {
            r.skip(5)?;
            let mut current = 0u64;
            while current < entries {
                let number = r.read(ilog(entries - current))? as u64;
                current += number;
                if current > entries {
                    return Some(false);
                }
                if number == 0 && ilog(entries - current) == 0 {
                    return Some(false);
                }
            }
        }
        let lookup = r.read(4)?;
        match lookup {
            0 => {}
            1 | 2 => {
                r.skip(32 + 32)?;
                let value_bits = r.read(4)? as u64 + 1;
                r.skip(1)?;
                let values = if lookup == 1 {
                    lookup1_values(entries, dims as u32)
                } else {
                    entries * dims
                };
                total_values += entries * dims;
                if total_values > MAX_TOTAL_VALUES || values * value_bits > r.left() {
                    return Some(false);
                }
                r.skip(values * value_bits)?;
            }
            _ => return Some(false),
        }
    }
    Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Packs (value, bits) fields LSB first.
    fn pack(fields: &[(u64, u32)]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut pos = 0u64;
        for &(v, n) in fields {
            for i in 0..n as u64 {
                if pos % 8 == 0 {
                    out.push(0);
                }
                if (v >> i) & 1 == 1 {
                    *out.last_mut().unwrap() |= 1 << (pos % 8);
                }
                pos += 1;
            }
        }
        out
    }

    const GIANT: [(u64, u32); 12] = [
        (0, 8),
        (0x56_4342, 24),
        (0xffff, 16),
        (1 << 23, 24),
        (1, 1),
        (0, 5),
        (1 << 23, 24),
        (2, 4),
        (0, 64),
        (7, 4),
        (0, 1),
        (0, 64),
    ];

    fn setup(fields: &[(u64, u32)]) -> Vec<u8> {
        [b"\x05vorbis".as_slice(), &pack(fields)].concat()
    }

    #[test]
    fn lookup1() {
        assert_eq!(lookup1_values(81, 4), 3);
        assert_eq!(lookup1_values(80, 4), 2);
        assert_eq!(lookup1_values(1 << 24, 1), 1 << 24);
        assert_eq!(lookup1_values(5, 40), 1);
    }

    #[test]
    fn a_small_book_fits_and_a_giant_does_not() {
        // One book: 2 dims, 4 entries, unordered, not sparse, lengths 2,
        // lookup type 1 with 1-bit values (lookup1_values(4, 2) = 2).
        let mut f = vec![(0, 8), (0x56_4342, 24), (2, 16), (4, 24), (0, 1), (0, 1)];
        f.extend([(1, 5); 4]);
        f.extend([(1, 4), (0, 32), (0, 32), (0, 4), (0, 1), (1, 1), (0, 1)]);
        assert!(codebooks_fit(&setup(&f)));
        // 2^16 dimensions of 2^23 entries, ordered (a few bits claim them
        // all), lookup type 2: 2^39 values. lewton 0.10 asks for 2 TB
        // for this one and the process aborts.
        let giant = GIANT;
        assert!(!codebooks_fit(&setup(&giant)));
        // Within libvorbis's 24 bits, but the values are not in the packet.
        let lies = [
            (0, 8),
            (0x56_4342, 24),
            (16, 16),
            (1 << 19, 24),
            (1, 1),
            (0, 5),
            (1 << 19, 20),
            (2, 4),
            (0, 64),
            (7, 4),
            (0, 1),
        ];
        assert!(!codebooks_fit(&setup(&lies)));
        // Cut short, a wrong sync: refused.
        assert!(!codebooks_fit(&setup(&[(0, 8), (0x56_4342, 24)])));
        assert!(!codebooks_fit(&setup(&[(0, 8), (0x123456, 24), (0, 64)])));
    }
}
