"""How long an SMS is, and how many segments (billed messages) it takes.

An SMS is 140 bytes. Text that fits the GSM 03.38 alphabet is packed in 7-bit septets: 160
per single message, 153 per segment once concatenated (a 6-byte header takes the rest). One
character outside that alphabet switches the whole message to UCS-2, 16 bits per unit: 70 per
single message, 67 per segment. Characters of the GSM extension table (``€``, ``[``, ``{`` …)
are an escape plus a septet, so they count double; a split never separates the two halves,
nor the two halves of a UTF-16 surrogate pair, which is why segments are packed one character
at a time instead of by division.
"""

from dataclasses import asdict, dataclass

GSM7 = "GSM-7"
UCS2 = "UCS-2"

# GSM 03.38 basic character set (the escape at 0x1B is not a character of its own).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# GSM 03.38 extension table: each costs two septets (escape + code).
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

LIMITS = {
    GSM7: (160, 153),
    UCS2: (70, 67),
}


@dataclass(frozen=True)
class SmsLength:
    characters: int  # septets for GSM-7 (extension characters count 2), UTF-16 units for UCS-2
    segments: int
    encoding: str

    def as_dict(self) -> dict:
        return asdict(self)


def _unit_sizes(text: str) -> tuple[str, list[int]]:
    if all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text):
        return GSM7, [2 if char in GSM7_EXTENSION else 1 for char in text]
    return UCS2, [2 if ord(char) > 0xFFFF else 1 for char in text]


def sms_length(text: str) -> SmsLength:
    """Count what the carrier bills, so operators see the cost of a wording before saving."""
    encoding, sizes = _unit_sizes(text)
    total = sum(sizes)
    single, per_segment = LIMITS[encoding]
    if total == 0:
        return SmsLength(characters=0, segments=0, encoding=encoding)
    if total <= single:
        return SmsLength(characters=total, segments=1, encoding=encoding)
    segments, used = 1, 0
    for size in sizes:
        if used + size > per_segment:
            segments += 1
            used = 0
        used += size
    return SmsLength(characters=total, segments=segments, encoding=encoding)
