import itertools

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
