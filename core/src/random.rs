//! A small deterministic generator for values that need spread, not secrecy.

use std::convert::Infallible;

/// SplitMix64: a tiny, fast, non-cryptographic generator.
///
/// Flows seed one from the caller's random source when they are built, and use it for
/// retry jitter and `x-activity-request-id` UUIDs, which need to differ, not to be
/// unguessable. Secrets (PKCE verifiers, `state`) always come straight from the
/// caller's cryptographic source.
///
/// No API of this crate asks for one: every constructor takes any `rand_core::Rng`.
/// It is exported as a deterministic source for tests and simulations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// A generator seeded with 64 bits drawn from `source`.
    pub fn seeded_from<R: rand_core::Rng + ?Sized>(source: &mut R) -> Self {
        Self(source.next_u64())
    }

    fn step(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A random UUID version 4, formatted `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`.
    pub fn uuid_v4(&mut self) -> String {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.step().to_le_bytes());
        bytes[8..].copy_from_slice(&self.step().to_le_bytes());
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        )
    }
}

impl rand_core::TryRng for SplitMix64 {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok((self.step() >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.step())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.step().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_version_4_and_differ() {
        let mut rng = SplitMix64::new(7);
        let a = rng.uuid_v4();
        let b = rng.uuid_v4();
        assert_ne!(a, b);
        for uuid in [a, b] {
            assert_eq!(uuid.len(), 36);
            assert_eq!(&uuid[14..15], "4");
            assert!(matches!(&uuid[19..20], "8" | "9" | "a" | "b"), "{uuid}");
            assert_eq!(uuid.matches('-').count(), 4);
        }
    }
}
