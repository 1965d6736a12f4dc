"""The promise a stranger relies on: the wheel, in a project that is not this one.

The routers' wheel is built from routers/, installed into a fresh virtualenv with
nothing else of this repository, and added to a fresh `django-admin startproject` with
the settings routers/README.md gives (its first Python block, as written). That project
passes `manage.py check` and, on the real test stack with the replicas lagging, reads its
own write back under CausalRouter where NaiveRouter, the same project otherwise, 404s.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
import venv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connections

from tests.helpers import REPO, Stack, connect, wait_until

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]

VIEWS = """
from django.contrib.auth.models import Group
from django.shortcuts import get_object_or_404, redirect
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def write(request):
    group = Group.objects.create(name=request.POST["name"])
    return redirect("read", name=group.name)


def read(request, name):
    return HttpResponse(get_object_or_404(Group, name=name).name)
"""

URLS = """
from django.urls import path

from . import views

urlpatterns = [
    path("write/", views.write),
    path("read/<str:name>/", views.read, name="read"),
]
"""

# Run by `manage.py shell`: one client writes, follows the redirect, reports the codes.
WRITE_THEN_READ = """
import json, uuid
from django.test import Client
client = Client()
written = client.post("/write/", {"name": f"stranger-{uuid.uuid4().hex}"})
read = client.get(written["Location"])
print(json.dumps({"write": written.status_code, "read": read.status_code}))
"""


def readme_settings() -> str:
    """The first Python block of routers/README.md: the settings it tells people to add."""
    readme = (REPO / "routers/README.md").read_text()
    block = re.search(r"```python\n(.*?)```", readme, re.S)
    assert block, "routers/README.md gives no settings block"
    return block.group(1)


def run(*args: str | Path, cwd: Path | None = None, **env: str) -> str:
    """Run a command outside this suite's environment (no DJANGO_SETTINGS_MODULE, no
    stack variables); its output."""
    done = subprocess.run(
        [str(arg) for arg in args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/"), **env},
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: Any) -> Path:
    """The wheel, built from a copy of routers/ (a build writes into its source folder)."""
    work = tmp_path_factory.mktemp("build")
    source = shutil.copytree(
        REPO / "routers", work / "routers", ignore=shutil.ignore_patterns("__pycache__")
    )
    run(sys.executable, "-m", "build", "--wheel", "--outdir", work / "dist", source)
    (built,) = (work / "dist").glob("django_replica_routers-*.whl")
    return built


@pytest.fixture(scope="module")
def stranger_python(wheel: Path, tmp_path_factory: Any) -> Path:
    """A fresh virtualenv holding the wheel and what it depends on, from the index."""
    home = tmp_path_factory.mktemp("stranger-venv")
    venv.create(home, with_pip=True)
    python = home / "bin/python"
    run(python, "-m", "pip", "install", "--quiet", wheel, "psycopg[binary]")
    return python


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """A database of the stranger's own on the test stack's primary, dropped after."""
    name = f"stranger_{uuid.uuid4().hex[:12]}"
    with connect("default", autocommit=True) as primary:
        primary.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with connect("default", autocommit=True) as primary:
            primary.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def project(stranger_python: Path, database: str, tmp_path_factory: Any) -> Path:
    """`django-admin startproject`, the README's settings, a write view and a read view,
    migrated on the primary; its tables readable on every replica."""
    root = tmp_path_factory.mktemp("stranger")
    run(stranger_python.parent / "django-admin", "startproject", "stranger", root)
    (root / "stranger/views.py").write_text(VIEWS)
    (root / "stranger/urls.py").write_text(URLS)
    primary = connections["default"].settings_dict
    replica = connections["replica"].settings_dict
    databases = {
        alias: {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": database,
            "HOST": server["HOST"],
            "PORT": server["PORT"],
            "USER": server["USER"],
            "PASSWORD": server["PASSWORD"],
            "OPTIONS": {"connect_timeout": 2},
        }
        for alias, server in (("default", primary), ("replica", replica))
    }
    with (root / "stranger/settings.py").open("a") as settings:
        settings.write("\n" + readme_settings())
        settings.write(f"\nDATABASES = {databases!r}\n")
        settings.write('ALLOWED_HOSTS = ["testserver"]\n')
        # The one line that differs between the two runs below.
        settings.write(
            "import os\nif os.environ.get('STRANGER_ROUTER'):\n"
            "    DATABASE_ROUTERS = [os.environ['STRANGER_ROUTER']]\n"
        )
    run(stranger_python, root / "manage.py", "migrate", "--verbosity=0", cwd=root)
    with connect("default", dbname=database, autocommit=True) as owner:
        owner.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{replica["USER"]}"')

    def tables_on_replica() -> bool:
        try:
            with connect("replica", dbname=database) as reader:
                row = reader.execute("SELECT has_table_privilege('auth_group', 'SELECT')")
                return bool(row.fetchone()[0])  # type: ignore[index]
        except psycopg.Error:
            return False

    wait_until(tables_on_replica, timeout=30, what="the stranger's tables on the replica")
    return root


def manage(python: Path, project: Path, *args: str, router: str = "") -> str:
    return run(python, project / "manage.py", *args, cwd=project, STRANGER_ROUTER=router)


def test_the_readme_settings_pass_the_system_checks(stranger_python: Path, project: Path):
    assert "no issues" in manage(stranger_python, project, "check")
    assert "no issues" in manage(stranger_python, project, "check", "--database", "replica")


def test_the_wheel_is_what_the_stranger_imports(stranger_python: Path, project: Path):
    shown = manage(
        stranger_python, project, "shell", "-c", "import routers; print(routers.__file__)"
    )

    # Django 6 prints what the shell imported first: the path is the last line.
    assert shown.splitlines()[-1].startswith(f"{stranger_python.parent.parent}/lib/")


def test_a_write_read_back_at_once_is_stale_under_naive_and_fresh_under_causal(
    stranger_python: Path, project: Path, stack: Stack
):
    def write_then_read(router: str) -> dict[str, int]:
        output = manage(stranger_python, project, "shell", "-c", WRITE_THEN_READ, router=router)
        return json.loads(output.strip().splitlines()[-1])

    with stack.lagging("5s"):
        naive = write_then_read("routers.NaiveRouter")
        causal = write_then_read("")  # the README's own DATABASE_ROUTERS

    assert naive == {"write": 302, "read": 404}
    assert causal == {"write": 302, "read": 200}
