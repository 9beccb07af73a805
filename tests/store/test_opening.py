"""The one composition point of the store: which adapter a configuration selects, the embedded one opened
for real, and a MongoDB URI that never shows its password (reprs, descriptions, actor configs)."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import pytest

from flowker.actors.config import RuntimeConfig
from flowker.actors.runtime import RayRuntime
from flowker.errors import ConfigError
from flowker.settings import Settings
from flowker.store.opening import EMBEDDED, MONGODB, StoreLocation, location_from, open_store
from flowker.store.uri_masking import MASK, redacted
from tests.store.builders import make_workflow

PASSWORD = "s3cret-Pa55word"
URI = f"mongodb://flowker:{PASSWORD}@db1.example:27017,db2.example/?replicaSet=rs0&tls=true"


async def test_without_a_uri_the_embedded_store_opens_in_the_data_directory(tmp_path: Path) -> None:
    location = location_from(Settings(data_dir=tmp_path / "data"))
    assert location.kind == EMBEDDED and location.data_dir == str((tmp_path / "data").resolve())
    (tmp_path / "data").mkdir()
    first = await open_store(location)
    try:
        created = await first.workflows.create(make_workflow())
    finally:
        await first.close()
    # What one opening wrote, another (a different process's, from a pickled location) reads.
    second = await open_store(pickle.loads(pickle.dumps(location)))
    try:
        await second.ping()
        assert await second.workflows.get(created.id) == created
    finally:
        await second.close()


def test_a_uri_selects_mongodb_and_its_database() -> None:
    location = location_from(Settings(mongo_uri=URI, mongo_db="ledger"))
    assert (location.kind, location.database, location.uri) == (MONGODB, "ledger", URI)
    assert pickle.loads(pickle.dumps(location)).uri == URI  # an actor-side rebuild is not needed to open


def test_the_password_is_in_no_repr_or_description() -> None:
    settings = Settings(mongo_uri=URI)
    location = location_from(settings)
    for text in (repr(settings), repr(location), location.describe()):
        assert PASSWORD not in text
    assert location.describe() == (
        f"MongoDB at mongodb://flowker:{MASK}@db1.example:27017,db2.example/?replicaSet=rs0&tls=true"
        ", database flowker"
    )


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("mongodb://db.example/", "mongodb://db.example/"),
        ("mongodb://ann@db.example/", "mongodb://ann@db.example/"),
        ("mongodb+srv://ann:pw@cluster0.example/x", f"mongodb+srv://ann:{MASK}@cluster0.example/x"),
        (
            "mongodb://db/?authSource=admin&tlsCertificateKeyFilePassword=pw",
            f"mongodb://db/?authSource=admin&tlsCertificateKeyFilePassword={MASK}",
        ),
        ("mongodb://a:p@ss:w@rd@db/", f"mongodb://a:{MASK}@db/"),
        (
            "mongodb://db/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:tok",
            f"mongodb://db/?authMechanism=MONGODB-AWS&authMechanismProperties={MASK}",
        ),
    ],
)
def test_redacted_masks_passwords_only(uri: str, shown: str) -> None:
    assert redacted(uri) == shown


def test_actors_are_told_the_kind_and_the_database_never_the_uri(tmp_path: Path) -> None:
    config = RuntimeConfig.from_settings(Settings(data_dir=tmp_path, mongo_uri=URI, mongo_db="ledger"))
    assert (config.store_kind, config.mongo_db) == (MONGODB, "ledger")
    assert PASSWORD not in repr(dataclasses.asdict(config))
    assert PASSWORD.encode() not in pickle.dumps(config)
    assert RuntimeConfig.from_settings(Settings(data_dir=tmp_path)).store_kind == EMBEDDED


def test_a_runtime_takes_a_uri_exactly_when_the_store_is_mongodb(tmp_path: Path) -> None:
    mongo = RuntimeConfig.from_settings(Settings(data_dir=tmp_path, mongo_uri=URI))
    embedded = RuntimeConfig.from_settings(Settings(data_dir=tmp_path))
    with pytest.raises(ValueError, match="MongoDB URI"):
        RayRuntime(mongo, "key")
    with pytest.raises(ValueError, match="MongoDB URI"):
        RayRuntime(embedded, "key", store_uri=URI)


def test_settings_read_the_mongo_variables() -> None:
    settings = Settings.from_env({"FLOWKER_MONGO_URI": f" {URI} ", "FLOWKER_MONGO_DB": "ledger"})
    assert (settings.mongo_uri, settings.mongo_db) == (URI, "ledger")
    assert (Settings.from_env({}).mongo_uri, Settings.from_env({}).mongo_db) == (None, "flowker")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FLOWKER_MONGO_URI": "postgres://db/"}, "mongodb://"),
        ({"FLOWKER_MONGO_URI": f"http://u:{PASSWORD}@db/"}, "mongodb://"),
        ({"FLOWKER_MONGO_DB": "a.b"}, "FLOWKER_MONGO_DB"),
        ({"FLOWKER_MONGO_DB": "x" * 64}, "FLOWKER_MONGO_DB"),
    ],
)
def test_bad_mongo_settings_are_refused_without_showing_the_uri(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as refused:
        Settings.from_env(env)
    assert PASSWORD not in str(refused.value)


def test_a_mongodb_location_needs_a_uri_and_a_kind_must_be_known() -> None:
    with pytest.raises(ConfigError, match="URI"):
        StoreLocation(kind=MONGODB, data_dir=".")
    with pytest.raises(ConfigError, match="unknown"):
        StoreLocation(kind="postgres", data_dir=".")
