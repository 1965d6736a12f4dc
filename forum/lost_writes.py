"""The member told, once, that a write of theirs was lost in a failover.

The routers find a client's write that the cluster lost (asynchronous replication: the
promoted standby never received it) before the view runs, and drop it
(`routers.lost_writes()`). This middleware turns each into a flash message, so it shows
on the member's next page, a redirect's target included. Put it after MessageMiddleware.
"""

from datetime import UTC, datetime
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.deprecation import MiddlewareMixin

from routers import LostWrite, lost_writes

#: The words every lost-write notice holds: what the HA tests and drills look for.
LOST_WRITE_WORDS = "may have been lost when the database switched to its standby server"


def notice(lost: LostWrite) -> str:
    """The words a member reads about `lost`: "may have been", since its position is
    where the primary's WAL was when the response was made, at or past the write's own
    commit, so a switch point between the two reports a write the new primary kept."""
    if lost.written_at is None:
        when = "recently"
    else:
        written = timezone.localtime(datetime.fromtimestamp(lost.written_at, UTC))
        when = f"at {written:%H:%M}"
    return (
        f"Something you saved {when} {LOST_WRITE_WORDS}. Please check your last post or "
        "change, and make it again if it is missing."
    )


class LostWriteNotice(MiddlewareMixin):
    """Tell the member, once, that a failover lost writes of theirs, on their next page."""

    def process_view(self, request: HttpRequest, *args: Any) -> None:
        self.tell(request)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        # A writing request whose primary was down mid-promotion before the view learns
        # only now, its write having reached the new leader, that the one before was lost.
        self.tell(request)
        return response

    @staticmethod
    def tell(request: HttpRequest) -> None:
        # One notice a page: a post's write is lost on both primaries (its outbox row on
        # analytics), in each of its carriers (both strategies' cookies, the member's
        # kept writes), so one failover reports it several times (four, measured).
        if getattr(request, "lost_write_told", False):
            return
        lost = lost_writes()
        if lost:
            latest = max(lost, key=lambda write: write.written_at or 0)
            messages.warning(request, notice(latest), extra_tags="lost-write")
            request.lost_write_told = True  # type: ignore[attr-defined]
