import itertools
import sys

import pytest

_names = itertools.count()


@pytest.fixture
def causal(settings):
    """The causal strategy, with the views of tests/routers/urls.py."""
    settings.ROUTERS_STRATEGY = "causal"
    settings.ROOT_URLCONF = "tests.routers.urls"


@pytest.fixture
def tag_name(request):
    """A tag name no other test uses."""
    return f"t{next(_names)}-{request.node.name[:20]}"


@pytest.fixture
def stub(monkeypatch):
    """stub(name, fake): replace the routers' function `name` in every routers module that
    calls it (each module imports the functions it uses by name); returns the real one."""
    current = {}

    def replace(name, fake):
        modules = [m for n, m in list(sys.modules.items()) if n.startswith("routers.")]
        if name not in current:
            (current[name],) = {
                getattr(m, name)
                for m in modules
                if getattr(getattr(m, name, None), "__module__", "") == m.__name__
            }
        real = current.setdefault(f"real {name}", current[name])
        for module in modules:
            if getattr(module, name, None) is current[name]:
                monkeypatch.setattr(module, name, fake)
        current[name] = fake
        return real

    return replace
