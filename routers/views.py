"""`healthz`: the primary and each replica, up or down, with replication lag, as JSON.

    path("healthz", routers.views.healthz)

Answers 200 while ROUTERS_PRIMARY is up ("ok", or "degraded" while another primary is
down) and 503 otherwise. The body is `routers.nodes.describe_nodes()`, measured on
every call: this is what monitoring looks at.
"""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from .nodes import describe_nodes


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    nodes = describe_nodes()
    if not nodes["primary"]["up"]:
        status = "primary down"
    elif not all(cluster["primary"]["up"] for cluster in nodes.get("clusters", [])):
        status = "degraded"  # the default primary serves; another primary's apps wait
    else:
        status = "ok"
    return JsonResponse(
        {"status": status, **nodes}, status=503 if status == "primary down" else 200
    )
