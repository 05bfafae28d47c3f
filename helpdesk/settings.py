"""One settings module, configured from the environment.

DATABASE_URL defaults to a SQLite file in the project folder so a new user needs nothing else;
PostgreSQL (``postgres://…``) is the production database and CI's.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


DEBUG = env_bool("DEBUG", False)
# The fallback key is for the local demo only; production sets SECRET_KEY (see README).
SECRET_KEY = os.environ.get("SECRET_KEY", "django-insecure-local-demo-key-set-SECRET_KEY-in-production")
ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_filters",
    "django_tables2",
    "django_q",
    "anymail",
    "axes",
    "helpdesk",
    "tickets",
    "channels_intake",
    "reporting",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "helpdesk.audit_middleware.AuditRequestMiddleware",  # the audit trail's request path and client address
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "tickets.middleware.LastSeenMiddleware",  # presence by session timeout: last seen, once a minute at most
    "helpdesk.security.DenialLogMiddleware",  # every 403 to the helpdesk.security log
    "axes.middleware.AxesMiddleware",  # log-in throttling: a locked-out log-in gets the lockout page (429)
]

ROOT_URLCONF = "helpdesk.urls"
WSGI_APPLICATION = "helpdesk.wsgi.application"

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
                "django.template.context_processors.csp",
                "helpdesk.context_processors.helpdesk",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'helpdesk.sqlite3'}"),
        # Persistent connections: a new connection per request costs ~4x throughput (TOOLING.md).
        conn_max_age=env_int("CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A real file, also under test, so forked django-q2 workers see the same database.
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get("TEST_SQLITE_NAME", str(BASE_DIR / "test_helpdesk.sqlite3"))
    }
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "/media-not-served/"  # attachments are served only through an access-checked view
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))

# Log-in throttling (django-axes): after HELPDESK_LOGIN_FAILURE_LIMIT wrong passwords for one username from
# one client address, that pair is locked out for HELPDESK_LOGIN_COOLOFF_MINUTES (the log-in page says so,
# 429). Counted in the database, so every web process shares the count; a success resets it.
# `manage.py axes_reset_username NAME` unlocks early.
AUTHENTICATION_BACKENDS = [
    "helpdesk.security.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("HELPDESK_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("HELPDESK_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]  # a guesser cannot lock an agent out everywhere
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "helpdesk.security.locked_out"
AXES_CLIENT_IP_CALLABLE = "helpdesk.security.axes_client_ip"  # the same client address as /support/
AXES_VERBOSE = False
CSRF_FAILURE_VIEW = "helpdesk.security.csrf_failure"

LOGIN_URL = "desk:login"
LOGIN_REDIRECT_URL = "desk:home"
LOGOUT_REDIRECT_URL = "desk:login"

# Django 6's built-in Content-Security-Policy: no inline scripts or styles anywhere.
from django.utils.csp import CSP  # noqa: E402

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "frame-ancestors": [CSP.NONE],
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
if not DEBUG and env_bool("HTTPS", False):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # Allows submitting the domain to the browsers' HSTS preload list (check --deploy asks for it).
    SECURE_HSTS_PRELOAD = env_bool("HSTS_PRELOAD", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# django-q2: the ORM broker by default (no extra service); REDIS_URL switches to Redis.
Q_CLUSTER = {
    "name": "helpdesk",
    "workers": env_int("Q_WORKERS", 2),
    "timeout": 60,
    "retry": 120,
    "max_attempts": 5,
    "queue_limit": 50,
    "bulk": 10,
    "orm": "default",
    "catch_up": False,
}
if os.environ.get("REDIS_URL"):
    Q_CLUSTER.pop("orm")
    Q_CLUSTER["redis"] = os.environ["REDIS_URL"]

# The help desk's own knobs (DOMAIN.md). Environment variables override the defaults.
HELPDESK = {
    # A closed ticket is reopened by a follow-up within this window; after it, a new linked ticket. The default
    # for teams without a reopen policy of their own (Team.reopen_policy).
    "REOPEN_WINDOW_HOURS": env_int("HELPDESK_REOPEN_WINDOW_HOURS", 72),
    # Rule 3: a message naming nothing joins the customer's only open ticket if updated this recently.
    "RECENT_TICKET_WINDOW_HOURS": env_int("HELPDESK_RECENT_TICKET_WINDOW_HOURS", 48),
    # A resolved ticket with no customer answer for this long closes by itself (0 turns auto-close off).
    "AUTO_CLOSE_HOURS": env_int("HELPDESK_AUTO_CLOSE_HOURS", 72),
    # Phone numbers without a country code are read in this region (E.164 normalisation).
    "DEFAULT_PHONE_REGION": os.environ.get("HELPDESK_DEFAULT_PHONE_REGION", "GB"),
    # The team a ticket starts in when no routing rule names one.
    "DEFAULT_TEAM_SLUG": os.environ.get("HELPDESK_DEFAULT_TEAM", "front-office"),
    # An online or away agent with no request for this long goes offline (their teams' offline policies
    # apply); 0 turns the timeout off.
    "PRESENCE_TIMEOUT_MINUTES": env_int("HELPDESK_PRESENCE_TIMEOUT_MINUTES", 15),
    # The django-q2 task that delivers a queued outbound message (lives in channels_intake).
    "OUTBOX_TASK": "channels_intake.tasks.deliver_message",
    # At most this many automatic acknowledgements to one address per hour (auto-reply loops).
    "ACK_LIMIT_PER_HOUR": env_int("HELPDESK_ACK_LIMIT_PER_HOUR", 3),
    "MAX_MESSAGE_CHARS": env_int("HELPDESK_MAX_MESSAGE_CHARS", 200_000),
    # A webhook body larger than this is refused with 413 (e-mail with attachments is the big one).
    "MAX_WEBHOOK_BYTES": env_int("HELPDESK_MAX_WEBHOOK_BYTES", 25 * 1024 * 1024),
    # Per-sender limit on intake (channels_intake.sender_limits): a sender (channel + address) sending more than
    # this ("count/period", django-ratelimit's notation) has its further messages stored and answered 200 but held,
    # not processed, until its window has passed. Empty or "0" turns it off.
    "INTAKE_SENDER_LIMIT": os.environ.get("HELPDESK_INTAKE_SENDER_LIMIT", "30/10m"),
    # /healthz (helpdesk/health.py): a schedule due this long ago means no django-q2 cluster is running its
    # scheduler; an inbound event still unprocessed after this long means intake is behind.
    "HEALTHZ_CLUSTER_STALE_MINUTES": env_int("HELPDESK_HEALTHZ_CLUSTER_STALE_MINUTES", 5),
    "HEALTHZ_BACKLOG_MINUTES": env_int("HELPDESK_HEALTHZ_BACKLOG_MINUTES", 10),
    # The customer-facing pages (/support/): rate limits ("count/period", per client IP and per e-mail address,
    # django-ratelimit's notation: 5/10m is five per ten minutes), attachments, the chat's polling interval.
    "SUPPORT_CONTACT_RATE": os.environ.get("HELPDESK_SUPPORT_CONTACT_RATE", "5/10m"),
    "SUPPORT_CHAT_START_RATE": os.environ.get("HELPDESK_SUPPORT_CHAT_START_RATE", "5/10m"),
    "SUPPORT_CHAT_RATE": os.environ.get("HELPDESK_SUPPORT_CHAT_RATE", "30/m"),
    "SUPPORT_MAX_ATTACHMENTS": env_int("HELPDESK_SUPPORT_MAX_ATTACHMENTS", 3),
    "SUPPORT_MAX_ATTACHMENT_BYTES": env_int("HELPDESK_SUPPORT_MAX_ATTACHMENT_BYTES", 5 * 1024 * 1024),
    # Checked against the file's content (its magic bytes), not the name or the browser's word.
    "SUPPORT_ATTACHMENT_TYPES": (
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
        "text/plain",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
    ),
    "SUPPORT_CHAT_POLL_SECONDS": env_int("HELPDESK_SUPPORT_CHAT_POLL_SECONDS", 3),
    # Reverse proxies in front of the app that append to X-Forwarded-For (0: the client is REMOTE_ADDR).
    # Rate limits count per client address, so behind a proxy this must be set or everyone shares one limit.
    "TRUSTED_PROXY_HOPS": env_int("HELPDESK_TRUSTED_PROXY_HOPS", 0),
    # Closure, verification and surveys (README). The address customers reach this site at: the signed links
    # in notices (status page, "is it fixed?", the CSAT survey) start with it.
    "PUBLIC_URL": os.environ.get("HELPDESK_PUBLIC_URL", "http://localhost:8000"),
    # The CSAT survey goes out this long after closure (minutes; a fraction is fine); its link works once, for
    # CSAT_LINK_DAYS. The verification link works for VERIFY_LINK_DAYS, the status-page link for STATUS_LINK_DAYS.
    "CSAT_DELAY_MINUTES": float(os.environ.get("HELPDESK_CSAT_DELAY_MINUTES") or 30),
    "CSAT_LINK_DAYS": env_int("HELPDESK_CSAT_LINK_DAYS", 7),
    "VERIFY_LINK_DAYS": env_int("HELPDESK_VERIFY_LINK_DAYS", 14),
    "STATUS_LINK_DAYS": env_int("HELPDESK_STATUS_LINK_DAYS", 180),
    # Replies that answer "is it fixed?" on messaging channels (the whole reply, any case). Admin rows
    # (Verification keywords) replace these defaults when there are any.
    "VERIFICATION_KEYWORDS": {
        "fixed": ["1", "fixed", "yes", "y", "solved", "resolved", "it's fixed", "it is fixed"],
        "not_fixed": ["2", "not fixed", "no", "n", "not solved", "still broken", "it's not fixed"],
    },
    # Requests per client address to the pages behind those links (/support/status, verify, survey).
    "SUPPORT_LINK_RATE": os.environ.get("HELPDESK_SUPPORT_LINK_RATE", "30/10m"),
}

# The cache holds the rate-limit counters of the /support/ pages. Redis when REDIS_URL is set; otherwise each
# process counts on its own (LocMemCache), so with several web processes a limit is per process: production
# with more than one process sets REDIS_URL. django_ratelimit is deliberately not an installed app: its
# system check refuses LocMemCache outright, which would stop the single-process demo.
if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "helpdesk"}}

# LOG_FORMAT=json writes one JSON object per line (python-json-logger: time, level, logger, message and any
# ``extra`` fields) for a log shipper; text (the default) is for people.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text").strip().lower()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s %(process)d",
            "datefmt": "%Y-%m-%dT%H:%M:%S%z",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "timestamp": False,
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # django-q logs every enqueue at INFO: one line per ticket change is noise, not news.
        "django-q": {"level": os.environ.get("Q_LOG_LEVEL", "WARNING")},
        # django-axes logs every successful log-in at INFO; failures and lockouts are WARNINGs.
        "axes": {"level": "WARNING"},
    },
}

# Webhook bodies up to the intake limit are read into memory; the limit itself answers 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = HELPDESK["MAX_WEBHOOK_BYTES"] + 1024 * 1024

# Channel secrets (README, "Channels"). An unset secret refuses every request on that webhook.
INTAKE_TOKEN = os.environ.get("INTAKE_TOKEN", "")  # raw e-mail pipe and the CTI/PBX call-event webhook
WHATSAPP_VERIFY_TOKEN = os.environ.get("WHATSAPP_VERIFY_TOKEN", "")
WHATSAPP_APP_SECRET = os.environ.get("WHATSAPP_APP_SECRET", "")
META_VERIFY_TOKEN = os.environ.get("META_VERIFY_TOKEN", "")
META_APP_SECRET = os.environ.get("META_APP_SECRET", "")
TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
# Outbound senders (channels_intake/outbound/): provider base URLs are settings so tests and proxies can move them.
WHATSAPP_API_BASE = os.environ.get("WHATSAPP_API_BASE", "https://graph.facebook.com/v21.0")
WHATSAPP_PHONE_NUMBER_ID = os.environ.get("WHATSAPP_PHONE_NUMBER_ID", "")
WHATSAPP_ACCESS_TOKEN = os.environ.get("WHATSAPP_ACCESS_TOKEN", "")
TWILIO_API_BASE = os.environ.get("TWILIO_API_BASE", "https://api.twilio.com")
TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID", "")
TWILIO_FROM_NUMBER = os.environ.get("TWILIO_FROM_NUMBER", "")
META_API_BASE = os.environ.get("META_API_BASE", "https://graph.facebook.com/v21.0")
META_PAGE_ACCESS_TOKEN = os.environ.get("META_PAGE_ACCESS_TOKEN", "")
HELPDESK_FROM_EMAIL = os.environ.get("HELPDESK_FROM_EMAIL", "support@helpdesk.localhost")
DEFAULT_FROM_EMAIL = HELPDESK_FROM_EMAIL

# django-anymail: inbound e-mail from ESPs at /anymail/<esp>/inbound/ (Mailgun, SendGrid, Postmark, …) and,
# with EMAIL_BACKEND set to an anymail backend, outbound. WEBHOOK_SECRET is "user:password" basic auth that
# the ESP is configured to send; ESPs that sign (Mailgun, Postmark…) are also verified with their keys.
ANYMAIL = {
    "WEBHOOK_SECRET": os.environ.get("ANYMAIL_WEBHOOK_SECRET", ""),
    "MAILGUN_WEBHOOK_SIGNING_KEY": os.environ.get("MAILGUN_WEBHOOK_SIGNING_KEY", ""),
    "MAILGUN_API_KEY": os.environ.get("MAILGUN_API_KEY", ""),
    "SENDGRID_API_KEY": os.environ.get("SENDGRID_API_KEY", ""),
    "POSTMARK_SERVER_TOKEN": os.environ.get("POSTMARK_SERVER_TOKEN", ""),
}
# Outbound mail through Django 6.1's MAILERS: SMTP by default (EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER,
# EMAIL_HOST_PASSWORD, EMAIL_USE_TLS), or any backend, e.g. EMAIL_BACKEND=anymail.backends.mailgun.EmailBackend.
_smtp = {
    "host": os.environ.get("EMAIL_HOST", "localhost"),
    "port": env_int("EMAIL_PORT", 25),
    "username": os.environ.get("EMAIL_HOST_USER", ""),
    "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
    "use_tls": env_bool("EMAIL_USE_TLS", False),
    "timeout": 20,
}
_backend = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
MAILERS = {
    "default": {"BACKEND": _backend, "OPTIONS": _smtp if _backend.endswith("smtp.EmailBackend") else {}}
}
