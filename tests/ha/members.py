"""A member of the forum served on the HA cluster (conftest's ha_forum), through a real
browser's cookies: logs in, starts a thread, reads pages and the notices on them."""

import uuid

from tests.helpers import HttpBrowser


class Member:
    def __init__(self, url: str, username: str = "grace") -> None:
        self.url = url
        self.browser = HttpBrowser()
        self.browser.get(url + "/login/")  # the CSRF cookie
        status, landed, _ = self.browser.post(
            url + "/login/", {"username": username, "password": f"{username}-demo-password"}
        )
        assert status == 200
        assert not landed.endswith("/login/"), "the member could not log in"

    def start_thread(self) -> tuple[str, str]:
        """A new thread in the General board, acknowledged (its page shown after the
        redirect): its title and its page's URL."""
        title = f"Across a failover {uuid.uuid4()}"
        status, landed, body = self.browser.post(
            self.url + "/b/general/new/", {"title": title, "body": "Kept, or told.", "tags": ""}
        )
        assert status == 200
        assert "/t/" in landed, landed
        assert title in body
        return title, landed

    def get(self, path: str) -> tuple[int, str]:
        status, _, body = self.browser.get(path if path.startswith("http") else self.url + path)
        return status, body
