"""factory-boy factories for every forum model."""

import factory
from django.contrib.auth.models import User
from factory.django import DjangoModelFactory

from forum.models import Board, Post, Reaction, Tag, Thread

PASSWORD = "factory-password"


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def saved(obj: User, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            obj.save()


class BoardFactory(DjangoModelFactory[Board]):
    class Meta:
        model = Board

    name = factory.Sequence(lambda n: f"Board {n}")
    slug = factory.Sequence(lambda n: f"board-{n}")
    description = "A board for tests."


class TagFactory(DjangoModelFactory[Tag]):
    class Meta:
        model = Tag

    name = factory.Sequence(lambda n: f"tag{n}")


class ThreadFactory(DjangoModelFactory[Thread]):
    class Meta:
        model = Thread

    board = factory.SubFactory(BoardFactory)
    author = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Thread number {n}")


class PostFactory(DjangoModelFactory[Post]):
    class Meta:
        model = Post

    thread = factory.SubFactory(ThreadFactory)
    author = factory.SubFactory(UserFactory)
    body = factory.Sequence(lambda n: f"Post body {n}")


class ReactionFactory(DjangoModelFactory[Reaction]):
    class Meta:
        model = Reaction

    user = factory.SubFactory(UserFactory)
    kind = "like"
    target = factory.SubFactory(PostFactory)
