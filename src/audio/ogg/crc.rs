//! The CRC-32 of Ogg pages: polynomial 0x04c11db7, not reflected, initial
//! value 0, no final XOR (RFC 3533 §6). This is not the zlib CRC-32 that
//! `crc32fast` computes (that one is reflected and inverted), so the table
//! is our own, built at compile time.
//!
//! Eight bytes are taken per round ("slicing by 8": eight tables, each the
//! one before advanced by a byte): a byte at a time, the CRC was two
//! fifths of the time our own code took to decode a file (lewton's
//! decoder takes the rest, and most).

/// `TABLES[0]` is the byte-at-a-time table; `TABLES[k][i]` is the CRC of
/// byte `i` followed by `k` zero bytes.
const fn make_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut r = (i as u32) << 24;
        let mut bit = 0;
        while bit < 8 {
            r = if r & 0x8000_0000 != 0 {
                (r << 1) ^ 0x04c1_1db7
            } else {
                r << 1
            };
            bit += 1;
        }
        t[0][i] = r;
        i += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = (prev << 8) ^ t[0][(prev >> 24) as usize];
            i += 1;
        }
        k += 1;
    }
    t
}

static TABLES: [[u32; 256]; 8] = make_tables();

/// Continues a CRC over `data` (start with 0).
#[inline]
pub fn update(mut crc: u32, data: &[u8]) -> u32 {
    let t = &TABLES;
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let hi = crc ^ u32::from_be_bytes([w[0], w[1], w[2], w[3]]);
        crc = t[7][(hi >> 24) as usize]
            ^ t[6][(hi >> 16) as usize & 0xff]
            ^ t[5][(hi >> 8) as usize & 0xff]
            ^ t[4][hi as usize & 0xff]
            ^ t[3][w[4] as usize]
            ^ t[2][w[5] as usize]
            ^ t[1][w[6] as usize]
            ^ t[0][w[7] as usize];
    }
    for &b in words.remainder() {
        crc = (crc << 8) ^ t[0][((crc >> 24) as u8 ^ b) as usize];
    }
    crc
}

/// The checksum of a whole page whose checksum field (bytes 22..26) is
/// taken as zero, as the format requires.
pub fn page_crc(page: &[u8]) -> u32 {
    let crc = update(0, &page[..22]);
    let crc = update(crc, &[0; 4]);
    update(crc, &page[26..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // The non-reflected CRC-32/MPEG-2 without its init and xorout:
        // "123456789" gives 0x89a1897f with init 0 and no final XOR.
        assert_eq!(update(0, b"123456789"), 0x89a1_897f);
        assert_eq!(update(0, b""), 0);
        // Split input gives the same result.
        assert_eq!(update(update(0, b"1234"), b"56789"), 0x89a1_897f);
    }

    /// The definition, a bit at a time.
    fn bitwise(mut crc: u32, data: &[u8]) -> u32 {
        for &b in data {
            crc ^= u32::from(b) << 24;
            for _ in 0..8 {
                crc = if crc & 0x8000_0000 != 0 {
                    (crc << 1) ^ 0x04c1_1db7
                } else {
                    crc << 1
                };
            }
        }
        crc
    }

    #[test]
    fn eight_at_a_time_equals_the_definition_at_every_length_and_split() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 151 + i / 7) as u8).collect();
        for len in 0..data.len() {
            let want = bitwise(0, &data[..len]);
            assert_eq!(update(0, &data[..len]), want, "length {len}");
            let cut = len / 3;
            let split = update(update(0, &data[..cut]), &data[cut..len]);
            assert_eq!(split, want, "length {len} cut at {cut}");
        }
        // A running CRC that is not zero goes through the word path too.
        assert_eq!(update(0xdead_beef, &data), bitwise(0xdead_beef, &data));
    }
}
