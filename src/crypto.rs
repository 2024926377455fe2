//! Provider keys at rest: AES-256-GCM under the server's secret key, random 96-bit nonce,
//! stored as base64(nonce || ciphertext). Tokens: only their SHA-256 is kept.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, OsRng};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

const SECRET_FILE: &str = "tollgate.secret";

#[derive(Clone)]
pub struct Cipher(Aes256Gcm);

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher([REDACTED])")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("TOLLGATE_SECRET_KEY must be 32 bytes, base64-encoded")]
    BadKey,
    #[error("TOLLGATE_SECRET_KEY is required with this database (generate one: openssl rand -base64 32)")]
    Missing,
    #[error("secret key file {0}: {1}")]
    File(String, std::io::Error),
    #[error("ciphertext cannot be decrypted with this secret key")]
    Decrypt,
}

impl Cipher {
    pub fn from_base64(key: &str) -> Result<Self, CryptoError> {
        let bytes = B64.decode(key.trim()).map_err(|_| CryptoError::BadKey)?;
        if bytes.len() != 32 {
            return Err(CryptoError::BadKey);
        }
        Ok(Self(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes))))
    }

    /// The configured key, or on the embedded default one kept in (and first generated
    /// into) the data directory.
    pub fn load(
        configured: Option<&SecretString>,
        data_dir: Option<&Path>,
    ) -> Result<Self, CryptoError> {
        if let Some(key) = configured {
            return Self::from_base64(key.expose_secret());
        }
        let dir = data_dir.ok_or(CryptoError::Missing)?;
        let path = dir.join(SECRET_FILE);
        let shown = path.display().to_string();
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::from_base64(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key: [u8; 32] = rand::thread_rng().gen();
                let text = B64.encode(key);
                write_private(&path, &text).map_err(|e| CryptoError::File(shown, e))?;
                tracing::info!(path = %path.display(), "generated a secret key for provider keys");
                Self::from_base64(&text)
            }
            Err(e) => Err(CryptoError::File(shown, e)),
        }
    }

    pub fn encrypt(&self, plaintext: &str) -> String {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let mut out = nonce.to_vec();
        // Encryption with a valid key and a fresh nonce does not fail for in-memory buffers.
        out.extend(
            self.0
                .encrypt(&nonce, plaintext.as_bytes())
                .unwrap_or_default(),
        );
        B64.encode(out)
    }

    pub fn decrypt(&self, stored: &str) -> Result<String, CryptoError> {
        let bytes = B64.decode(stored).map_err(|_| CryptoError::Decrypt)?;
        if bytes.len() < 12 {
            return Err(CryptoError::Decrypt);
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let plain = self
            .0
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| CryptoError::Decrypt)?;
        String::from_utf8(plain).map_err(|_| CryptoError::Decrypt)
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

/// Lowercase hex SHA-256 of a token: the only form in which tokens are stored.
pub fn token_hash(token: &str) -> String {
    let mut out = String::with_capacity(64);
    push_hex(&mut out, &token_digest(token));
    out
}

/// The SHA-256 of a token as bytes: what the proxy looks keys up by, without writing hex
/// and allocating a string on every request.
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The digest a stored `token_hash` stands for; `None` unless it is 64 lowercase hex digits
/// (the only form `token_hash` writes, and the only one a lookup by text matched).
pub fn digest_of_hash(hash: &str) -> Option<[u8; 32]> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let text = hash.as_bytes();
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        *o = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

/// Appends `bytes` in lowercase hex, as `hex::encode` writes them, without its
/// per-character iterator: this runs on every proxied request.
pub fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.reserve(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
}

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn random_text(len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A new proxy API key: `sk-tg-` + 48 random base62 characters (~285 bits). Returns the
/// token and its display prefix (first 8 random characters).
pub fn new_api_key() -> (String, String) {
    let token = format!("sk-tg-{}", random_text(48));
    let prefix = token[..14].to_string();
    (token, prefix)
}

/// A new management token for a member.
pub fn new_member_token() -> String {
    format!("tgm-{}", random_text(48))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_hash_is_the_lowercase_hex_sha256() {
        // SHA-256("abc"), from FIPS 180-2.
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            token_hash("sk-tg-x"),
            hex::encode(Sha256::digest(b"sk-tg-x"))
        );
    }

    #[test]
    fn a_stored_hash_reads_back_as_the_digest_it_was_written_from() {
        for token in ["abc", "sk-tg-x", ""] {
            assert_eq!(
                digest_of_hash(&token_hash(token)),
                Some(token_digest(token))
            );
        }
        let hash = token_hash("abc");
        let upper = hash.to_uppercase();
        for bad in [
            &hash[..62],
            &format!("{hash}00"),
            &hash.replacen('b', "g", 1),
            &upper,
            "",
        ] {
            assert_eq!(digest_of_hash(bad), None, "{bad}");
        }
    }

    #[test]
    fn round_trip_and_tamper_detection() {
        let c = Cipher::from_base64(&B64.encode([7u8; 32])).unwrap();
        let stored = c.encrypt("sk-provider-secret");
        assert!(!stored.contains("sk-provider-secret"));
        assert_eq!(c.decrypt(&stored).unwrap(), "sk-provider-secret");
        let other = Cipher::from_base64(&B64.encode([8u8; 32])).unwrap();
        assert!(other.decrypt(&stored).is_err());
        assert_ne!(c.encrypt("x"), c.encrypt("x"), "nonces differ");
    }

    #[test]
    fn short_keys_are_rejected() {
        assert!(Cipher::from_base64(&B64.encode([1u8; 16])).is_err());
        assert!(Cipher::from_base64("not base64!").is_err());
    }

    #[test]
    fn generated_key_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = Cipher::load(None, Some(dir.path())).unwrap();
        let b = Cipher::load(None, Some(dir.path())).unwrap();
        assert_eq!(b.decrypt(&a.encrypt("v")).unwrap(), "v");
        assert!(Cipher::load(None, None).is_err());
    }

    #[test]
    fn api_keys_have_prefix_and_hash() {
        let (token, prefix) = new_api_key();
        assert!(token.starts_with(&prefix) && prefix.starts_with("sk-tg-"));
        assert_eq!(token.len(), 54);
        assert_eq!(token_hash(&token).len(), 64);
        assert_ne!(new_api_key().0, token);
    }
}
