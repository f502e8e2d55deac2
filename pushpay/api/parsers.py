from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding
from rest_framework.utils.json import strict_constant

from pushpay.jsonlimits import JsonRefused, loads_bounded


class StrictJSONParser(JSONParser):
    """JSON without NUL characters anywhere (PostgreSQL cannot store them, even in jsonb)
    and nested at most ``MAX_JSON_DEPTH`` levels (10**4 levels used to be a RecursionError,
    a 500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = get_encoding(parser_context or {})
        try:
            raw = stream.read() if stream is not None else b""
            return loads_bounded(raw.decode(encoding), parse_constant=strict_constant)
        except JsonRefused as exc:
            raise ParseError(exc.message) from None
        except ValueError as exc:  # not JSON, or bytes that are not in the charset
            raise ParseError(f"JSON parse error - {exc}") from None
