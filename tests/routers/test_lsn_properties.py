"""Properties of LSN text and of the position cookie, over generated input."""

import re

from django.http import HttpResponse
from django.test import RequestFactory
from hypothesis import given
from hypothesis import strategies as st

from routers import conf, format_lsn, parse_lsn
from routers.cookies import state_from_cookies


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_it_turns_an_lsn_into_text_and_back(value):
    text = format_lsn(value)

    assert parse_lsn(text) == value
    assert re.fullmatch(r"[0-9A-F]{1,8}/[0-9A-F]{1,8}", text)


@given(st.integers(min_value=0, max_value=2**64 - 1), st.integers(min_value=0, max_value=2**64 - 1))
def test_it_orders_lsns_as_postgresql_does(a, b):
    # PostgreSQL orders "X/Y" by X, then Y, both hexadecimal.
    def key(text):
        high, low = text.split("/")
        return (int(high, 16), int(low, 16))

    assert (parse_lsn(format_lsn(a)) < parse_lsn(format_lsn(b))) == (
        key(format_lsn(a)) < key(format_lsn(b))
    )


@given(st.from_regex(r"[0-9A-F]{1,8}/[0-9A-F]{1,8}", fullmatch=True))
def test_it_reads_every_lsn_text_a_cookie_may_hold(text):
    value = parse_lsn(text)

    assert 0 <= value < 2**64
    assert parse_lsn(format_lsn(value)) == value


@given(st.text(alphabet="0123456789ABCDEFabcdef/:- \x00", max_size=24))
def test_it_reads_a_signed_lsn_cookie_or_ignores_it(text):
    signed = HttpResponse()
    signed.set_signed_cookie(conf.LSN_COOKIE, text, salt=conf.LSN_COOKIE)
    request = RequestFactory().get("/")
    request.COOKIES[conf.LSN_COOKIE] = signed.cookies[conf.LSN_COOKIE].value

    position = state_from_cookies(request).cluster().min_lsn

    if re.fullmatch(r"[0-9A-F]{1,8}/[0-9A-F]{1,8}", text):
        assert position == parse_lsn(text)
    else:
        assert position is None
