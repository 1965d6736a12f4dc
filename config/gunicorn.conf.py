"""gunicorn settings, for `make demo` and the docker image.

Run with `gunicorn -c config/gunicorn.conf.py config.wsgi`.
"""

import os

# Loopback by default (make demo); the container sets 0.0.0.0:8000 to be reachable
# through its published port.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# Threads: the routers keep per-request state in contextvars, which each thread
# sees on its own, so a request never picks up another one's routing decision.
worker_class = "gthread"
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))

accesslog = "-"

# gunicorn 25+ opens a control socket by default, at one path per user
# ($XDG_RUNTIME_DIR or ~/.gunicorn): the demo and the tests' servers would share it, and
# the container's user cannot write its home. Nothing here uses gunicornc.
control_socket_disable = True
