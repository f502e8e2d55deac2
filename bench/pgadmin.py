"""The benchmarks' one way to reach PostgreSQL's maintenance database (to create or drop the
benchmark database); they run on PostgreSQL only, never on DATABASE_URL."""

import os
import sys


def admin_connection():
    """Autocommit connection to the ``postgres`` database of the server in DATABASE_URL, and
    the benchmark database's name."""
    import environ
    import psycopg

    config = environ.Env.db_url_config(os.environ["DATABASE_URL"])
    if "postgresql" not in config["ENGINE"]:
        sys.exit("The benchmark runs on PostgreSQL: set BENCH_DATABASE_URL=postgres://…")
    admin = psycopg.connect(
        host=config["HOST"] or "127.0.0.1",
        port=config["PORT"] or 5432,
        user=config["USER"],
        password=config["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )
    return admin, config["NAME"]
