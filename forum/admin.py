from django.contrib import admin
from django.contrib.contenttypes.admin import GenericTabularInline

from .models import Board, Post, Reaction, Tag, Thread


class ReactionInline(GenericTabularInline):
    model = Reaction
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Board)
class BoardAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "position"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Thread)
class ThreadAdmin(admin.ModelAdmin):
    list_display = ["title", "board", "author", "created_at", "last_posted_at"]
    list_select_related = ["board", "author"]
    date_hierarchy = "created_at"
    list_filter = ["board"]
    search_fields = ["title"]
    raw_id_fields = ["author"]
    filter_horizontal = ["tags"]
    inlines = [ReactionInline]


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    list_display = ["pk", "thread", "author", "created_at", "edited_at"]
    list_select_related = ["thread", "author"]
    date_hierarchy = "created_at"
    search_fields = ["body"]
    raw_id_fields = ["thread", "author"]
    inlines = [ReactionInline]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]


@admin.register(Reaction)
class ReactionAdmin(admin.ModelAdmin):
    list_display = ["kind", "user", "content_type", "object_id", "created_at"]
    list_select_related = ["user", "content_type"]
    list_filter = ["kind", "content_type"]
    raw_id_fields = ["user"]
