"""The package's declared public API, and the import contract that guards the rest."""

import pkgutil
import tomllib

import routers
from tests.helpers import REPO

PUBLIC_MODULES = {
    "routers.conf",
    "routers.middleware",
    "routers.views",
    "routers.statements",
    "routers.prometheus",
    "routers.toolbar",
}


def protected_modules() -> set[str]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [
        c
        for c in config["contracts"]
        if c["type"] == "protected" and "routers" in c["allowed_importers"]
    ]
    return set(contract["protected_modules"])


def test_every_module_but_the_public_ones_is_protected():
    modules = {f"routers.{module.name}" for module in pkgutil.iter_modules(routers.__path__)}

    assert protected_modules() == modules - PUBLIC_MODULES


def test_the_package_exports_every_name_it_lists():
    assert sorted(routers.__all__) == routers.__all__
    for name in routers.__all__:
        assert getattr(routers, name) is not None
