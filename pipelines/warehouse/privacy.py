"""What of a recipient the ``sms`` schema keeps: phone numbers as received, or pseudonymised.

Phone numbers, rendered messages and each recipient's ``variables`` (first names, codes:
with the template they rebuild the message) are personal data. With a secret salt set
(``PHONE_HASH_SALT``), the loader writes each phone number as a *pseudonym* that keeps what
support work needs and nothing more: the country calling code, the last four digits, and a
keyed hash of the whole number (BLAKE2b with the salt as its key, 64 bits shown), e.g.
``+44*3502:5f0c3a9b1e7d2c44``. The same number gives the same pseudonym in every campaign
(joins and counts per recipient still work) and, without the salt, cannot be turned back
into the number or recomputed from a guess. Rendered messages and variables are then not
written at all. The raw landing keeps the answers as received, for replays; analysts' role
cannot read it.

The warehouse records which setting its ``sms`` rows were written with, as a keyed
fingerprint of the salt (``fingerprint``, never the salt), and each sync brings the rows
already loaded to the configured setting before it loads anything new
(``pipelines.warehouse.pseudonymise``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import TypeVar

# ITU-T E.164 country calling codes are prefix-free: these are the one- and two-digit ones;
# every other code has three digits.
_ONE_DIGIT = frozenset({"1", "7"})
_TWO_DIGITS = frozenset(
    {
        *("20", "27", "30", "31", "32", "33", "34", "36", "39"),
        *("40", "41", "43", "44", "45", "46", "47", "48", "49"),
        *("51", "52", "53", "54", "55", "56", "57", "58"),
        *("60", "61", "62", "63", "64", "65", "66"),
        *("81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98"),
    }
)
KEPT_DIGITS = 4
# The form of what ``Privacy.phone`` writes under any salt (the whole text; the same in
# Python and Postgres regular expressions). No phone number as received has it.
PSEUDONYM = r"(\+[0-9]{1,3})?\*.{0,4}:[0-9a-f]{16}"
_PSEUDONYM = re.compile(PSEUDONYM, re.DOTALL)
AS_RECEIVED_SETTING = "as received"


def is_pseudonym(phone: str) -> bool:
    """Whether ``phone`` is a pseudonym (written under some salt, maybe not today's)."""
    return _PSEUDONYM.fullmatch(phone) is not None


def country_code(e164: str) -> str:
    """The ``+CC`` of an E.164 number; empty when the number is not in that form."""
    digits = e164[1:]
    if not e164.startswith("+") or not digits[:1].isdigit():
        return ""
    if digits[:1] in _ONE_DIGIT:
        return "+" + digits[:1]
    if digits[:2] in _TWO_DIGITS:
        return "+" + digits[:2]
    return "+" + digits[:3]


T = TypeVar("T")


@dataclass(frozen=True)
class Privacy:
    """How recipients are written: as received (no salt), or pseudonymised (a salt)."""

    salt: bytes | None = field(default=None, repr=False)  # the hash key; never printed

    @classmethod
    def from_setting(cls, salt: str | None) -> Privacy:
        """From ``PHONE_HASH_SALT`` (any length: it is reduced to a 32-byte key)."""
        if not salt:
            return cls()
        return cls(hashlib.blake2b(salt.encode(), digest_size=32, person=b"sms-phone").digest())

    @property
    def pseudonymised(self) -> bool:
        return self.salt is not None

    def phone(self, phone: str) -> str:
        """The phone number as the ``sms`` schema holds it."""
        if self.salt is None:
            return phone
        mac = hashlib.blake2b(phone.encode(), key=self.salt, digest_size=8).hexdigest()
        return f"{country_code(phone)}*{phone[-KEPT_DIGITS:]}:{mac}"

    def rendered(self, message: str | None) -> str | None:
        """The rendered message as the ``sms`` schema holds it (none, when pseudonymised)."""
        return None if self.salt is not None else message

    def variables(self, variables: T) -> T | None:
        """A recipient's variables as the ``sms`` schema holds them (none, when
        pseudonymised)."""
        return None if self.salt is not None else variables

    @property
    def fingerprint(self) -> str:
        """What ``meta.sms_privacy`` records of this setting: ``as received``, or a keyed
        hash of the salt (it tells two salts apart and reveals nothing of either)."""
        if self.salt is None:
            return AS_RECEIVED_SETTING
        mac = hashlib.blake2b(key=self.salt, digest_size=16, person=b"sms-fingerprint")
        return f"pseudonymised:{mac.hexdigest()}"


AS_RECEIVED = Privacy()
