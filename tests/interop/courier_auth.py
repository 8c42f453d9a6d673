"""The courier/1 authentication handshake for a pyzmq DEALER (ZeroMQ backend with a secret).

    authenticate(sock, b"the shared secret")

right after `sock.connect(...)`, before any other command. Both sides prove they know the
secret with HMAC-SHA256 over two fresh nonces; the secret never travels.
"""

import hashlib
import hmac
import secrets

PROTOCOL = b"courier/1"


def _proof(secret: bytes, role: bytes, first: bytes, second: bytes) -> bytes:
    message = b"courier/1 " + role + b" " + first + b" " + second
    return hmac.new(secret, message, hashlib.sha256).hexdigest().encode()


def authenticate(sock, secret: bytes) -> None:
    """Runs the handshake on a connected DEALER; raises SystemExit when it fails."""
    peer_nonce = secrets.token_hex(32).encode()
    sock.send_multipart([PROTOCOL, b"CHALLENGE", peer_nonce])
    frames = sock.recv_multipart()
    if frames[:2] != [PROTOCOL, b"NONCE"] or len(frames) < 4:
        raise SystemExit(f"auth refused: {frames!r}")
    hub_nonce, hub_proof = frames[2], frames[3]
    if not hmac.compare_digest(_proof(secret, b"hub", peer_nonce, hub_nonce), hub_proof):
        raise SystemExit("auth: the binding side does not know the shared secret")
    sock.send_multipart([PROTOCOL, b"AUTH", _proof(secret, b"peer", hub_nonce, peer_nonce)])
    frames = sock.recv_multipart()
    if frames[:2] != [PROTOCOL, b"AUTHENTICATED"]:
        raise SystemExit(f"auth refused: {frames!r}")
