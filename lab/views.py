import json
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from routers import describe_nodes
from routers.conf import STRATEGIES
from routers.views import healthz as routers_healthz

from . import patroni
from .cluster import (
    ALL_REPLICAS,
    ControlError,
    DelayForm,
    ReplayForm,
    set_apply_delay,
    set_replay_paused,
)
from .docs import GLOSSARY, USE_IT, render_file
from .lag_chart import GEOMETRY, Chart, draw
from .lag_history import history
from .lessons import LESSONS, LESSONS_BY_SLUG
from .middleware import STRATEGY_COOKIE
from .replication import STEPS
from .verdicts import VERDICTS


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


def replication(request: HttpRequest) -> HttpResponse:
    """The first page: how streaming replication works, one idea per step."""
    return render(request, "lab/replication.html", {"steps": STEPS})


def glossary(request: HttpRequest) -> HttpResponse:
    """Every term the lessons use, each an anchor they link to, and the results' verdicts."""
    context = {"doc": render_file(GLOSSARY), "verdicts": VERDICTS}
    return render(request, "lab/glossary.html", context)


def use_it(request: HttpRequest) -> HttpResponse:
    """The routers in a project of your own: settings, middleware, checks, /healthz."""
    return render(request, "lab/use_it.html", {"doc": render_file(USE_IT)})


def lesson(request: HttpRequest, slug: str) -> HttpResponse:
    """A lesson; POST runs it live against the stack, naive beside the fixes."""
    found = LESSONS_BY_SLUG.get(slug)
    if found is None:
        raise Http404("No such lesson.")
    outcomes = found.run() if request.method == "POST" else None
    context = {
        "lesson": found,
        "outcomes": outcomes,
        "doc": found.doc_html(),
        "controls": settings.LAB_CLUSTER_CONTROLS,
    }
    if found.replica_controls:
        context["nodes"] = describe_nodes()
    return render(request, "lab/lesson.html", context)


def _panel(
    request: HttpRequest, delay_form: DelayForm | None = None, status: int = 200
) -> HttpResponse:
    nodes = describe_nodes()
    history().add(nodes)
    context = {
        "nodes": nodes,
        "chart": lag_chart(),
        **GEOMETRY,
        "controls": settings.LAB_CLUSTER_CONTROLS,
        "delay_form": delay_form or DelayForm(initial={"target": ALL_REPLICAS}),
        "patroni": patroni.cluster() if settings.PATRONI_URLS else None,
        "can_kill": patroni.can_kill(),
    }
    return render(request, "lab/cluster.html", context, status=status)


@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """The routers' /healthz and, with PATRONI_URLS, the Patroni cluster under "patroni"
    (what Patroni says, or why nothing: the status code stays the routers')."""
    response = routers_healthz(request)
    nodes = json.loads(response.content)
    history().add(nodes)  # the cluster panel's lag chart
    if not settings.PATRONI_URLS:
        return response
    body = {**nodes, "patroni": patroni.cluster()}
    return JsonResponse(body, status=response.status_code)


def cluster(request: HttpRequest) -> HttpResponse:
    """Every node, up or down, how far behind, and (in the demo) controls to change that."""
    return _panel(request)


@never_cache
def cluster_lag(request: HttpRequest) -> HttpResponse:
    """The lag chart alone, measured now: what the cluster panel redraws each second,
    after its /healthz (measured here too: without Redis, the worker that draws may not
    be the one that measured)."""
    history().add(describe_nodes())
    return render(request, "lab/_lag_chart.html", {"chart": lag_chart(), **GEOMETRY})


def lag_chart() -> Chart:
    samples, shared = history().samples()
    return draw(samples, shared=shared)


def _controls_off(request: HttpRequest) -> HttpResponse:
    messages.error(request, "The cluster controls are off here (LAB_CLUSTER_CONTROLS).")
    return redirect("lab:cluster")


@require_POST
def cluster_delay(request: HttpRequest) -> HttpResponse:
    if not settings.LAB_CLUSTER_CONTROLS:
        return _controls_off(request)
    form = DelayForm(request.POST)
    if not form.is_valid():
        return _panel(request, delay_form=form, status=400)
    try:
        set_apply_delay(form.aliases(), form.cleaned_data["seconds"])
    except ControlError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            f"Apply delay set to {form.cleaned_data['seconds']} s on {', '.join(form.aliases())}.",
        )
    return redirect("lab:cluster")


@require_POST
def cluster_replay(request: HttpRequest) -> HttpResponse:
    if not settings.LAB_CLUSTER_CONTROLS:
        return _controls_off(request)
    form = ReplayForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Pick a replica and pause or resume.")
        return redirect("lab:cluster")
    replica, action = form.cleaned_data["replica"], form.cleaned_data["action"]
    try:
        set_replay_paused(replica, paused=action == "pause")
    except ControlError as error:
        messages.error(request, str(error))
    else:
        done = "paused: it keeps receiving WAL but applies none" if action == "pause" else "resumed"
        messages.success(request, f"Replay on {replica} {done}.")
    return redirect(_back(request))


def _patroni_control(request: HttpRequest, control: Callable[[], str], done: str) -> HttpResponse:
    """Run a control of the Patroni cluster, guarded as the panel's other controls are."""
    if not settings.LAB_CLUSTER_CONTROLS:
        return _controls_off(request)
    if not settings.PATRONI_URLS:
        messages.error(request, "This server runs on no Patroni cluster (PATRONI_URLS).")
        return redirect("lab:cluster")
    try:
        said = control()
    except patroni.PatroniError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, done.format(said))
    return redirect("lab:cluster")


@require_POST
def cluster_switchover(request: HttpRequest) -> HttpResponse:
    return _patroni_control(request, patroni.switchover, "Patroni: {}.")


@require_POST
def cluster_kill(request: HttpRequest) -> HttpResponse:
    return _patroni_control(
        request,
        patroni.kill_leader,
        "Killed {} (its Patroni and its PostgreSQL, SIGKILL): a standby takes over once"
        " the leader key expires, within Patroni's TTL.",
    )


def _back(request: HttpRequest) -> str:
    """The page a control was used from (a lesson), or the panel."""
    next_url = request.POST.get("next", "")
    if next_url and url_has_allowed_host_and_scheme(next_url, {request.get_host()}):
        return next_url
    return reverse("lab:cluster")
