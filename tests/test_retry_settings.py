"""The retry settings: read from ``FLOWKER_RETRY_*``, bounded, and handed to the actors."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowker.cli import runtime_config
from flowker.errors import ConfigError
from flowker.settings import Settings


def test_the_defaults() -> None:
    settings = Settings.from_env({})
    assert (
        settings.retry_attempts,
        settings.retry_backoff_seconds,
        settings.retry_max_delay_seconds,
        settings.retry_after_max_seconds,
        settings.retry_jitter,
        settings.retry_budget_ratio,
        settings.retry_budget_window_seconds,
        settings.retry_budget_min_retries,
    ) == (5, 1.0, 30.0, 60.0, True, 0.2, 10.0, 10)


def test_every_retry_setting_reaches_the_actors(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "FLOWKER_DATA_DIR": str(tmp_path),
            "FLOWKER_RETRY_AFTER_MAX_SECONDS": "5",
            "FLOWKER_RETRY_JITTER": "none",
            "FLOWKER_RETRY_BUDGET_RATIO": "0.5",
            "FLOWKER_RETRY_BUDGET_WINDOW_SECONDS": "30",
            "FLOWKER_RETRY_BUDGET_MIN_RETRIES": "0",
        }
    )
    config = runtime_config(settings)
    assert (
        config.retry_after_max_seconds,
        config.retry_jitter,
        config.retry_budget_ratio,
        config.retry_budget_window_seconds,
        config.retry_budget_min_retries,
    ) == (5.0, False, 0.5, 30.0, 0)
    assert Settings.from_env({"FLOWKER_RETRY_JITTER": " Full "}).retry_jitter is True


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("FLOWKER_RETRY_JITTER", "half", "FLOWKER_RETRY_JITTER='half' is not full or none"),
        (
            "FLOWKER_RETRY_AFTER_MAX_SECONDS",
            "-1",
            "FLOWKER_RETRY_AFTER_MAX_SECONDS=-1.0 is outside 0.0..3600.0",
        ),
        ("FLOWKER_RETRY_AFTER_MAX_SECONDS", "soon", "FLOWKER_RETRY_AFTER_MAX_SECONDS='soon' is not a number"),
        ("FLOWKER_RETRY_BUDGET_RATIO", "11", "FLOWKER_RETRY_BUDGET_RATIO=11.0 is outside 0.0..10.0"),
        ("FLOWKER_RETRY_BUDGET_WINDOW_SECONDS", "0.5", "is outside 1.0..3600.0"),
        (
            "FLOWKER_RETRY_BUDGET_MIN_RETRIES",
            "-1",
            "FLOWKER_RETRY_BUDGET_MIN_RETRIES=-1 is outside 0..100000",
        ),
        (
            "FLOWKER_RETRY_BUDGET_MIN_RETRIES",
            "1.5",
            "FLOWKER_RETRY_BUDGET_MIN_RETRIES='1.5' is not a whole number",
        ),
    ],
)
def test_a_value_out_of_bounds_stops_the_service(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({name: value})
    assert message in str(info.value)
