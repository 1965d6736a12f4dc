"""Activity events: what happened on the forum, one row each."""

from django.db import models


class Event(models.Model):
    """One thing that happened on the forum: a thread started, a reply posted.

    The forum and this table live in two databases, so no foreign key joins them: the
    ids are plain numbers, and a post deleted later leaves its event behind.
    """

    KINDS = {"thread": "started a thread", "post": "replied", "lab": "lab run"}

    #: The forum's outbox row this event was relayed from: a relay that runs twice
    #: (killed after this insert, before it marked the row) inserts it once.
    source_id = models.BigIntegerField(unique=True, null=True, blank=True)
    kind = models.CharField(max_length=16, choices=list(KINDS.items()))
    username = models.CharField(max_length=150, blank=True)
    thread_id = models.BigIntegerField(null=True, blank=True)
    post_id = models.BigIntegerField(null=True, blank=True)
    title = models.CharField(max_length=140, blank=True)
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["-occurred_at"])]

    def __str__(self) -> str:
        return f"{self.username} {self.KINDS.get(self.kind, self.kind)}"
