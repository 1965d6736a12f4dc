"""Background tasks, run by the worker (`manage.py db_worker`), not by the request.

Each is enqueued with `routers.enqueue_on_commit`, so it carries its enqueuer's writes
and reads them back on the worker, from a replica that has them or from the primary.
"""

import logging

from routers import task_scope

from .models import Notification, Post

try:
    from django.tasks import task
except ImportError:  # Django 5.2 (Python 3.11): the django-tasks backport
    from django_tasks import task  # type: ignore[no-redef]

logger = logging.getLogger(__name__)


@task()
@task_scope
def notify_thread_author(*, post_id: int) -> str:
    """Put a reply on its thread's author's Replies page; what it did, in a word.

    It reads the reply it was enqueued for: without the replier's write carried to it,
    that read would go to a replica that may not have replayed it yet (lesson 15).
    """
    post = Post.objects.select_related("thread").filter(pk=post_id).first()
    if post is None:
        logger.warning("notify_thread_author: reply %s not found (deleted since?)", post_id)
        return "missing"
    if post.author_id == post.thread.author_id:
        return "own thread"
    Notification.objects.get_or_create(recipient_id=post.thread.author_id, post=post)
    return "notified"
