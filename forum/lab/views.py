from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from routers.conf import STRATEGIES

from .middleware import STRATEGY_COOKIE


@require_POST
def switch_strategy(request: HttpRequest) -> HttpResponse:
    """Pick the routing strategy for this browser, then go back where we were."""
    name = request.POST.get("strategy", "")
    next_url = request.POST.get("next", "/")
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}):
        next_url = "/"
    response = redirect(next_url)
    if name in STRATEGIES:
        response.set_cookie(STRATEGY_COOKIE, name, max_age=30 * 24 * 3600, samesite="Lax")
    return response
