"""What `TEST["MIRROR"]` does in the installed Django: it copies the database name only.

The docs say so (routers/README.md, docs/architecture.md): a mirror alias keeps its own
host, so it is not what hides lag from a test suite.
"""

from django.db import connections


def test_it_copies_only_the_name_to_a_test_mirror():
    replica = connections["replica"]
    primary_settings = {**connections["default"].settings_dict, "NAME": "primary_db"}
    mirror = replica.__class__({**replica.settings_dict}, alias="mirror_probe")

    mirror.creation.set_as_test_mirror(primary_settings)

    assert mirror.settings_dict["NAME"] == "primary_db"
    assert (mirror.settings_dict["HOST"], mirror.settings_dict["PORT"]) == (
        replica.settings_dict["HOST"],
        replica.settings_dict["PORT"],
    )
    assert mirror.settings_dict["PORT"] != primary_settings["PORT"]
