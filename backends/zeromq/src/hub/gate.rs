//! Who may talk to a hub that has a shared secret: connections that authenticated (see
//! [`crate::auth`]). Until then a connection may only run the handshake; anything else, or a
//! wrong proof, is answered with an `auth:` error and the connection is closed.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;

use crate::auth::{Challenge, SharedSecret};
use crate::wire::{FromHub, Malformed, ToHub};

/// What becomes of a request from a connection.
pub(super) enum Admit {
    /// The connection is trusted: handle the request.
    Pass(Result<ToHub, Malformed>),
    /// A handshake step: send this answer.
    Answer(FromHub),
    /// Send this answer, then close the connection.
    Refuse(FromHub),
}

/// The authentication state of every connection of one hub.
#[derive(Debug)]
pub(super) struct Gate {
    secret: SharedSecret,
    challenges: HashMap<Bytes, Challenge>,
    trusted: HashSet<Bytes>,
}

impl Gate {
    pub(super) fn new(secret: SharedSecret) -> Self {
        Self {
            secret,
            challenges: HashMap::new(),
            trusted: HashSet::new(),
        }
    }

    /// Decides what to do with `request` from `peer`.
    pub(super) fn admit(&mut self, peer: &Bytes, request: Result<ToHub, Malformed>) -> Admit {
        if self.trusted.contains(peer) {
            return Admit::Pass(request);
        }
        match request {
            Ok(ToHub::Challenge { nonce }) => match Challenge::answer(&self.secret, nonce) {
                Ok((challenge, answer)) => {
                    self.challenges.insert(peer.clone(), challenge);
                    Admit::Answer(answer)
                }
                Err(reason) => Admit::Refuse(refusal(reason)),
            },
            Ok(ToHub::Auth { proof }) => match self.challenges.remove(peer) {
                Some(challenge) if challenge.accepts(&self.secret, &proof) => {
                    self.trusted.insert(peer.clone());
                    Admit::Answer(FromHub::Authenticated)
                }
                Some(_) => Admit::Refuse(refusal("auth: wrong proof".to_owned())),
                None => Admit::Refuse(refusal("auth: AUTH before CHALLENGE".to_owned())),
            },
            _ => Admit::Refuse(refusal(
                "auth: this endpoint needs authentication first (CHALLENGE, then AUTH; see the \
                 zeromq documentation)"
                    .to_owned(),
            )),
        }
    }

    /// Forgets a connection that is gone.
    pub(super) fn forget(&mut self, peer: &[u8]) {
        self.challenges.remove(peer);
        self.trusted.remove(peer);
    }
}

fn refusal(reason: String) -> FromHub {
    FromHub::Error {
        seq: Bytes::new(),
        reason,
    }
}
