"""The lab: every lesson's page runs its scenario live, naive beside sticky and causal."""

import html
import re

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

from forum.models import OutboxEvent
from lab.cluster import set_replay_paused
from lab.lessons import LESSONS
from lab.lessons.api_client_without_cookies import WITH_THE_HEADER
from lab.lessons.atomic_on_the_wrong_alias import BOTH
from lab.lessons.atomic_requests import FIXED
from lab.lessons.failover_loses_writes import WITH_TIMELINE
from lab.lessons.hot_standby_conflicts import SERVED_AGAIN
from lab.lessons.mirror_hides_lag import THIS_PROJECT
from lab.lessons.no_cross_database_atomicity import OUTBOX
from lab.lessons.second_device import CAUSAL_PER_MEMBER
from lab.lessons.task_reads_its_request_write import DELAYED
from lab.lessons.transaction_pooling import ONE_TRANSACTION
from routers import forget
from tests.factories import PostFactory, TagFactory
from tests.helpers import REPO, fetch, wait_until

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]


def outcomes(response) -> dict[str, str]:
    """What each row of the run compares (a strategy, mostly): "yes" if it was right."""
    rows = re.findall(
        r'<tr data-strategy="([^"]+)" data-correct="(yes|no)">', response.content.decode()
    )
    return {html.unescape(compared): correct for compared, correct in rows}


@pytest.fixture
def forum_content(stack):
    PostFactory()
    TagFactory()
    stack.wait_for_replay()


def test_it_lists_every_lesson(client):
    response = client.get("/lab/")

    for lesson in LESSONS:
        assert f'href="/lab/{lesson.slug}/"'.encode() in response.content


def test_it_shows_each_lessons_doc_on_its_page(client):
    for lesson in LESSONS:
        doc = (REPO / lesson.doc).read_text()
        # The doc's first paragraph opens on "**Scenario.** <word>": rendered on the page.
        first_word = re.search(r"\*\*Scenario\.\*\* (\w+)", doc).group(1)

        page = client.get(f"/lab/{lesson.slug}/").content.decode()

        assert f"<strong>Scenario.</strong> {first_word}" in page, lesson.slug
        assert f"<code>{lesson.doc}</code>" in page


def test_it_escapes_html_in_a_lessons_doc(tmp_path, settings):
    (tmp_path / "docs/lessons").mkdir(parents=True)
    lesson = LESSONS[0]
    (tmp_path / lesson.doc).write_text("# Title\n\nHi <script>alert(1)</script> [x](javascript:y)")
    settings.BASE_DIR = tmp_path

    html = lesson.doc_html()

    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert 'href="javascript:' not in html


def test_it_names_each_lessons_doc_and_test_files():
    for lesson in LESSONS:
        assert (REPO / lesson.doc).exists()
        assert (REPO / lesson.test).exists()
    # tests/lessons/ holds one file per lesson and nothing else (the lab's pages: tests/lab/).
    files = {path.relative_to(REPO).as_posix() for path in REPO.glob("tests/lessons/test_*.py")}
    assert files == {lesson.test for lesson in LESSONS}


@pytest.mark.parametrize(
    "slug",
    [
        "post-redirect-lag",
        "reads-inside-atomic",
        "get-or-create",
        "generic-relation-writes",
        "raw-sql-bypasses-routers",
        "replica-per-query",
        "sessions-on-a-lagging-replica",
    ],
)
def test_it_shows_naive_failing_and_the_fixes_working(
    client, forum_content, lagging_replicas, slug
):
    response = client.post(f"/lab/{slug}/")

    assert response.status_code == 200
    assert outcomes(response) == {"naive": "no", "sticky": "yes", "causal": "yes"}


def timelines(response) -> dict[str, tuple[str, float, float | None]]:
    """strategy: (alias that served the read, read ms, replayed ms) from the drawn timelines."""
    found = re.findall(
        r'<figure class="timeline card" data-strategy="(\w+)" data-served-by="(\w+)"\s+'
        r'data-read-ms="([\d.]+)" data-replayed-ms="([\d.]*)"',
        response.content.decode(),
    )
    return {
        s: (alias, float(read), float(replayed) if replayed else None)
        for s, alias, read, replayed in found
    }


@pytest.mark.parametrize("slug", ["post-redirect-lag", "sessions-on-a-lagging-replica"])
def test_it_draws_the_read_before_the_replay_under_naive(
    client, forum_content, lagging_replicas, slug
):
    response = client.post(f"/lab/{slug}/")
    drawn = timelines(response)

    assert set(drawn) == {"naive", "sticky", "causal"}
    alias, read_ms, replayed_ms = drawn["naive"]
    assert alias.startswith("replica")
    assert replayed_ms is not None
    assert read_ms < replayed_ms  # read too early: the 404
    for strategy in ("sticky", "causal"):
        assert drawn[strategy][0] == "default"
    assert response.content.decode().count("<svg") == 3


def test_it_reads_around_a_dead_replica_except_under_naive(client, forum_content, stack):
    healthy = outcomes(client.post("/lab/dead-or-lagging-replica/"))
    stack.stop("replica")
    try:
        results = [outcomes(client.post("/lab/dead-or-lagging-replica/")) for _ in range(2)]
    finally:
        stack.start("replica")

    assert healthy == {"naive": "yes", "sticky": "yes", "causal": "yes"}
    assert {r["naive"] for r in results} >= {"no"}
    assert all(r["sticky"] == r["causal"] == "yes" for r in results)


def traces(response) -> dict[str, str]:
    """strategy: the caption of its drawn trace (every statement and its node, in order)."""
    found = re.findall(
        r'<figure class="trace card" data-strategy="(\w+)">\s*<figcaption><strong>\w+</strong>: '
        r"([^<]*)</figcaption>",
        response.content.decode(),
    )
    return dict(found)


def test_it_traces_which_node_ran_each_statement(client, forum_content):
    drawn = traces(client.post("/lab/reads-inside-atomic/"))

    assert drawn["naive"].startswith("2 statements, in order: INSERT on default; SELECT on replica")
    assert drawn["causal"] == "2 statements, in order: INSERT on default; SELECT on default."


def test_it_traces_a_replica_per_query_under_naive_only(client, forum_content):
    drawn = traces(client.post("/lab/replica-per-query/"))

    assert "on replica;" in drawn["naive"]
    assert "on replica_2;" in drawn["naive"]
    assert drawn["sticky"].count("on replica_2") in (0, 6)


@pytest.fixture
def controls(settings, stack, live_db):
    settings.LAB_CLUSTER_CONTROLS = True
    yield
    set_replay_paused("replica", False)
    stack.wait_for_replay()


@pytest.mark.usefixtures("controls")
def test_it_pauses_a_replica_from_the_lessons_own_page(client, forum_content, settings):
    # Twice the other replica's 1 s apply delay: a commit it holds back (an autoanalyze)
    # never takes it out of rotation too, as a bound of exactly 1 s sometimes did.
    settings.ROUTERS_MAX_LAG_SECONDS = 2
    lesson = "/lab/dead-or-lagging-replica/"
    page = client.get(lesson).content.decode()
    assert 'value="pause"' in page

    response = client.post(
        "/lab/cluster/replay", {"replica": "replica", "action": "pause", "next": lesson}
    )
    assert response.url == lesson
    wait_until(lambda: fetch("replica", "SELECT pg_is_wal_replay_paused()"), what="the pause")
    TagFactory()  # a commit the paused replica does not apply

    def skipped() -> bool:
        return "skipped by sticky and causal" in client.get(lesson).content.decode()

    wait_until(skipped, what="replica to fall past the 2 s bound")
    responses = [client.post(lesson) for _ in range(2)]
    results = [outcomes(response) for response in responses]
    summaries = [re.findall(r"<td>([^<]*)</td>\s*</tr>", r.content.decode()) for r in responses]
    assert {r["naive"] for r in results} == {"no"}  # naive meets the stale replica every run
    assert all(r["sticky"] == r["causal"] == "yes" for r in results), summaries


@pytest.mark.usefixtures("task_worker")
def test_it_runs_and_draws_every_lesson_with_a_replica_down(client, forum_content, stack, settings):
    """Each lesson's run: answered, its fix found, every setup's timeline or trace drawn."""
    settings.LAB_CLUSTER_CONTROLS = True  # lesson 13 changes the replicas for its run
    # Its GET that wrote answers 500 inside the run, which the client would raise.
    client.raise_request_exception = False
    stack.stop("replica_2")
    try:
        answers = {lesson.slug: client.post(f"/lab/{lesson.slug}/") for lesson in LESSONS}
    finally:
        stack.start("replica_2")

    assert {slug: r.status_code for slug, r in answers.items() if r.status_code != 200} == {}
    for slug, response in answers.items():
        # Some lessons compare setups, not strategies; their last row is the fix.
        fix = {
            "atomic-on-the-wrong-alias": BOTH,
            "no-cross-database-atomicity": OUTBOX,
            "mirror-hides-lag": THIS_PROJECT,
            "transaction-pooling": ONE_TRANSACTION,
            "hot-standby-conflicts": SERVED_AGAIN,
            "api-client-without-cookies": WITH_THE_HEADER,
            "task-reads-its-request-write": DELAYED,
            "atomic-requests": FIXED,
            "second-device": CAUSAL_PER_MEMBER,
            "failover-loses-writes": WITH_TIMELINE,
        }
        assert outcomes(response)[fix.get(slug, "causal")] == "yes", slug
    # Every setup is drawn, but a request that failed may not be (lesson 17's naive
    # client queries the stopped replica and gets the error, with nothing to draw).
    pages = {slug: response.content.decode() for slug, response in answers.items()}
    undrawn = {
        slug: len(outcomes(answers[slug]))
        - page.count('class="timeline card"')
        - page.count('class="trace card"')
        for slug, page in pages.items()
    }
    errors = {slug: page.count('data-verdict="error"') for slug, page in pages.items()}
    assert {slug: n for slug, n in undrawn.items() if not 0 <= n <= errors[slug]} == {}
    assert all(len(outcomes(response)) >= 3 for response in answers.values())


def test_it_answers_404_for_an_unknown_lesson(client):
    assert client.get("/lab/no-such-lesson/").status_code == 404


@pytest.mark.parametrize("replicas", ["two replicas", "one replica, as on make demo"])
def test_lesson_17_shows_an_api_client_stale_until_it_sends_the_header_back(
    client, settings, forum_content, lagging_replicas, replicas
):
    if replicas.startswith("one"):
        settings.ROUTERS_CLUSTERS = {"default": ["replica"], "analytics": ["analytics_replica"]}
        forget()

    response = client.post("/lab/api-client-without-cookies/")

    assert outcomes(response) == {
        "naive": "no",
        "causal, header not sent back": "no",
        "sticky, header sent back": "yes",
        WITH_THE_HEADER: "yes",
    }
    page = response.content.decode()
    assert re.search(r"read from replica(_2)?, lacks the reply", page)
    assert "read from default, shows the reply" in page
    # The run leaves nothing behind: its member, token, thread, replies and events.
    assert not User.objects.filter(username__startswith="lab-").exists()
    assert not Token.objects.exists()
    assert not OutboxEvent.objects.filter(title__startswith="lab-").exists()
