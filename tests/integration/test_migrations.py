"""The checked-in migrations build an empty database that matches the models exactly."""

from tortoise import Tortoise
from tortoise.migrations.autodetector import MigrationAutodetector

from stepwise.models.db import tortoise_config
from stepwise.models.db.lifecycle import apply_migrations, open_database
from tests.conftest import forget_compiled_sql


async def test_migrations_apply_to_an_empty_database_and_match_the_models(database_url):
    forget_compiled_sql()  # an INSERT compiled for the other backend by an earlier test
    assert await apply_migrations(database_url) == ["0001_initial", "0002_campaigns_and_issues",
                                                    "0003_campaign_instructions", "0004_task_least_loaded_index",
                                                    "0005_analytics_indexes", "0006_analytics_rollups", "0007_event_log"]
    assert await apply_migrations(database_url) == []  # idempotent
    config = tortoise_config(database_url)
    async with open_database(database_url):
        apps_config = {label: dict(app) for label, app in config["apps"].items()}
        detector = MigrationAutodetector(Tortoise.apps, apps_config)
        pending = await detector.changes()
        assert [w.name for w in pending] == [], "models changed without a migration: run makemigrations"
        # The tables really exist and accept rows.
        from stepwise.models.db.accounts import User

        await User.create(username="probe", email="probe@example.com", password_hash="x")
        assert await User.filter(username="probe").count() == 1
