"""Settings, read from the environment through config.env.

With no DATABASE_URL and no REDIS_URL the project runs embedded: SQLite, the in-memory channel
layer, eager Celery and an in-process ticker for the periodic sweeps, all in one process.
"""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from kombu import Queue as KombuQueue

from config.env import default_public_base_url, env_bool, env_int, env_list, env_str
from config.keys import field_encryption_keys_from_env, secret_key_from_env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

# A deployment is any setup with PostgreSQL or Redis; with neither, it is the embedded demo/laptop.
DEPLOYED = bool(env_str("DATABASE_URL") or env_str("REDIS_URL"))

# Outside the embedded setup both keys must come from the environment: a default would be public.
# Embedded, they are generated once and kept in VAR_DIR, so a laptop needs no configuration.
SECRET_KEY = secret_key_from_env(var_dir=VAR_DIR, deployed=DEPLOYED)
# Keys for secrets stored in the database (channel asset tokens), independent of SECRET_KEY.
# Comma-separated: the first encrypts, every one decrypts (rotation: put the new key first, run
# `manage.py reencrypt_secrets`, then drop the old key).
FIELD_ENCRYPTION_KEYS = field_encryption_keys_from_env(var_dir=VAR_DIR, deployed=DEPLOYED)
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver", "[::1]"])
# The absolute base of every URL we hand out: invitation links, webhook URLs shown to admins, the
# demo's printed URLs and its sandbox assets' API base URL. Defaults to where HOST/PORT serve.
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", default_public_base_url()).rstrip("/")
CSRF_TRUSTED_ORIGINS = env_list(
    "CSRF_TRUSTED_ORIGINS",
    [PUBLIC_BASE_URL, f"http://localhost:{env_int('PORT', 8000)}"],
)
# Origins a browser websocket may come from; empty means "the Host the page was served from".
WEBSOCKET_ALLOWED_ORIGINS = env_list("WEBSOCKET_ALLOWED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "channels",
    "axes",
    "csp",
    "tenants",
    "channels_app",
    "routing",
    "routing.flows",
    "care_console",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tenants.middleware.CurrentTenantMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a sign-in refused for too many failures into a 429 that says when to retry.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "csp.context_processors.nonce",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool(
        "DATABASE_POOL", True
    ):
        DATABASES["default"]["OPTIONS"] = {
            "pool": {"min_size": 1, "max_size": env_int("DATABASE_POOL_MAX", 20), "timeout": 10}
        }
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            # WAL and immediate transactions let the one-process demo write from several threads.
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }
# Concurrent test runs on one server need their own test database.
if env_str("TEST_DATABASE_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer and Celery broker ------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
EMBEDDED = not REDIS_URL
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_URL],
                "prefix": env_str("CHANNEL_LAYER_PREFIX", "asgi"),
                "capacity": 1000,
                "expiry": 60,
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_EAGER", EMBEDDED)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 300}
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "celery")
# The sweeps have a queue of their own: behind a backlog of intake work they would wait past their
# 5 s expiry and be dropped, one after the other, and no RONA, relaxation or flow wait would be
# decided until the backlog clears. A worker started without -Q consumes both queues (Redis serves
# them in turn), so a sweep waits for a free thread, not for the backlog.
CELERY_TIMERS_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}.timers"
CELERY_TASK_QUEUES = (
    KombuQueue(CELERY_TASK_DEFAULT_QUEUE, routing_key=CELERY_TASK_DEFAULT_QUEUE),
    KombuQueue(CELERY_TIMERS_QUEUE, routing_key=CELERY_TIMERS_QUEUE),
)
CELERY_TASK_ROUTES = {
    "routing.tasks.sweep_due_timers": {"queue": CELERY_TIMERS_QUEUE},
    "routing.flows.tasks.sweep_flow_timers": {"queue": CELERY_TIMERS_QUEUE},
}
# Periodic sweeps: Celery beat in production, the in-process ticker (config.ticker) embedded.
# Beat reconnects to the broker every half second (config/beat.py).
CELERY_BEAT_SCHEDULER = "config.beat:Scheduler"
CELERY_BEAT_SCHEDULE = {
    "routing-sweep-due-timers": {
        "task": "routing.tasks.sweep_due_timers",
        "schedule": timedelta(seconds=1),
        "options": {"expires": 5},  # a sweep left over from a worker outage is worth nothing
    },
    "flows-sweep-flow-timers": {
        "task": "routing.flows.tasks.sweep_flow_timers",
        "schedule": timedelta(seconds=1),
        "options": {"expires": 5},
    },
    "channels-requeue-stale-inbound-events": {
        "task": "channels_app.tasks.requeue_stale_inbound_events",
        "schedule": timedelta(seconds=30),
        "options": {"expires": 25},
    },
    "channels-requeue-stale-outbound-messages": {
        "task": "channels_app.tasks.requeue_stale_outbound_messages",
        "schedule": timedelta(seconds=15),
        "options": {"expires": 10},
    },
    "channels-requeue-pending-scans": {
        "task": "channels_app.tasks.requeue_pending_scans",
        "schedule": timedelta(seconds=60),
        "options": {"expires": 55},
    },
    "channels-poll-mailboxes": {
        "task": "channels_app.tasks.poll_mailboxes",
        "schedule": timedelta(seconds=env_int("EMAIL_POLL_SECONDS", 60)),
        "options": {"expires": 55},
    },
    "channels-close-inactive-conversations": {
        "task": "channels_app.tasks.close_inactive_conversations",
        "schedule": timedelta(seconds=60),
        "options": {"expires": 55},  # a slow pass must not pile up behind itself
    },
    "care-fold-report-rollups": {
        "task": "care_console.tasks.fold_report_rollups",
        "schedule": timedelta(minutes=5),
        "options": {"expires": 290},
    },
    "channels-purge-expired-transcripts": {
        "task": "channels_app.tasks.purge_expired_transcripts",
        "schedule": timedelta(hours=1),
        "options": {"expires": 3300},
    },
    # The desktop's template picker then rarely waits for the provider's list.
    "channels-refresh-whatsapp-templates": {
        "task": "channels_app.tasks.refresh_whatsapp_templates",
        "schedule": timedelta(minutes=15),
        "options": {"expires": 840},
    },
}
# Processed raw webhook bodies (names, numbers, whatever customers wrote) are deleted after this
# many hours; the retention job (above) applies it with each tenant's transcript retention.
RAW_EVENT_RETENTION_HOURS = env_int("RAW_EVENT_RETENTION_HOURS", 72)
# The in-process ticker runs the schedule above when there is no Celery beat.
EMBEDDED_TICKER = env_bool("EMBEDDED_TICKER", EMBEDDED)
# The fake provider API at /sandbox/provider/ (demo and local tries); never in production.
# Off unless asked for: scripts/run.sh turns it on for the embedded demo. Its pages (what was sent,
# failure injection) are for staff only.
SANDBOX_PROVIDER = env_bool("SANDBOX_PROVIDER", False)
# How long a process may reuse a channel asset (and its secrets) looked up for a webhook.
CHANNEL_ASSET_CACHE_SECONDS = env_int("CHANNEL_ASSET_CACHE_SECONDS", 10)
# Live chat's abuse limits (counted in Redis when REDIS_URL is set): per minute, messages per
# visitor and per IP, new visitors per IP, uploads per visitor and per IP; per ten minutes, new
# conversations (chats and offline messages) per visitor and per IP.
LIVECHAT_RATE_LIMITS = {
    "message_visitor": (env_int("LIVECHAT_MESSAGES_PER_VISITOR", 20), 60),
    "message_ip": (env_int("LIVECHAT_MESSAGES_PER_IP", 60), 60),
    "session_ip": (env_int("LIVECHAT_NEW_VISITORS_PER_IP", 10), 60),
    "upload_visitor": (env_int("LIVECHAT_UPLOADS_PER_VISITOR", 5), 60),
    "upload_ip": (env_int("LIVECHAT_UPLOADS_PER_IP", 20), 60),
    "conversation_visitor": (env_int("LIVECHAT_CONVERSATIONS_PER_VISITOR", 3), 600),
    "conversation_ip": (env_int("LIVECHAT_CONVERSATIONS_PER_IP", 10), 600),
}
# The largest file a visitor may attach (the chat template's own limit may be lower).
LIVECHAT_UPLOAD_MAX_BYTES = env_int("LIVECHAT_UPLOAD_MAX_BYTES", 5 * 1024 * 1024)
# Email: a sender's mails beyond this many within the window are stored but not taken in.
EMAIL_FLOOD_MAX_PER_ADDRESS = env_int("EMAIL_FLOOD_MAX_PER_ADDRESS", 20)
EMAIL_FLOOD_WINDOW_SECONDS = env_int("EMAIL_FLOOD_WINDOW_SECONDS", 600)
# How often IMAP mailboxes are polled (the email_intake command waits with IDLE instead).
EMAIL_POLL_SECONDS = env_int("EMAIL_POLL_SECONDS", 60)

# --- Auth ----------------------------------------------------------------------------------
AUTH_USER_MODEL = "tenants.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses any sign-in while the account or the client address is locked out.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env_int("PASSWORD_MIN_LENGTH", 10)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sign-in lockout (django-axes) for the login page, the admin and the API token endpoint: after
# LOGIN_FAILURE_LIMIT failures for one account, or from one client address, sign-in is refused
# for LOGIN_LOCKOUT_MINUTES.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "tenants.views.signin_locked_out"
# Every sign-in form posts the email as "username"; counted case-insensitively.
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "tenants.views.signin_username"
AXES_SENSITIVE_PARAMETERS = ["username", "password"]
# The client address is REMOTE_ADDR unless TRUSTED_PROXY_COUNT proxies put it in X-Forwarded-For
# (trusting that header without a proxy would let anyone pick their address).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
if TRUSTED_PROXY_COUNT:
    AXES_IPWARE_PROXY_COUNT = TRUSTED_PROXY_COUNT
    AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]
else:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ["REMOTE_ADDR"]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
GUARDIAN_RAISE_403 = False
ANONYMOUS_USER_NAME = None  # no guardian anonymous user row
INVITATION_VALID_DAYS = 7

# --- REST API ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "tenants.api_filters.TenantScopedFilterBackend",
        "rest_framework.filters.OrderingFilter",
        "rest_framework.filters.SearchFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {"auth-token": env_str("AUTH_TOKEN_RATE", "10/min")},
    # Throttles count per client address: REMOTE_ADDR, or X-Forwarded-For only behind our proxies.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Contact Center API",
    "DESCRIPTION": "Tenants, agents, channels, routing and flows of the contact center.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from our own static files: no CDN, which the CSP would refuse anyway.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- HTTPS, cookies and browser policies --------------------------------------------------------
# A deployment is served over HTTPS (usually by a TLS-terminating proxy in front of it): cookies
# are Secure, plain HTTP is redirected and browsers are told to stay on HTTPS (HSTS).
HTTPS = env_bool("HTTPS", DEPLOYED)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
# Load balancers probe over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# Readable by scripts on purpose: the API docs' "Try it out" sends it back as a header.
CSRF_COOKIE_HTTPONLY = False
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# The header a TLS-terminating proxy sets to say the client spoke HTTPS, e.g. X-Forwarded-Proto.
# Only set it when such a proxy strips the header from what clients send.
_proxy_ssl_header = env_str("SECURE_PROXY_SSL_HEADER")
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https") if _proxy_ssl_header else None
)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content Security Policy: scripts and styles from our own origin, or inline with the per-request
# nonce (`nonce="{{ request.csp_nonce }}"`); websockets to our own origin.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- Mail ------------------------------------------------------------------------------------
# The console backend only suits the embedded demo: a deployment must set a real one (checked by
# `manage.py check`, see tenants.checks).
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "contact-center@localhost")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)

# --- Files -----------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# Requests the server makes itself (flows' HTTP nodes, media downloads, provider API calls) go
# through config/outbound.py: public addresses only, except the hosts named here (exact host
# names or IP literals; scripts/run.sh names its own host for the demo's sandbox provider).
OUTBOUND_ALLOWED_HOSTS = env_list("OUTBOUND_ALLOWED_HOSTS", [])
# Largest answer read from any outbound request (media have their own limit per channel).
OUTBOUND_MAX_BYTES = env_int("OUTBOUND_MAX_BYTES", 2 * 1024 * 1024)
# Longest time one outbound request (redirects and body included) may take.
OUTBOUND_TIMEOUT_SECONDS = env_int("OUTBOUND_TIMEOUT_SECONDS", 30)
# Largest inbound attachment downloaded, per channel (the providers' own limits).
MEDIA_MAX_BYTES = {
    "whatsapp": env_int("MEDIA_MAX_BYTES_WHATSAPP", 100 * 1024 * 1024),
    "messenger": env_int("MEDIA_MAX_BYTES_MESSENGER", 25 * 1024 * 1024),
    "sms": env_int("MEDIA_MAX_BYTES_SMS", 5 * 1024 * 1024),
}

# Malware scanning: clamd's socket (a path, or tcp://host:port). Empty (the embedded default): no
# scanner, so attachments are marked "not scanned" and withheld. See README, "Scanning files".
CLAMD_SOCKET = env_str("CLAMD_SOCKET")
CLAMD_TIMEOUT_SECONDS = env_int("CLAMD_TIMEOUT_SECONDS", 30)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Invitation links are credentials: no log line carries one (see config.logmask).
    "filters": {"mask_secrets": {"()": "config.logmask.MaskSecretsFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["mask_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # One line per task run is noise in a web process that runs sweeps every second.
        "celery.app.trace": {"level": env_str("CELERY_TRACE_LOG_LEVEL", "WARNING")},
    },
}
