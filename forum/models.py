"""The forum: boards hold threads, threads hold posts; reactions and tags on top."""

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.urls import reverse
from django.utils.text import slugify

from routers import WritesOnPrimaryQuerySet

TITLE_MAX = 140
BODY_MAX = 10_000


class Board(models.Model):
    name = models.CharField(max_length=80, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.CharField(max_length=240, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("forum:board", args=[self.slug])


class Tag(models.Model):
    name = models.CharField(max_length=32, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Reaction(models.Model):
    """An emoji reaction by a user on a thread or a post (a generic relation)."""

    KINDS = {"like": "👍", "thanks": "🙏", "laugh": "😄", "insight": "💡"}

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    kind = models.CharField(max_length=16, choices=[(k, v) for k, v in KINDS.items()])
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("content_type", "object_id")
    created_at = models.DateTimeField(auto_now_add=True)

    # The default manager, so the GenericRelation managers built from it (post.reactions)
    # write on the primary (Django ticket #36389) and reactions can be read from replicas.
    objects = WritesOnPrimaryQuerySet.as_manager()
    # Django's own behaviour, for lesson 4's naive run: post.reactions(manager="plain").
    plain = models.Manager()  # noqa: DJ012 (ruff takes the line above for a field)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "kind", "content_type", "object_id"], name="one_reaction_per_kind"
            )
        ]
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.KINDS.get(self.kind, self.kind)} by {self.user_id}"

    @property
    def emoji(self) -> str:
        return self.KINDS.get(self.kind, "")


class Thread(models.Model):
    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="threads")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="threads"
    )
    title = models.CharField(max_length=TITLE_MAX)
    slug = models.SlugField(max_length=TITLE_MAX, allow_unicode=False)
    tags = models.ManyToManyField(Tag, blank=True, related_name="threads")
    reactions = GenericRelation(Reaction, related_query_name="thread")
    created_at = models.DateTimeField(auto_now_add=True)
    last_posted_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-last_posted_at"]
        indexes = [models.Index(fields=["board", "-last_posted_at"])]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not self.slug:
            self.slug = slugify(self.title)[:TITLE_MAX] or "thread"
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("forum:thread", args=[self.pk, self.slug])


class Post(models.Model):
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="posts")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="posts"
    )
    body = models.TextField(max_length=BODY_MAX)
    reactions = GenericRelation(Reaction, related_query_name="post")
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["thread", "created_at"])]

    def __str__(self) -> str:
        return f"Post {self.pk} in {self.thread_id}"

    def can_change(self, user: User | AnonymousUser) -> bool:
        """Only the author, or staff, may edit or delete a post."""
        return bool(user.is_authenticated and (user.pk == self.author_id or user.is_staff))


class Notification(models.Model):
    """A reply in a member's thread, for their Replies page.

    Written by a task on the worker (forum/tasks.py), after the reply's request: it reads
    the reply it was enqueued for, with the replier's write carried to it (lesson 15).
    """

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="notifications")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A task run twice (a worker killed before it recorded the run) notifies once.
            models.UniqueConstraint(fields=["recipient", "post"], name="one_notification_per_reply")
        ]

    def __str__(self) -> str:
        return f"Post {self.post_id} for {self.recipient_id}"


class OutboxEvent(models.Model):
    """An activity event on its way to the analytics database (lesson 7).

    Written in the same transaction as the change it describes, so both commit or
    neither does; forum/outbox.py copies it to analytics.Event and marks it relayed.
    """

    kind = models.CharField(max_length=16)
    username = models.CharField(max_length=150, blank=True)
    thread_id = models.BigIntegerField(null=True, blank=True)
    post_id = models.BigIntegerField(null=True, blank=True)
    title = models.CharField(max_length=TITLE_MAX, blank=True)
    occurred_at = models.DateTimeField(auto_now_add=True)
    relayed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["id"],
                condition=models.Q(relayed_at__isnull=True),
                name="forum_outbox_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk}"
