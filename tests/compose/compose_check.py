"""Cross-reference checks for docker-compose.yml, with no Docker engine.

The compose schema (check-jsonschema) says the file is well formed; `problems()` says
it fits this repository: services, volumes, mounted scripts, database URLs and ports
all point at things that exist. Variables are interpolated as with an empty
environment, so `${REPLICA_LAG:-2s}` counts as `2s`.
"""

import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ruamel.yaml import YAML

POSTGRES_PORT = 5432
REDIS_PORT = 6379
WEB_PORT = 8000
# The design's contract names these three services.
REQUIRED_SERVICES = ("primary", "replica", "web")
# Variables the postgres image itself reads (besides libpq's PG* ones).
POSTGRES_IMAGE_ENV = {
    "POSTGRES_PASSWORD",
    "POSTGRES_USER",
    "POSTGRES_DB",
    "POSTGRES_INITDB_ARGS",
    "POSTGRES_INITDB_WALDIR",
    "POSTGRES_HOST_AUTH_METHOD",
}
INIT_DIR = "/docker-entrypoint-initdb.d"
# Database URLs web may set besides DATABASE_URL and REPLICA_URLS: checked when set.
OPTIONAL_URLS = ("ANALYTICS_DATABASE_URL", "ANALYTICS_REPLICA_URLS")

_VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}|\$(\w+)")
_SCRIPT_READS = re.compile(r"\$\{?([A-Za-z_]\w*)")
_SCRIPT_REQUIRES = re.compile(r"\$\{(\w+):?\?")


@dataclass(frozen=True)
class Mount:
    kind: str  # "bind", "volume" (named), "anonymous" or "tmpfs"
    source: str
    target: str


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe", pure=True).load(path.read_text())
    return data


def interpolate(value: object) -> str:
    """A compose value as it reads with no variables set: defaults only."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        if match.group(2) in ("-", ":-"):
            return match.group(3)
        return ""

    if isinstance(value, bool):
        return "true" if value else "false"
    return _VARIABLE.sub(replace, "" if value is None else str(value))


def environment(service: dict[str, Any]) -> dict[str, str]:
    """The service's environment as written (list or mapping form), not interpolated."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.partition("=") for item in env)
        return {name: value for name, _, value in pairs}
    return {name: "" if value is None else str(value) for name, value in env.items()}


def mounts(service: dict[str, Any]) -> list[Mount]:
    found = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            kind = volume.get("type", "volume")
            source = str(volume.get("source", ""))
            target = str(volume.get("target", ""))
            if kind == "volume" and not source:
                kind = "anonymous"
        else:
            parts = str(volume).split(":")
            if len(parts) == 1:
                kind, source, target = "anonymous", "", parts[0]
            else:
                source, target = parts[0], parts[1]
                kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        found.append(Mount(kind, source, target))
    tmpfs = service.get("tmpfs") or []
    for target in [tmpfs] if isinstance(tmpfs, str) else tmpfs:
        found.append(Mount("tmpfs", "", str(target).split(":")[0]))
    return found


def problems(compose: dict[str, Any], repo: Path) -> list[str]:
    """Everything in `compose` that does not fit `repo`, as readable sentences."""
    services: dict[str, Any] = compose.get("services") or {}
    declared_volumes = set(compose.get("volumes") or {})
    found = [
        f"service {name!r} is missing (docker-compose.yml must define it)"
        for name in REQUIRED_SERVICES
        if name not in services
    ]
    for name, service in services.items():
        found += _depends_on(name, service, services)
        found += _mounts(name, service, declared_volumes, repo)
        found += _entrypoint(name, service, repo)
        found += _build(name, service, repo)
        if str(service.get("image", "")).startswith("postgres"):
            found += _postgres(name, service, repo)
    found += _same_postgres_image(services)
    if "replica" in services:
        found += _replica(services["replica"])
    if "web" in services:
        found += _web(services["web"], services)
    if "web" in services and "worker" in services:
        found += _worker(services["worker"], services["web"])
    return found


def _depends_on(name: str, service: dict[str, Any], services: dict[str, Any]) -> list[str]:
    depends_on = service.get("depends_on") or {}
    if isinstance(depends_on, list):
        depends_on = {target: {} for target in depends_on}
    found = []
    for target, options in depends_on.items():
        if target not in services:
            found.append(f"service {name!r} depends on {target!r}, which is not a service")
        elif (options or {}).get("condition") == "service_healthy" and not _healthcheck(
            services[target]
        ):
            found.append(
                f"service {name!r} waits for {target!r} to be healthy, "
                f"but {target!r} has no healthcheck"
            )
    return found


def _mounts(name: str, service: dict[str, Any], declared: set[str], repo: Path) -> list[str]:
    found = []
    for mount in mounts(service):
        if mount.kind == "volume" and mount.source not in declared:
            found.append(
                f"service {name!r} uses volume {mount.source!r}, "
                "which is not declared under the top-level volumes"
            )
        elif mount.kind == "bind" and mount.source.startswith("."):
            if not (repo / mount.source).exists():
                found.append(
                    f"service {name!r} mounts {mount.source}, "
                    "which does not exist in the repository"
                )
            elif mount.target == INIT_DIR and not _init_scripts(repo / mount.source):
                found.append(
                    f"service {name!r} mounts {mount.source} at {INIT_DIR}, "
                    "but it holds no .sh or .sql script for the image to run"
                )
        elif mount.kind == "bind":
            found.append(
                f"service {name!r} mounts the host path {mount.source}, "
                "which exists on one machine only: mount a path in the repository"
            )
    return found


def _init_scripts(directory: Path) -> list[Path]:
    return [path for path in directory.iterdir() if path.name.endswith((".sh", ".sql", ".sql.gz"))]


def _entrypoint(name: str, service: dict[str, Any], repo: Path) -> list[str]:
    """An entrypoint inside a bind-mounted directory must be there and executable."""
    entrypoint = service.get("entrypoint")
    if not entrypoint:
        return []
    program = entrypoint[0] if isinstance(entrypoint, list) else shlex.split(entrypoint)[0]
    host_path = _host_path(service, program, repo)
    if host_path is None:
        return []
    shown = host_path.relative_to(repo) if host_path.is_relative_to(repo) else host_path
    if not host_path.is_file():
        return [f"service {name!r} runs {program}, but {shown} does not exist"]
    if not os.access(host_path, os.X_OK):
        return [f"service {name!r} runs {program}, but {shown} is not executable"]
    return []


def _host_path(service: dict[str, Any], container_path: str, repo: Path) -> Path | None:
    """Where a container path comes from, if a bind mount of the repository provides it."""
    for mount in mounts(service):
        if mount.kind != "bind" or not mount.source.startswith("."):
            continue
        target = mount.target.rstrip("/")
        if container_path == target or container_path.startswith(target + "/"):
            return (repo / mount.source / container_path[len(target) :].lstrip("/")).resolve()
    return None


def _build(name: str, service: dict[str, Any], repo: Path) -> list[str]:
    build = service.get("build")
    if build is None:
        return []
    options = {"context": build} if isinstance(build, str) else build
    context = repo / str(options.get("context", "."))
    dockerfile = context / str(options.get("dockerfile", "Dockerfile"))
    if not dockerfile.is_file():
        return [f"service {name!r} builds from {dockerfile.relative_to(repo)}, which is missing"]
    return []


def _postgres(name: str, service: dict[str, Any], repo: Path) -> list[str]:
    found = []
    test = _healthcheck(service)
    if "pg_isready" not in test:
        found.append(f"service {name!r} needs a healthcheck that runs pg_isready")
    env = environment(service)
    pgdata = interpolate(env.get("PGDATA", ""))
    if not pgdata:
        found.append(
            f"service {name!r} must set PGDATA: the image's default data path changed in 18"
        )
    elif not any(
        pgdata == mount.target or pgdata.startswith(mount.target.rstrip("/") + "/")
        for mount in mounts(service)
        if mount.kind != "bind"
    ):
        found.append(f"service {name!r} keeps PGDATA ({pgdata}) outside any volume")
    # Names the scripts mounted into this service read, and the ones they insist on.
    scripts = [
        path
        for mount in mounts(service)
        if mount.kind == "bind" and (repo / mount.source).is_dir()
        for path in sorted((repo / mount.source).glob("*.sh"))
    ]
    reads = {match for path in scripts for match in _SCRIPT_READS.findall(path.read_text())}
    for variable in sorted(set(env) - reads - POSTGRES_IMAGE_ENV):
        if not variable.startswith("PG"):
            found.append(
                f"service {name!r} sets {variable}, which neither its scripts "
                "nor the postgres image read"
            )
    for path in scripts:
        for variable in sorted(set(_SCRIPT_REQUIRES.findall(path.read_text())) - set(env)):
            found.append(
                f"service {name!r} does not set {variable}, which {path.relative_to(repo)} requires"
            )
    return found


def _same_postgres_image(services: dict[str, Any]) -> list[str]:
    images = {
        str(service["image"])
        for service in services.values()
        if str(service.get("image", "")).startswith("postgres")
    }
    if len(images) > 1:
        return [
            "the postgres services run different images "
            f"({', '.join(sorted(images))}): a streaming replica needs its primary's version"
        ]
    return []


def _replica(replica: dict[str, Any]) -> list[str]:
    found = []
    lag = environment(replica).get("REPLICA_LAG")
    if lag is None:
        found.append("service 'replica' does not get REPLICA_LAG (the apply delay it starts with)")
    elif "${REPLICA_LAG" not in lag:
        found.append(
            f"service 'replica' hard-codes REPLICA_LAG={lag}: pass the host's value through "
            "with ${REPLICA_LAG:-2s}"
        )
    # --scale replica=N: anything fixed per service would clash between containers.
    if "container_name" in replica:
        found.append("service 'replica' sets container_name, so --scale replica=N cannot work")
    for port in replica.get("ports") or []:
        if _published(port):
            found.append(
                f"service 'replica' publishes host port {_published(port)}, "
                "so --scale replica=N cannot work"
            )
    for mount in mounts(replica):
        if mount.kind == "volume":
            found.append(
                f"service 'replica' mounts named volume {mount.source!r}: scaled replicas "
                "would share one data directory (use an anonymous volume)"
            )
    return found


def _web(web: dict[str, Any], services: dict[str, Any]) -> list[str]:
    found = []
    env = environment(web)
    depends_on = web.get("depends_on") or {}
    for variable in ("DATABASE_URL", "REPLICA_URLS", *OPTIONAL_URLS):
        if variable not in env:
            if variable not in OPTIONAL_URLS:
                found.append(f"service 'web' does not set {variable}")
            continue
        for url in interpolate(env[variable]).split(","):
            found += _database_url(variable, url.strip(), services, depends_on)
    if "REDIS_URL" in env:
        found += _redis_url(interpolate(env["REDIS_URL"]), services)
    debug = interpolate(env.get("DJANGO_DEBUG", "false")).lower() in ("1", "true", "yes", "on")
    if not debug and not interpolate(env.get("DJANGO_SECRET_KEY", "")):
        found.append("service 'web' runs with DEBUG off but sets no DJANGO_SECRET_KEY")
    if str(WEB_PORT) not in _healthcheck(web):
        found.append(f"service 'web' needs a healthcheck that requests port {WEB_PORT}")
    if not any(_container_port(port) == WEB_PORT for port in web.get("ports") or []):
        found.append(f"service 'web' does not publish container port {WEB_PORT}")
    bind = interpolate(env.get("GUNICORN_BIND", ""))
    if bind != f"0.0.0.0:{WEB_PORT}":
        found.append(
            f"service 'web' must set GUNICORN_BIND=0.0.0.0:{WEB_PORT} (not {bind or 'unset'}): "
            "gunicorn's loopback default is unreachable through a published port"
        )
    return found


# What the task worker must share with web: the databases, and the key that signs the
# positions a task carries (a worker with another key would ignore every one).
WORKER_SHARES = ("DATABASE_URL", "REPLICA_URLS", *OPTIONAL_URLS, "DJANGO_SECRET_KEY")


def _worker(worker: dict[str, Any], web: dict[str, Any]) -> list[str]:
    found = []
    if worker.get("build") != web.get("build"):
        found.append("service 'worker' must build the web's image (the same build)")
    if "db_worker" not in " ".join(map(str, worker.get("command") or [])):
        found.append("service 'worker' must run manage.py db_worker")
    worker_env, web_env = environment(worker), environment(web)
    for variable in WORKER_SHARES:
        if worker_env.get(variable) != web_env.get(variable):
            found.append(f"service 'worker' must set {variable} as web does")
    if not _healthcheck(worker):
        found.append("service 'worker' needs a healthcheck")
    return found


def _database_url(
    variable: str, url: str, services: dict[str, Any], depends_on: dict[str, Any] | list[str]
) -> list[str]:
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        return [f"service 'web': {variable} {url!r} is not a postgres:// URL"]
    found = []
    if parts.hostname not in services:
        found.append(
            f"service 'web': {variable} points at host {parts.hostname!r}, which is not a service"
        )
    elif parts.hostname not in depends_on:
        found.append(
            f"service 'web': {variable} points at {parts.hostname!r}, but web does not depend on it"
        )
    if (parts.port or POSTGRES_PORT) != POSTGRES_PORT:
        found.append(
            f"service 'web': {variable} uses port {parts.port}; "
            f"postgres listens on {POSTGRES_PORT} inside the network"
        )
    return found


def _redis_url(url: str, services: dict[str, Any]) -> list[str]:
    parts = urlsplit(url)
    if parts.scheme != "redis":
        return [f"service 'web': REDIS_URL {url!r} is not a redis:// URL"]
    if parts.hostname not in services:
        return [
            f"service 'web': REDIS_URL points at host {parts.hostname!r}, which is not a service"
        ]
    if (parts.port or REDIS_PORT) != REDIS_PORT:
        return [
            f"service 'web': REDIS_URL uses port {parts.port}; "
            f"redis listens on {REDIS_PORT} inside the network"
        ]
    return []


def _healthcheck(service: dict[str, Any]) -> str:
    """The healthcheck's test as one string; empty when there is none or it is disabled."""
    healthcheck = service.get("healthcheck") or {}
    if healthcheck.get("disable"):
        return ""
    test = healthcheck.get("test") or ""
    if isinstance(test, list):
        if test[:1] == ["NONE"]:
            return ""
        test = " ".join(str(part) for part in test)
    return str(test)


def _published(port: object) -> str:
    """The host port a ports entry publishes; empty when Docker picks one."""
    if isinstance(port, dict):
        return str(port.get("published", ""))
    parts = str(port).split(":")
    return parts[-2] if len(parts) > 1 else ""


def _container_port(port: object) -> int | None:
    target = port.get("target") if isinstance(port, dict) else str(port).split(":")[-1]
    try:
        return int(str(target).split("/")[0])
    except ValueError:
        return None
