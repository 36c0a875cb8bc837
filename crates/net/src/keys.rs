//! Keys and sealing: every datagram and frame is XChaCha20-Poly1305 under a key derived from
//! the cluster secret, with the cluster label as associated data.
//!
//! Sealed form: `[version][24-byte random nonce][ciphertext][16-byte tag]`, associated data
//! `[version] ++ label`. The label is bound, not sent: a message sealed under another label
//! does not open. The keyring seals with its first key and tries every key to open, so a
//! secret is rotated by adding the new one second everywhere, then first everywhere, then
//! removing the old one.
//!
//! Plaintext form (insecure mode): `[version][label as a postcard string][message]`; the
//! label is sent and checked, since nothing else keeps clusters apart.

use std::fmt;

use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::Sha256;

use crate::NetError;

/// The first byte of a sealed message. Version 1 carried the label and the sender's address
/// in every envelope and wrote incarnations as varints; its messages are refused as malformed.
pub(crate) const VERSION_SEALED: u8 = 2;
/// The first byte of a plaintext message (insecure mode only).
pub(crate) const VERSION_PLAIN: u8 = 0x82;
const NONCE: usize = 24;
const TAG: usize = 16;
/// What sealing adds to a message: version, nonce and tag.
pub(crate) const SEAL_OVERHEAD: usize = 1 + NONCE + TAG;
/// HKDF salt: ties derived keys to this protocol, so a secret reused elsewhere yields
/// unrelated keys.
const SALT: &[u8] = b"gossip-net/v1";

/// The cluster secrets: the first seals, all open. 32 random bytes each, written as 64 hex
/// digits, several separated by `,`.
#[derive(Clone, PartialEq, Eq)]
pub struct Keyring {
    secrets: Vec<[u8; 32]>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print a secret, not even in a debug log.
        write!(f, "Keyring({} keys)", self.secrets.len())
    }
}

impl Keyring {
    /// A fresh random secret. Panics only if the operating system has no randomness at all,
    /// which [`Keyring::try_generate`] reports instead.
    pub fn generate() -> Keyring {
        match Keyring::try_generate() {
            Ok(k) => k,
            Err(e) => panic!("{e}"),
        }
    }

    /// A fresh random secret, or [`NetError::Random`].
    pub fn try_generate() -> Result<Keyring, NetError> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|_| NetError::Random)?;
        Ok(Keyring {
            secrets: vec![secret],
        })
    }

    /// The secrets as hex, comma-separated, sealing key first.
    pub fn to_hex(&self) -> String {
        self.secrets
            .iter()
            .map(|s| s.iter().map(|b| format!("{b:02x}")).collect::<String>())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Reads one or more secrets of 64 hex digits separated by `,` (whitespace around each is
    /// ignored). The first seals; all open.
    pub fn from_hex(text: &str) -> Result<Keyring, NetError> {
        let mut secrets = Vec::new();
        for (index, part) in text.split(',').enumerate() {
            let part = part.trim();
            if part.len() != 64 {
                return Err(NetError::BadKey {
                    index,
                    reason: "a key is 64 hex digits",
                });
            }
            let mut secret = [0u8; 32];
            for (i, byte) in secret.iter_mut().enumerate() {
                let pair = part.get(2 * i..2 * i + 2).ok_or(NetError::BadKey {
                    index,
                    reason: "a key is 64 hex digits",
                })?;
                *byte = u8::from_str_radix(pair, 16).map_err(|_| NetError::BadKey {
                    index,
                    reason: "not a hex digit",
                })?;
            }
            secrets.push(secret);
        }
        Ok(Keyring { secrets })
    }

    /// This keyring with `other`'s keys added after its own (they open, they do not seal).
    pub fn with_opening_keys(mut self, other: &Keyring) -> Keyring {
        for s in &other.secrets {
            if !self.secrets.contains(s) {
                self.secrets.push(*s);
            }
        }
        self
    }

    /// How many keys it holds.
    pub fn len(&self) -> usize {
        self.secrets.len()
    }

    /// Always `false`: a keyring holds at least one key.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }
}

/// Seals and opens messages of one cluster.
pub(crate) enum Sealer {
    Sealed {
        ciphers: Vec<XChaCha20Poly1305>,
        aad: Vec<u8>,
    },
    Plain {
        /// The version byte and the label, which start every plaintext message.
        prefix: Vec<u8>,
    },
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sealer::Sealed { ciphers, .. } => write!(f, "Sealed({} keys)", ciphers.len()),
            Sealer::Plain { .. } => write!(f, "Plain"),
        }
    }
}

/// Why a message could not be opened. Counted, never answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// Too short, or an unknown version byte.
    Malformed,
    /// Plaintext to a sealed node, or sealed to a plaintext one.
    WrongMode,
    /// No key opens it (another cluster, another label, or tampered bytes).
    Unauthentic,
    /// A plaintext message of another cluster label.
    WrongLabel,
}

impl Sealer {
    pub(crate) fn new(keyring: Option<&Keyring>, label: &str) -> Sealer {
        let Some(keyring) = keyring else {
            let mut prefix = vec![VERSION_PLAIN];
            // A string always serialises into a growable buffer.
            prefix.extend(postcard::to_allocvec(label).unwrap_or_default());
            return Sealer::Plain { prefix };
        };
        let ciphers = keyring
            .secrets
            .iter()
            .map(|secret| {
                let hk = Hkdf::<Sha256>::new(Some(SALT), secret);
                let mut okm = [0u8; 32];
                // 32 bytes is far below HKDF-SHA256's limit of 8160: cannot fail.
                let _ = hk.expand(label.as_bytes(), &mut okm);
                XChaCha20Poly1305::new(&Key::from(okm))
            })
            .collect();
        let mut aad = vec![VERSION_SEALED];
        aad.extend_from_slice(label.as_bytes());
        Sealer::Sealed { ciphers, aad }
    }

    /// How many bytes sealing adds.
    pub(crate) fn overhead(&self) -> usize {
        match self {
            Sealer::Sealed { .. } => SEAL_OVERHEAD,
            Sealer::Plain { prefix } => prefix.len(),
        }
    }

    /// `plain`, sealed under the first key (or prefixed with the plaintext version byte and
    /// the label).
    pub(crate) fn seal(&self, plain: &[u8]) -> Vec<u8> {
        match self {
            Sealer::Plain { prefix } => {
                let mut out = Vec::with_capacity(prefix.len() + plain.len());
                out.extend_from_slice(prefix);
                out.extend_from_slice(plain);
                out
            }
            Sealer::Sealed { ciphers, aad } => {
                let nonce = XNonce::generate();
                let sealed = ciphers.first().and_then(|c| {
                    c.encrypt(
                        &nonce,
                        Payload {
                            msg: plain,
                            aad: aad.as_slice(),
                        },
                    )
                    .ok()
                });
                let Some(sealed) = sealed else {
                    // Encryption fails only for messages of gigabytes: never sent.
                    return Vec::new();
                };
                let mut out = Vec::with_capacity(1 + NONCE + sealed.len());
                out.push(VERSION_SEALED);
                out.extend_from_slice(nonce.as_slice());
                out.extend_from_slice(&sealed);
                out
            }
        }
    }

    /// The plaintext of `bytes`, if some key opens it. Takes any bytes. Also returns the
    /// nonce, by which replays are recognised.
    pub(crate) fn open(&self, bytes: &[u8]) -> Result<(Vec<u8>, Option<[u8; NONCE]>), OpenError> {
        let Some((&version, rest)) = bytes.split_first() else {
            return Err(OpenError::Malformed);
        };
        match (self, version) {
            (Sealer::Plain { prefix }, VERSION_PLAIN) => match bytes.strip_prefix(&prefix[..]) {
                Some(plain) => Ok((plain.to_vec(), None)),
                None => Err(OpenError::WrongLabel),
            },
            (Sealer::Sealed { ciphers, aad }, VERSION_SEALED) => {
                if rest.len() < NONCE + TAG {
                    return Err(OpenError::Malformed);
                }
                let (nonce, sealed) = rest.split_at(NONCE);
                let mut n = [0u8; NONCE];
                n.copy_from_slice(nonce);
                let nonce = XNonce::from(n);
                for cipher in ciphers {
                    if let Ok(plain) = cipher.decrypt(
                        &nonce,
                        Payload {
                            msg: sealed,
                            aad: aad.as_slice(),
                        },
                    ) {
                        return Ok((plain, Some(n)));
                    }
                }
                Err(OpenError::Unauthentic)
            }
            (_, VERSION_PLAIN | VERSION_SEALED) => Err(OpenError::WrongMode),
            _ => Err(OpenError::Malformed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_rotation_opens_with_the_old_key() {
        let old = Keyring::generate();
        let new = Keyring::generate();
        assert_eq!(Keyring::from_hex(&old.to_hex()).ok(), Some(old.clone()));
        let rotating = new.clone().with_opening_keys(&old);
        assert_eq!(rotating.len(), 2);
        let text = rotating.to_hex();
        assert_eq!(Keyring::from_hex(&text).ok(), Some(rotating.clone()));

        let sealed_old = Sealer::new(Some(&old), "c").seal(b"hello");
        let opened = Sealer::new(Some(&rotating), "c").open(&sealed_old);
        assert_eq!(opened.map(|(p, _)| p), Ok(b"hello".to_vec()));
        let by_new_only = Sealer::new(Some(&new), "c").open(&sealed_old);
        assert_eq!(by_new_only.map(|(p, _)| p), Err(OpenError::Unauthentic));
    }

    #[test]
    fn another_label_does_not_open() {
        let key = Keyring::generate();
        let sealed = Sealer::new(Some(&key), "a").seal(b"x");
        assert_eq!(
            Sealer::new(Some(&key), "b").open(&sealed).map(|(p, _)| p),
            Err(OpenError::Unauthentic)
        );
    }

    #[test]
    fn the_label_is_bound_when_sealed_and_sent_when_plain() {
        let key = Keyring::generate();
        let short = Sealer::new(Some(&key), "a").seal(b"x");
        let long = Sealer::new(Some(&key), &"a".repeat(255)).seal(b"x");
        assert_eq!(short.len(), SEAL_OVERHEAD + 1);
        assert_eq!(long.len(), short.len());
        let plain = Sealer::new(None, "a").seal(b"x");
        assert_eq!(plain, vec![VERSION_PLAIN, 1, b'a', b'x']);
    }

    #[test]
    fn plaintext_of_another_label_is_refused() {
        let sent = Sealer::new(None, "a").seal(b"xyz");
        assert_eq!(
            Sealer::new(None, "a").open(&sent).map(|(p, _)| p),
            Ok(b"xyz".to_vec())
        );
        // Another label, one that extends it, and one it extends.
        for other in ["b", "ab", ""] {
            assert_eq!(
                Sealer::new(None, other).open(&sent).map(|(p, _)| p),
                Err(OpenError::WrongLabel),
                "{other:?}"
            );
        }
        let longer = Sealer::new(None, "ab").seal(b"x");
        assert_eq!(
            Sealer::new(None, "a").open(&longer).map(|(p, _)| p),
            Err(OpenError::WrongLabel)
        );
    }

    #[test]
    fn messages_of_the_previous_wire_version_are_refused() {
        let key = Keyring::generate();
        let mut sealed = Sealer::new(Some(&key), "c").seal(b"x");
        let mut plain = Sealer::new(None, "c").seal(b"x");
        sealed[0] = 1;
        plain[0] = 0x81;
        assert_eq!(
            Sealer::new(Some(&key), "c").open(&sealed).map(|(p, _)| p),
            Err(OpenError::Malformed)
        );
        assert_eq!(
            Sealer::new(None, "c").open(&plain).map(|(p, _)| p),
            Err(OpenError::Malformed)
        );
    }

    #[test]
    fn bad_hex_is_refused_with_its_index() {
        let good = Keyring::generate().to_hex();
        let text = format!("{good},zz");
        assert!(matches!(
            Keyring::from_hex(&text),
            Err(NetError::BadKey { index: 1, .. })
        ));
        let bad_digit = "g".repeat(64);
        assert!(matches!(
            Keyring::from_hex(&bad_digit),
            Err(NetError::BadKey { index: 0, .. })
        ));
    }
}
