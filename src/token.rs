//! Tokens issued by torn: fixed-length, PAT-shaped, self-describing.
//!
//! A token is `dapi` followed by 32 lowercase hex digits, the same shape and
//! length as a Databricks personal access token, so templates keep the exact
//! byte layout of the real files. The 32 digits carry two 64-bit words: the
//! version number masked with a per-run key, and a check value derived from
//! the version and the key. A reader can therefore tell which version it read
//! and whether the token itself is whole: a token spliced from two versions, a
//! prefix padded with other bytes, or zeros all fail the check (a false accept
//! needs a 64-bit collision).

/// Prefix shared by every token (and by real Databricks PATs).
pub const PREFIX: &[u8; 4] = b"dapi";
/// Length in bytes of every token torn issues.
pub const TOKEN_LEN: usize = 36;

/// Issues and decodes the tokens of one run. Two runs with different keys
/// issue different tokens for the same version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenCodec {
    seed: u64,
    key: u64,
}

/// SplitMix64 finaliser: a cheap bijective 64-bit mixer.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const HEX: &[u8; 16] = b"0123456789abcdef";

#[inline]
fn hex_val(c: u8) -> Option<u64> {
    match c {
        b'0'..=b'9' => Some(u64::from(c - b'0')),
        b'a'..=b'f' => Some(u64::from(c - b'a' + 10)),
        _ => None,
    }
}

#[inline]
fn parse_hex16(digits: &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for &c in digits {
        v = (v << 4) | hex_val(c)?;
    }
    Some(v)
}

impl TokenCodec {
    /// A codec whose tokens are derived from `seed` (the run's seed).
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            key: mix(seed ^ 0x746F_726E_746F_6B6E),
        }
    }

    /// The codec of a template's second versioned field: the same shape,
    /// another key, so a token can never pass for a field value.
    pub fn field_codec(&self) -> TokenCodec {
        TokenCodec::new(self.seed ^ 0x6669_656C_645F_7631)
    }

    /// The seed this codec was made from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    fn check(&self, version: u64) -> u64 {
        mix(version ^ self.key.rotate_left(17))
    }

    /// Writes the token of `version` into `out` (exactly [`TOKEN_LEN`] bytes).
    pub fn encode_into(&self, version: u64, out: &mut [u8; TOKEN_LEN]) {
        out[..4].copy_from_slice(PREFIX);
        let words = [version ^ self.key, self.check(version)];
        for (w, word) in words.iter().enumerate() {
            for i in 0..16 {
                let nibble = (word >> (60 - 4 * i)) & 0xF;
                out[4 + 16 * w + i] = HEX[nibble as usize];
            }
        }
    }

    /// The token of `version` as a string.
    pub fn token(&self, version: u64) -> String {
        let mut buf = [0u8; TOKEN_LEN];
        self.encode_into(version, &mut buf);
        String::from_utf8(buf.to_vec()).expect("tokens are ASCII")
    }

    /// The version a whole token encodes, or `None` when `bytes` is not a
    /// whole token of this run (wrong length, wrong prefix, not hex, or a
    /// check value that does not match).
    #[inline]
    pub fn decode(&self, bytes: &[u8]) -> Option<u64> {
        if bytes.len() != TOKEN_LEN || &bytes[..4] != PREFIX {
            return None;
        }
        let masked = parse_hex16(&bytes[4..20])?;
        let check = parse_hex16(&bytes[20..36])?;
        let version = masked ^ self.key;
        (check == self.check(version)).then_some(version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn token_has_pat_shape() {
        let t = TokenCodec::new(7).token(12);
        assert_eq!(t.len(), TOKEN_LEN);
        assert!(t.starts_with("dapi"));
        assert!(
            t[4..]
                .bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }

    #[test]
    fn other_runs_tokens_are_rejected() {
        let a = TokenCodec::new(1);
        let b = TokenCodec::new(2);
        assert_eq!(a.decode(b.token(5).as_bytes()), None);
    }

    proptest! {
        #[test]
        fn round_trips(seed: u64, v: u64) {
            let c = TokenCodec::new(seed);
            prop_assert_eq!(c.decode(c.token(v).as_bytes()), Some(v));
        }

        #[test]
        fn splices_of_two_versions_fail(seed: u64, a in 0u64..1_000_000, b in 0u64..1_000_000, split in 1usize..TOKEN_LEN) {
            prop_assume!(a != b);
            let c = TokenCodec::new(seed);
            let (ta, tb) = (c.token(a), c.token(b));
            let spliced = [&ta.as_bytes()[..split], &tb.as_bytes()[split..]].concat();
            prop_assume!(spliced != ta.as_bytes() && spliced != tb.as_bytes());
            prop_assert_eq!(c.decode(&spliced), None);
        }
    }
}
