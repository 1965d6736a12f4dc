"""make matrix: the routers' own tests (tests/routers, tests/package) on every Django
the package supports, on each Python that Django supports and this machine has, against
the real test stack the Makefile starts (tests/stack-matrix.env, ports of its own).

One session per cell, tagged with its Django (`django5.2`), and the first and last also
`oldest` and `newest`: `make matrix MATRIX=oldest` runs that one. Each installs the
project's pinned dependencies with its Django instead of the pinned one.
"""

import re
import tomllib
from pathlib import Path

import nox

# The newest release of each series, and the Pythons each supports that we test on.
DJANGO = {"5.2": "5.2.19", "6.0": "6.0.10", "6.1": "6.1.3"}
PYTHONS = {"5.2": ["3.11", "3.12", "3.13"], "6.0": ["3.12", "3.13"], "6.1": ["3.12", "3.13"]}
CELLS = [(python, django) for django, pythons in PYTHONS.items() for python in pythons]


def cell(python: str, django: str) -> nox.param:  # type: ignore[valid-type]
    tags = [f"django{django}"]
    tags += ["oldest"] if (python, django) == CELLS[0] else []
    tags += ["newest"] if (python, django) == CELLS[-1] else []
    return nox.param(python, django, id=f"{python}-django{django}", tags=tags)


# Pinned in pyproject.toml for one Django, set per cell instead; type stubs are for
# make lint only (and pin a Django of their own).
NAME = r"(?=[\[=<>~!;\s]|$)"  # where a requirement's name ends
PER_CELL = re.compile(rf"(?i)^(django|django-tasks|django-tasks-db|django-replica-routers){NAME}")
LINT_ONLY = re.compile(rf"(?i)^(django-stubs|djangorestframework-stubs|mypy){NAME}")

nox.options.default_venv_backend = "venv"
nox.options.error_on_missing_interpreters = True
nox.options.reuse_existing_virtualenvs = True


def pinned_requirements() -> list[str]:
    project = tomllib.loads(Path("pyproject.toml").read_text())["project"]
    return [
        requirement
        for requirement in project["dependencies"] + project["optional-dependencies"]["dev"]
        if not PER_CELL.match(requirement) and not LINT_ONLY.match(requirement)
    ]


def django_requirements(django: str) -> list[str]:
    pinned = f"Django=={DJANGO[django]}"
    if django == "5.2":  # no django.tasks: django-tasks-db runs on the django-tasks backport
        return [pinned, "django-tasks-db[compat]==0.13.0", "django-tasks==0.12.0"]
    return [pinned, "django-tasks-db==0.13.0"]


@nox.session
@nox.parametrize(("python", "django"), [cell(*c) for c in CELLS])
def routers(session: nox.Session, django: str) -> None:
    session.install(*pinned_requirements(), *django_requirements(django))
    session.install("--no-deps", "-e", "./routers", "-e", ".")
    version = session.run("python", "-m", "django", "--version", silent=True)
    if not str(version).startswith(DJANGO[django]):
        session.error(f"expected Django {DJANGO[django]}, found {version}")
    session.run(
        "python",
        "-m",
        "pytest",
        "tests/routers",
        "tests/package",
        "-p",
        "no:cacheprovider",
        *session.posargs,
    )
