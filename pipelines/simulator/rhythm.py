"""Steady traffic: campaigns on a daily schedule, as businesses send them.

``add_daily_rhythm`` makes every Nixflex sender of the demo account and the first few
SMSFactor senders each send one campaign every ``every_hours`` hours, each sender at its own
offset, so that the same senders send at the same hours every day. A rule that compares a
sender's recent hours with the same hours of past days then sees the same traffic in both
unless something changed (a ``DeliveryDrop``, for instance).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pipelines.simulator.model import SMSFACTOR_SENDERS, whole_seconds
from pipelines.simulator.server import Simulator


@dataclass(frozen=True)
class RhythmCampaign:
    """One campaign of the rhythm: who sends it, when (its creation; a Nixflex campaign
    starts sending 2-30 s later, an SMSFactor one at once) and to how many recipients."""

    provider: str  # "nixflex" or "smsfactor"
    campaign_id: str
    sender: str  # Nixflex from_number, SMSFactor sender name
    created_at: datetime
    size: int


def rhythm_senders(sim: Simulator, smsfactor_senders: int = 2) -> list[tuple[str, str]]:
    """(provider, sender) in the order the rhythm offsets them: the demo Nixflex account's
    senders, then the first ``smsfactor_senders`` of ``SMSFACTOR_SENDERS``."""
    if isinstance(smsfactor_senders, bool) or not isinstance(smsfactor_senders, int):
        raise ValueError(f"smsfactor_senders must be an integer, not {smsfactor_senders!r}")
    if not 0 <= smsfactor_senders <= len(SMSFACTOR_SENDERS):
        raise ValueError(
            f"smsfactor_senders must be 0 to {len(SMSFACTOR_SENDERS)}, not {smsfactor_senders}"
        )
    return [("nixflex", sender) for sender in sim.nixflex_senders()] + [
        ("smsfactor", sender) for sender in SMSFACTOR_SENDERS[:smsfactor_senders]
    ]


def add_daily_rhythm(
    sim: Simulator,
    start: datetime,
    days: int,
    every_hours: int = 8,
    nixflex_size: int = 300,
    smsfactor_size: int = 600,
    smsfactor_senders: int = 2,
) -> list[RhythmCampaign]:
    """Add ``days`` days of campaigns from ``start``; return them, oldest first.

    Each sender (``rhythm_senders``) sends one campaign every ``every_hours`` hours (24 must
    be a multiple of it), Nixflex ones of ``nixflex_size`` recipients, SMSFactor ones of
    ``smsfactor_size`` messages. Sender ``i`` of ``n`` sends at ``start + i * every_hours / n``
    (whole seconds) and every ``every_hours`` after, so each sends at the same hours every day
    and no two send at once. Campaigns are added to the simulator now: a ``DeliveryDrop`` must
    be given before (``Simulator(drops=…)`` or ``drop_delivery``) to reach them.
    """
    if isinstance(every_hours, bool) or not isinstance(every_hours, int):
        raise ValueError(f"every_hours must be an integer, not {every_hours!r}")
    if every_hours < 1 or 24 % every_hours:
        raise ValueError(
            f"every_hours must divide 24 (1, 2, 3, 4, 6, 8, 12 or 24), not {every_hours}"
        )
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"days must be a positive integer, not {days!r}")
    for name, size in (("nixflex_size", nixflex_size), ("smsfactor_size", smsfactor_size)):
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"{name} must be a positive integer, not {size!r}")
    if not isinstance(start, datetime) or start.utcoffset() is None:
        raise ValueError("start must be a tz-aware datetime")
    senders = rhythm_senders(sim, smsfactor_senders)
    every = timedelta(hours=every_hours)
    offset = every / len(senders)
    campaigns: list[RhythmCampaign] = []
    for slot in range(days * 24 // every_hours):
        for index, (provider, sender) in enumerate(senders):
            created = whole_seconds(start + slot * every + index * offset)
            if provider == "nixflex":
                size = nixflex_size
                campaign_id = sim.add_nixflex_campaign(size, created, from_number=sender)
            else:
                size = smsfactor_size
                campaign_id = sim.add_smsfactor_campaign(size, created, sender=sender)
            campaigns.append(RhythmCampaign(provider, campaign_id, sender, created, size))
    return campaigns
