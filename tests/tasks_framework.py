"""Django's tasks framework as the tests use it: django.tasks on Django 6, the
django-tasks backport on 5.2 (make matrix runs the tests on both)."""

try:
    from django.tasks import TaskContext, task

    FRAMEWORK = "django.tasks"
except ImportError:
    from django_tasks import TaskContext, task  # type: ignore[no-redef]

    FRAMEWORK = "django_tasks"

IMMEDIATE_BACKEND = f"{FRAMEWORK}.backends.immediate.ImmediateBackend"

__all__ = ["IMMEDIATE_BACKEND", "TaskContext", "task"]
