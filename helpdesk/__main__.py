"""The two commands a new user needs, with nothing but a Python 3 on the machine:

    python3 -m helpdesk serve   # venv, install, migrate, demo data, django-q2 cluster + web server
    python3 -m helpdesk test    # venv, install with test tools, the whole test suite (args go to pytest)

Standard library only: it runs on any Python 3, finds a Python 3.12+ (Django 6 needs it) and builds
``.venv`` with that one.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("HELPDESK_VENV", ROOT / ".venv"))
MINIMUM = (3, 12)


def log(text: str) -> None:
    print(f"==> {text}", flush=True)


def version_of(python: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        major, minor = out.split()
        return int(major), int(minor)
    except (OSError, subprocess.CalledProcessError, ValueError):
        return None


def find_python() -> str:
    if sys.version_info[:2] >= MINIMUM:
        return sys.executable
    for name in ("python3.14", "python3.13", "python3.12", "python3", "python"):
        path = shutil.which(name)
        if path and (v := version_of(path)) and v >= MINIMUM:
            return path
    # pyenv installs that are present but not selected.
    for candidate in sorted(Path.home().glob(".pyenv/versions/3.1[2-9]*/bin/python3"), reverse=True):
        if (v := version_of(str(candidate))) and v >= MINIMUM:
            return str(candidate)
    sys.exit(
        f"This help desk runs on Django 6, which needs Python {MINIMUM[0]}.{MINIMUM[1]} or newer; "
        f"this machine offers only Python {sys.version_info[0]}.{sys.version_info[1]}.\n"
        "Install one (e.g. `pyenv install 3.13`, or your system's python3.13 package) and run this again."
    )


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_env(extra: str = "") -> Path:
    python = venv_python()
    if python.exists() and (version_of(str(python)) or (0, 0)) < MINIMUM:
        log(f"{VENV} has an old Python; rebuilding it")
        shutil.rmtree(VENV)
    if not python.exists():
        base = find_python()
        log(f"creating {VENV} with {base}")
        subprocess.run([base, "-m", "venv", str(VENV)], check=True)
    target = f".[{extra}]" if extra else "."
    log(f"installing the project and its dependencies ({target})")
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", target],
        cwd=ROOT,
        check=True,
    )
    return python


def manage(python: Path, *args: str, env=None) -> None:
    subprocess.run([str(python), "manage.py", *args], cwd=ROOT, check=True, env=env)


def serve(args: list[str]) -> int:
    python = ensure_env()
    env = {**os.environ, "DEBUG": os.environ.get("DEBUG", "1")}
    log("migrating the database")
    manage(python, "migrate", "--no-input", "-v", "0", env=env)
    log("loading the demo help desk")
    manage(python, "seed_demo", env=env)
    # The cluster rolls the reports up every minute; do it once now so the dashboard is full on first look.
    manage(python, "refresh_reports", env=env)
    manage(python, "sync_schedules", env=env)
    address = args[0] if args else os.environ.get("HELPDESK_ADDRESS", "127.0.0.1:8000")
    log("starting the django-q2 cluster (background work)")
    cluster = subprocess.Popen([str(python), "manage.py", "qcluster"], cwd=ROOT, env=env)
    log(f"serving on http://{address}/  (Ctrl-C stops both)")
    try:
        return subprocess.call([str(python), "manage.py", "runserver", address], cwd=ROOT, env=env)
    except KeyboardInterrupt:
        return 0
    finally:
        cluster.send_signal(signal.SIGTERM)
        try:
            cluster.wait(timeout=15)
        except subprocess.TimeoutExpired:
            cluster.kill()


def test(args: list[str]) -> int:
    python = ensure_env("test")
    log(
        f"running the test suite on {os.environ.get('DATABASE_URL', 'SQLite (set DATABASE_URL for PostgreSQL)')}"
    )
    if not args:
        # The whole suite: one worker process per core (pytest-xdist), each file's tests kept together so a
        # module's fixtures are built once; each worker has its own test database.
        args = ["-n", "auto", "--dist", "loadfile"]
    return subprocess.call([str(python), "-m", "pytest", *args], cwd=ROOT)


def main(argv: list[str]) -> int:
    commands = {"serve": serve, "test": test}
    if not argv or argv[0] not in commands:
        print(__doc__)
        return 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
