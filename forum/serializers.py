"""The JSON API's shapes: what it shows of threads and posts, and what it accepts.

What it accepts follows the forms' rules (forum/forms.py): a body that is not blank, a
title, at most MAX_TAGS tags; a violation is a 400 that names the field.
"""

from rest_framework import serializers

from .models import BODY_MAX, TITLE_MAX, Board, Post, Tag, Thread
from .services import MAX_TAGS, parse_tags


class PostSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", read_only=True)

    class Meta:
        model = Post
        fields = ["id", "thread", "author", "body", "created_at", "edited_at"]
        read_only_fields = fields


class ThreadSerializer(serializers.ModelSerializer):
    """A thread as the list shows it (with `post_count` annotated)."""

    board = serializers.CharField(source="board.slug", read_only=True)
    author = serializers.CharField(source="author.username", read_only=True)
    tags = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")
    post_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Thread
        fields = [
            "id",
            "title",
            "board",
            "author",
            "tags",
            "post_count",
            "created_at",
            "last_posted_at",
        ]
        read_only_fields = fields


def _not_blank(body: str) -> str:
    # Not trimmed (indentation matters in code), but blank is empty, as in PostForm.
    if not body.strip():
        raise serializers.ValidationError("The message cannot be empty.")
    return body


class ReplySerializer(serializers.Serializer):
    body = serializers.CharField(max_length=BODY_MAX, trim_whitespace=False)

    def validate_body(self, body: str) -> str:
        return _not_blank(body)


class ThreadStartSerializer(ReplySerializer):
    board = serializers.SlugField()
    title = serializers.CharField(max_length=TITLE_MAX)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=Tag._meta.get_field("name").max_length),
        required=False,
        default=list,
        max_length=MAX_TAGS,
    )

    def validate_board(self, slug: str) -> Board:
        board = Board.objects.filter(slug=slug).first()
        if board is None:
            raise serializers.ValidationError(f"No board {slug!r}.")
        return board

    def validate_tags(self, names: list[str]) -> list[str]:
        return parse_tags(",".join(names))  # the form's rules: lower case, no repeats
