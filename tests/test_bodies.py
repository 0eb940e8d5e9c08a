"""Raw bodies: a large answer is kept compressed, a small one as it is, and both give back
the exact bytes received (to the loader, and to an operator through ``make raw-body``)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest
from sqlalchemy import Engine

from pipelines.warehouse import bodies
from pipelines.warehouse.engine import PROJECT_ROOT
from pipelines.warehouse.landing import land_now
from pipelines.warehouse.lanes import load_pending
from tests.sync_helpers import rows, scalar
from tests.test_loader import T, nixflex_detail, recipient

_BIG = [recipient(f"+44{n:05d}", "delivered") for n in range(2000)]  # ~250 KB of JSON


def test_the_encoding_gives_back_the_bytes_it_was_given() -> None:
    small, large = b'{"error": "nope"}', b"x" * bodies.COMPRESS_FROM_BYTES
    assert bodies.encode(small) == (small, "identity")
    stored, encoding = bodies.encode(large)
    assert encoding == "zstd" and len(stored) < len(large) // 100
    assert bodies.decode(stored, encoding) == large
    with pytest.raises(ValueError, match="unknown body_encoding"):
        bodies.decode(stored, "brotli")


def test_a_large_answer_is_stored_compressed_and_loads_the_same(engine: Engine) -> None:
    big = nixflex_detail("smsc_big", _BIG, T)
    small = nixflex_detail("smsc_small", _BIG[:3], T)
    land_now(engine, big)
    land_now(engine, small)
    stored = {
        r["campaign_id"]: r
        for r in rows(
            engine,
            "select campaign_id, body_encoding, octet_length(body) as stored, content_hash "
            "from raw.vendor_response",
        )
    }
    assert stored["smsc_big"]["body_encoding"] == "zstd"
    assert stored["smsc_big"]["stored"] < len(big.body) / 4
    assert stored["smsc_big"]["content_hash"] == hashlib.sha256(big.body).hexdigest()
    assert stored["smsc_small"]["body_encoding"] == "identity"
    assert stored["smsc_small"]["stored"] == len(small.body)

    stats = load_pending(engine)
    assert stats.responses_loaded == 2 and stats.responses_quarantined == 0
    assert scalar(engine, "select count(*) from sms.fact_recipient_delivery") == 2003

    # The vendor moves one recipient, then serves the first bytes again: that answer is
    # landed by reference to the compressed one, and read back through it.
    moved = [recipient("+4400000", "failed"), *_BIG[1:]]
    land_now(engine, nixflex_detail("smsc_big", moved, T.replace(hour=13)))
    again = land_now(engine, nixflex_detail("smsc_big", _BIG, T.replace(hour=14)))
    by_reference = (
        "select duplicate_of is not null from raw.vendor_response where response_id = :id"
    )
    assert scalar(engine, by_reference, id=again)
    load_pending(engine)
    status = "select status from sms.fact_recipient_delivery where campaign_id = 'smsc_big' "
    assert scalar(engine, status + "and phone = '+4400000'") == "delivered"


def test_make_raw_body_prints_the_bytes_received(engine: Engine) -> None:
    big = nixflex_detail("smsc_big", _BIG, T)
    response_id = land_now(engine, big)
    env = {**os.environ, "WAREHOUSE_URL": engine.url.render_as_string(hide_password=False)}
    command = [sys.executable, "-m", "pipelines.cli", "raw-body"]
    shown = subprocess.run(
        [*command, str(response_id)], capture_output=True, env=env, cwd=PROJECT_ROOT, timeout=60
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == big.body
    missing = subprocess.run(
        [*command, "999999"], capture_output=True, env=env, cwd=PROJECT_ROOT, timeout=60
    )
    assert missing.returncode == 1 and b"no answer 999999" in missing.stderr
