"""Streamed responses: their body runs as part of its request, not after it.

Django iterates a StreamingHttpResponse body after every middleware has returned
(the WSGI server does, or Django's ASGI handler), and closes it when the client
goes away. Both happen here in the request's routing state, so the body reads
where the request reads and sees the request's own writes.
"""

import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator

from django.http import HttpResponseBase, StreamingHttpResponse

from .context import RequestState, entered, release_held

logger = logging.getLogger("routers")


def _note_late_write(state: RequestState, wrote_before: set[str]) -> None:
    if state.primaries_written() - wrote_before:
        logger.warning(
            "A streamed response body wrote on the primary after the response headers "
            "were sent, so no cookie can carry that write to the client's next request. "
            "Write in the view, before returning the response."
        )


def _in_state(state: RequestState, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Iterate a streamed body in the request's routing state, one chunk at a time."""
    wrote_before = state.primaries_written()
    iterator = iter(chunks)
    try:
        while True:
            with entered(state):
                chunk = next(iterator, None)
            if chunk is None:
                return
            yield chunk
    finally:
        _note_late_write(state, wrote_before)


async def _in_state_async(
    state: RequestState, chunks: AsyncIterator[bytes]
) -> AsyncIterator[bytes]:
    wrote_before = state.primaries_written()
    try:
        while True:
            with entered(state):
                chunk = await anext(chunks, None)
            if chunk is None:
                return
            yield chunk
    finally:
        _note_late_write(state, wrote_before)


def stream_in_state(
    state: RequestState, response: HttpResponseBase, closed: Callable[[], None]
) -> bool:
    """Iterate and close a streamed body in `state`, and call `closed` once it is closed;
    whether it did. Other responses are left alone.

    A FileResponse reads a file, not the database: it keeps its wsgi.file_wrapper.
    The request's held transactions (`context.release_held`) end when the body closes.
    """
    if not isinstance(response, StreamingHttpResponse):
        return False
    if getattr(response, "file_to_stream", None) is not None:
        return False
    content = response.streaming_content
    if isinstance(content, AsyncIterator):
        response.streaming_content = _in_state_async(state, content)
    else:
        response.streaming_content = _in_state(state, content)
    # A client that goes away early gets the body's generator closed by close(),
    # whose cleanup (a finally block) may read or write too.
    close = response.close

    def close_in_state() -> None:
        try:
            with entered(state):
                close()
        finally:
            release_held(state)
            closed()

    response.close = close_in_state  # type: ignore[method-assign]
    return True
