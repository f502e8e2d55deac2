"""System checks: live mode must have no path to a sandbox.

There is none by construction (``PaymentMethod`` refuses a sandbox as a live adapter and
``adapter_for`` refuses to hand one out); this check proves it at every start-up and in
``check --deploy``, so a plug-in that registers methods some other way is caught before it
can let a public test card settle a live request.
"""

from django.core.checks import Error, register


@register("payments")
def live_mode_reaches_no_sandbox(app_configs=None, **kwargs) -> list[Error]:
    from .registry import payment_methods

    errors = []
    for method in payment_methods():
        live = method.live_adapter_class
        if live is not None and getattr(live, "is_sandbox", False):
            errors.append(
                Error(
                    f"Payment method '{method.code}' serves live mode with the sandbox "
                    f"{live.__name__}: a public test card could settle a live request.",
                    hint="Register a real provider's adapter as live_adapter_class, or none.",
                    id="payments.E001",
                )
            )
    return errors
