"""The lab's lessons: each gotcha, run live against the real stack, naive beside fixed.

One module per lesson; see base.py for what a lesson is made of.
"""

from . import (
    api_client_without_cookies,
    atomic_on_the_wrong_alias,
    atomic_requests,
    dead_or_lagging_replica,
    failover_loses_writes,
    generic_relation_writes,
    get_or_create,
    hot_standby_conflicts,
    mirror_hides_lag,
    no_cross_database_atomicity,
    post_redirect_lag,
    raw_sql_bypasses_routers,
    reads_inside_atomic,
    reads_outside_a_request,
    replica_per_query,
    second_device,
    sessions_on_a_lagging_replica,
    task_reads_its_request_write,
    transaction_pooling,
)
from .base import Lesson, Outcome

LESSONS: list[Lesson] = [
    module.LESSON
    for module in (
        post_redirect_lag,
        reads_inside_atomic,
        get_or_create,
        generic_relation_writes,
        raw_sql_bypasses_routers,
        atomic_on_the_wrong_alias,
        no_cross_database_atomicity,
        dead_or_lagging_replica,
        replica_per_query,
        transaction_pooling,
        mirror_hides_lag,
        sessions_on_a_lagging_replica,
        hot_standby_conflicts,
        reads_outside_a_request,
        api_client_without_cookies,
        task_reads_its_request_write,
        atomic_requests,
        second_device,
        failover_loses_writes,
    )
]
LESSONS_BY_SLUG = {lesson.slug: lesson for lesson in LESSONS}

__all__ = ["LESSONS", "LESSONS_BY_SLUG", "Lesson", "Outcome"]
