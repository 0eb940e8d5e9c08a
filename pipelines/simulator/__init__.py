"""A deterministic HTTP simulator of the Nixflex and SMSFactor APIs for tests and demos.

``Simulator`` generates the accounts from a seed around an anchor instant; ``SimClock``
decides what "now" is; ``serve`` puts it on real HTTP (Nixflex at ``{base}/nixflex/v1``,
SMSFactor at ``{base}/smsfactor``, a control API at ``{base}/_sim``). The demo credentials
below open the default accounts; ``Simulator.add_nixflex_account`` and
``add_smsfactor_account`` add others, each seeing only its own campaigns. ``Simulator.inject``
(or ``POST {base}/_sim/faults``) makes chosen requests misbehave: see ``Fault``. A
``DeliveryDrop`` (``Simulator(drops=…)``, ``Simulator.drop_delivery`` or ``POST
{base}/_sim/drops``) makes one sender's campaigns deliver fewer of their messages.
"""

from __future__ import annotations

from pipelines.simulator.faults import Fault
from pipelines.simulator.model import DeliveryDrop, SimClock
from pipelines.simulator.nixflex import DEMO_KEY as NIXFLEX_DEMO_KEY
from pipelines.simulator.server import Simulator, serve
from pipelines.simulator.smsfactor import DEMO_TOKEN as SMSFACTOR_DEMO_TOKEN

__all__ = [
    "NIXFLEX_DEMO_KEY",
    "SMSFACTOR_DEMO_TOKEN",
    "DeliveryDrop",
    "Fault",
    "SimClock",
    "Simulator",
    "serve",
]
