"""config/gunicorn.conf.py, as the demo, the tests and the container run it."""

import pytest

from tests.helpers import gunicorn


@pytest.mark.stack
def test_it_opens_no_control_socket_in_the_users_home(django_db_setup, tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    home = tmp_path / "home"
    home.mkdir()

    with gunicorn(tmp_path, HOME=str(home)):
        pass

    assert list(home.iterdir()) == []
    assert "Control server" not in (tmp_path / "gunicorn.log").read_text()
