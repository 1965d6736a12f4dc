"""Small template filters for the forum's pages."""

from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timesince import timesince

register = template.Library()


@register.filter
def ago(moment: datetime | None) -> SafeString | str:
    """A <time> reading "3 hours ago", or "just now" (timesince says "0 minutes").

    The exact date and time are in the tooltip and the machine-readable attribute.
    """
    if moment is None:
        return ""
    if timezone.now() - moment < timedelta(minutes=1):
        text = "just now"
    else:
        text = f"{timesince(moment, depth=1)} ago"
    local = timezone.localtime(moment)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        local.isoformat(),
        local.strftime("%Y-%m-%d %H:%M %Z"),
        text,
    )
