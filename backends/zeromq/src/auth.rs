//! Authentication with a shared secret: an HMAC-SHA256 challenge-response in both
//! directions, so that the secret never travels and a recorded exchange cannot be replayed.
//!
//! 1. Peer: `courier/1 CHALLENGE <peer_nonce>`
//! 2. Binding side: `courier/1 NONCE <hub_nonce> <hub_proof>`, where
//!    `hub_proof = hex(HMAC-SHA256(secret, "courier/1 hub <peer_nonce> <hub_nonce>"))`
//! 3. Peer (after checking `hub_proof`): `courier/1 AUTH <peer_proof>`, where
//!    `peer_proof = hex(HMAC-SHA256(secret, "courier/1 peer <hub_nonce> <peer_nonce>"))`
//! 4. Binding side: `courier/1 AUTHENTICATED`, or `ERROR` and it closes the connection.
//!
//! Nonces are 32 random bytes written as 64 lowercase hex digits; a peer nonce may be 32 to
//! 128 hex digits. Until step 4 the binding side accepts nothing else on the connection.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use courier_core::{Error, ErrorKind, Result};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::BACKEND;
use crate::session::Dealer;
use crate::wire::{FromHub, ToHub};

type HmacSha256 = Hmac<Sha256>;

/// The shortest and longest nonce a peer may send, in hex digits.
const NONCE_DIGITS: std::ops::RangeInclusive<usize> = 32..=128;

/// The shared secret of a ZeroMQ deployment. Never printed.
#[derive(Clone)]
pub(crate) struct SharedSecret(Arc<[u8]>);

impl fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedSecret(***)")
    }
}

/// Who proves: the two directions use different messages, so that one side's proof can
/// never be echoed back as the other's.
#[derive(Clone, Copy)]
enum Role {
    Hub,
    Peer,
}

impl SharedSecret {
    /// Wraps the secret's bytes.
    pub(crate) fn new(secret: &[u8]) -> Self {
        Self(Arc::from(secret))
    }

    fn mac(&self, role: Role, first: &[u8], second: &[u8]) -> HmacSha256 {
        // HMAC takes keys of any length.
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC accepts any key length");
        mac.update(match role {
            Role::Hub => b"courier/1 hub ",
            Role::Peer => b"courier/1 peer ",
        });
        mac.update(first);
        mac.update(b" ");
        mac.update(second);
        mac
    }

    fn proof(&self, role: Role, first: &[u8], second: &[u8]) -> Bytes {
        Bytes::from(hex::encode(
            self.mac(role, first, second).finalize().into_bytes(),
        ))
    }

    /// Whether `proof` (hex) is `role`'s proof over the two nonces, compared in constant time.
    fn verify(&self, role: Role, first: &[u8], second: &[u8], proof: &[u8]) -> bool {
        match hex::decode(proof) {
            Ok(tag) => self.mac(role, first, second).verify_slice(&tag).is_ok(),
            Err(_) => false,
        }
    }
}

/// A fresh nonce: 32 random bytes as hex.
fn nonce() -> Bytes {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    Bytes::from(hex::encode(bytes))
}

/// The binding side's half of the handshake for one connection.
#[derive(Debug)]
pub(crate) struct Challenge {
    peer_nonce: Bytes,
    hub_nonce: Bytes,
}

impl Challenge {
    /// Answers a peer's `CHALLENGE`: the state to keep for the connection, and the `NONCE`
    /// to send back.
    ///
    /// # Errors
    /// A reason when the peer's nonce is not 32 to 128 hex digits.
    pub(crate) fn answer(
        secret: &SharedSecret,
        peer_nonce: Bytes,
    ) -> Result<(Self, FromHub), String> {
        let hex_digits = peer_nonce.iter().all(u8::is_ascii_hexdigit);
        if !hex_digits || !NONCE_DIGITS.contains(&peer_nonce.len()) {
            return Err("auth: a nonce is 32 to 128 hex digits".to_owned());
        }
        let hub_nonce = nonce();
        let proof = secret.proof(Role::Hub, &peer_nonce, &hub_nonce);
        let reply = FromHub::Nonce {
            nonce: hub_nonce.clone(),
            proof,
        };
        Ok((
            Self {
                peer_nonce,
                hub_nonce,
            },
            reply,
        ))
    }

    /// Whether `proof` is the peer's proof for this challenge.
    pub(crate) fn accepts(&self, secret: &SharedSecret, proof: &[u8]) -> bool {
        secret.verify(Role::Peer, &self.hub_nonce, &self.peer_nonce, proof)
    }
}

/// Runs the peer's half of the handshake on a fresh connection, waiting at most `timeout`
/// for each answer.
///
/// # Errors
/// [`ErrorKind::Connection`] when the binding side does not answer in time, refuses the
/// proof, or cannot prove that it knows the secret itself.
pub(crate) async fn authenticate(
    dealer: &mut Dealer,
    secret: &SharedSecret,
    timeout: Duration,
) -> Result<()> {
    let peer_nonce = nonce();
    dealer
        .send(ToHub::Challenge {
            nonce: peer_nonce.clone(),
        })
        .await?;
    let (hub_nonce, hub_proof) = match answer(dealer, timeout).await? {
        FromHub::Nonce { nonce, proof } => (nonce, proof),
        other => return Err(refused(&other)),
    };
    if !secret.verify(Role::Hub, &peer_nonce, &hub_nonce, &hub_proof) {
        return Err(Error::new(
            BACKEND,
            ErrorKind::Connection,
            "auth: the binding side does not know the shared secret (check `secret` on both \
             sides)",
        ));
    }
    let proof = secret.proof(Role::Peer, &hub_nonce, &peer_nonce);
    dealer.send(ToHub::Auth { proof }).await?;
    match answer(dealer, timeout).await? {
        FromHub::Authenticated => Ok(()),
        other => Err(refused(&other)),
    }
}

async fn answer(dealer: &mut Dealer, timeout: Duration) -> Result<FromHub> {
    let frames = tokio::time::timeout(timeout, dealer.incoming.recv())
        .await
        .map_err(|_| {
            Error::new(
                BACKEND,
                ErrorKind::Connection,
                format!("auth: no answer from the binding side within {timeout:?}"),
            )
        })?
        .ok_or_else(|| {
            Error::new(
                BACKEND,
                ErrorKind::Connection,
                "auth: the binding side closed the connection",
            )
        })?;
    FromHub::parse(frames).map_err(|malformed| {
        Error::new(
            BACKEND,
            ErrorKind::Connection,
            format!("auth: unreadable answer: {}", malformed.reason),
        )
    })
}

fn refused(answer: &FromHub) -> Error {
    let why = match answer {
        FromHub::Error { reason, .. } => reason.clone(),
        other => format!("unexpected answer {other:?}"),
    };
    Error::new(
        BACKEND,
        ErrorKind::Connection,
        format!("auth: the binding side refused the connection: {why}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proofs_verify_only_with_the_same_secret_role_and_nonces() {
        let secret = SharedSecret::new(b"s3cret");
        let (challenge, reply) = Challenge::answer(&secret, nonce()).expect("valid nonce");
        let FromHub::Nonce {
            nonce: hub_nonce,
            proof,
        } = reply
        else {
            panic!("a NONCE answer");
        };
        assert!(secret.verify(Role::Hub, &challenge.peer_nonce, &hub_nonce, &proof));
        // The hub's proof is not a peer proof.
        assert!(!challenge.accepts(&secret, &proof));
        let peer_proof = secret.proof(Role::Peer, &hub_nonce, &challenge.peer_nonce);
        assert!(challenge.accepts(&secret, &peer_proof));
        let other = SharedSecret::new(b"other");
        let wrong = other.proof(Role::Peer, &hub_nonce, &challenge.peer_nonce);
        assert!(!challenge.accepts(&secret, &wrong));
        assert!(!challenge.accepts(&secret, b"not hex"));
    }

    #[test]
    fn known_answer_matches_a_plain_hmac() {
        // The same computation any HMAC library does: what a Python peer reproduces.
        let secret = SharedSecret::new(b"key");
        let proof = secret.proof(Role::Peer, b"aa", b"bb");
        let mut mac = HmacSha256::new_from_slice(b"key").expect("any key");
        mac.update(b"courier/1 peer aa bb");
        assert_eq!(proof, Bytes::from(hex::encode(mac.finalize().into_bytes())));
    }

    #[test]
    fn bad_peer_nonces_are_refused() {
        let secret = SharedSecret::new(b"k");
        for nonce in [&b"short"[..], &[b'z'; 64][..], &[b'a'; 129][..]] {
            assert!(Challenge::answer(&secret, Bytes::copy_from_slice(nonce)).is_err());
        }
        assert!(Challenge::answer(&secret, Bytes::from(vec![b'a'; 32])).is_ok());
    }

    #[test]
    fn the_secret_is_never_printed() {
        assert_eq!(
            format!("{:?}", SharedSecret::new(b"hunter2")),
            "SharedSecret(***)"
        );
    }
}
