"""The JSON API's token authentication, which tells the routers whose request it is."""

from typing import Any

from rest_framework.authentication import TokenAuthentication
from rest_framework.request import Request

import routers


class MemberTokenAuthentication(TokenAuthentication):
    """REST framework's token authentication. A request's member is known only here,
    inside the view: handing them to the routers serves the request with the writes
    kept for that member by their other clients (a browser, a phone; lesson 18)."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        found = super().authenticate(request)
        if found is not None:
            routers.member_authenticated(found[0])
        return found
