"""``manage.py serve``: the one production command for a web machine.

It collects static files (WhiteNoise serves them from STATIC_ROOT), refuses to start while a
migration is unapplied (``--migrate`` applies them and installs the schedules: for a single
machine, or the one machine that upgrades first), prepares the shared metrics folder of the
machine's workers, then replaces itself with gunicorn configured by ``pushpay.gunicorn_conf``.
Workers (``manage.py qcluster``) are started apart, as many as wanted, on any machine.
"""

import importlib
import io
import os
import shutil
import sys
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

GUNICORN_CONF = Path(__file__).resolve().parents[2] / "gunicorn_conf.py"


def unapplied_migrations() -> list[str]:
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]


def prepare_metrics_dir() -> str:
    """An empty folder for this machine's workers to sum their request metrics in; files of
    a previous run would count its requests again."""
    path = Path(
        os.environ.get("PROMETHEUS_MULTIPROC_DIR") or settings.VAR_DIR / "prometheus-multiproc"
    )
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return str(path)


class Command(BaseCommand):
    help = "Collect static files, check migrations, then run gunicorn (production web)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--migrate",
            action="store_true",
            help="Apply migrations and install schedules first (one machine per deploy).",
        )
        parser.add_argument(
            "--no-collectstatic",
            action="store_true",
            help="Skip collectstatic (the image already holds STATIC_ROOT).",
        )

    def handle(self, *args, migrate: bool = False, no_collectstatic: bool = False, **options):
        if settings.DEBUG:
            self.stderr.write("DEBUG is on: this is not a production configuration.")
        try:
            conf = importlib.import_module("pushpay.gunicorn_conf")
            importlib.reload(conf)  # read the environment as it is now
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None

        if not no_collectstatic:
            self.stdout.write("serve: collecting static files")
            call_command("collectstatic", "--noinput", verbosity=0)
        if migrate:
            self.stdout.write("serve: applying migrations")
            call_command("migrate", "--noinput", verbosity=0)
            call_command("install_schedules", stdout=io.StringIO())
        pending = unapplied_migrations()
        if pending:
            raise CommandError(
                f"{len(pending)} migration(s) not applied ({', '.join(pending[:3])}…): run "
                "'manage.py migrate' once for this deploy, or 'manage.py serve --migrate'."
            )
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = prepare_metrics_dir()
        connection.close()
        self.stdout.write(
            f"serve: gunicorn on {', '.join(conf.bind)} with {conf.workers} worker(s) x "
            f"{conf.threads} thread(s)"
        )
        self.stdout.flush()
        argv = [sys.executable, "-m", "gunicorn", "--config", str(GUNICORN_CONF)]
        # Replaced, not wrapped: gunicorn gets the signals of the process manager.
        os.execv(sys.executable, argv)  # noqa: S606
