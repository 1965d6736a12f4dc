"""Demo data: a few boards, dozens of threads, hundreds of posts, known demo users.

Idempotent: a second run finds the demo boards and changes nothing.
"""

import random
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from forum.models import Board, Post, Reaction, Tag, Thread
from routers import RequestState, request_scope

USERS = ["ada", "grace", "linus", "margaret", "ken"]
STAFF = "ada"
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

    # Read what it writes: on a replica, a run just after another (or the users just
    # created) would not be there yet.
    def handle(self, *args: Any, **options: Any) -> None:
        # The primary strategy, not just use_primary(): naive, which a visitor may pick
        # as the default (FORUM_ROUTING), ignores use_primary(), and on a fresh stack
        # the replicas may not have replayed the migrations yet.
        with request_scope(RequestState(strategy="primary")):
            self.seed()

    def seed(self) -> None:
        started = time.monotonic()
        users = self.ensure_users()
        if Board.objects.filter(slug__in=[slug for _, slug, _ in BOARDS]).exists():
            self.stdout.write("Demo data already present: nothing changed.")
        else:
            self.create_content(users)
            self.stdout.write(f"Seeded in {time.monotonic() - started:.1f} s.")
        self.stdout.write("Demo users (username / password):")
        for name in USERS:
            role = " (staff: may edit any post, and use /admin/)" if name == STAFF else ""
            self.stdout.write(f"  {name} / {name}{PASSWORD_SUFFIX}{role}")

    def ensure_users(self) -> list[User]:
        existing = set(User.objects.filter(username__in=USERS).values_list("username", flat=True))
        missing = [name for name in USERS if name not in existing]
        # Password hashing is most of the seed's time, and hashlib releases the GIL.
        with ThreadPoolExecutor() as pool:
            hashes = list(pool.map(lambda name: make_password(name + PASSWORD_SUFFIX), missing))
        User.objects.bulk_create(
            [
                User(
                    username=name,
                    password=hashed,
                    is_staff=name == STAFF,
                    is_superuser=name == STAFF,
                )
                for name, hashed in zip(missing, hashes, strict=True)
            ]
        )
        users = {user.username: user for user in User.objects.filter(username__in=USERS)}
        return [users[name] for name in USERS]

    @transaction.atomic
    def create_content(self, users: list[User]) -> None:
        # A fixed seed: every demo starts from the same forum.
        rng = random.Random(2026)
        now = timezone.now()
        # Visitors may have made some of these tags already.
        Tag.objects.bulk_create([Tag(name=name) for name in TAGS], ignore_conflicts=True)
        tags = list(Tag.objects.filter(name__in=TAGS))
        boards = Board.objects.bulk_create(
            [
                Board(name=name, slug=slug, description=text, position=index)
                for index, (name, slug, text) in enumerate(BOARDS)
            ]
        )
        threads: list[Thread] = []
        for board in boards:
            for index in range(THREADS_PER_BOARD):
                title = TOPICS[(index + board.position * 5) % len(TOPICS)]
                author = rng.choice(users)
                threads.append(Thread(board=board, author=author, title=title, slug=slugify(title)))
        # bulk_create skips save(), so the slugs are set above; PostgreSQL returns the ids.
        Thread.objects.bulk_create(threads)
        Thread.tags.through.objects.bulk_create(
            [
                Thread.tags.through(thread=thread, tag=tag)
                for thread in threads
                for tag in rng.sample(tags, k=rng.randint(0, 3))
            ]
        )

        posts: list[Post] = []
        posted_at: list[datetime] = []
        for thread in threads:
            started = now - timedelta(hours=rng.randint(2, 24 * 30))
            count = rng.randint(3, 18)
            gap = (now - started) / (count + 1)
            for step in range(count):
                # The opening post is the thread author's.
                author = thread.author if step == 0 else rng.choice(users)
                posts.append(Post(thread=thread, author=author, body=self.body(rng)))
                posted_at.append(started + gap * step)
            thread.created_at = started
            thread.last_posted_at = posted_at[-1]
        Post.objects.bulk_create(posts)
        # auto_now_add stamps every row with "now" on insert: spread them over the past.
        for post, when in zip(posts, posted_at, strict=True):
            post.created_at = when
        Post.objects.bulk_update(posts, ["created_at"], batch_size=500)
        Thread.objects.bulk_update(threads, ["created_at", "last_posted_at"])
        Reaction.objects.bulk_create(
            [
                Reaction(user=user, kind=rng.choice(list(Reaction.KINDS)), target=post)
                for post in rng.sample(posts, k=len(posts) // 3)
                for user in rng.sample(users, k=rng.randint(1, 3))
            ],
            ignore_conflicts=True,
        )
        self.stdout.write(
            f"Created {len(boards)} boards, {len(threads)} threads, {len(posts)} posts, "
            f"{len(tags)} tags."
        )

    @staticmethod
    def body(rng: random.Random) -> str:
        paragraphs = rng.randint(1, 2)
        return "\n\n".join(
            " ".join(rng.sample(SENTENCES, k=rng.randint(1, 3))) for _ in range(paragraphs)
        )
