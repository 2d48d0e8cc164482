"""Django settings for Andon.

Every setting comes from the environment with a safe default, so that a fresh clone runs
with nothing set and production sets only what differs. See README.md, "Configuration".
"""

import os
import secrets
from datetime import date as _date
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent
env = environ.Env()

# Everything Andon writes (the database, attachments, exports, patient-level case files, the
# cache) is for its own account only: files 0600, folders 0700, whatever the umask of the shell
# or service manager that started it. The umask is per process and inherited by gunicorn's
# workers and the job worker; `andon.cli.main` sets it too for the commands without Django.
os.umask(0o077)
DATA_DIR = Path(env.str("ANDON_DATA_DIR", default="./var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)
# A data directory made by an earlier version (umask 022) is closed to other accounts; its group
# permissions, which an operator may have chosen (for a backup account), are left as they are.
_data_dir = DATA_DIR.stat()
if _data_dir.st_mode & 0o007 and _data_dir.st_uid == os.getuid():
    DATA_DIR.chmod(_data_dir.st_mode & 0o770)


def _secret_key() -> str:
    """The key from SECRET_KEY, or one generated once and kept (mode 0600) in the data dir.

    Several server processes may start at once on a fresh data dir: the key is written whole to
    a private file and linked into place, so the first to link wins and all read the same key.
    """
    if env.str("SECRET_KEY", default=""):
        return env.str("SECRET_KEY")
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        draft = DATA_DIR / f".secret_key.{os.getpid()}"
        descriptor = os.open(draft, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
        try:
            os.link(draft, key_file)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env.bool("ANDON_DEBUG", default=False)
# The demo hospital's accounts and known passwords work only while this is on.
DEMO = env.bool("ANDON_DEMO", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
HTTPS = env.bool("ANDON_HTTPS", default=False)

INSTALLED_APPS = [
    "andon.platform.admin_apps.AndonAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # andon.web first: its templates override allauth's layout and elements.
    "andon.web",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "axes",
    "auditlog",
    "rules",
    "django_htmx",
    "csp",
    "django_tasks",
    "django_tasks_db",
    "andon.platform",
    "andon.safety",
    "andon.actions",
    "andon.measures",
    "andon.compliance",
    "andon.risk",
    "andon.improvement",
    "andon.medstaff",
    "andon.voice",
    "andon.governance",
    "andon.api",
    "ninja",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "andon.platform.middleware.RejectNulMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "andon.platform.middleware.SessionLifetimeMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "andon.platform.middleware.RequireMFAMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
    # Axes last, as its documentation asks: it turns lock-outs into responses.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "andon.urls"
WSGI_APPLICATION = "andon.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "andon.web.context.shell",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'andon.sqlite3'}"),
}
# Keep each server process's connection between requests (a new PostgreSQL connection costs a
# process fork and an authentication, more than most pages); checked before reuse.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("ANDON_DB_CONN_MAX_AGE", default=300))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the worker and the web server write without "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Shared by every server process: sign-in throttling and one-time-code reuse checks rely on it.
CACHES = {
    "default": env.cache_url(
        "CACHE_URL", default=f"filecache://{DATA_DIR / 'cache'}",
    ),
}

AUTH_USER_MODEL = "platform.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "andon.platform.auth.AndonAuthBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"

# allauth: username or e-mail sign-in, no self sign-up (administrators create accounts).
ACCOUNT_ADAPTER = "andon.platform.auth.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SESSION_REMEMBER = False
# allauth would put the request's host in every e-mail subject; Andon's mail says Andon.
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Andon] "
# Per-account lock-outs are django-axes' (below, visible and resettable in the admin site);
# allauth only slows password spraying from one address (a whole ward can share one NAT).
ACCOUNT_RATE_LIMITS = {"login_failed": "30/m/ip"}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Andon"

# django-axes: lock an account and address pair after repeated failures.
AXES_FAILURE_LIMIT = env.int("ANDON_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("ANDON_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "login"
AXES_USERNAME_CALLABLE = "andon.platform.auth.axes_username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "platform/locked_out.html"
AXES_VERBOSE = False

# Sessions: an idle timeout (shared ward workstations) and an absolute lifetime.
SESSION_COOKIE_AGE = env.int("ANDON_SESSION_IDLE_MINUTES", default=30) * 60
# An active session's expiry moves on at most this often (platform.middleware): not a write
# on every request.
ANDON_SESSION_REFRESH_SECONDS = min(60, SESSION_COOKIE_AGE // 10)
SESSION_SAVE_EVERY_REQUEST = False
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_ABSOLUTE_SECONDS = env.int("ANDON_SESSION_MAX_HOURS", default=12) * 3600
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS

# Secure headers.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if HTTPS:
    SECURE_SSL_REDIRECT = env.bool("ANDON_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("ANDON_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True

# Content security policy: same-origin only, no inline script or style.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("ANDON_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns on every request when it is missing
# Django's default (0644) would override the umask for uploaded files.
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": DATA_DIR / "files"}},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
# Notifications are sent when the request's transaction commits: a mail server that does not
# answer must not hold a reporter's page for ever (Python's default is no timeout at all).
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="andon@localhost")
# The address people use to reach Andon, for links in e-mails.
ANDON_BASE_URL = env.str("ANDON_BASE_URL", default="http://127.0.0.1:8000")

# Safety events (DOMAIN.md §2-3; the deadlines are configurable because sources differ).
ANDON_RCA_START_HOURS = env.int("ANDON_RCA_START_HOURS", default=72)
ANDON_RCA_COMPLETE_DAYS = env.int("ANDON_RCA_COMPLETE_DAYS", default=45)
# The Joint Commission counts 45 business days; older manuals and the VA, calendar days.
ANDON_RCA_BUSINESS_DAYS = env.bool("ANDON_RCA_BUSINESS_DAYS", default=False)
ANDON_FEEDBACK_DAYS = env.int("ANDON_FEEDBACK_DAYS", default=14)
ANDON_ATTACHMENT_MAX_BYTES = env.int("ANDON_ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
ANDON_ATTACHMENT_TYPES = env.list("ANDON_ATTACHMENT_TYPES", default=[
    "image/jpeg", "image/png", "application/pdf", "text/plain",
])
# An XLSX file is a ZIP archive: one whose parts unpack to more than this together is refused
# before it is read (a zip bomb of a few KB can unpack to gigabytes; compliance/uploads.py).
ANDON_XLSX_MAX_UNPACKED_BYTES = env.int("ANDON_XLSX_MAX_UNPACKED_BYTES", default=50 * 1024 * 1024)
# Pages open without sign-in (the anonymous report, the receipt page) are rate-limited per
# client address and overall, per window (platform/ratelimit.py: no address is kept).
ANDON_RATE_WINDOW_SECONDS = env.int("ANDON_RATE_WINDOW_SECONDS", default=3600)
ANDON_PUBLIC_REPORTS_PER_ADDRESS = env.int("ANDON_PUBLIC_REPORTS_PER_ADDRESS", default=10)
ANDON_PUBLIC_REPORTS_OVERALL = env.int("ANDON_PUBLIC_REPORTS_OVERALL", default=200)
ANDON_RECEIPT_LOOKUPS_PER_ADDRESS = env.int("ANDON_RECEIPT_LOOKUPS_PER_ADDRESS", default=30)
ANDON_RECEIPT_LOOKUPS_OVERALL = env.int("ANDON_RECEIPT_LOOKUPS_OVERALL", default=1000)

# Measures (andon/measures): the content shipped with Andon (views, measure library), the FHIR
# store measures read, and the folders holding CMS eCQM content (libraries, measures,
# valuesets, laid out like the shared eCQM content); without them eCQM measures cannot be computed.
ANDON_CONTENT_DIR = Path(env.str("ANDON_CONTENT_DIR", default=str(BASE_DIR.parent / "content"))).resolve()
# The cases behind computed results, kept for the drill-down (patient-level: Parquet files).
ANDON_CASES_DIR = Path(env.str("ANDON_CASES_DIR", default=str(DATA_DIR / "measure-cases"))).resolve()
ANDON_FHIR_STORE = Path(env.str("ANDON_FHIR_STORE", default=str(DATA_DIR / "fhir.duckdb"))).resolve()
# The engine measures are computed on: duckdb (the store above, on this server) or spark (the
# store at ANDON_SPARK_STORE, a folder or an object-store URL, on the cluster of
# ANDON_SPARK_MASTER; docs/scale-out.md). The pages read the results either way.
ANDON_ANALYTICS_ENGINE = env.str("ANDON_ANALYTICS_ENGINE", default="duckdb")
ANDON_SPARK_STORE = env.str("ANDON_SPARK_STORE", default="")
# Where this server sees the Spark store when ANDON_SPARK_STORE is an object-store URL (a mount):
# the pages that read the clinical record read its files there with DuckDB.
ANDON_SPARK_STORE_MOUNT = env.str("ANDON_SPARK_STORE_MOUNT", default="")
# A proportion's chart is Laney's p′ when the average denominator reaches this ⚠︎ (with large
# denominators ordinary p-chart limits flag nearly every point; DOMAIN.md §7).
ANDON_LANEY_DENOMINATOR = env.int("ANDON_LANEY_DENOMINATOR", default=1000)
# Folders of CMS eCQM content; by default the content shipped with Andon (content/ecqm: the CMS
# measures content/measures uses, CC0); set to other folders (comma-separated) to replace it.
SHIPPED_ECQM_CONTENT = BASE_DIR.parent / "content" / "ecqm"
ANDON_ECQM_CONTENT = [Path(p).resolve() for p in env.list(
    "ANDON_ECQM_CONTENT", default=[str(SHIPPED_ECQM_CONTENT)] if SHIPPED_ECQM_CONTENT.is_dir() else [])]
# A Quantity whose system is http://ucum.org or https://ucum.org (real EHR data carries them) is
# an evaluation error for its patient, as published FHIRHelpers gives; true reads them as UCUM,
# each counted in the computation's warnings (docs/ecqm.md).
ANDON_ECQM_ACCEPT_UCUM_MISSPELLINGS = env.bool("ANDON_ECQM_ACCEPT_UCUM_MISSPELLINGS", default=False)
# Exports to be shared outside the quality department hide cells counting 1 to this less one
# patients or events, and the cells that would give them away by subtraction ⚠︎ (11: the CMS
# cell size suppression policy, counts 1 to 10; 0 or 1 hides nothing).
ANDON_SMALL_CELL_THRESHOLD = env.int("ANDON_SMALL_CELL_THRESHOLD", default=11)
# A practitioner's value over fewer cases than this is shown as "too few cases (n)" (DOMAIN.md §8 ⚠︎;
# an OPPE indicator may set its own).
ANDON_OPPE_MIN_CASES = env.int("ANDON_OPPE_MIN_CASES", default=10)

# Background jobs: django-tasks with the database backend, run by `andon worker`.
TASKS = {
    "default": {
        "BACKEND": env.str("ANDON_TASKS_BACKEND", default="django_tasks_db.DatabaseBackend"),
    }
}
# A running job's worker writes a heartbeat this often; a job whose worker has not been heard
# from for the lease (and is not a live process on this machine) is given up: failed, or queued
# again while it has retries left (docs/platform.md, "Background jobs").
ANDON_JOB_HEARTBEAT_SECONDS = env.float("ANDON_JOB_HEARTBEAT_SECONDS", default=10.0)
ANDON_JOB_LEASE_SECONDS = env.float("ANDON_JOB_LEASE_SECONDS", default=60.0)
ANDON_JOB_RETRIES = env.int("ANDON_JOB_RETRIES", default=0)
ANDON_SCHEDULE_TICK_SECONDS = env.float("ANDON_SCHEDULE_TICK_SECONDS", default=30.0)
# CSV imports (safety events, measure counts) of more rows than this run as background jobs (a
# request has 30 s).
ANDON_IMPORT_JOB_ROWS = env.int("ANDON_IMPORT_JOB_ROWS", default=1000)
# Compliance readiness: the share of an item's weight a "partly met" result earns (docs/compliance.md).
ANDON_COMPLIANCE_PARTLY_MET_CREDIT = env.float("ANDON_COMPLIANCE_PARTLY_MET_CREDIT", default=0.5)

# Compliance policies (docs/compliance.md): overdue read-and-sign and review notices are repeated
# at most once in this many days; owners hear of a review this many days before it is due.
ANDON_COMPLIANCE_REMINDER_DAYS = env.int("ANDON_COMPLIANCE_REMINDER_DAYS", default=7)
ANDON_COMPLIANCE_REVIEW_NOTICE_DAYS = env.int("ANDON_COMPLIANCE_REVIEW_NOTICE_DAYS", default=30)

# Risk reviews (docs/risk.md): an owner hears of a risk's review this many days before its date
# (and while it is overdue), by e-mail, at most once in this many days.
ANDON_RISK_REVIEW_NOTICE_DAYS = env.int("ANDON_RISK_REVIEW_NOTICE_DAYS", default=14)
ANDON_RISK_REMINDER_DAYS = env.int("ANDON_RISK_REMINDER_DAYS", default=7)

# Clinical audits (docs/improvement.md): closing an audit's cycle sets its re-audit due this many
# months later (DOMAIN.md §10: the audit cycle ends in a re-audit; the interval is local practice).
ANDON_RE_AUDIT_MONTHS = env.int("ANDON_RE_AUDIT_MONTHS", default=6)

# Credentials (docs/medstaff.md): the daily sweep alerts the practitioner and the medical staff
# office this many days before a credential expires (each threshold once), and on the expiry day.
ANDON_CREDENTIAL_ALERT_DAYS = [int(days) for days in env.list("ANDON_CREDENTIAL_ALERT_DAYS", default=["90", "60", "30"])]

# The patient's voice (docs/voice.md). A grievance is answered within this many calendar days of
# the day it was received, in the organisation's time zone (DOMAIN.md §8: CMS's interpretive
# guidance says about 7 days; it is surveyor guidance, so it is a setting). Survey scores from
# fewer returned surveys than the minimum carry a warning (⚠︎ local practice; CMS star ratings
# need 100 surveys over four quarters). The public complaint form and its receipt lookups are
# rate-limited per client address and overall, per window (platform/ratelimit.py).
ANDON_GRIEVANCE_DAYS = env.int("ANDON_GRIEVANCE_DAYS", default=7)
ANDON_SURVEY_MIN_COUNT = env.int("ANDON_SURVEY_MIN_COUNT", default=30)
ANDON_PUBLIC_COMPLAINTS_PER_ADDRESS = env.int("ANDON_PUBLIC_COMPLAINTS_PER_ADDRESS", default=5)
ANDON_PUBLIC_COMPLAINTS_OVERALL = env.int("ANDON_PUBLIC_COMPLAINTS_OVERALL", default=200)

# Governance (docs/governance.md). The board pack's pages per measure: these measure keys, in this
# order (empty: every measure listed on the dashboard). The pack is drafted on the fifth working
# day of the month: Monday to Friday, less these holidays (ISO dates, comma-separated).
ANDON_BOARD_KEY_MEASURES = env.list("ANDON_BOARD_KEY_MEASURES", default=[])
ANDON_HOLIDAYS = env.list("ANDON_HOLIDAYS", default=[])
for _holiday in ANDON_HOLIDAYS:  # refused at start, not on the day the pack is due
    try:
        _date.fromisoformat(_holiday)
    except ValueError:
        raise ImproperlyConfigured(f"ANDON_HOLIDAYS: {_holiday!r} is not a date written YYYY-MM-DD") from None

# Audit trail: typed JSON before/after values, secrets masked.
AUDITLOG_STORE_JSON_CHANGES = True
AUDITLOG_INCLUDE_ALL_MODELS = False
AUDITLOG_MASK_CALLABLE = "andon.platform.audit.mask_secret"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"refusals": {"()": "andon.platform.logs.RefusalsWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("ANDON_LOG_LEVEL", default="WARNING")},
    # A refused request (403) is one line naming the permission, not a traceback.
    "loggers": {"django.request": {"filters": ["refusals"]}},
}

NINJA_PAGINATION_PER_PAGE = 50
