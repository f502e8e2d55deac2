"""SMS length: what a wording costs, per the GSM 03.38 alphabet and UCS-2."""

import pytest

from notifications.segments import GSM7_BASIC, GSM7_EXTENSION, sms_length


def test_160_gsm_characters_fit_in_one_segment():
    assert sms_length("a" * 160).as_dict() == {
        "characters": 160,
        "segments": 1,
        "encoding": "GSM-7",
    }


def test_161_gsm_characters_take_two_segments_of_153():
    assert sms_length("a" * 161).segments == 2
    assert sms_length("a" * 306).segments == 2
    assert sms_length("a" * 307).segments == 3


def test_the_euro_sign_counts_double_but_stays_gsm():
    length = sms_length("€")

    assert (length.characters, length.encoding) == (2, "GSM-7")
    assert sms_length("a" * 158 + "€").segments == 1
    assert sms_length("a" * 159 + "€").segments == 2


@pytest.mark.parametrize("char", list("^{}\\[~]|€"))
def test_every_extension_character_counts_two(char):
    assert sms_length(char).characters == 2


def test_an_extension_character_is_never_split_across_segments():
    # 152 + "€" would straddle the 153 boundary: it moves whole to the second segment.
    text = "a" * 152 + "€" + "a" * 152
    assert sms_length(text).characters == 306
    assert sms_length(text).segments == 3


def test_e_acute_is_gsm_but_e_circumflex_forces_ucs2():
    assert sms_length("café").encoding == "GSM-7"
    assert sms_length("fête").encoding == "UCS-2"
    assert sms_length("è ù ì ò à É Ç ä ö ñ ü Ä Ö Ñ Ü ß ø Å").encoding == "GSM-7"


@pytest.mark.parametrize("char", ["ç", "â", "î", "ô", "û", "ë", "ï", "œ", "\u2019", "«", "\xa0"])
def test_common_french_characters_outside_gsm7_force_ucs2(char):
    assert sms_length(char).encoding == "UCS-2"


def test_ucs2_fits_70_in_one_segment_and_67_per_segment_after():
    assert sms_length("ê" * 70).segments == 1
    assert sms_length("ê" * 71).segments == 2
    assert sms_length("ê" * 134).segments == 2
    assert sms_length("ê" * 135).segments == 3


def test_an_emoji_is_two_utf16_units_and_never_split():
    assert sms_length("🙂").characters == 2
    assert sms_length("a" * 66 + "🙂" + "a" * 10).segments == 2
    assert sms_length("a" * 66 + "🙂" + "a" * 66).characters == 134
    assert sms_length("a" * 66 + "🙂" + "a" * 66).segments == 3


def test_the_gsm_tables_have_the_sizes_of_the_standard():
    assert len(GSM7_BASIC) == 127  # 128 codes, less the escape to the extension table
    assert len(GSM7_EXTENSION) == 10


def test_an_empty_message_is_zero_segments():
    assert sms_length("").segments == 0
