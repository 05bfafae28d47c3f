"""Production settings (README, "Security"): ``manage.py check --deploy`` is clean, and HTTPS=1 turns on secure
cookies, HSTS and the SSL redirect. Run in a fresh interpreter, since settings are read from the environment
once at start-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "0",
    "HTTPS": "1",
    "SECRET_KEY": "k3v!Qz8-production-like-secret-of-sufficient-length-and-variety-7Hq2#pL9xW",
    "ALLOWED_HOSTS": "help.example.com",
}


def run(*args, env: dict) -> subprocess.CompletedProcess:
    # The browser tests' conftest sets DJANGO_ALLOW_ASYNC_UNSAFE for Playwright in this process; a
    # production process never has it (and check --deploy rightly refuses it).
    dropped = ("DEBUG", "HTTPS", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE")
    clean = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env, "DJANGO_SETTINGS_MODULE": "helpdesk.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_settings():
    result = run("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues (0 silenced)" in result.stdout


def test_check_deploy_complains_about_the_development_defaults():
    """The check would notice: without HTTPS and with the demo key it warns (so the test above can fail)."""
    result = run("check", "--deploy", "--fail-level", "WARNING", env={"DEBUG": "0"})
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout  # no HSTS
    assert "security.W009" in result.stderr + result.stdout  # the insecure key


def test_production_settings_harden_cookies_and_transport():
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, "
        "s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SESSION_COOKIE_HTTPONLY, "
        "s.X_FRAME_OPTIONS, s.SECURE_CONTENT_TYPE_NOSNIFF, 'script-src' in s.SECURE_CSP]))"
    )
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, **PRODUCTION, "DJANGO_SETTINGS_MODULE": "helpdesk.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert json.loads(out.strip().splitlines()[-1]) == [
        True,
        True,
        True,
        31536000,
        True,
        True,
        "DENY",
        True,
        True,
    ]
