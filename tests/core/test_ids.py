"""Public ids and tokens: the right length and alphabet, drawn uniformly, never repeated."""

import string
from collections import Counter

import pytest

from pushpay import ids

ALPHABET = set(string.ascii_letters + string.digits)


@pytest.mark.parametrize("length", [0, 1, 16, 24, 32, 200])
def test_a_random_string_has_the_length_asked_and_only_base62_characters(length):
    for _ in range(50):
        value = ids.random_string(length)
        assert len(value) == length
        assert set(value) <= ALPHABET


def test_ids_and_tokens_keep_their_shapes():
    public_id = ids.new_public_id("pr")
    assert public_id.startswith("pr_") and len(public_id) == 3 + ids.PUBLIC_ID_LENGTH
    assert len(ids.new_link_token()) == ids.TOKEN_LENGTH


def test_every_character_is_about_as_likely():
    """620,000 draws, 10,000 expected per character (standard deviation about 100): a
    plain byte % 62 maps five byte values to each of the first eight characters and four
    to the others, which would put those eight near 12,100."""
    counts = Counter("".join(ids.random_string(1000) for _ in range(620)))
    assert set(counts) == ALPHABET
    assert max(counts.values()) < 10_500 and min(counts.values()) > 9_500


def test_no_two_draws_repeat():
    assert len({ids.new_public_id("nt") for _ in range(20_000)}) == 20_000
