"""Installed versions from the Version header: what `importlib.metadata` reads, or its answer."""

from __future__ import annotations

import email
from importlib import metadata

import pytest

from tools.installed_versions import installed_version, version_header


@pytest.mark.parametrize(
    "name", ["mlflow", "numpy", "pydantic", "scikit-learn", "skops", "PyYAML", "promogate"]
)
def test_installed_version_is_importlib_metadatas(name: str) -> None:
    assert installed_version(name) == metadata.version(name)


def test_a_distribution_that_is_not_installed_is_not_found() -> None:
    with pytest.raises(metadata.PackageNotFoundError):
        installed_version("promogate-no-such-distribution")


# (metadata text, what the fast read gives: the email parser's value, or None to let it decide)
HEADERS = [
    ("Metadata-Version: 2.1\nName: a\nVersion: 1.2.3\n\nbody", "1.2.3"),
    ("Metadata-Version: 2.1\r\nName: a\r\nVersion: 1.2.3\r\n\r\nbody", "1.2.3"),
    ("Name: a\nversion:\t 4.0 \nSummary: s\n", "4.0 "),
    ("Name: a\nVersion: 1.0\nVersion: 2.0\n", "1.0"),
    ("Name: a\nSummary: s\n\nVersion: 1.0\n", None),
    ("Name: a\nVersion: 1.0\n  folded\n", None),
    ("From someone\nVersion: 1.0\n", None),
    ("Name: a\nVersion : 1.0\n", None),
    ("Name: a\rVersion: 1.0\n", None),
    ("\ufeffVersion: 1.0\n", None),
    ("", None),
]


@pytest.mark.parametrize(
    ("text", "expected"), HEADERS, ids=[f"{i}-{e}" for i, (_, e) in enumerate(HEADERS)]
)
def test_version_header_agrees_with_the_email_parser(text: str, expected: str | None) -> None:
    assert version_header(text) == expected
    if expected is not None:
        assert email.message_from_string(text)["Version"] == expected
