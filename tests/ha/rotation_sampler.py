"""Run by the HA tests in a process of its own, with the cluster's settings: the routers'
view of one replica alias, fresh every 0.1 s, one JSON line a sample, until it has been
in rotation for a second (or `seconds` have passed).

    python -m tests.ha.rotation_sampler ALIAS SECONDS

Each line is one probe of the alias and one of the primary (routers.health) and the
verdict made from those very probes (routers.usable_replicas, within ROUTERS_HEALTH_TTL).
"""

import json
import sys
import time

import django


def main(alias: str, seconds: float) -> None:
    django.setup()
    from routers import forget, health, usable_replicas

    deadline = time.monotonic() + seconds
    in_rotation_since = None
    while time.monotonic() < deadline:
        forget()
        replica, primary = health(alias), health("default")
        in_rotation = alias in usable_replicas()
        sample = {
            "up": replica.up,
            "receiver": replica.receiver,
            "timeline": replica.timeline,
            "primary_timeline": primary.timeline,
            "in_rotation": in_rotation,
        }
        print(json.dumps(sample), flush=True)
        if in_rotation:
            in_rotation_since = in_rotation_since or time.monotonic()
            if time.monotonic() - in_rotation_since >= 1:
                return
        else:
            in_rotation_since = None
        time.sleep(0.1)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
