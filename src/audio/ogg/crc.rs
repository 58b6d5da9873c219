//! The CRC-32 of Ogg pages: polynomial 0x04c11db7, not reflected, initial
//! value 0, no final XOR (RFC 3533 §6). This is not the zlib CRC-32 that
//! `crc32fast` computes (that one is reflected and inverted), so the table
//! is our own, built at compile time.

const fn make_table() -> [u32; 256] {
    let mut table = [0u32; 256];
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
        table[i] = r;
        i += 1;
    }
    table
}

static TABLE: [u32; 256] = make_table();

/// Continues a CRC over `data` (start with 0).
#[inline]
pub fn update(mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        crc = (crc << 8) ^ TABLE[((crc >> 24) as u8 ^ b) as usize];
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
}
