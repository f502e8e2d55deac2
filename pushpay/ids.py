"""Public identifiers and secret tokens.

Integers stay internal: anything that leaves the database is a prefixed random string, so ids
reveal neither volumes nor neighbours (ARCHITECTURE.md guarantee 5).
"""

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits

# 24 base62 characters carry about 143 bits; link tokens use 32 (about 190 bits).
PUBLIC_ID_LENGTH = 24
TOKEN_LENGTH = 32


# 248 is the largest multiple of 62 under 256: a byte below it, taken modulo 62, is uniform
# over the alphabet; the few bytes above are dropped (rejection sampling).
_ACCEPT_BELOW = 256 - 256 % len(_ALPHABET)


def random_string(length: int) -> str:
    """``length`` characters drawn uniformly from the base62 alphabet by the system's CSPRNG.

    One call for the bytes, not one ``secrets.choice`` per character: every creation draws
    a public id for each row it writes (an outbox row, a participant and its link token), so
    this was a measurable part of an API create."""
    chars: list[str] = []
    while len(chars) < length:
        chars.extend(
            _ALPHABET[byte % len(_ALPHABET)]
            for byte in secrets.token_bytes(length - len(chars) + 4)
            if byte < _ACCEPT_BELOW
        )
    return "".join(chars[:length])


def new_public_id(prefix: str) -> str:
    return f"{prefix}_{random_string(PUBLIC_ID_LENGTH)}"


def new_link_token() -> str:
    return random_string(TOKEN_LENGTH)
