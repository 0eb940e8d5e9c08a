"""The documented counting rules, in one place (no Dagster, no SQL).

Nixflex documents its counts as "computed from per-recipient status, never from cached
fields" (docs/vendors.md): delivered ← delivered; failed ←
failed, undelivered and **sent** (handed to the carrier, never confirmed: a soft failure);
pending ← pending, queued; total ← all. A status the vendor does not document is put in
its own ``unknown`` bucket: it still counts in the total and a check reports it.
"""

from __future__ import annotations

from typing import Final

DELIVERED: Final = "delivered"
FAILED: Final = "failed"
PENDING: Final = "pending"
UNKNOWN: Final = "unknown"

NIXFLEX_STATUS_BUCKET: Final[dict[str, str]] = {
    "delivered": DELIVERED,
    "failed": FAILED,
    "undelivered": FAILED,
    "sent": FAILED,
    "pending": PENDING,
    "queued": PENDING,
}
DOCUMENTED_NIXFLEX_STATUSES: Final = frozenset(NIXFLEX_STATUS_BUCKET)


def delivery_bucket(status: str) -> str:
    """The bucket a Nixflex recipient status counts in; exact vendor words only."""
    return NIXFLEX_STATUS_BUCKET.get(status, UNKNOWN)


# When a campaign stops moving (vendor docs): a Nixflex campaign is final once its status is
# `done` or `failed` and no recipient is still pending/queued (or in an undocumented state:
# the loader checks the buckets, vendors/nixflex_bulk.py Summary); an SMSFactor campaign once it
# is `Sent` or `Denied`. Receipts keep arriving for ~72 h after the last message left, so
# "final" is not yet "settled": the poller adds that window.
NIXFLEX_FINAL_STATUSES: Final = frozenset({"done", "failed"})
SMSFACTOR_FINAL_STATUSES: Final = frozenset({"Sent", "Denied"})
