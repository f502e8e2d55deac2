"""Settings, read only from the environment.

Every value comes from an environment variable (or ``NAME_FILE`` holding the path of a file
with the secret, for container secrets). A bad value stops the process at start-up with
ImproperlyConfigured rather than running half-configured. See .env.example and the README's
configuration table.
"""

import importlib.util
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from pushpay.i18n import LANGUAGES as SUPPORTED_LANGUAGES
from pushpay.rates import parse_rate

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.FileAwareEnv()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)

_DEV_SECRET = "dev-only-insecure-key-never-use-in-production-0123456789abcdef"
SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is false.")
if not DEBUG and SECRET_KEY == _DEV_SECRET:
    raise ImproperlyConfigured("The development SECRET_KEY cannot be used when DEBUG is false.")
# Rotation: the new key in SECRET_KEY, the previous ones here (comma-separated) until the
# sessions and links they signed have expired (docs/operations.md, "Key rotation").
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
if not DEBUG and _DEV_SECRET in SECRET_KEY_FALLBACKS:
    raise ImproperlyConfigured("The development SECRET_KEY cannot be a fallback in production.")
if SECRET_KEY in SECRET_KEY_FALLBACKS:
    raise ImproperlyConfigured("SECRET_KEY_FALLBACKS must not repeat SECRET_KEY.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
if not PUBLIC_BASE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured("PUBLIC_BASE_URL must start with http:// or https://")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_q",
    "anymail",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_prometheus",
    "simple_history",
    "pushpay",
    "merchants",
    "requests_app",
    "payments",
    "scenarios",
    "notifications",
    "smartforms",
    "audit",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "pushpay.request_id.RequestIdMiddleware",
    "pushpay.middleware.SecurityHeadersMiddleware",
    # /livez, /readyz, /healthz and /metrics, before the host check and the HTTPS redirect.
    "pushpay.health.ProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "pushpay.middleware.RejectNulCharactersMiddleware",
    "pushpay.ratelimit.PublicRateLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): whether this session passed the second factor.
    "django_otp.middleware.OTPMiddleware",
    # The audit trail's "who": the operator, or the API key once DRF has authenticated it.
    "simple_history.middleware.HistoryRequestMiddleware",
    # The operator's own language, once the user is known (after LocaleMiddleware's guess).
    "pushpay.tenancy.OperatorLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Logs out a session left idle, then keeps a half-logged-in session (password given,
    # authenticator code not yet) out of the back office (merchants/middleware.py).
    "merchants.middleware.InactivityTimeoutMiddleware",
    "merchants.middleware.TwoFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Outside axes, so a lockout page is counted with its 429.
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Last, as django-axes requires: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "pushpay.urls"
WSGI_APPLICATION = "pushpay.wsgi.application"
ASGI_APPLICATION = "pushpay.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "merchants.context_processors.current_merchant",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# The embedded default is a SQLite file shared by the web server and the q cluster, so it runs
# in WAL mode with IMMEDIATE transactions (one writer at a time, no "database is locked" on
# upgrade from read to write) and a busy timeout.
VAR_DIR.mkdir(exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'pushpay.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
elif DATABASES["default"]["ENGINE"] in (
    "django.db.backends.postgresql",
    "django.db.backends.postgresql_psycopg2",
):
    # psycopg 3. Each web thread keeps its connection CONN_MAX_AGE seconds (checked before
    # reuse when CONN_HEALTH_CHECKS), or, with DB_POOL, borrows one from a psycopg pool per
    # process (Django then needs CONN_MAX_AGE 0). Behind PgBouncer in transaction mode, set
    # DB_DISABLE_SERVER_SIDE_CURSORS.
    database = DATABASES["default"]
    database["ENGINE"] = "django.db.backends.postgresql"
    database["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=True)
    database["DISABLE_SERVER_SIDE_CURSORS"] = env.bool(
        "DB_DISABLE_SERVER_SIDE_CURSORS", default=False
    )
    if env.bool("DB_POOL", default=False):
        if importlib.util.find_spec("psycopg_pool") is None:
            raise ImproperlyConfigured("DB_POOL needs the psycopg-pool package.")
        if env.int("CONN_MAX_AGE", default=0) != 0:
            raise ImproperlyConfigured("CONN_MAX_AGE must be 0 (or unset) with DB_POOL.")
        pool = {
            "min_size": env.int("DB_POOL_MIN_SIZE", default=2),
            "max_size": env.int("DB_POOL_MAX_SIZE", default=10),
            "timeout": env.int("DB_POOL_TIMEOUT", default=10),
        }
        if not 0 <= pool["min_size"] <= pool["max_size"] or pool["max_size"] < 1:
            raise ImproperlyConfigured(
                "DB_POOL_MIN_SIZE and DB_POOL_MAX_SIZE: 0 <= min <= max, max at least 1."
            )
        if pool["timeout"] < 1:
            raise ImproperlyConfigured("DB_POOL_TIMEOUT must be at least 1 second.")
        database["CONN_MAX_AGE"] = 0
        database.setdefault("OPTIONS", {})["pool"] = pool
    else:
        database["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
        if database["CONN_MAX_AGE"] < 0:
            raise ImproperlyConfigured("CONN_MAX_AGE must be 0 or more seconds.")
else:
    raise ImproperlyConfigured("DATABASE_URL must point to SQLite or PostgreSQL.")
if env.bool("DB_POOL", default=False) and DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    raise ImproperlyConfigured("DB_POOL needs PostgreSQL.")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and queue ------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# django-q2 delivers at least once (ORM) or may lose a task (Redis): tasks only nudge the
# outbox, which is the truth (ARCHITECTURE.md guarantee 4).
Q_CLUSTER = {
    "name": "pushpay",
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": env.int("Q_TIMEOUT", default=60),
    "retry": env.int("Q_RETRY", default=120),
    "max_attempts": 3,
    "catch_up": False,
    "ack_failures": True,
    "save_limit": 1000,
}
if Q_CLUSTER["retry"] <= Q_CLUSTER["timeout"]:
    raise ImproperlyConfigured("Q_RETRY must be larger than Q_TIMEOUT.")
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Failed logins are counted per username *and* address together (django-axes): an attacker
# cannot lock every operator out, and a shared address is not locked for everyone. Unlock
# with `manage.py axes_reset_username <email>` (see docs/operations.md, "Security").
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
if AXES_FAILURE_LIMIT < 1:
    raise ImproperlyConfigured("AXES_FAILURE_LIMIT must be at least 1.")
AXES_COOLOFF_MINUTES = env.int("AXES_COOLOFF_MINUTES", default=15)
if AXES_COOLOFF_MINUTES < 1:
    raise ImproperlyConfigured("AXES_COOLOFF_MINUTES must be at least 1.")
AXES_COOLOFF_TIME = timedelta(minutes=AXES_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_CALLABLE = "pushpay.lockout.lockout_response"
AXES_RESET_ON_SUCCESS = True
# Each failure is logged (WARNING, logger "axes") with the login and the address, so a log
# watcher can act on it; passwords are never logged.
AXES_SENSITIVE_PARAMETERS: list[str] = []
AXES_CLIENT_IP_CALLABLE = "pushpay.client_ip.client_ip"
AXES_USERNAME_CALLABLE = "pushpay.client_ip.login_username"

# Two-factor login (django-otp): a TOTP authenticator and single-use recovery codes per
# operator. Wrong codes are counted per login: after TWO_FACTOR_FAILURE_LIMIT in a row the
# code step refuses every code for TWO_FACTOR_COOLOFF_MINUTES (django-otp also slows each
# device down exponentially after each failure).
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Push & Pay")
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
TWO_FACTOR_FAILURE_LIMIT = env.int("TWO_FACTOR_FAILURE_LIMIT", default=5)
if TWO_FACTOR_FAILURE_LIMIT < 1:
    raise ImproperlyConfigured("TWO_FACTOR_FAILURE_LIMIT must be at least 1.")
TWO_FACTOR_COOLOFF_MINUTES = env.int("TWO_FACTOR_COOLOFF_MINUTES", default=15)
if TWO_FACTOR_COOLOFF_MINUTES < 1:
    raise ImproperlyConfigured("TWO_FACTOR_COOLOFF_MINUTES must be at least 1.")

# A back-office session left without a request for this many minutes is logged out
# (merchants.middleware.InactivityTimeoutMiddleware). The last activity is written at most
# once a minute; the cookie and the session row outlive the timeout by an hour, so that the
# middleware, not a vanished cookie, decides, and can say why the operator was logged out.
SESSION_INACTIVITY_TIMEOUT = env.int("SESSION_INACTIVITY_TIMEOUT", default=30)
if not 1 <= SESSION_INACTIVITY_TIMEOUT <= 60 * 24 * 14:
    raise ImproperlyConfigured("SESSION_INACTIVITY_TIMEOUT must be between 1 and 20160 minutes.")
SESSION_ACTIVITY_WRITE_SECONDS = 60
SESSION_COOKIE_AGE = SESSION_INACTIVITY_TIMEOUT * 60 + 3600
SESSION_COOKIE_HTTPONLY = True

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "backoffice:request_list"
LOGOUT_REDIRECT_URL = "login"

# --- I18n -----------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = SUPPORTED_LANGUAGES  # the languages payers are spoken to, one list (pushpay/i18n.py)
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(VAR_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Email and SMS --------------------------------------------------------------------------
# Any django-anymail ESP backend works unchanged, e.g. EMAIL_BACKEND=
# anymail.backends.mailgun.EmailBackend with ANYMAIL='{"MAILGUN_API_KEY": "..."}'.
# The embedded default keeps every email in the local outbox, shown in the back office and
# at GET /api/v1/outbox.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="notifications.outbox_backend.OutboxEmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Push & Pay <no-reply@localhost>")
ANYMAIL = env.json("ANYMAIL", default={})
SMS_BACKEND = env.str("SMS_BACKEND", default="outbox")
if SMS_BACKEND not in ("outbox", "twilio"):
    raise ImproperlyConfigured("SMS_BACKEND must be 'outbox' or 'twilio'.")
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
TWILIO_API_BASE_URL = env.str("TWILIO_API_BASE_URL", default="")  # tests point it at a stub

# Payment providers. Each merchant's own credentials (Stripe secret key, webhook signing secret)
# are stored encrypted with these Fernet keys: comma-separated, the first one encrypts and
# every one decrypts, so a new key is put first and ``manage.py rotate_provider_credentials``
# re-encrypts. Required when DEBUG is false (system check payments.E002); in development a
# key derived from SECRET_KEY is used when none is given.
PROVIDER_CREDENTIALS_KEYS = env.list("PROVIDER_CREDENTIALS_KEYS", default=[])
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="").rstrip("/")  # tests: a stub
STRIPE_TIMEOUT_SECONDS = env.float("STRIPE_TIMEOUT_SECONDS", default=20.0)
# Where Stripe Checkout pages live: the payer's browser is sent there after posting the pay
# form, so the Content-Security-Policy's form-action must allow it.
STRIPE_CHECKOUT_ORIGINS = env.list(
    "STRIPE_CHECKOUT_ORIGINS", default=["https://checkout.stripe.com"]
)
# PayPal's REST API (Orders v2): live credentials go to PAYPAL_API_BASE, a merchant's own
# PayPal sandbox app (entered in test mode) to PAYPAL_SANDBOX_API_BASE; tests point both at a stub.
PAYPAL_API_BASE = env.str("PAYPAL_API_BASE", default="https://api-m.paypal.com").rstrip("/")
PAYPAL_SANDBOX_API_BASE = env.str(
    "PAYPAL_SANDBOX_API_BASE", default="https://api-m.sandbox.paypal.com"
).rstrip("/")
PAYPAL_TIMEOUT_SECONDS = env.float("PAYPAL_TIMEOUT_SECONDS", default=20.0)
# Where PayPal's approval pages live (the pay form's redirect goes there; see form-action).
PAYPAL_CHECKOUT_ORIGINS = env.list(
    "PAYPAL_CHECKOUT_ORIGINS",
    default=["https://www.paypal.com", "https://www.sandbox.paypal.com"],
)
if SMS_BACKEND == "twilio" and not (
    TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER
):
    raise ImproperlyConfigured(
        "SMS_BACKEND=twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER."
    )
# Test mode (test keys, the back office's test toggle) keeps its email and SMS in the local
# outbox whatever the backends above say, so a sandbox request never reaches a real inbox or
# phone; set this to send test-mode messages through the configured providers too.
TEST_MODE_REAL_CHANNELS = env.bool("TEST_MODE_REAL_CHANNELS", default=False)

# --- Scenarios and webhooks -----------------------------------------------------------------
# A claimed notification is re-offered to other workers when its lease ends (worker killed).
SCENARIOS_LEASE_SECONDS = env.int("SCENARIOS_LEASE_SECONDS", default=300)
if SCENARIOS_LEASE_SECONDS < 30:
    raise ImproperlyConfigured("SCENARIOS_LEASE_SECONDS must be at least 30.")
SCENARIOS_ENQUEUE_ON_COMMIT = env.bool("SCENARIOS_ENQUEUE_ON_COMMIT", default=True)
# Sends in flight at once per dispatcher process (a thread pool; 1 sends one at a time). 64 per
# process lets two q workers per machine keep over 100 messages in flight each: a provider
# answering in 100 ms then takes over 1,000 a second per machine.
DISPATCH_CONCURRENCY = env.int("DISPATCH_CONCURRENCY", default=128)
if not 1 <= DISPATCH_CONCURRENCY <= 512:
    raise ImproperlyConfigured("DISPATCH_CONCURRENCY must be between 1 and 512.")
# Messages per second, by channel and by merchant and channel (0: no limit), per provider
# account when the buckets are shared through Redis, else per process. The
# email default is an ESP's documented transactional send limit (1,000 requests/s), the SMS
# one Twilio's default REST API concurrency of 100 requests per account; a merchant gets a
# quarter so one campaign leaves room for everyone else's receipts.
DISPATCH_RATE_LIMITS = env.dict(
    "DISPATCH_RATE_LIMITS", cast={"value": float}, default={"email": 1000.0, "sms": 100.0}
)
DISPATCH_MERCHANT_RATE_LIMITS = env.dict(
    "DISPATCH_MERCHANT_RATE_LIMITS", cast={"value": float}, default={"email": 250.0, "sms": 25.0}
)
if any(r < 0 for r in (*DISPATCH_RATE_LIMITS.values(), *DISPATCH_MERCHANT_RATE_LIMITS.values())):
    raise ImproperlyConfigured("DISPATCH_RATE_LIMITS values are messages per second, >= 0.")
# Where the buckets live: "redis" shares them between every dispatcher process on every
# machine (the limits above are then per provider account); "process" gives each process its
# own (divide the limits by the number of processes).
DISPATCH_RATE_LIMIT_STORE = env.str(
    "DISPATCH_RATE_LIMIT_STORE", default="redis" if REDIS_URL else "process"
)
if DISPATCH_RATE_LIMIT_STORE not in ("redis", "process"):
    raise ImproperlyConfigured('DISPATCH_RATE_LIMIT_STORE must be "redis" or "process".')
if DISPATCH_RATE_LIMIT_STORE == "redis" and not REDIS_URL:
    raise ImproperlyConfigured('DISPATCH_RATE_LIMIT_STORE="redis" needs REDIS_URL.')
# A provider answering 429 (too many requests) pauses its channel this long (or its
# Retry-After), and the message goes back to planned for then, not counted as an attempt.
DISPATCH_RATE_LIMITED_BACKOFF_SECONDS = env.int("DISPATCH_RATE_LIMITED_BACKOFF_SECONDS", default=30)
# A send that would wait longer than this for its rate limit goes back to planned instead.
DISPATCH_RATE_MAX_WAIT_SECONDS = env.float("DISPATCH_RATE_MAX_WAIT_SECONDS", default=2.0)
# Only for tests and local development: lets webhooks reach private and loopback addresses.
WEBHOOK_ALLOW_PRIVATE_TARGETS = env.bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", default=False)
if WEBHOOK_ALLOW_PRIVATE_TARGETS and not DEBUG:
    raise ImproperlyConfigured("WEBHOOK_ALLOW_PRIVATE_TARGETS is for development only.")
# Waits (seconds) between the attempts of one webhook, for subscribed endpoints and scenario
# webhook steps alike: nine attempts over about three days by default. Tests shorten it.
WEBHOOK_RETRY_SCHEDULE = tuple(
    env.list(
        "WEBHOOK_RETRY_SCHEDULE",
        cast=int,
        default=[60, 300, 1800, 7200, 21600, 43200, 86400, 86400],
    )
)
if not WEBHOOK_RETRY_SCHEDULE or any(wait < 0 for wait in WEBHOOK_RETRY_SCHEDULE):
    raise ImproperlyConfigured("WEBHOOK_RETRY_SCHEDULE is a comma-separated list of seconds >= 0.")
# After a secret rotation the previous secret keeps signing (both signatures in one header)
# this long, so a receiver can switch without dropping a message.
WEBHOOK_SECRET_OVERLAP_HOURS = env.int("WEBHOOK_SECRET_OVERLAP_HOURS", default=24)
if not 0 <= WEBHOOK_SECRET_OVERLAP_HOURS <= 24 * 7:
    raise ImproperlyConfigured("WEBHOOK_SECRET_OVERLAP_HOURS must be between 0 and 168.")
# An endpoint whose deliveries have failed without a single success for this long is
# disabled and the merchant's contact emailed.
WEBHOOK_DISABLE_AFTER_DAYS = env.int("WEBHOOK_DISABLE_AFTER_DAYS", default=5)
if WEBHOOK_DISABLE_AFTER_DAYS < 1:
    raise ImproperlyConfigured("WEBHOOK_DISABLE_AFTER_DAYS must be at least 1.")

# The installment_due event (and the scenario messages it feeds) comes this many days before
# each merchant-initiated installment charge; 0 sends none.
INSTALLMENT_DUE_NOTICE_DAYS = env.int("INSTALLMENT_DUE_NOTICE_DAYS", default=3)
if not 0 <= INSTALLMENT_DUE_NOTICE_DAYS <= 30:
    raise ImproperlyConfigured("INSTALLMENT_DUE_NOTICE_DAYS must be between 0 and 30.")

# --- API ------------------------------------------------------------------------------------
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24)
if IDEMPOTENCY_KEY_TTL_HOURS < 24:
    raise ImproperlyConfigured("IDEMPOTENCY_KEY_TTL_HOURS must be at least 24.")
# Events stay readable in the events API this long; integrators are promised at least 30 days.
EVENTS_RETENTION_DAYS = env.int("EVENTS_RETENTION_DAYS", default=90)
if EVENTS_RETENTION_DAYS < 30:
    raise ImproperlyConfigured("EVENTS_RETENTION_DAYS must be at least 30.")
# Finished CSV import and export jobs (their uploaded rows and written file live in the row)
# are deleted this long after they last changed; jobs still running are never deleted.
CSV_JOB_RETENTION_DAYS = env.int("CSV_JOB_RETENTION_DAYS", default=7)
if CSV_JOB_RETENTION_DAYS < 1:
    raise ImproperlyConfigured("CSV_JOB_RETENTION_DAYS must be at least 1.")
# The audit trail (who changed what) is kept this long, then purged daily: two years unless
# told otherwise, never less than one (docs/operations.md, "Audit trail").
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=730)
if AUDIT_RETENTION_DAYS < 365:
    raise ImproperlyConfigured("AUDIT_RETENTION_DAYS must be at least 365.")
API_RATE_LIMIT = env.str("API_RATE_LIMIT", default="1200/min")
# Per client address, on the sandbox tokeniser and the payer-link pages together; high enough
# for a few dozen payers behind one office NAT (each payment is about five requests).
PUBLIC_RATE_LIMIT = env.str("PUBLIC_RATE_LIMIT", default="300/min")
try:
    parse_rate(PUBLIC_RATE_LIMIT)
except ValueError as exc:
    raise ImproperlyConfigured(f"PUBLIC_RATE_LIMIT: {exc}.") from None
# Per payer link, on its balance lookups ("Use my balance"): each one tells whether an account
# number exists, so a link may not be used to probe numbers in bulk.
PAYER_BALANCE_RATE_LIMIT = env.str("PAYER_BALANCE_RATE_LIMIT", default="10/min")
try:
    parse_rate(PAYER_BALANCE_RATE_LIMIT)
except ValueError as exc:
    raise ImproperlyConfigured(f"PAYER_BALANCE_RATE_LIMIT: {exc}.") from None

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["merchants.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["merchants.authentication.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": API_RATE_LIMIT},
    "DEFAULT_PARSER_CLASSES": ["pushpay.api.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "pushpay.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "pushpay.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Push & Pay API",
    "DESCRIPTION": (
        "Payment requests driven by notification scenarios. Amounts are integers in minor "
        "units of the request's ISO 4217 currency. Every POST accepts an Idempotency-Key."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "APPEND_COMPONENTS": {
        "securitySchemes": {"ApiKey": {"type": "http", "scheme": "bearer"}},
    },
    "SECURITY": [{"ApiKey": []}],
    "ENUM_NAME_OVERRIDES": {
        "LanguageEnum": "pushpay.i18n.LANGUAGES",
        "WebhookDeliveryStatusEnum": "notifications.api.webhook_serializers.DELIVERY_STATUSES",
        "DisputeReasonEnum": "payments.dispute_models.Dispute.Reason",
        "DisputeStatusEnum": "payments.dispute_models.Dispute.Status",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "pushpay.api.schema.add_error_responses",
    ],
}

# --- Production hardening -------------------------------------------------------------------
# Behind a TLS proxy, its X-Forwarded-Proto and X-Forwarded-For are believed; never otherwise
# (anyone can send them). The client address feeds the login lockout and the rate limits.
BEHIND_TLS_PROXY = env.bool("BEHIND_TLS_PROXY", default=False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_TLS_PROXY else None
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Logs -----------------------------------------------------------------------------------
# json: one JSON object per line (time, level, logger, message, request_id, merchant, ...),
# for a log shipper; text: for a terminal. Every request writes one access line
# (logger pushpay.access) naming its route pattern, never its path.
LOG_FORMAT = env.str("LOG_FORMAT", default="text" if DEBUG else "json")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured("LOG_FORMAT must be 'json' or 'text'.")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
if LOG_LEVEL not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
    raise ImproperlyConfigured("LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL.")
ACCESS_LOG = env.bool("ACCESS_LOG", default=True)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "pushpay.logs.ContextFilter"}},
    "formatters": {
        "json": {"()": "pushpay.logs.JsonFormatter"},
        "text": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id_or_dash)s] %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["context"],
            "formatter": LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own console handler would print its lines a second time in DEBUG.
        "django": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        # runserver's per-request lines repeat pushpay.access (and show payer-link paths).
        "django.server": {"handlers": [], "level": "WARNING", "propagate": True},
        # One "AXES: BEGIN" line per process start says nothing; its warnings still show.
        "axes.apps": {"level": "WARNING"},
    },
}

# --- Metrics --------------------------------------------------------------------------------
# /metrics answers only with "Authorization: Bearer <METRICS_TOKEN>" (a 404 without a token
# unless DEBUG). Counters read from the database count rows this many seconds old.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
if METRICS_TOKEN and len(METRICS_TOKEN) < 32:
    raise ImproperlyConfigured("METRICS_TOKEN must be at least 32 characters.")
METRICS_SETTLE_SECONDS = env.int("METRICS_SETTLE_SECONDS", default=60)
if METRICS_SETTLE_SECONDS < 0:
    raise ImproperlyConfigured("METRICS_SETTLE_SECONDS must be 0 or more.")
PROMETHEUS_EXPORT_MIGRATIONS = False
