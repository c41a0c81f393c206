//! Content digests (`sha256:<hex>`, `sha512:<hex>`) and the streaming verifier that computes them.
//!
//! The OCI image spec defines the digest grammar:
//!
//! ```text
//! digest                ::= algorithm ":" encoded
//! algorithm             ::= algorithm-component (algorithm-separator algorithm-component)*
//! algorithm-component   ::= [a-z0-9]+
//! algorithm-separator   ::= [+._-]
//! encoded               ::= [a-zA-Z0-9=_-]+
//! ```
//!
//! berth accepts the two registered algorithms, whose encodings are lowercase hex of a fixed
//! length: `sha256` (64 characters) and `sha512` (128 characters). A digest that follows the
//! grammar but names another algorithm is refused with [`DigestError::UnsupportedAlgorithm`], so
//! that a caller can answer "unsupported" rather than "invalid".

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use sha2::block_api::{compress256, compress512};

/// A hash algorithm berth can compute and verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// SHA-256, the algorithm every OCI client uses by default.
    Sha256,
    /// SHA-512.
    Sha512,
}

impl Algorithm {
    /// The algorithm's name as it appears in a digest (`sha256`, `sha512`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// Length of the hex encoding of this algorithm's output.
    pub const fn hex_len(self) -> usize {
        self.output_len() * 2
    }

    /// Length in bytes of this algorithm's output.
    pub const fn output_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 32,
            Algorithm::Sha512 => 64,
        }
    }

    /// The algorithm a digest names (`sha256`, `sha512`), if supported.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "sha256" => Some(Algorithm::Sha256),
            "sha512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a string is not a digest berth accepts. Each variant names the rule that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    /// There is no `:` between the algorithm and the encoded hash.
    #[error("digest has no ':' between algorithm and hash")]
    MissingSeparator,
    /// The algorithm part does not follow `[a-z0-9]+([+._-][a-z0-9]+)*`.
    #[error("digest algorithm {0:?} does not match [a-z0-9]+([+._-][a-z0-9]+)*")]
    InvalidAlgorithm(String),
    /// The algorithm follows the grammar but is neither `sha256` nor `sha512`.
    #[error("digest algorithm {0:?} is not supported (use sha256 or sha512)")]
    UnsupportedAlgorithm(String),
    /// The encoded hash has the wrong length for its algorithm.
    #[error("{algorithm} digest must have {expected} hex characters, found {found}")]
    InvalidLength {
        /// The digest's algorithm.
        algorithm: Algorithm,
        /// The length the algorithm requires.
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// The encoded hash has a character other than lowercase hex.
    #[error("digest hash must be lowercase hex [a-f0-9], found {0:?}")]
    InvalidEncoding(char),
}

/// A validated content digest such as `sha256:e3b0c442…`.
///
/// Cloning is cheap (the text is shared). Equality, ordering and hashing follow the text, which is
/// canonical because only lowercase hex is accepted.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    // Invariant: `text` is `<algorithm>:<lowercase hex of algorithm.hex_len()>`.
    text: Arc<str>,
    algorithm: Algorithm,
}

impl Digest {
    /// Parses and validates a digest string.
    pub fn parse(s: &str) -> Result<Self, DigestError> {
        let (alg, encoded) = s.split_once(':').ok_or(DigestError::MissingSeparator)?;
        if !is_algorithm_grammar(alg) {
            return Err(DigestError::InvalidAlgorithm(alg.to_owned()));
        }
        let algorithm = Algorithm::from_name(alg)
            .ok_or_else(|| DigestError::UnsupportedAlgorithm(alg.to_owned()))?;
        if let Some(bad) = encoded
            .chars()
            .find(|c| !matches!(c, '0'..='9' | 'a'..='f'))
        {
            return Err(DigestError::InvalidEncoding(bad));
        }
        if encoded.len() != algorithm.hex_len() {
            return Err(DigestError::InvalidLength {
                algorithm,
                expected: algorithm.hex_len(),
                found: encoded.len(),
            });
        }
        Ok(Digest {
            text: Arc::from(s),
            algorithm,
        })
    }

    /// The digest of `data` under `algorithm`, computed in one call.
    pub fn compute(algorithm: Algorithm, data: &[u8]) -> Self {
        let mut hasher = Hasher::new(algorithm);
        hasher.update(data);
        hasher.finish()
    }

    /// The SHA-256 digest of `data`.
    pub fn sha256(data: &[u8]) -> Self {
        Self::compute(Algorithm::Sha256, data)
    }

    fn from_output(algorithm: Algorithm, output: &[u8]) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = String::with_capacity(algorithm.as_str().len() + 1 + output.len() * 2);
        text.push_str(algorithm.as_str());
        text.push(':');
        for byte in output {
            text.push(HEX[usize::from(byte >> 4)] as char);
            text.push(HEX[usize::from(byte & 0xf)] as char);
        }
        Digest {
            text: Arc::from(text),
            algorithm,
        }
    }

    /// The digest's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The lowercase hex encoding, without the algorithm prefix.
    pub fn hex(&self) -> &str {
        &self.text[self.algorithm.as_str().len() + 1..]
    }

    /// The whole digest, `algorithm:hex`.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// `[a-z0-9]+([+._-][a-z0-9]+)*`
fn is_algorithm_grammar(s: &str) -> bool {
    !s.is_empty()
        && s.split(['+', '.', '_', '-']).all(|component| {
            !component.is_empty()
                && component
                    .bytes()
                    .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9'))
        })
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.text)
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

impl AsRef<str> for Digest {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The bytes were not the ones the expected digest names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("content digest {actual} does not match the expected {expected}")]
pub struct DigestMismatch {
    /// The digest the caller expected.
    pub expected: Digest,
    /// The digest of the bytes actually received.
    pub actual: Digest,
}

/// A streaming hash of SHA-256 or SHA-512 whose state can be saved and resumed.
///
/// It drives the `sha2` crate's block compression (which uses the CPU's SHA extensions when
/// present) over whole blocks taken straight from the caller's slices, so it runs at the speed of
/// `sha2` itself. Unlike `sha2`'s hashers, its state is plain data ([`HasherState`]): an upload
/// that one process started can be continued by another, which restores the state instead of
/// reading the bytes received so far a second time.
#[derive(Clone)]
pub struct Hasher {
    state: HasherState,
}

/// The saved state of a [`Hasher`]: enough to continue hashing elsewhere.
///
/// `to_bytes`/`from_bytes` give a compact, versioned encoding for storing it beside an upload.
#[derive(Clone, PartialEq, Eq)]
pub struct HasherState {
    algorithm: Algorithm,
    /// Chaining value: eight words, 32-bit for SHA-256 (held in the low halves), 64-bit for SHA-512.
    chain: [u64; 8],
    /// Bytes hashed so far, including those in `buffer`.
    length: u64,
    /// The bytes of the unfinished block (at most one block minus one byte).
    buffer: Vec<u8>,
}

const SHA256_IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];
const SHA512_IV: [u64; 8] = [
    0x6a09e667f3bcc908,
    0xbb67ae8584caa73b,
    0x3c6ef372fe94f82b,
    0xa54ff53a5f1d36f1,
    0x510e527fade682d1,
    0x9b05688c2b3e6c1f,
    0x1f83d9abfb41bd6b,
    0x5be0cd19137e2179,
];

/// Why a saved [`HasherState`] could not be restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("saved hash state is corrupt: {0}")]
pub struct HasherStateError(&'static str);

impl HasherState {
    const VERSION: u8 = 1;

    /// The algorithm being computed.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Number of bytes hashed so far.
    pub fn len(&self) -> u64 {
        self.length
    }

    /// Whether no byte was hashed yet.
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// A compact encoding: version, algorithm, length, chaining value, pending bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + 8 + 64 + self.buffer.len());
        out.push(Self::VERSION);
        out.push(match self.algorithm {
            Algorithm::Sha256 => 1,
            Algorithm::Sha512 => 2,
        });
        out.extend_from_slice(&self.length.to_be_bytes());
        for word in self.chain {
            out.extend_from_slice(&word.to_be_bytes());
        }
        out.extend_from_slice(&self.buffer);
        out
    }

    /// Decodes what [`HasherState::to_bytes`] produced, checking its consistency.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, HasherStateError> {
        let [version, alg, rest @ ..] = bytes else {
            return Err(HasherStateError("too short"));
        };
        if *version != Self::VERSION {
            return Err(HasherStateError("unknown version"));
        }
        let algorithm = match alg {
            1 => Algorithm::Sha256,
            2 => Algorithm::Sha512,
            _ => return Err(HasherStateError("unknown algorithm")),
        };
        if rest.len() < 8 + 64 {
            return Err(HasherStateError("too short"));
        }
        let (length, rest) = rest.split_at(8);
        let (chain_bytes, buffer) = rest.split_at(64);
        let length = u64::from_be_bytes(length.try_into().map_err(|_| HasherStateError("length"))?);
        let mut chain = [0u64; 8];
        for (word, bytes) in chain.iter_mut().zip(chain_bytes.chunks_exact(8)) {
            *word = u64::from_be_bytes(bytes.try_into().map_err(|_| HasherStateError("chain"))?);
        }
        let block = block_len(algorithm) as u64;
        if buffer.len() as u64 != length % block {
            return Err(HasherStateError("pending bytes disagree with the length"));
        }
        if algorithm == Algorithm::Sha256 && chain.iter().any(|w| *w > u64::from(u32::MAX)) {
            return Err(HasherStateError("sha256 word out of range"));
        }
        Ok(HasherState {
            algorithm,
            chain,
            length,
            buffer: buffer.to_vec(),
        })
    }
}

impl fmt::Debug for HasherState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HasherState")
            .field("algorithm", &self.algorithm)
            .field("length", &self.length)
            .finish_non_exhaustive()
    }
}

const fn block_len(algorithm: Algorithm) -> usize {
    match algorithm {
        Algorithm::Sha256 => 64,
        Algorithm::Sha512 => 128,
    }
}

impl Hasher {
    /// A fresh hasher.
    pub fn new(algorithm: Algorithm) -> Self {
        let chain = match algorithm {
            Algorithm::Sha256 => SHA256_IV.map(u64::from),
            Algorithm::Sha512 => SHA512_IV,
        };
        Hasher {
            state: HasherState {
                algorithm,
                chain,
                length: 0,
                buffer: Vec::with_capacity(block_len(algorithm)),
            },
        }
    }

    /// Continues from a saved state.
    pub fn resume(state: HasherState) -> Self {
        Hasher { state }
    }

    /// The state so far, to save and [`resume`](Hasher::resume) later.
    pub fn state(&self) -> &HasherState {
        &self.state
    }

    /// The algorithm being computed.
    pub fn algorithm(&self) -> Algorithm {
        self.state.algorithm
    }

    /// Number of bytes hashed so far.
    pub fn len(&self) -> u64 {
        self.state.length
    }

    /// Whether no byte was hashed yet.
    pub fn is_empty(&self) -> bool {
        self.state.length == 0
    }

    /// Feeds more bytes.
    pub fn update(&mut self, mut data: &[u8]) {
        let block = block_len(self.state.algorithm);
        self.state.length += data.len() as u64;
        if !self.state.buffer.is_empty() {
            let take = (block - self.state.buffer.len()).min(data.len());
            self.state.buffer.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.state.buffer.len() < block {
                return;
            }
            let pending = std::mem::take(&mut self.state.buffer);
            self.compress(&pending);
            self.state.buffer = pending;
            self.state.buffer.clear();
        }
        let whole = data.len() - data.len() % block;
        self.compress(&data[..whole]);
        self.state.buffer.extend_from_slice(&data[whole..]);
    }

    /// Compresses whole blocks; `blocks.len()` is a multiple of the block length.
    fn compress(&mut self, blocks: &[u8]) {
        if blocks.is_empty() {
            return;
        }
        match self.state.algorithm {
            Algorithm::Sha256 => {
                let (blocks, rest) = blocks.as_chunks::<64>();
                debug_assert!(rest.is_empty());
                let mut words = self.state.chain.map(|w| w as u32);
                compress256(&mut words, blocks);
                self.state.chain = words.map(u64::from);
            }
            Algorithm::Sha512 => {
                let (blocks, rest) = blocks.as_chunks::<128>();
                debug_assert!(rest.is_empty());
                compress512(&mut self.state.chain, blocks);
            }
        }
    }

    /// Pads the message and returns its digest.
    pub fn finish(mut self) -> Digest {
        let algorithm = self.state.algorithm;
        let block = block_len(algorithm);
        // Message length in bits: 64-bit for SHA-256, 128-bit for SHA-512 (lengths past 2^64
        // bits cannot occur with a u64 byte count, so the high half is the carry of the shift).
        let bits = u128::from(self.state.length) * 8;
        let length_field = block / 8;
        let mut tail = std::mem::take(&mut self.state.buffer);
        tail.push(0x80);
        let padded = (tail.len() + length_field).div_ceil(block) * block;
        tail.resize(padded - length_field, 0);
        match algorithm {
            Algorithm::Sha256 => tail.extend_from_slice(&(bits as u64).to_be_bytes()),
            Algorithm::Sha512 => tail.extend_from_slice(&bits.to_be_bytes()),
        }
        self.compress(&tail);
        let mut output = Vec::with_capacity(algorithm.output_len());
        match algorithm {
            Algorithm::Sha256 => {
                for word in self.state.chain {
                    output.extend_from_slice(&(word as u32).to_be_bytes());
                }
            }
            Algorithm::Sha512 => {
                for word in self.state.chain {
                    output.extend_from_slice(&word.to_be_bytes());
                }
            }
        }
        Digest::from_output(algorithm, &output)
    }
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Hasher").field(&self.state).finish()
    }
}

/// Checks streamed bytes against the digest a client announced.
///
/// Feed every byte with [`update`](DigestVerifier::update), then [`verify`](DigestVerifier::verify):
/// the bytes are read once, and nothing is accepted unless they hash to the expected digest.
#[derive(Debug, Clone)]
pub struct DigestVerifier {
    expected: Digest,
    hasher: Hasher,
}

impl DigestVerifier {
    /// A verifier for bytes that should hash to `expected`.
    pub fn new(expected: Digest) -> Self {
        let hasher = Hasher::new(expected.algorithm());
        DigestVerifier { expected, hasher }
    }

    /// Continues a verification from a saved hash state, which must use the expected digest's
    /// algorithm (if not, verification starts over from an empty state of the right algorithm
    /// and will fail unless the remaining bytes alone match).
    pub fn resume(expected: Digest, state: HasherState) -> Self {
        let hasher = if state.algorithm() == expected.algorithm() {
            Hasher::resume(state)
        } else {
            Hasher::new(expected.algorithm())
        };
        DigestVerifier { expected, hasher }
    }

    /// The digest the bytes must match.
    pub fn expected(&self) -> &Digest {
        &self.expected
    }

    /// Feeds more bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.hasher.update(data);
    }

    /// Number of bytes fed so far.
    pub fn len(&self) -> u64 {
        self.hasher.len()
    }

    /// Whether no byte was fed yet.
    pub fn is_empty(&self) -> bool {
        self.hasher.is_empty()
    }

    /// The hash state so far, to save beside a resumable upload.
    pub fn state(&self) -> &HasherState {
        self.hasher.state()
    }

    /// Finishes the hash and returns the digest of the bytes fed, whatever it is.
    pub fn finish(self) -> Digest {
        self.hasher.finish()
    }

    /// Finishes the hash and compares it with the expected digest.
    pub fn verify(self) -> Result<Digest, DigestMismatch> {
        let expected = self.expected;
        let actual = self.hasher.finish();
        if actual == expected {
            Ok(actual)
        } else {
            Err(DigestMismatch { expected, actual })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest as _;

    fn reference(algorithm: Algorithm, data: &[u8]) -> String {
        let out: Vec<u8> = match algorithm {
            Algorithm::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Algorithm::Sha512 => sha2::Sha512::digest(data).to_vec(),
        };
        Digest::from_output(algorithm, &out).to_string()
    }

    #[test]
    fn known_answers() {
        assert_eq!(
            Digest::sha256(b"").as_str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            Digest::sha256(b"abc").as_str(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            Digest::compute(Algorithm::Sha512, b"abc").as_str(),
            "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        );
    }

    #[test]
    fn every_length_around_block_boundaries_matches_sha2() {
        let data: Vec<u8> = (0..600u32).map(|i| (i * 7 + 3) as u8).collect();
        for algorithm in [Algorithm::Sha256, Algorithm::Sha512] {
            for len in 0..data.len() {
                assert_eq!(
                    Digest::compute(algorithm, &data[..len]).to_string(),
                    reference(algorithm, &data[..len]),
                    "{algorithm} over {len} bytes"
                );
            }
        }
    }

    #[test]
    fn parse_rejects_with_the_rule_that_failed() {
        let cases: &[(&str, DigestError)] = &[
            ("sha256", DigestError::MissingSeparator),
            (":abc", DigestError::InvalidAlgorithm(String::new())),
            ("SHA256:abc", DigestError::InvalidAlgorithm("SHA256".into())),
            (
                "sha256+:abc",
                DigestError::InvalidAlgorithm("sha256+".into()),
            ),
            ("md5:abc", DigestError::UnsupportedAlgorithm("md5".into())),
            (
                "sha256+b64u:abc",
                DigestError::UnsupportedAlgorithm("sha256+b64u".into()),
            ),
            (
                "sha256:abc",
                DigestError::InvalidLength {
                    algorithm: Algorithm::Sha256,
                    expected: 64,
                    found: 3,
                },
            ),
            (
                "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
                DigestError::InvalidEncoding('E'),
            ),
            (
                "sha256:",
                DigestError::InvalidLength {
                    algorithm: Algorithm::Sha256,
                    expected: 64,
                    found: 0,
                },
            ),
            ("sha512:zz", DigestError::InvalidEncoding('z')),
        ];
        for (input, expected) in cases {
            assert_eq!(Digest::parse(input).as_ref(), Err(expected), "{input}");
        }
    }

    #[test]
    fn verifier_accepts_matching_and_reports_mismatch() {
        let expected = Digest::sha256(b"hello world");
        let mut ok = DigestVerifier::new(expected.clone());
        ok.update(b"hello ");
        ok.update(b"world");
        assert_eq!(ok.verify(), Ok(expected.clone()));

        let mut bad = DigestVerifier::new(expected.clone());
        bad.update(b"hello there");
        let err = bad.verify().unwrap_err();
        assert_eq!(err.expected, expected);
        assert_eq!(err.actual, Digest::sha256(b"hello there"));
    }

    #[test]
    fn state_survives_encoding() {
        let mut h = Hasher::new(Algorithm::Sha512);
        h.update(&[9u8; 300]);
        let saved = HasherState::from_bytes(&h.state().to_bytes()).unwrap();
        let mut resumed = Hasher::resume(saved);
        resumed.update(b"tail");
        h.update(b"tail");
        assert_eq!(resumed.finish(), h.finish());
        assert!(HasherState::from_bytes(&[1, 1, 0]).is_err());
    }
}
