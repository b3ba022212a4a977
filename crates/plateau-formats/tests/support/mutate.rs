//! Deterministic byte mutations for the readers' fuzz smoke tests (stable Rust runs these;
//! `fuzz/` holds the real fuzz targets). One copy, included by each test binary.

/// SplitMix64: small, deterministic, good enough to pick mutations.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One to four mutations of `input`: a flipped bit, a cut, one of the format's `tokens`
/// inserted, a slice removed or duplicated elsewhere, a byte overwritten (by one of `bytes`,
/// or any byte when `bytes` is empty).
pub fn mutate(rng: &mut Rng, input: &[u8], tokens: &[&[u8]], bytes: &[u8]) -> Vec<u8> {
    let mut data = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(6) {
            0 if !data.is_empty() => {
                let i = at.min(data.len() - 1);
                data[i] ^= 1 << rng.below(8);
            }
            1 => data.truncate(at),
            2 if !tokens.is_empty() => {
                let token = tokens[rng.below(tokens.len())];
                data.splice(at..at, token.iter().copied());
            }
            3 if at < data.len() => {
                let end = (at + 1 + rng.below(16)).min(data.len());
                data.drain(at..end);
            }
            4 if !data.is_empty() => {
                let from = rng.below(data.len());
                let len = rng.below(32).min(data.len() - from);
                let piece: Vec<u8> = data[from..from + len].to_vec();
                data.splice(at..at, piece);
            }
            _ => {
                if at < data.len() {
                    data[at] = if bytes.is_empty() {
                        rng.next() as u8
                    } else {
                        bytes[rng.below(bytes.len())]
                    };
                }
            }
        }
    }
    data
}
