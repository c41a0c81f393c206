//! Secrets, and how they are kept: repository-user secrets and API tokens are high-entropy
//! random strings, so a fast keyed hash identifies them (no brute force can walk 238 bits);
//! console passwords are chosen by people, so they alone get argon2id.

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use hmac::{KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `len` characters drawn uniformly from `alphabet`, from the operating system's generator.
pub(crate) fn random_string(len: usize, alphabet: &[u8]) -> String {
    // Rejection sampling keeps every character equally likely.
    let limit = u8::MAX - (u8::MAX % alphabet.len() as u8);
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        getrandom::fill(&mut buf).expect("the operating system's random generator failed");
        for b in buf {
            if b < limit && out.len() < len {
                out.push(alphabet[usize::from(b) % alphabet.len()] as char);
            }
        }
    }
    out
}

/// A new repository-user secret: 40 letters and digits (238 bits), safe on any command line.
pub(crate) fn new_secret() -> String {
    random_string(40, ALPHABET)
}

/// A new API token, recognisable by its prefix.
pub(crate) fn new_api_token() -> String {
    format!("{API_TOKEN_PREFIX}{}", random_string(40, ALPHABET))
}

/// A new console session id: 43 letters and digits (256 bits).
pub(crate) fn new_session_id() -> String {
    random_string(43, ALPHABET)
}

/// An argon2id hash of a random password no one knows, made once: what a refused login with no
/// hash of its own is checked against, so that it costs what a wrong password costs.
pub(crate) fn decoy_hash(memory: &mut Memory) -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| password_hash(&random_string(32, ALPHABET), memory))
}

/// What every API token starts with.
pub const API_TOKEN_PREFIX: &str = "berth_";

/// The stored form of an API token, which is also its lookup key: SHA-256 (the token is random,
/// so no salt or key is needed to make guessing from the hash hopeless).
pub(crate) fn token_hash(token: &str) -> Vec<u8> {
    use sha2::Digest as _;
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The stored form of a repository user's secret: HMAC-SHA256 keyed by the user's name, so a
/// hash copied onto another user's record does not verify.
pub(crate) fn secret_hash(user: &str, secret: &str) -> Vec<u8> {
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(user.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(secret.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Whether `secret` is the one whose hash is `stored`, in time independent of where they differ.
pub(crate) fn secret_matches(user: &str, secret: &str, stored: &[u8]) -> bool {
    secret_hash(user, secret).ct_eq(stored).into()
}

/// The working memory of argon2 computations (about 19 MiB each with the default parameters).
pub(crate) type Memory = Vec<Block>;

/// Working memory for one computation, given back to the operating system when dropped. Its
/// capacity is over 32 MiB on purpose: glibc serves an allocation that large with its own
/// `mmap` and unmaps it on free (its dynamic threshold never exceeds 32 MiB), whereas a 19 MiB
/// block freed once raises the threshold and the next ones stay in the heap arenas, which a
/// burst of logins then leaves holding tens of MiB. Only the pages argon2 touches are resident.
pub(crate) fn fresh_memory() -> Memory {
    Vec::with_capacity((33 << 20) / std::mem::size_of::<Block>())
}

/// The most memory a stored hash may ask for (64 MiB), however it was written.
const MAX_BLOCKS: usize = 64 << 10;

fn memory_for(memory: &mut Memory, params: &Params) -> Option<usize> {
    let blocks = params.block_count();
    if blocks > MAX_BLOCKS {
        return None;
    }
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    Some(blocks)
}

/// A console password's argon2id hash in PHC string form, computed in `memory`.
pub(crate) fn password_hash(password: &str, memory: &mut Memory) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the operating system's random generator failed");
    let salt_string = SaltString::encode_b64(&salt).expect("16 bytes is a valid salt");
    let params = Params::default();
    let blocks = memory_for(memory, &params).expect("the default parameters fit");
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, &mut memory[..blocks])
        .expect("argon2 hashes any password with default parameters");
    PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).expect("the default parameters encode"),
        salt: Some(salt_string.as_salt()),
        hash: Some(Output::new(&out).expect("32 bytes is a valid output")),
    }
    .to_string()
}

/// Whether `password` matches an argon2 PHC string, computed in `memory` and compared in
/// constant time; a malformed hash matches nothing.
pub(crate) fn password_matches(password: &str, phc: &str, memory: &mut Memory) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
        Algorithm::try_from(hash.algorithm),
        Params::try_from(&hash),
        hash.salt,
        hash.hash,
    ) else {
        return false;
    };
    let version = match hash.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let Some(blocks) = memory_for(memory, &params) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let computed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password.as_bytes(),
        salt,
        &mut out,
        &mut memory[..blocks],
    );
    computed.is_ok() && bool::from(out.ct_eq(expected.as_bytes()))
}

/// A digest of a presented password that stays in memory to skip argon2 on the next request
/// with the same password: keyed by a per-process random key, so the cache is useless outside
/// the process.
pub(crate) fn remembered(key: &[u8; 32], username: &str, password: &str) -> [u8; 32] {
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(username.as_bytes());
    mac.update(&[0]);
    mac.update(password.as_bytes());
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_alphanumerics() {
        let a = new_secret();
        let b = new_secret();
        assert_eq!(a.len(), 40);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
        assert!(new_api_token().starts_with(API_TOKEN_PREFIX));
        assert_eq!(token_hash("x").len(), 32);
    }

    #[test]
    fn secret_hashes_bind_the_user() {
        let stored = secret_hash("1-ci", "s3cret");
        assert!(secret_matches("1-ci", "s3cret", &stored));
        assert!(!secret_matches("1-ci", "s3creT", &stored));
        assert!(!secret_matches("1-cd", "s3cret", &stored));
        assert!(!secret_matches("1-ci", "s3cret", &stored[..31]));
    }

    #[test]
    fn passwords_verify_against_their_argon2_hash() {
        let mut memory = Memory::new();
        let phc = password_hash("correct horse", &mut memory);
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(password_matches("correct horse", &phc, &mut memory));
        assert!(!password_matches("correct horsE", &phc, &mut memory));
        assert!(!password_matches(
            "correct horse",
            "not a hash",
            &mut memory
        ));
        // The crate's own verifier agrees: the strings are standard PHC.
        use argon2::password_hash::PasswordVerifier as _;
        let parsed = PasswordHash::new(&phc).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        // A hash from before (made by the crate's hasher) still verifies.
        use argon2::password_hash::PasswordHasher as _;
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let old = Argon2::default()
            .hash_password(b"old password", &salt)
            .unwrap()
            .to_string();
        assert!(password_matches("old password", &old, &mut memory));
        // A stored hash asking for absurd memory matches nothing rather than allocating it.
        let greedy = old.replace("m=19456", "m=4194304");
        assert!(!password_matches("old password", &greedy, &mut memory));
        assert!(memory.len() <= MAX_BLOCKS);
    }
}
