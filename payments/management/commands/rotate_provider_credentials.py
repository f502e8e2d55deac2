"""Re-encrypt every stored provider credential with the newest PROVIDER_CREDENTIALS_KEYS key.

Run after putting a new key first in the list (old keys still after it); once it has run,
the old keys can be removed from the environment."""

from django.core.management.base import BaseCommand, CommandError

from payments.credentials import InvalidToken
from payments.services.credentials import provider_credentials_rotate


class Command(BaseCommand):
    help = "Re-encrypt merchants' payment-provider credentials with the newest key."

    def handle(self, *args, **options) -> None:
        try:
            rotated = provider_credentials_rotate()
        except InvalidToken:
            raise CommandError(
                "A stored credential opens with none of PROVIDER_CREDENTIALS_KEYS: put back "
                "the key it was encrypted with (after the new one) and run again."
            ) from None
        self.stdout.write(f"Re-encrypted {rotated} provider credential(s) with the newest key.")
