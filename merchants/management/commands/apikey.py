"""``manage.py apikey create|list|revoke``: API keys of one merchant, for key rotation.

Rotating an integrator's key is create, hand over, revoke (docs/operations.md, "Key
rotation"); the secret is printed once and only its hash is kept.
"""

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from merchants.models import ApiKey, Merchant
from merchants.services import api_key_create, api_key_revoke


class Command(BaseCommand):
    help = "Create, list or revoke a merchant's API keys (the secret is shown once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["create", "list", "revoke"])
        parser.add_argument("--merchant", required=True, help="The merchant's id (mc_…).")
        parser.add_argument("--name", default="Default", help="create: a label for the key.")
        parser.add_argument("--live", action="store_true", help="create: a live key.")
        parser.add_argument("--prefix", help="revoke: the key's first 12 characters.")
        parser.add_argument("--json", action="store_true", help="Print JSON.")

    def handle(self, *args, action: str, merchant: str, **options) -> None:
        try:
            owner = Merchant.objects.get(public_id=merchant)
        except Merchant.DoesNotExist:
            raise CommandError(f"No merchant {merchant!r}.") from None
        if action == "create":
            self._create(owner, options)
        elif action == "list":
            self._list(owner, options)
        else:
            self._revoke(owner, options)

    def _create(self, merchant: Merchant, options: dict) -> None:
        name = options["name"].strip()
        if not name or len(name) > 100:
            raise CommandError("--name must be 1 to 100 characters.")
        created = api_key_create(
            merchant=merchant,
            name=name,
            mode=ApiKey.Mode.LIVE if options["live"] else ApiKey.Mode.TEST,
        )
        if options["json"]:
            self.stdout.write(
                json.dumps({"prefix": created.api_key.prefix, "secret": created.secret})
            )
            return
        self.stdout.write(f"New {created.api_key.mode} key {created.api_key.prefix}… ({name}):")
        self.stdout.write(created.secret)
        self.stdout.write("Shown once: only its hash is stored.")

    def _list(self, merchant: Merchant, options: dict) -> None:
        keys = [
            {
                "prefix": key.prefix,
                "name": key.name,
                "mode": key.mode,
                "created_at": key.created_at.isoformat(),
                "last_used_at": key.last_used_at.isoformat() if key.last_used_at else None,
                "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
            }
            for key in ApiKey.objects.filter(merchant=merchant).order_by("created_at", "id")
        ]
        if options["json"]:
            self.stdout.write(json.dumps(keys))
            return
        for key in keys:
            state = f"revoked {key['revoked_at']}" if key["revoked_at"] else "active"
            used = key["last_used_at"] or "never"
            self.stdout.write(
                f"{key['prefix']}…  {key['mode']:4}  {state:40}  last used {used}  {key['name']}"
            )

    def _revoke(self, merchant: Merchant, options: dict) -> None:
        prefix = (options.get("prefix") or "").strip()
        if len(prefix) < 12:
            raise CommandError("--prefix needs the key's first 12 characters (see 'list').")
        keys = list(ApiKey.objects.filter(merchant=merchant, prefix=prefix[:12]))
        if not keys:
            raise CommandError(f"No API key {prefix[:12]}… for this merchant.")
        if len(keys) > 1:
            raise CommandError(
                f"{len(keys)} keys start with {prefix[:12]}…: revoke them from the admin."
            )
        api_key_revoke(api_key=keys[0])
        self.stdout.write(f"Revoked {keys[0].prefix}… ({keys[0].name}).")
