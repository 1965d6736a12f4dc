import pytest
from django.core.management import call_command


@pytest.mark.django_db(databases=["default", "analytics"])
def test_it_has_a_migration_for_every_model_change():
    # Exits non-zero (SystemExit) when a model change has no migration.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
