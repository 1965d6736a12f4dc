from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from routers.conf import STRATEGIES

from .lessons import LESSONS, LESSONS_BY_SLUG
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


def index(request: HttpRequest) -> HttpResponse:
    return render(request, "lab/index.html", {"lessons": LESSONS})


def lesson(request: HttpRequest, slug: str) -> HttpResponse:
    """A lesson; POST runs it live against the stack, naive beside the fixes."""
    found = LESSONS_BY_SLUG.get(slug)
    if found is None:
        raise Http404("No such lesson.")
    outcomes = found.run() if request.method == "POST" else None
    # Safe: rendered from the project's own markdown with raw HTML escaped.
    doc = mark_safe(found.doc_html())
    return render(request, "lab/lesson.html", {"lesson": found, "outcomes": outcomes, "doc": doc})
