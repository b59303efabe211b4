"""Phone PINs: salted scrypt hashes, compared in constant time. A PIN is never stored."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# scrypt cost: ~16 MiB and tens of milliseconds a check, slow enough to make a stolen
# table expensive to brute-force across the million 6-digit PINs, cheap per call.
N, R, P = 2**14, 8, 1


def _derive(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(pin.encode(), salt=salt, n=n, r=r, p=p, dklen=32)


def hash_pin(pin: str, n: int = N) -> str:
    """``scrypt$n$r$p$salt$hash`` for storing; the cost travels with the hash."""
    salt = secrets.token_bytes(16)
    digest = _derive(pin, salt, n, R, P)
    b64 = base64.b64encode
    return f"scrypt${n}${R}${P}${b64(salt).decode()}${b64(digest).decode()}"


def check_pin(pin: str, stored: str) -> bool:
    """Whether ``pin`` matches a stored hash; constant time in the comparison."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    actual = _derive(pin, base64.b64decode(salt), int(n), int(r), int(p))
    return hmac.compare_digest(actual, base64.b64decode(digest))
