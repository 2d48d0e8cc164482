"""Settings from the environment, with safe defaults."""

import json
import os
import stat
import subprocess
import sys

READ_SETTINGS = (
    "import json, andon.settings as s; "
    "print(json.dumps({'key': s.SECRET_KEY, 'debug': s.DEBUG, 'demo': s.DEMO, 'db': str(s.DATABASES['default']['NAME']), "
    "'engine': s.DATABASES['default']['ENGINE'], 'email': s.EMAIL_BACKEND, 'hosts': s.ALLOWED_HOSTS, "
    "'secure_cookies': s.SESSION_COOKIE_SECURE, 'conn_max_age': s.DATABASES['default']['CONN_MAX_AGE'], "
    "'conn_checks': s.DATABASES['default']['CONN_HEALTH_CHECKS'], 'email_timeout': s.EMAIL_TIMEOUT}))"
)
ANDON_VARIABLES = ("SECRET_KEY", "DATABASE_URL", "ANDON_DEBUG", "ANDON_DEMO", "ALLOWED_HOSTS", "EMAIL_BACKEND", "ANDON_HTTPS",
                   "ANDON_DB_CONN_MAX_AGE", "EMAIL_TIMEOUT")


def _settings(data_dir, **extra):
    environment = {k: v for k, v in os.environ.items() if k not in ANDON_VARIABLES}
    environment.update(ANDON_DATA_DIR=str(data_dir), **extra)
    result = subprocess.run([sys.executable, "-c", READ_SETTINGS], env=environment, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def test_defaults_are_safe_and_the_secret_key_is_generated_once(tmp_path):
    first = _settings(tmp_path)
    assert first["debug"] is False and first["demo"] is False
    assert first["engine"] == "django.db.backends.sqlite3" and first["db"] == str(tmp_path / "andon.sqlite3")
    assert first["email"] == "django.core.mail.backends.console.EmailBackend"
    assert first["hosts"] == ["localhost", "127.0.0.1", "[::1]"] and first["secure_cookies"] is False
    # Connections are kept between requests (and checked before reuse); a silent mail server
    # cannot hold a request for ever.
    assert first["conn_max_age"] == 300 and first["conn_checks"] is True and first["email_timeout"] == 10
    key_file = tmp_path / "secret_key"
    assert len(first["key"]) >= 50 and key_file.read_text() == first["key"]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert _settings(tmp_path)["key"] == first["key"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".secret_key")] == []


def test_the_environment_overrides_the_defaults(tmp_path):
    chosen = _settings(tmp_path, SECRET_KEY="from-the-environment", DATABASE_URL="postgres://andon@db.example:5432/quality",
                       ANDON_DEBUG="1", ALLOWED_HOSTS="quality.example.org", ANDON_HTTPS="1",
                       ANDON_DB_CONN_MAX_AGE="0", EMAIL_TIMEOUT="3")
    assert chosen["key"] == "from-the-environment" and not (tmp_path / "secret_key").exists()
    assert chosen["engine"] == "django.db.backends.postgresql" and chosen["db"] == "quality"
    assert chosen["debug"] is True and chosen["hosts"] == ["quality.example.org"] and chosen["secure_cookies"] is True
    assert chosen["conn_max_age"] == 0 and chosen["email_timeout"] == 3
