"""The Nixflex counting rule, as the vendor documents it ("How counts are calculated")."""

from __future__ import annotations

import pytest

from pipelines.rules import DOCUMENTED_NIXFLEX_STATUSES, delivery_bucket

# docs/vendors.md: delivered ← delivered; failed ← failed,
# undelivered, sent ("counted as failed"); pending ← pending, queued.
DOCUMENTED = [
    ("delivered", "delivered"),
    ("failed", "failed"),
    ("undelivered", "failed"),
    ("sent", "failed"),
    ("pending", "pending"),
    ("queued", "pending"),
]

# Twilio statuses that may leak through (docs/vendors.md), and spellings the vendor never uses.
UNDOCUMENTED = ["canceled", "read", "accepted", "sending", "partially_delivered", "scheduled"]
WRONG_SPELLING = ["Delivered", "SENT", " delivered", "delivered ", ""]


@pytest.mark.parametrize(("status", "bucket"), DOCUMENTED)
def test_documented_status_counts_in_its_documented_bucket(status: str, bucket: str) -> None:
    assert delivery_bucket(status) == bucket


@pytest.mark.parametrize("status", UNDOCUMENTED + WRONG_SPELLING)
def test_anything_else_is_unknown_not_guessed(status: str) -> None:
    assert delivery_bucket(status) == "unknown"


def test_documented_statuses_are_exactly_the_six_on_the_seed_page() -> None:
    assert {status for status, _ in DOCUMENTED} == DOCUMENTED_NIXFLEX_STATUSES
