"""Demo data: a few boards, dozens of threads, hundreds of posts, known demo users.

Idempotent: a second run finds the demo boards and changes nothing.
"""

import random
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from forum.models import Board, Post, Reaction, Tag, Thread

USERS = ["ada", "grace", "linus", "margaret", "ken"]
BOARDS = [
    ("General", "general", "Introductions, questions, anything at all."),
    ("Replication", "replication", "Streaming replicas, lag, failover and friends."),
    ("Django", "django", "Routers, the ORM, migrations and deployment."),
    ("Show and tell", "show-and-tell", "What you built this week."),
]
TOPICS = [
    "Why does my new post 404 right after I submit it?",
    "Sticky sessions vs. read-your-writes",
    "How big should recovery_min_apply_delay be for a demo?",
    "pg_last_wal_replay_lsn vs pg_last_wal_receive_lsn",
    "Routing reads inside atomic() blocks",
    "get_or_create keeps hitting the primary",
    "Raw SQL and connection.cursor() surprises",
    "Our replica fell 10 minutes behind during a backfill",
    "PgBouncer transaction pooling and server-side cursors",
    "Testing against a real replica in CI",
    "One replica per request or per query?",
    "What happens when the primary goes away?",
    "Generic relations and database routers",
    "Scaling reads with three replicas",
    "synchronous_commit = remote_apply in production?",
]
SENTENCES = [
    "I measured it on a quiet staging box first.",
    "The replica applies WAL in order, so it only ever moves forward.",
    "A cookie with the commit position fixed it for us.",
    "Pinning writers to the primary for a few seconds is the simple answer.",
    "It depends on how far behind your replicas usually are.",
    "We log the lag in bytes and alert above a few megabytes.",
    "Remember that uncommitted rows never leave the primary.",
    "Has anyone tried this with more than two replicas?",
    "The footer on this forum tells you which database served the page.",
    "Switching the strategy in the navbar makes the difference obvious.",
    "Our health check skips a replica that stops answering.",
    "Thanks, that explains the flaky test we had.",
]
TAGS = ["postgres", "replication", "django", "lag", "routers", "testing", "performance"]
THREADS_PER_BOARD = 12
PASSWORD_SUFFIX = "-demo-password"


class Command(BaseCommand):
    help = "Create demo boards, users, threads, posts, tags and reactions (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        users = self.ensure_users()
        if Board.objects.filter(slug__in=[slug for _, slug, _ in BOARDS]).exists():
            self.stdout.write("Demo data already present: nothing changed.")
        else:
            self.create_content(users)
        self.stdout.write("Demo users (username / password):")
        for name in USERS:
            self.stdout.write(f"  {name} / {name}{PASSWORD_SUFFIX}")

    def ensure_users(self) -> list[User]:
        users = []
        for name in USERS:
            user, created = User.objects.get_or_create(username=name)
            if created:
                user.set_password(name + PASSWORD_SUFFIX)
                user.is_staff = user.is_superuser = name == "ada"
                user.save()
            users.append(user)
        return users

    @transaction.atomic
    def create_content(self, users: list[User]) -> None:
        rng = random.Random(2026)
        now = timezone.now()
        tags = Tag.objects.bulk_create([Tag(name=name) for name in TAGS])
        boards = Board.objects.bulk_create(
            [
                Board(name=name, slug=slug, description=text, position=index)
                for index, (name, slug, text) in enumerate(BOARDS)
            ]
        )
        posts: list[Post] = []
        threads: list[Thread] = []
        for board in boards:
            for index in range(THREADS_PER_BOARD):
                title = TOPICS[(index + board.position * 5) % len(TOPICS)]
                thread = Thread(board=board, author=rng.choice(users), title=title)
                thread.slug = ""
                threads.append(thread)
        for thread in threads:
            thread.save()
            thread.tags.set(rng.sample(tags, k=rng.randint(0, 3)))
            started = now - timedelta(hours=rng.randint(2, 24 * 30))
            count = rng.randint(3, 18)
            gap = (now - started) / (count + 1)
            for step in range(count):
                posts.append(
                    Post(
                        thread=thread,
                        author=rng.choice(users),
                        body="\n\n".join(
                            " ".join(rng.sample(SENTENCES, k=rng.randint(1, 3)))
                            for _ in range(rng.randint(1, 2))
                        ),
                    )
                )
                posts[-1].seeded_at = started + gap * step  # type: ignore[attr-defined]
            thread.created_at = started
            thread.last_posted_at = started + gap * (count - 1)
        Thread.objects.bulk_update(threads, ["created_at", "last_posted_at"])
        Post.objects.bulk_create(posts)
        for post in posts:
            post.created_at = post.seeded_at  # type: ignore[attr-defined]
        Post.objects.bulk_update(posts, ["created_at"], batch_size=500)
        Reaction.objects.bulk_create(
            [
                Reaction(user=user, kind=rng.choice(list(Reaction.KINDS)), target=post)
                for post in rng.sample(posts, k=len(posts) // 3)
                for user in rng.sample(users, k=rng.randint(1, 3))
            ],
            ignore_conflicts=True,
        )
        self.stdout.write(
            f"Created {len(boards)} boards, {len(threads)} threads, {len(posts)} posts."
        )
