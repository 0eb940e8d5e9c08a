"""How an answer's bytes are kept in ``raw.vendor_response.body`` (``body_encoding``).

A large answer (a Nixflex campaign with its recipients, megabytes of JSON) is kept
compressed with Zstandard, level 1: JSON shrinks about 8x at over 1 GB/s, so landing a
backfill writes an eighth of the bytes and of the WAL (bench-load: landing 1 M recipients
went from 1.1 s to 0.4 s), and raw history costs an eighth of the disk. Postgres's own TOAST
compression is no substitute: pglz is slow on answers of megabytes, and lz4 is missing from
some builds (the embedded server's). A small answer (an error, a list page, an SMSFactor
page, a small campaign) is kept as it is, so that an operator can read it in SQL with
``convert_from(body, 'UTF8')``; any answer can be read with ``make raw-body ID=…``.
Either way ``content_hash`` is the sha256 of the bytes received, and ``decode`` gives those
bytes back exactly.
"""

from __future__ import annotations

from typing import Any

import zstandard
from sqlalchemy import Connection

from pipelines.warehouse import sqlfiles

IDENTITY = "identity"
ZSTD = "zstd"
COMPRESS_FROM_BYTES = 64 * 1024
_LEVEL = 1


def encode(body: bytes) -> tuple[bytes, str]:
    """(the bytes to store, their ``body_encoding``) for an answer's body."""
    if len(body) < COMPRESS_FROM_BYTES:
        return body, IDENTITY
    # A compressor per call: they are cheap to make and not safe to share between threads.
    return zstandard.ZstdCompressor(level=_LEVEL).compress(body), ZSTD


def decode(stored: bytes, encoding: str) -> bytes:
    """The bytes received, from what ``encode`` stored."""
    if encoding == IDENTITY:
        return stored
    if encoding == ZSTD:
        # compress() writes the content size in the frame, so one call restores it all.
        return zstandard.ZstdDecompressor().decompress(stored)
    raise ValueError(f"unknown body_encoding {encoding!r}")


def read_back(conn: Connection, response_id: int) -> tuple[Any, bytes | None]:
    """(the jsonb payload of an answer held in ``payload`` rather than ``body``, or None; the bytes
    received), following ``duplicate_of``; (None, None) for no such answer."""
    # On the driver's cursor with binary results: the bytes come back as they are (a text
    # result would hex-encode them on the server and decode them here).
    with conn.connection.driver_connection.cursor(binary=True) as cursor:
        cursor.execute(sqlfiles.read("load/answer_bytes.sql"), {"id": response_id})
        payload, body, encoding = cursor.fetchone() or (None, None, IDENTITY)
    return payload, None if body is None else decode(bytes(body), encoding)
