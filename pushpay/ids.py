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


def random_string(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_public_id(prefix: str) -> str:
    return f"{prefix}_{random_string(PUBLIC_ID_LENGTH)}"


def new_link_token() -> str:
    return random_string(TOKEN_LENGTH)
