"""One program run by the lab (a server tool, a script of postgres/, manage.py), with a
bound on its time, and its failure in words for a page."""

import os
import subprocess
from pathlib import Path


def run_program(
    command: list[str],
    *,
    name: str,
    error: type[Exception],
    timeout: float,
    cwd: Path | str,
    env: dict[str, str] | None = None,
) -> str:
    """What `command` printed, run in `cwd` with `env` on top of this process's
    environment. Raises `error`, naming the program `name`, if it exits non-zero (with
    the last line it wrote to stderr) or runs longer than `timeout` seconds."""
    try:
        done = subprocess.run(
            command,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise error(f"{name} did not finish within {timeout:.0f} s") from None
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise error(f"{name} failed: {said[-1] if said else 'no output'}")
    return done.stdout
