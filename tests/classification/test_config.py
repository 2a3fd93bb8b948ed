"""The configuration file: validated at start-up, errors name the file and the field."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.classification.config import (
    CONFIG_FILE_NAME,
    ConfigError,
    load_classifier_config,
    parse_classifier_config,
)
from app.config import PROJECT_ROOT, Settings
from app.main import create_app

SHIPPED = PROJECT_ROOT / "retention_schedules" / CONFIG_FILE_NAME


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / CONFIG_FILE_NAME
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_configuration_loads() -> None:
    config = load_classifier_config(SHIPPED)
    assert "cityofexample@mastodon.example" in config.official_sets["mastodon"]
    assert "city.example" in config.publication_domain_set
    assert len(config.config_hash) == 64


@pytest.mark.parametrize(
    ("text", "field", "hint"),
    [
        (
            "official_accounts:\n  mastodon: [ok@mastodon.example, 'cityofexample']\n",
            "official_accounts.mastodon[1]",
            "user@instance",
        ),
        (
            "official_accounts:\n  bluesky: [a.bsky.social, b.bsky.social, 'has space']\n",
            "official_accounts.bluesky[2]",
            "whitespace",
        ),
        ("official_accounts:\n  twitter: [city]\n", "official_accounts.twitter", "unknown field"),
        (
            "official_accounts:\n  youtube: [notachannel]\n",
            "official_accounts.youtube[0]",
            "@handle",
        ),
        (
            "publication_domains: ['https://city.example/']\n",
            "publication_domains[0]",
            "bare domain",
        ),
        ("publication_domains: [city]\n", "publication_domains[0]", "not a domain name"),
        (
            "thresholds:\n  near_duplicate_threshold: 0.2\n",
            "thresholds.near_duplicate_threshold",
            "0.5",
        ),
        ("thresholds:\n  lead_in_max_words: many\n", "thresholds.lead_in_max_words", "integer"),
        ("thresholds:\n  lead_in_max_wrods: 3\n", "thresholds.lead_in_max_wrods", "unknown field"),
        ("- a\n- b\n", "", "mapping"),
    ],
)
def test_errors_name_file_and_field(tmp_path: Path, text: str, field: str, hint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_classifier_config(write(tmp_path, text))
    message = caught.value.message
    assert message.startswith(f"{tmp_path / CONFIG_FILE_NAME}: {field}"), message
    assert hint in message
    assert "\n" not in message


def test_invalid_yaml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"classification.yaml: not valid YAML at line \d+"):
        load_classifier_config(write(tmp_path, "official_accounts:\n  bluesky: [a\n  x: ]\n"))
    with pytest.raises(ConfigError, match=r"classification.yaml: file not found"):
        load_classifier_config(tmp_path / "nowhere" / CONFIG_FILE_NAME)


def test_path_inside_project_is_shown_relative() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_classifier_config(
            {"publication_domains": ["x"]}, source="retention_schedules/classification.yaml"
        )
    assert caught.value.message.startswith(
        "retention_schedules/classification.yaml: publication_domains[0]"
    )


def test_config_hash_ignores_order_and_case_but_not_content() -> None:
    a = parse_classifier_config(
        {
            "official_accounts": {"bluesky": ["A.bsky.social", "b.bsky.social"]},
            "publication_domains": ["city.example", "x.example"],
        },
        source="a",
    )
    b = parse_classifier_config(
        {
            "official_accounts": {"bluesky": ["b.bsky.social", "@a.bsky.social"]},
            "publication_domains": ["X.example", "city.example"],
        },
        source="b",
    )
    c = parse_classifier_config(
        {
            "official_accounts": {"bluesky": ["b.bsky.social"]},
            "publication_domains": ["x.example", "city.example"],
        },
        source="c",
    )
    assert a.config_hash == b.config_hash
    assert a.config_hash != c.config_hash


def test_app_refuses_to_start_with_a_broken_file(tmp_path: Path, database_url: str) -> None:
    write(tmp_path, "publication_domains: ['http://city.example']\n")
    settings = Settings(
        database_url=database_url, schedules_dir=tmp_path, archive_dir=tmp_path / "a"
    )
    with pytest.raises(ConfigError, match=r"publication_domains\[0\]"):
        create_app(settings)


def test_cli_stops_with_one_line(tmp_path: Path, database_url: str) -> None:
    write(tmp_path, "official_accounts:\n  mastodon: [nohost]\n")
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "classify", "--all"],
        capture_output=True,
        text=True,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(PROJECT_ROOT),
            "POSTVAULT_DATABASE_URL": database_url,
            "POSTVAULT_SCHEDULES_DIR": str(tmp_path),
        },
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "classification.yaml: official_accounts.mastodon[0]" in lines[0]
