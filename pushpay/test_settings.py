"""Settings for the test suite: the real settings, with development defaults.

Only defaults are set here; DATABASE_URL and the rest still come from the environment, so the
same suite runs against SQLite and PostgreSQL.
"""

import os
from pathlib import Path

os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("PUBLIC_BASE_URL", "http://testserver")
os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
# The whole suite talks from 127.0.0.1 and a test process's cache lives across tests; the rate
# limit's own tests lower it (tests/core/test_security_headers.py).
os.environ.setdefault("PUBLIC_RATE_LIMIT", "100000/min")
# The same for API keys: a test database hands out the same key ids run after run, so a
# route walker's thousand calls would count against one key across tests; the throttle's
# own tests set their limit (tests/api/test_rate_limit.py).
os.environ.setdefault("API_RATE_LIMIT", "1000000/min")
# A 429 in one test would pause the channel in Redis for the tests after it: the suite keeps
# the dispatcher's buckets in the process; the shared store's own tests build theirs with a
# prefix of their own (tests/scenarios/test_shared_rate_limits.py).
os.environ.setdefault("DISPATCH_RATE_LIMIT_STORE", "process")

from pushpay.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# WhiteNoise warns when STATIC_ROOT is missing; tests never collect static files.
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)  # noqa: F405

# Tasks run inline in tests, on commit, so a test sees their effect without a cluster.
Q_CLUSTER = {**Q_CLUSTER, "sync": True}  # noqa: F405

# The test runner turns DEBUG off, so the development key is not derived: a fixed test key
# encrypts the merchants' provider credentials (tests of rotation set their own).
if not PROVIDER_CREDENTIALS_KEYS:  # noqa: F405
    PROVIDER_CREDENTIALS_KEYS = ["dGVzdC1vbmx5LXByb3ZpZGVyLWNyZWRlbnRpYWxzLWs="]
