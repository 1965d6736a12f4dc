"""Lesson 5: django.db.connection is the default alias, whatever the routers say."""

from django.db import connection

from forum.models import Tag
from routers import RequestState, cursor_for_read, request_scope

from ..trace import traced
from ..verdicts import COHERENT, MIXED
from .base import Lesson, Outcome, lab_tag, side_by_side


def raw_sql(strategy: str) -> Outcome:
    with lab_tag() as name:
        Tag.objects.create(name=name)
        with traced() as statements, request_scope(RequestState(strategy=strategy)):
            orm = Tag.objects.filter(name=name).count()
            cursor = connection.cursor() if strategy == "naive" else cursor_for_read(Tag)
            with cursor:
                cursor.execute("SELECT count(*) FROM forum_tag WHERE name = %s", [name])
                raw = cursor.fetchone()[0]
    (orm_alias, raw_alias), trace = (s.alias for s in statements), tuple(statements)
    if raw_alias == orm_alias:
        # The tag is brand new: a replica that has not replayed it counts 0 both ways.
        staleness = "the new tag is there" if orm else "equally stale, without the new tag yet"
        summary = f"ORM and raw SQL both read {orm_alias} and agree ({orm} = {raw}): {staleness}"
        return Outcome(strategy, COHERENT, summary, trace=trace)
    summary = f"ORM read {orm_alias} ({orm} rows), raw SQL read {raw_alias} ({raw} rows)"
    return Outcome(strategy, MIXED, summary, trace=trace)


LESSON = Lesson(
    number=5,
    slug="raw-sql-bypasses-routers",
    title="Raw SQL bypasses the routers",
    problem="django.db.connection is always the default [alias](../glossary.md#alias): raw SQL "
    "reads the [primary](../glossary.md#primary) while the ORM reads a replica.",
    fix="cursor_for_read(Model) opens the cursor where the ORM would read.",
    run=side_by_side(raw_sql),
)
