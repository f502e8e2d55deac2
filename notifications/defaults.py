"""The templates every merchant starts with: one per scenario stage, email and SMS, fr and en.

Plain Python data so that they are reviewed like code and checked by the same sandbox as a
merchant's own templates (tests/notifications/test_defaults.py renders every one of them).
``notifications.services.template_install_defaults`` copies them into a merchant's account;
from then on they are the merchant's to edit.

Variables by stage, beyond those every message has (payer, merchant, request, pay_url):

- ``installment_*``: ``amount_due`` and ``deadline`` are those of the installment concerned;
- ``payment_failed`` and ``installment_failed``: ``failure_reason`` and ``retry_url``;
- ``installment_plan_confirmed``: ``schedule`` lists every installment (deposit included);
- the other ``installment_*`` stages: ``schedule`` lists what is still to be charged;
- ``installment_succeeded``: ``amount_paid`` and ``payment.date`` are the installment's;
- ``installment_*``: ``retry_url`` is the payer's page for the plan (its schedule), where a
  failed installment is paid with another card and the balance paid off early;
- ``participant_paid`` goes to whoever started the request: ``payer`` is the one who paid.

SMS wordings stay within the GSM-7 alphabet (no ç, ê, ô …) so they cost single segments.
"""

from typing import Any

STAGES = (
    "request_created",
    "reminder_before_deadline",
    "overdue_reminder",
    "payment_failed",
    "payment_succeeded",
    "installment_plan_confirmed",
    "installment_due_soon",
    "installment_failed",
    "installment_succeeded",
    "installment_plan_completed",
    "installment_plan_defaulted",
    "installment_plan_cancelled",
    "participant_paid",
    "request_completed",
    "request_expired",
)

STAGE_NAMES = {
    "request_created": "Request sent",
    "reminder_before_deadline": "Reminder before deadline",
    "overdue_reminder": "Overdue reminder",
    "payment_failed": "Payment failed",
    "payment_succeeded": "Payment receipt",
    "installment_plan_confirmed": "Installment plan confirmed",
    "installment_due_soon": "Installment due soon",
    "installment_failed": "Installment failed",
    "installment_succeeded": "Installment charged",
    "installment_plan_completed": "Installment plan completed",
    "installment_plan_defaulted": "Installment plan defaulted",
    "installment_plan_cancelled": "Installment plan cancelled",
    "participant_paid": "Participant paid",
    "request_completed": "Request completed",
    "request_expired": "Request expired",
}

SCHEDULE = "{schedule}"  # marks where the installment list goes in an email

_HELLO = {"fr": "Bonjour {{ payer.name }},", "en": "Hello {{ payer.name }},"}
_HELLO_INITIATOR = {"fr": "Bonjour,", "en": "Hello,"}
_SIGN = {
    "fr": "Cordialement,\n{{ merchant.name }}",
    "en": "Kind regards,\n{{ merchant.name }}",
}
_COLON = {"fr": " : ", "en": ": "}  # French typography wants a space before the colon
_SCHEDULE_TEXT = {
    language: "{% for item in schedule %}- {{ item.due_date }}"
    + colon
    + "{{ item.amount }}{% if not forloop.last %}\n{% endif %}{% endfor %}"
    for language, colon in _COLON.items()
}
_SCHEDULE_HTML = {
    language: "<ul>{% for item in schedule %}<li>{{ item.due_date }}"
    + colon
    + "<strong>{{ item.amount }}</strong></li>{% endfor %}</ul>"
    for language, colon in _COLON.items()
}
_BUTTON_STYLE = (
    "display:inline-block;padding:12px 20px;background:#0d6efd;color:#ffffff;"
    "text-decoration:none;border-radius:6px"
)

# stage -> language -> (subject, greeting, paragraphs, (button label, url variable) | None, sms)
_WORDING: dict[str, dict[str, tuple[str, dict, list[str], tuple[str, str] | None, str]]] = {
    "request_created": {
        "fr": (
            "{{ merchant.name }} : demande de paiement {{ request.reference }}",
            _HELLO,
            [
                "{{ merchant.name }} vous adresse une demande de paiement de {{ amount_due }}"
                "{% if request.description %} pour « {{ request.description }} »{% endif %}.",
                "{% if deadline %}Merci de régler avant le {{ deadline }}.{% endif %}",
            ],
            ("Payer maintenant", "pay_url"),
            "{{ merchant.name }} : {{ amount_due }} a regler (ref. {{ request.reference }})"
            "{% if deadline %} avant le {{ deadline }}{% endif %}. Payer : {{ pay_url }}",
        ),
        "en": (
            "{{ merchant.name }}: payment request {{ request.reference }}",
            _HELLO,
            [
                "{{ merchant.name }} has sent you a payment request for {{ amount_due }}"
                "{% if request.description %} for “{{ request.description }}”{% endif %}.",
                "{% if deadline %}Please pay by {{ deadline }}.{% endif %}",
            ],
            ("Pay now", "pay_url"),
            "{{ merchant.name }}: {{ amount_due }} to pay (ref. {{ request.reference }})"
            "{% if deadline %} by {{ deadline }}{% endif %}. Pay: {{ pay_url }}",
        ),
    },
    "reminder_before_deadline": {
        "fr": (
            "Rappel : {{ request.reference }} à régler avant le {{ deadline }}",
            _HELLO,
            [
                "Petit rappel : votre paiement de {{ amount_due }} à {{ merchant.name }} "
                "(référence {{ request.reference }}) est attendu avant le {{ deadline }}.",
                "Si vous avez déjà payé, merci d'ignorer ce message.",
            ],
            ("Payer maintenant", "pay_url"),
            "Rappel {{ merchant.name }} : {{ amount_due }} a regler avant le {{ deadline }} "
            "(ref. {{ request.reference }}). {{ pay_url }}",
        ),
        "en": (
            "Reminder: {{ request.reference }} is due by {{ deadline }}",
            _HELLO,
            [
                "A quick reminder: your payment of {{ amount_due }} to {{ merchant.name }} "
                "(reference {{ request.reference }}) is due by {{ deadline }}.",
                "If you have already paid, please ignore this message.",
            ],
            ("Pay now", "pay_url"),
            "{{ merchant.name }} reminder: {{ amount_due }} due by {{ deadline }} "
            "(ref. {{ request.reference }}). {{ pay_url }}",
        ),
    },
    "overdue_reminder": {
        "fr": (
            "Paiement en retard : {{ request.reference }}",
            _HELLO,
            [
                "Sauf erreur de notre part, votre paiement de {{ amount_due }} "
                "(référence {{ request.reference }}) attendu le {{ deadline }} "
                "ne nous est pas parvenu.",
                "Vous pouvez le régler dès maintenant en quelques clics.",
            ],
            ("Régulariser mon paiement", "pay_url"),
            "{{ merchant.name }} : votre paiement de {{ amount_due }} "
            "(ref. {{ request.reference }}) est en retard. {{ pay_url }}",
        ),
        "en": (
            "Overdue payment: {{ request.reference }}",
            _HELLO,
            [
                "Our records show that your payment of {{ amount_due }} "
                "(reference {{ request.reference }}) due on {{ deadline }} has not arrived yet.",
                "You can settle it now in a few clicks.",
            ],
            ("Pay now", "pay_url"),
            "{{ merchant.name }}: your payment of {{ amount_due }} "
            "(ref. {{ request.reference }}) is overdue. {{ pay_url }}",
        ),
    },
    "payment_failed": {
        "fr": (
            "Votre paiement n'a pas abouti ({{ request.reference }})",
            _HELLO,
            [
                "Votre paiement de {{ amount_due }} à {{ merchant.name }} n'a pas abouti"
                "{% if failure_reason %} : {{ failure_reason }}{% endif %}.",
                "Aucune somme n'a été débitée. Vous pouvez réessayer avec le même moyen de "
                "paiement ou un autre.",
            ],
            ("Réessayer", "retry_url"),
            "{{ merchant.name }} : votre paiement de {{ amount_due }} a echoue"
            "{% if failure_reason %} ({{ failure_reason }}){% endif %}. "
            "Reessayer : {{ retry_url }}",
        ),
        "en": (
            "Your payment did not go through ({{ request.reference }})",
            _HELLO,
            [
                "Your payment of {{ amount_due }} to {{ merchant.name }} did not go through"
                "{% if failure_reason %}: {{ failure_reason }}{% endif %}.",
                "Nothing was charged. You can try again with the same payment method or "
                "another one.",
            ],
            ("Try again", "retry_url"),
            "{{ merchant.name }}: your payment of {{ amount_due }} failed"
            "{% if failure_reason %} ({{ failure_reason }}){% endif %}. "
            "Try again: {{ retry_url }}",
        ),
    },
    "payment_succeeded": {
        "fr": (
            "Reçu de paiement : {{ request.reference }}",
            _HELLO,
            [
                "Nous avons bien reçu votre paiement de {{ amount_paid }} "
                "pour la demande {{ request.reference }}"
                "{% if request.description %} (« {{ request.description }} »){% endif %}.",
                "Référence : {{ request.reference }}",
                "{% if payment.date %}Date : {{ payment.date }}{% endif %}",
                "{% if payment.methods %}Moyen de paiement : {{ payment.methods }}{% endif %}",
                "Ce message vaut reçu. Merci !",
            ],
            ("Voir le détail", "pay_url"),
            "{{ merchant.name }} : paiement de {{ amount_paid }} bien recu "
            "{% if payment.date %}le {{ payment.date }} {% endif %}"
            "(ref. {{ request.reference }}). Merci !",
        ),
        "en": (
            "Payment receipt: {{ request.reference }}",
            _HELLO,
            [
                "We have received your payment of {{ amount_paid }} for request "
                "{{ request.reference }}"
                "{% if request.description %} (“{{ request.description }}”){% endif %}.",
                "Reference: {{ request.reference }}",
                "{% if payment.date %}Date: {{ payment.date }}{% endif %}",
                "{% if payment.methods %}Paid with: {{ payment.methods }}{% endif %}",
                "This message is your receipt. Thank you!",
            ],
            ("View details", "pay_url"),
            "{{ merchant.name }}: payment of {{ amount_paid }} received "
            "{% if payment.date %}on {{ payment.date }} {% endif %}"
            "(ref. {{ request.reference }}). Thank you!",
        ),
    },
    "installment_plan_confirmed": {
        "fr": (
            "Votre échéancier pour {{ request.reference }}",
            _HELLO,
            [
                "Votre paiement en plusieurs fois pour la demande {{ request.reference }} "
                "est confirmé. Voici votre échéancier :",
                SCHEDULE,
                "Chaque échéance sera prélevée automatiquement à sa date.",
            ],
            ("Voir mon échéancier", "retry_url"),
            "{{ merchant.name }} : paiement en {{ schedule|length }} fois confirme "
            "(ref. {{ request.reference }}).{% for item in schedule %}"
            "{% if forloop.first %} 1re echeance : {{ item.amount }} le {{ item.due_date }}."
            "{% endif %}{% endfor %}",
        ),
        "en": (
            "Your installment plan for {{ request.reference }}",
            _HELLO,
            [
                "Your installment plan for request {{ request.reference }} is confirmed. "
                "Here is your schedule:",
                SCHEDULE,
                "Each installment will be charged automatically on its date.",
            ],
            ("View my schedule", "retry_url"),
            "{{ merchant.name }}: {{ schedule|length }}-installment plan confirmed "
            "(ref. {{ request.reference }}).{% for item in schedule %}"
            "{% if forloop.first %} First: {{ item.amount }} on {{ item.due_date }}."
            "{% endif %}{% endfor %}",
        ),
    },
    "installment_due_soon": {
        "fr": (
            "Prochaine échéance le {{ deadline }}",
            _HELLO,
            [
                "Votre prochaine échéance de {{ amount_due }} pour la demande "
                "{{ request.reference }} sera prélevée le {{ deadline }}.",
                "Vous n'avez rien à faire si votre moyen de paiement est toujours valable.",
            ],
            ("Voir mon échéancier", "retry_url"),
            "{{ merchant.name }} : echeance de {{ amount_due }} le {{ deadline }} "
            "(ref. {{ request.reference }}).",
        ),
        "en": (
            "Next installment on {{ deadline }}",
            _HELLO,
            [
                "Your next installment of {{ amount_due }} for request "
                "{{ request.reference }} will be charged on {{ deadline }}.",
                "There is nothing to do if your payment method is still valid.",
            ],
            ("View my schedule", "retry_url"),
            "{{ merchant.name }}: installment of {{ amount_due }} on {{ deadline }} "
            "(ref. {{ request.reference }}).",
        ),
    },
    "installment_failed": {
        "fr": (
            "Échéance impayée : {{ request.reference }}",
            _HELLO,
            [
                "Le prélèvement de votre échéance de {{ amount_due }} pour la demande "
                "{{ request.reference }} n'a pas abouti"
                "{% if failure_reason %} : {{ failure_reason }}{% endif %}.",
                "{% if deadline %}Nous réessaierons automatiquement le {{ deadline }}. "
                "{% endif %}Vous pouvez aussi régler cette échéance dès maintenant avec un "
                "autre moyen de paiement.",
            ],
            ("Régler l'échéance", "retry_url"),
            "{{ merchant.name }} : echeance de {{ amount_due }} impayee"
            "{% if failure_reason %} ({{ failure_reason }}){% endif %}. {{ retry_url }}",
        ),
        "en": (
            "Installment failed: {{ request.reference }}",
            _HELLO,
            [
                "We could not charge your installment of {{ amount_due }} for request "
                "{{ request.reference }}"
                "{% if failure_reason %}: {{ failure_reason }}{% endif %}.",
                "{% if deadline %}We will try again automatically on {{ deadline }}. "
                "{% endif %}You can also pay this installment now with another payment "
                "method.",
            ],
            ("Pay this installment", "retry_url"),
            "{{ merchant.name }}: installment of {{ amount_due }} failed"
            "{% if failure_reason %} ({{ failure_reason }}){% endif %}. {{ retry_url }}",
        ),
    },
    "installment_succeeded": {
        "fr": (
            "Échéance réglée : {{ request.reference }}",
            _HELLO,
            [
                "Votre échéance de {{ amount_paid }} pour la demande {{ request.reference }} "
                "a bien été prélevée{% if payment.date %} le {{ payment.date }}{% endif %}.",
                "{% if schedule %}Prochaines échéances :{% else %}C'était la dernière "
                "échéance. Merci !{% endif %}",
                SCHEDULE,
            ],
            ("Voir mon échéancier", "retry_url"),
            "{{ merchant.name }} : echeance de {{ amount_paid }} prelevee "
            "(ref. {{ request.reference }}).{% for item in schedule %}{% if forloop.first %} "
            "Prochaine : {{ item.amount }} le {{ item.due_date }}.{% endif %}{% endfor %}",
        ),
        "en": (
            "Installment paid: {{ request.reference }}",
            _HELLO,
            [
                "Your installment of {{ amount_paid }} for request {{ request.reference }} "
                "has been charged{% if payment.date %} on {{ payment.date }}{% endif %}.",
                "{% if schedule %}Next installments:{% else %}That was the last installment. "
                "Thank you!{% endif %}",
                SCHEDULE,
            ],
            ("View my schedule", "retry_url"),
            "{{ merchant.name }}: installment of {{ amount_paid }} charged "
            "(ref. {{ request.reference }}).{% for item in schedule %}{% if forloop.first %} "
            "Next: {{ item.amount }} on {{ item.due_date }}.{% endif %}{% endfor %}",
        ),
    },
    "installment_plan_completed": {
        "fr": (
            "Échéancier terminé : {{ request.reference }}",
            _HELLO,
            [
                "Toutes les échéances de votre paiement pour la demande "
                "{{ request.reference }} sont réglées. Votre part est entièrement payée.",
                "Merci pour votre confiance !",
            ],
            None,
            "{{ merchant.name }} : toutes vos echeances (ref. {{ request.reference }}) sont "
            "reglees. Merci !",
        ),
        "en": (
            "Installment plan complete: {{ request.reference }}",
            _HELLO,
            [
                "Every installment of your payment for request {{ request.reference }} has "
                "been paid. Your share is paid in full.",
                "Thank you!",
            ],
            None,
            "{{ merchant.name }}: every installment (ref. {{ request.reference }}) is paid. "
            "Thank you!",
        ),
    },
    "installment_plan_defaulted": {
        "fr": (
            "Paiement en plusieurs fois interrompu : {{ request.reference }}",
            _HELLO,
            [
                "Malgré plusieurs tentatives, une échéance de votre paiement pour la demande "
                "{{ request.reference }} n'a pas pu être prélevée. Aucun autre prélèvement "
                "ne sera fait.",
                "Il vous reste {{ amount_due }} à régler. Contactez {{ merchant.name }} ou "
                "réglez le solde en ligne.",
            ],
            ("Régler le solde", "retry_url"),
            "{{ merchant.name }} : echeancier interrompu (ref. {{ request.reference }}), "
            "reste {{ amount_due }} a regler. {{ retry_url }}",
        ),
        "en": (
            "Installment plan stopped: {{ request.reference }}",
            _HELLO,
            [
                "Despite several attempts, an installment of your payment for request "
                "{{ request.reference }} could not be charged. No further charges will be "
                "made.",
                "{{ amount_due }} is still to pay. Contact {{ merchant.name }} or pay the "
                "balance online.",
            ],
            ("Pay the balance", "retry_url"),
            "{{ merchant.name }}: installment plan stopped (ref. {{ request.reference }}), "
            "{{ amount_due }} still to pay. {{ retry_url }}",
        ),
    },
    "installment_plan_cancelled": {
        "fr": (
            "Échéancier annulé : {{ request.reference }}",
            _HELLO,
            [
                "Votre paiement en plusieurs fois pour la demande {{ request.reference }} "
                "a été annulé : aucune autre échéance ne sera prélevée.",
                "Pour toute question, contactez directement {{ merchant.name }}.",
            ],
            None,
            "{{ merchant.name }} : votre echeancier (ref. {{ request.reference }}) est annule, "
            "plus aucun prelevement.",
        ),
        "en": (
            "Installment plan cancelled: {{ request.reference }}",
            _HELLO,
            [
                "Your installment plan for request {{ request.reference }} has been "
                "cancelled: no further installments will be charged.",
                "If you have any questions, please contact {{ merchant.name }} directly.",
            ],
            None,
            "{{ merchant.name }}: your installment plan (ref. {{ request.reference }}) is "
            "cancelled, no further charges.",
        ),
    },
    "participant_paid": {
        "fr": (
            "{{ payer.name }} a payé sa part ({{ request.reference }})",
            _HELLO_INITIATOR,
            [
                "{{ payer.name }} vient de payer {{ amount_due }} pour la demande "
                "{{ request.reference }}"
                "{% if request.description %} (« {{ request.description }} »){% endif %}.",
            ],
            None,
            "{{ merchant.name }} : {{ payer.name }} a paye {{ amount_due }} "
            "(ref. {{ request.reference }}).",
        ),
        "en": (
            "{{ payer.name }} has paid their share ({{ request.reference }})",
            _HELLO_INITIATOR,
            [
                "{{ payer.name }} has just paid {{ amount_due }} for request "
                "{{ request.reference }}"
                "{% if request.description %} (“{{ request.description }}”){% endif %}.",
            ],
            None,
            "{{ merchant.name }}: {{ payer.name }} paid {{ amount_due }} "
            "(ref. {{ request.reference }}).",
        ),
    },
    "request_completed": {
        "fr": (
            "Demande {{ request.reference }} entièrement réglée",
            _HELLO,
            [
                "La demande {{ request.reference }}"
                "{% if request.description %} (« {{ request.description }} »){% endif %} "
                "est entièrement réglée. Merci à tous !",
            ],
            None,
            "{{ merchant.name }} : la demande {{ request.reference }} est entierement reglee. "
            "Merci !",
        ),
        "en": (
            "Request {{ request.reference }} fully paid",
            _HELLO,
            [
                "Request {{ request.reference }}"
                "{% if request.description %} (“{{ request.description }}”){% endif %} "
                "has been paid in full. Thank you all!",
            ],
            None,
            "{{ merchant.name }}: request {{ request.reference }} is fully paid. Thank you!",
        ),
    },
    "request_expired": {
        "fr": (
            "Demande {{ request.reference }} expirée",
            _HELLO,
            [
                "La demande de paiement {{ request.reference }} de {{ merchant.name }} "
                "a expiré et ne peut plus être réglée en ligne.",
                "Pour toute question, contactez directement {{ merchant.name }}.",
            ],
            None,
            "{{ merchant.name }} : la demande {{ request.reference }} a expire et ne peut "
            "plus etre reglee.",
        ),
        "en": (
            "Request {{ request.reference }} has expired",
            _HELLO,
            [
                "Payment request {{ request.reference }} from {{ merchant.name }} has expired "
                "and can no longer be paid online.",
                "If you have any questions, please contact {{ merchant.name }} directly.",
            ],
            None,
            "{{ merchant.name }}: request {{ request.reference }} has expired and can no "
            "longer be paid.",
        ),
    },
}


def _text(language: str, greeting: dict, paragraphs: list[str], button) -> str:
    blocks = [greeting[language]]
    for paragraph in paragraphs:
        blocks.append(_SCHEDULE_TEXT[language] if paragraph == SCHEDULE else paragraph)
    if button is not None:
        label, variable = button
        blocks.append(f"{label}{_COLON[language]}{{{{ {variable} }}}}")
    blocks.append(_SIGN[language])
    return "\n\n".join(blocks) + "\n"


def _html(language: str, greeting: dict, paragraphs: list[str], button) -> str:
    blocks = [f"<p>{greeting[language]}</p>"]
    for paragraph in paragraphs:
        blocks.append(_SCHEDULE_HTML[language] if paragraph == SCHEDULE else f"<p>{paragraph}</p>")
    if button is not None:
        label, variable = button
        blocks.append(f'<p><a href="{{{{ {variable} }}}}" style="{_BUTTON_STYLE}">{label}</a></p>')
    blocks.append("<p>" + _SIGN[language].replace("\n", "<br>") + "</p>")
    body = "\n".join(blocks)
    return (
        f'<!doctype html>\n<html lang="{language}">\n<body style="font-family:sans-serif;'
        f'line-height:1.5;color:#212529">\n{body}\n</body>\n</html>\n'
    )


def _build() -> dict[str, dict[str, dict[str, Any]]]:
    defaults: dict[str, dict[str, dict[str, Any]]] = {}
    for stage in STAGES:
        email: dict[str, Any] = {"subject": {}, "body_text": {}, "body_html": {}}
        sms: dict[str, Any] = {"body_text": {}}
        for language, (subject, greeting, paragraphs, button, sms_text) in _WORDING[stage].items():
            email["subject"][language] = subject
            email["body_text"][language] = _text(language, greeting, paragraphs, button)
            email["body_html"][language] = _html(language, greeting, paragraphs, button)
            sms["body_text"][language] = sms_text
        defaults[stage] = {"email": email, "sms": sms}
    return defaults


# stage -> channel -> {"subject", "body_text", "body_html"} (each {"fr": str, "en": str})
DEFAULT_TEMPLATES: dict[str, dict[str, dict[str, Any]]] = _build()


def default_name(stage: str, channel: str) -> str:
    return f"{STAGE_NAMES[stage]} ({'SMS' if channel == 'sms' else 'email'})"
