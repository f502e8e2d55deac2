"""A sandbox for merchants' message templates, on Django's template language.

Operators write templates; payers receive them. Both directions are untrusted, so:

- templates compile on a dedicated ``Engine`` that is not the project's: no context
  processors, no loaders (nothing to include or extend), no libraries to ``{% load %}``, and
  only the tags and filters in ``ALLOWED_TAGS`` / ``ALLOWED_FILTERS``;
- every variable and attribute path a template uses, in ``{{ }}``, in tag arguments and in
  filter arguments, must be in ``VARIABLES``; this is checked when the template is saved, with
  the line at fault;
- the context is plain data (str, dict, list) built by ``build_context`` from
  ``MessageData``, never a model instance or settings, so even a check missed here would find
  nothing to reach;
- HTML bodies render with autoescaping on (a payer called ``<script>`` stays text); subjects,
  text bodies and SMS render with it off, since escaping there would only garble names.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from django.conf import settings
from django.template import (
    Context,
    Engine,
    Library,
    Template,
    TemplateSyntaxError,
    defaultfilters,
    defaulttags,
)
from django.template.base import (
    FilterExpression,
    Lexer,
    Parser,
    TextNode,
    Token,
    TokenType,
    Variable,
    VariableNode,
)
from django.template.defaulttags import (
    CommentNode,
    ForNode,
    IfNode,
    SpacelessNode,
    TemplateLiteral,
    WithNode,
)
from django.template.smartif import TokenBase
from django.utils import timezone

from pushpay.errors import InvalidInput
from pushpay.i18n import LANGUAGE_CODES, language_checked, other_languages
from pushpay.money import format_money

from .models import MessageTemplate
from .segments import SmsLength, sms_length

# --- What a template may use ----------------------------------------------------------------

LEAF = "leaf"


@dataclass(frozen=True)
class ListOf:
    """A list whose items have the given fields (only ``schedule`` is one)."""

    item: Mapping[str, Any]


VARIABLES: Mapping[str, Any] = {
    "payer": {"name": LEAF, "email": LEAF, "phone": LEAF},
    "merchant": {"name": LEAF},
    "request": {"reference": LEAF, "description": LEAF},
    "amount_due": LEAF,
    "amount_paid": LEAF,
    "payment": {"methods": LEAF, "date": LEAF},
    "deadline": LEAF,
    "pay_url": LEAF,
    "retry_url": LEAF,
    "failure_reason": LEAF,
    "schedule": ListOf({"due_date": LEAF, "amount": LEAF}),
}
# Django's Context always holds these three; they reach nothing.
_CONSTANTS = {"True": LEAF, "False": LEAF, "None": LEAF}
_FORLOOP = {
    "counter": LEAF,
    "counter0": LEAF,
    "revcounter": LEAF,
    "revcounter0": LEAF,
    "first": LEAF,
    "last": LEAF,
}

# Tags: conditions, loops over the schedule, aliases, comments, whitespace control. Nothing
# that reaches another template (include, extends, ssi), the project (url, static, csrf_token,
# now, debug), changes escaping (autoescape, filter, verbatim, templatetag) or loads code.
ALLOWED_TAGS = ("if", "for", "with", "comment", "spaceless")
# Words that only close or continue an allowed tag.
_INNER_TAGS = frozenset(
    {"elif", "else", "endif", "empty", "endfor", "endwith", "endcomment", "endspaceless"}
)
# Filters that only reshape a string or a list. Left out on purpose: safe and safeseq (bypass
# escaping in HTML), dictsort/dictsortreversed (take an attribute path as argument, a way
# around the variable check), pprint (shows internals), date/time and friends (read project
# settings; dates arrive formatted), stringformat, slice and make_list (no use here).
ALLOWED_FILTERS = (
    "capfirst",
    "default",
    "default_if_none",
    "first",
    "join",
    "last",
    "length",
    "linebreaks",
    "linebreaksbr",
    "lower",
    "pluralize",
    "striptags",
    "title",
    "truncatechars",
    "truncatewords",
    "upper",
    "urlencode",
    "wordwrap",
    "yesno",
)

MAX_SOURCE_LENGTH = 100_000


def _library() -> Library:
    library = Library()
    library.tags = {name: defaulttags.register.tags[name] for name in ALLOWED_TAGS}
    library.filters = {name: defaultfilters.register.filters[name] for name in ALLOWED_FILTERS}
    return library


class _SandboxEngine(Engine):
    """An engine whose only built-ins are the allowed tags and filters."""

    default_builtins: list[str] = []

    def get_template_builtins(self, builtins: list) -> list[Library]:
        return [_library()]


_ENGINE = _SandboxEngine(
    dirs=[],
    app_dirs=False,
    context_processors=[],
    debug=False,
    loaders=[],
    string_if_invalid="",
    libraries={},
    autoescape=True,
)


# --- Compiling with line numbers ------------------------------------------------------------


class TemplateRefused(Exception):
    def __init__(self, message: str, *, code: str, line: int | None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.line = line


class _ForbiddenTag(TemplateSyntaxError):
    pass


class _UnknownFilter(TemplateSyntaxError):
    pass


class _RecordingParser(Parser):
    """Remembers the line each expression was written on, and names refusals precisely."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines: dict[int, int] = {}
        self._lineno = 1

    def next_token(self):
        token = super().next_token()
        self._lineno = token.lineno or self._lineno
        return token

    def compile_filter(self, token: str) -> FilterExpression:
        expression = super().compile_filter(token)
        self.lines[id(expression)] = self._lineno
        return expression

    def find_filter(self, filter_name: str):
        if filter_name not in self.filters:
            raise _UnknownFilter(f"unknown filter '{filter_name}'")
        return super().find_filter(filter_name)

    def invalid_block_tag(self, token, command, parse_until=None):
        if command not in _INNER_TAGS:
            raise self.error(token, _ForbiddenTag(f"the tag '{command}' is not allowed"))
        return super().invalid_block_tag(token, command, parse_until)


def _refuse_unclosed(tokens: list[Token]) -> None:
    """Django leaves an unclosed "{{" or "{%" as text, which the payer would then read."""
    for token in tokens:
        if token.token_type != TokenType.TEXT:
            continue
        for opening, closing in (("{{", "}}"), ("{%", "%}")):
            if opening in token.contents:
                error = TemplateSyntaxError(f"'{opening}' is never closed by '{closing}'")
                line = token.lineno + token.contents.split(opening)[0].count("\n")
                error.token = Token(TokenType.TEXT, "", None, line)
                raise error


class _SandboxTemplate(Template):
    def compile_nodelist(self):
        tokens = Lexer(self.source).tokenize()
        parser = _RecordingParser(
            list(tokens),
            self.engine.template_libraries,
            self.engine.template_builtins,
            self.origin,
        )
        nodelist = parser.parse()
        _refuse_unclosed(tokens)
        self.extra_data = parser.extra_data
        self.expression_lines = parser.lines
        return nodelist


_DJANGO_LINE = re.compile(r" on line \d+")


def _compile(source: str) -> _SandboxTemplate:
    try:
        return _SandboxTemplate(source, engine=_ENGINE)
    except TemplateSyntaxError as exc:
        token = getattr(exc, "token", None)
        line = getattr(token, "lineno", None)
        if isinstance(exc, _ForbiddenTag):
            code = "forbidden_tag"
        elif isinstance(exc, _UnknownFilter):
            code = "unknown_filter"
        else:
            code = "template_syntax_error"
        # Django sometimes says "on line 3" itself; the caller prefixes the line once.
        message = _DJANGO_LINE.sub("", str(exc))
        raise TemplateRefused(message, code=code, line=line) from exc
    except Exception as exc:  # Django's parser can trip on garbage in ways it does not name
        raise TemplateRefused(
            "the template cannot be read; check its tags", code="template_syntax_error", line=None
        ) from exc


# --- Checking every path against the whitelist ----------------------------------------------


def _describe(shape: Mapping[str, Any], prefix: str) -> str:
    return ", ".join(f"{prefix}.{name}" for name in shape)


class _Checker:
    def __init__(self, template: _SandboxTemplate):
        self.lines = template.expression_lines

    def refuse(self, message: str, *, code: str, expression: Any = None, node: Any = None):
        line = None
        if expression is not None:
            line = self.lines.get(id(expression))
        if line is None and node is not None:
            line = getattr(getattr(node, "token", None), "lineno", None)
        raise TemplateRefused(message, code=code, line=line)

    def variable(
        self,
        variable: Variable,
        scope: Mapping[str, Any],
        expression: Any,
        allow_group: bool = False,
    ) -> Any:
        lookups = variable.lookups
        if lookups is None:  # a literal: "text", 3
            return LEAF
        path = ".".join(lookups)
        shape = scope.get(lookups[0])
        for part in lookups[1:]:
            if shape is None:
                break
            if isinstance(shape, ListOf):
                shape = shape.item if part.isdigit() else None
            elif isinstance(shape, Mapping):
                shape = shape.get(part)
            else:
                shape = None
        if shape is None:
            self.refuse(
                f"unknown variable '{path}'", code="unknown_variable", expression=expression
            )
        if isinstance(shape, Mapping) and not allow_group:
            self.refuse(
                f"unknown variable '{path}'; use one of {_describe(shape, path)}",
                code="unknown_variable",
                expression=expression,
            )
        return shape

    def expression(
        self, expression: Any, scope: Mapping[str, Any], allow_group: bool = False
    ) -> Any:
        """Check an expression; return the shape it evaluates to, for aliases and loops."""
        if not isinstance(expression, FilterExpression):
            return LEAF
        shape = LEAF
        if isinstance(expression.var, Variable):
            group_ok = allow_group and not expression.filters
            shape = self.variable(expression.var, scope, expression, allow_group=group_ok)
        for _func, args in expression.filters:
            for is_lookup, argument in args:
                if is_lookup:
                    self.variable(argument, scope, expression)
        return shape if not expression.filters else LEAF

    def condition(self, condition: Any, scope: Mapping[str, Any]) -> None:
        if isinstance(condition, TemplateLiteral):
            self.expression(condition.value, scope)
        elif isinstance(condition, TokenBase):
            for operand in (getattr(condition, "first", None), getattr(condition, "second", None)):
                if operand is not None:
                    self.condition(operand, scope)

    def nodes(self, nodelist: Any, scope: Mapping[str, Any]) -> None:
        for node in nodelist:
            if isinstance(node, TextNode | CommentNode):
                continue
            if isinstance(node, VariableNode):
                self.expression(node.filter_expression, scope)
            elif isinstance(node, IfNode):
                for condition, branch in node.conditions_nodelists:
                    if condition is not None:
                        self.condition(condition, scope)
                    self.nodes(branch, scope)
            elif isinstance(node, ForNode):
                self.loop(node, scope)
            elif isinstance(node, WithNode):
                inner = dict(scope)
                for name, value in node.extra_context.items():
                    # {% with first=schedule.0 %} aliases a group; its fields stay checked.
                    inner[name] = self.expression(value, scope, allow_group=True)
                self.nodes(node.nodelist, inner)
            elif isinstance(node, SpacelessNode):
                self.nodes(node.nodelist, scope)
            else:  # every allowed tag is handled above; anything else is a bug to refuse
                self.refuse(
                    f"the tag '{type(node).__name__}' is not allowed",
                    code="forbidden_tag",
                    node=node,
                )

    def loop(self, node: ForNode, scope: Mapping[str, Any]) -> None:
        sequence = self.expression(node.sequence, scope)
        # Loops go over lists only (not over the letters of a string) and never nest, so a
        # template's output stays proportional to the schedule's length.
        if not isinstance(sequence, ListOf):
            self.refuse(
                "only schedule can be looped over", code="invalid_loop", expression=node.sequence
            )
        if "forloop" in scope:
            self.refuse("loops cannot be nested", code="invalid_loop", expression=node.sequence)
        if len(node.loopvars) != 1:
            self.refuse(
                "loops take one variable: {% for item in schedule %}",
                code="template_syntax_error",
                expression=node.sequence,
            )
        inner = dict(scope)
        inner[node.loopvars[0]] = sequence.item
        inner["forloop"] = _FORLOOP
        self.nodes(node.nodelist_loop, inner)
        self.nodes(node.nodelist_empty, scope)


@lru_cache(maxsize=512)
def _checked(source: str) -> _SandboxTemplate:
    template = _compile(source)
    _Checker(template).nodes(template.nodelist, {**_CONSTANTS, **VARIABLES})
    return template


def check_source(source: str, *, field: str) -> None:
    """Refuse a template source the sandbox would not run, naming the field and the line.

    ``field`` is the path reported to the caller, such as ``body_html.fr``.
    """
    if not isinstance(source, str):
        raise InvalidInput("Templates are strings.", code="invalid_type", field=field)
    if len(source) > MAX_SOURCE_LENGTH:
        raise InvalidInput(
            f"A template is at most {MAX_SOURCE_LENGTH} characters.",
            code="template_too_long",
            field=field,
        )
    try:
        _checked(source)
    except TemplateRefused as refusal:
        prefix = f"Line {refusal.line}: " if refusal.line else ""
        raise InvalidInput(f"{prefix}{refusal.message}", code=refusal.code, field=field) from None
    # A filter given a bad literal argument ("wordwrap:'x'") only fails when it runs: run it
    # once now, in both languages, rather than at 3 a.m. in the dispatcher.
    for language in LANGUAGE_CODES:
        try:
            render_source(source, _trial_context(language), html=True)
        except InvalidInput as failure:
            raise InvalidInput(failure.message, code=failure.code, field=field) from None


# --- The data a template sees ---------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleItem:
    due_date: date
    amount: int  # minor units


@dataclass(frozen=True)
class MessageData:
    """Everything a message may say about a payer and a request, unformatted.

    Amounts are integer minor units of ``currency``; ``deadline`` and ``paid_at`` are aware
    datetimes shown in ``time_zone``. ``build_context`` formats them for the recipient's
    language. ``amount_paid``, ``payment_methods`` and ``paid_at`` describe the payment an
    event is about (a receipt): ``amount_due`` is 0 once a share is paid, so a receipt that
    printed it would say 0.00.
    """

    payer_name: str = ""
    payer_email: str = ""
    payer_phone: str = ""
    merchant_name: str = ""
    reference: str = ""
    description: str = ""
    amount_due: int | None = None
    amount_paid: int | None = None
    payment_methods: tuple[str, ...] = field(default_factory=tuple)  # "Card Visa •••• 4242"
    paid_at: datetime | None = None
    currency: str = "EUR"
    deadline: datetime | None = None
    time_zone: str = "Europe/Paris"
    pay_url: str = ""
    retry_url: str = ""
    failure_reason: str = ""
    schedule: tuple[ScheduleItem, ...] = field(default_factory=tuple)


_AT = {"fr": "à", "en": "at"}


def format_deadline(value: datetime, *, language: str, time_zone: str) -> str:
    local = value.astimezone(ZoneInfo(time_zone))
    day = format_date(local, "long", locale=language)
    return f"{day} {_AT[language]} {format_time(local, 'short', locale=language)}"


# A campaign's messages repeat the same few amounts, deadlines and due dates, and CLDR
# formatting (babel) costs more than rendering the template itself: each distinct value is
# formatted once per language. Equal instants in other time zones share an entry, rightly:
# the text depends only on the instant and ``time_zone``.
@lru_cache(maxsize=4096)
def _money_text(amount: int, currency: str, language: str) -> str:
    return format_money(amount, currency, language)


@lru_cache(maxsize=4096)
def _deadline_text(value: datetime, language: str, time_zone: str) -> str:
    return format_deadline(value, language=language, time_zone=time_zone)


@lru_cache(maxsize=4096)
def _date_text(value: date, language: str) -> str:
    return format_date(value, "long", locale=language)


def build_context(data: MessageData, language: str) -> dict[str, Any]:
    """The only context templates ever get: plain strings, dicts and lists."""

    def money(amount: int | None) -> str:
        return "" if amount is None else _money_text(amount, data.currency, language)

    deadline = paid_at = ""
    if data.deadline is not None:
        deadline = _deadline_text(data.deadline, language, data.time_zone)
    if data.paid_at is not None:
        paid_at = _deadline_text(data.paid_at, language, data.time_zone)
    return {
        "payer": {
            "name": str(data.payer_name),
            "email": str(data.payer_email),
            "phone": str(data.payer_phone),
        },
        "merchant": {"name": str(data.merchant_name)},
        "request": {"reference": str(data.reference), "description": str(data.description)},
        "amount_due": money(data.amount_due),
        "amount_paid": money(data.amount_paid),
        "payment": {"methods": ", ".join(str(m) for m in data.payment_methods), "date": paid_at},
        "deadline": deadline,
        "pay_url": str(data.pay_url),
        "retry_url": str(data.retry_url),
        "failure_reason": str(data.failure_reason),
        "schedule": [
            {
                "due_date": _date_text(item.due_date, language),
                "amount": money(item.amount),
            }
            for item in data.schedule
        ],
    }


def sample_message_data(
    *, merchant_name: str, currency: str = "EUR", time_zone: str = "Europe/Paris", **overrides
) -> MessageData:
    """Plausible values for previews; ``overrides`` use MessageData's field names."""
    now = timezone.now()
    base_url = settings.PUBLIC_BASE_URL.rstrip("/")
    today = now.astimezone(ZoneInfo(time_zone)).date()
    values: dict[str, Any] = {
        "payer_name": "Camille Martin",
        "payer_email": "camille.martin@example.com",
        "payer_phone": "+33612345678",
        "merchant_name": merchant_name,
        "reference": "INV-2026-0042",
        "description": "Annual membership",
        "amount_due": 12000,
        "amount_paid": 12000,
        "payment_methods": ("Card Visa •••• 4242",),
        "paid_at": now,
        "currency": currency,
        "deadline": now + timedelta(days=7),
        "time_zone": time_zone,
        "pay_url": f"{base_url}/pay/sample-link/",
        "retry_url": f"{base_url}/pay/sample-link/retry/",
        "failure_reason": "Card declined",
        "schedule": tuple(
            ScheduleItem(due_date=today + timedelta(days=30 * n), amount=4000) for n in range(3)
        ),
    }
    values.update(overrides)
    return MessageData(**values)


# --- Rendering ------------------------------------------------------------------------------


def localized(texts: Mapping[str, str] | None, language: str) -> tuple[str, str] | None:
    """The text for ``language``, or the other language's when it was left out."""
    texts = texts or {}
    for candidate in (language, *other_languages(language)):
        if texts.get(candidate):
            return candidate, texts[candidate]
    return None


def render_source(
    source: str, context: Mapping[str, Any], *, html: bool, field: str = "template"
) -> str:
    template = _checked(source)
    try:
        return template.render(Context(dict(context), autoescape=html, use_l10n=False))
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise InvalidInput(
            f"The template fails with these values: {exc}",
            code="template_render_error",
            field=field,
        ) from exc


@lru_cache(maxsize=2)
def _trial_context(language: str) -> dict[str, Any]:
    data = MessageData(
        payer_name="Camille",
        payer_email="camille@example.com",
        payer_phone="+33612345678",
        merchant_name="Shop",
        reference="REF-1",
        description="Order",
        amount_due=1050,
        amount_paid=1050,
        payment_methods=("Card Visa •••• 4242",),
        paid_at=datetime(2030, 1, 30, 12, 0, tzinfo=ZoneInfo("UTC")),
        deadline=datetime(2030, 1, 31, 12, 0, tzinfo=ZoneInfo("UTC")),
        pay_url="https://pay.example/p",
        retry_url="https://pay.example/r",
        failure_reason="Declined",
        schedule=(ScheduleItem(due_date=date(2030, 1, 31), amount=1050),),
    )
    return build_context(data, language)


# Money and times formatted by CLDR carry no-break spaces ("12,50\u00a0€"), which are outside
# GSM-7 and would bill every French SMS as UCS-2 (70 characters a segment instead of 160).
_PLAIN_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " "})


@dataclass(frozen=True)
class RenderedMessage:
    language: str
    source_language: str  # the language body_text was written in (after fallback)
    subject: str | None
    text: str
    html: str | None
    sms: SmsLength | None


def render_message(
    *, template: MessageTemplate, language: str, data: MessageData
) -> RenderedMessage:
    """Render a stored template for one recipient; the dispatcher's single entry point."""
    language_checked(language, field="language")
    context = build_context(data, language)
    body = localized(template.body_text, language)
    if body is None:
        raise InvalidInput("The template has no text.", code="required", field="body_text")
    source_language, text_source = body
    text = render_source(
        text_source, context, html=False, field=f"body_text.{source_language}"
    ).strip()
    subject = html = None
    sms = None
    if template.channel == MessageTemplate.Channel.SMS:
        text = text.translate(_PLAIN_SPACES)
        sms = sms_length(text)
    else:
        picked = localized(template.subject, language)
        if picked is not None:
            # Headers are one line: collapsing whitespace also keeps names from splitting them.
            rendered = render_source(picked[1], context, html=False, field=f"subject.{picked[0]}")
            subject = " ".join(rendered.split())
        picked = localized(template.body_html, language)
        if picked is not None:
            html = render_source(picked[1], context, html=True, field=f"body_html.{picked[0]}")
    return RenderedMessage(
        language=language,
        source_language=source_language,
        subject=subject,
        text=text,
        html=html,
        sms=sms,
    )
