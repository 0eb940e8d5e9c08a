"""Fault injection: make the simulated vendors misbehave on chosen requests, over real HTTP.

A ``Fault`` names a vendor, a kind of misbehaviour and which requests it hits; ``FaultBook``
keeps the injected faults in order and hands each authenticated vendor request the first one
that matches and is not used up. ``apply_fault`` turns a fault into the answer sent:

- ``status``: HTTP ``status`` in the vendor's own error shape (see ``nixflex.status_error``
  and ``smsfactor.status_error``);
- ``replace``: exactly ``status`` (default 200), ``body`` and ``content_type``;
- ``mutate``: the real answer's JSON passed through ``mutate`` (in-process only);
- ``truncate``: the real answer cut to ``keep_bytes`` (default half) with a matching
  Content-Length, so the client reads a complete HTTP answer holding incomplete JSON;
- ``delay``: the real answer after ``seconds`` (slept in the request's own thread);
- ``reset``: no answer at all, the connection dropped with a TCP reset.

Precedence: a fault beats the normal answer. The kinds that replace the answer (status,
replace, reset) still count against the key's rate window but are never refused by it and
leave ``throttle_next``'s forced 429s queued; the kinds that wrap the real answer (mutate,
truncate, delay) wrap whatever it is, a rate-limit 429 included. Unauthenticated requests,
non-GET requests and the control API are never faulted. Faulted requests are counted in the
call counters like any other: replaced answers under the endpoint addressed, wrapped ones as
their real answer is (a delayed one once it is answered).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeGuard

from pipelines.simulator import nixflex, smsfactor
from pipelines.simulator.model import Response, json_body

ENDPOINTS = {"nixflex": ("list", "get"), "smsfactor": ("history", "get")}
KINDS = ("status", "replace", "mutate", "truncate", "delay", "reset")
DEFAULT_CONTENT_TYPE = "application/json"
# The kinds each optional field means something for, and its default: a field set away from
# its default for another kind is a mistake worth refusing.
APPLIES_TO: dict[str, tuple[tuple[str, ...], object]] = {
    "status": (("status", "replace"), None),
    "body": (("replace",), None),
    "content_type": (("replace",), DEFAULT_CONTENT_TYPE),
    "seconds": (("delay",), 0.0),
    "keep_bytes": (("truncate",), None),
    "mutate": (("mutate",), None),
}
JSON_FIELDS = (
    "vendor", "kind", "times", "endpoint", "path_contains", "status", "body_base64",
    "content_type", "seconds", "keep_bytes",
)  # fmt: skip


class FaultError(Exception):
    """A fault that cannot be applied to the answer it matched (e.g. mutate on XML)."""


@dataclass(frozen=True)
class Fault:
    """One misbehaviour for the next ``times`` requests to ``vendor`` that match.

    ``endpoint`` ("list"/"get" for Nixflex, "history"/"get" for SMSFactor) and
    ``path_contains`` (text in the request path, e.g. a campaign id) narrow the match; None
    matches any. The remaining fields belong to one kind each (see the module docstring) and
    giving one to another kind is refused, so a typo cannot silently do nothing.
    """

    vendor: str
    kind: str
    times: int = 1
    endpoint: str | None = None
    path_contains: str | None = None
    status: int | None = None
    body: bytes | None = None
    content_type: str = DEFAULT_CONTENT_TYPE
    seconds: float = 0.0
    keep_bytes: int | None = None
    mutate: Callable[[Any], Any] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.vendor, str) or self.vendor not in ENDPOINTS:
            raise ValueError(f"vendor must be one of {', '.join(ENDPOINTS)}, not {self.vendor!r}")
        if not isinstance(self.kind, str) or self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if not _is_int(self.times) or self.times < 1:
            raise ValueError("times must be an integer >= 1")
        endpoints = ENDPOINTS[self.vendor]
        if self.endpoint is not None and (
            not isinstance(self.endpoint, str) or self.endpoint not in endpoints
        ):
            raise ValueError(
                f"{self.vendor} endpoint must be one of {', '.join(endpoints)} or None,"
                f" not {self.endpoint!r}"
            )
        if self.path_contains is not None and (
            not isinstance(self.path_contains, str) or not self.path_contains
        ):
            raise ValueError("path_contains must be a non-empty string or None")
        for name, (kinds, default) in APPLIES_TO.items():
            if self.kind not in kinds and getattr(self, name) != default:
                raise ValueError(f"{name} applies only to kind {' or '.join(kinds)}")
        self._check_kind_fields()

    def _check_kind_fields(self) -> None:
        if self.kind == "status":
            if not _is_int(self.status) or not 400 <= self.status <= 599:
                raise ValueError("kind status needs status, an HTTP error code 400-599")
        elif self.kind == "replace":
            status = self.status
            if status is not None and (not _is_int(status) or not 200 <= status <= 599):
                raise ValueError("status must be an HTTP code 200-599")
            if self.body is not None and not isinstance(self.body, bytes):
                raise ValueError("body must be bytes")
            if not isinstance(self.content_type, str) or not self.content_type:
                raise ValueError("content_type must be a non-empty string")
        elif self.kind == "mutate" and not callable(self.mutate):
            raise ValueError("kind mutate needs mutate, a callable taking the decoded JSON")
        elif self.kind == "delay" and not (
            _is_number(self.seconds) and math.isfinite(self.seconds) and self.seconds >= 0
        ):
            raise ValueError("seconds must be a finite number >= 0")
        elif self.kind == "truncate":
            keep = self.keep_bytes
            if keep is not None and (not _is_int(keep) or keep < 0):
                raise ValueError("keep_bytes must be an integer >= 0 or None (half the body)")

    def matches(self, vendor: str, endpoint: str, path: str) -> bool:
        """Whether a request to ``vendor``'s ``endpoint`` at ``path`` is one this fault hits."""
        return (
            vendor == self.vendor
            and (self.endpoint is None or endpoint == self.endpoint)
            and (self.path_contains is None or self.path_contains in path)
        )


class FaultBook:
    """Injected faults in injection order, each with how many of its ``times`` remain.

    Guarded by the lock it is given (the simulator's), as the HTTP server is threaded.
    """

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        self._entries: list[list[Any]] = []  # [fault, remaining]

    def inject(self, faults: tuple[Fault, ...]) -> None:
        """Queue ``faults`` after those already pending."""
        for fault in faults:
            if not isinstance(fault, Fault):
                raise TypeError(f"expected a Fault, got {type(fault).__name__}")
        with self._lock:
            self._entries.extend([fault, fault.times] for fault in faults)

    def take(self, vendor: str, endpoint: str, path: str) -> Fault | None:
        """Consume one use of the first pending fault matching this request, if any."""
        with self._lock:
            for index, entry in enumerate(self._entries):
                fault: Fault = entry[0]
                if fault.matches(vendor, endpoint, path):
                    entry[1] -= 1
                    if entry[1] == 0:
                        del self._entries[index]
                    return fault
        return None

    def pending(self) -> list[Fault]:
        """The faults not used up yet, in order, each with ``times`` set to what remains."""
        with self._lock:
            return [dataclasses.replace(fault, times=left) for fault, left in self._entries]

    def clear(self) -> int:
        """Drop every pending fault; return how many there were."""
        with self._lock:
            cleared = len(self._entries)
            self._entries.clear()
        return cleared


def apply_fault(
    fault: Fault,
    endpoint: str,
    as_json: bool,
    real: Callable[[], Response],
    charge: Callable[[], None],
) -> Response:
    """The answer to a request ``fault`` matched, addressed to ``endpoint``.

    ``real`` computes the normal answer (rate limiter included); ``charge`` counts the request
    against the rate window when the fault replaces the answer. ``as_json`` is SMSFactor's
    format choice. Replacing answers are counted under ``endpoint``.
    """
    if fault.kind == "delay":
        time.sleep(fault.seconds)  # in the request's thread, holding no lock
        return real()
    if fault.kind == "truncate":
        response = real()
        keep = len(response.body) // 2 if fault.keep_bytes is None else fault.keep_bytes
        return dataclasses.replace(response, body=response.body[:keep])
    if fault.kind == "mutate":
        return _mutated(fault, real())
    charge()
    if fault.kind == "reset":
        return Response(0, {}, b"", endpoint, reset=True)
    if fault.kind == "replace":
        status = 200 if fault.status is None else fault.status
        headers = {"Content-Type": fault.content_type}
        return Response(status, headers, fault.body or b"", endpoint)
    assert fault.status is not None  # checked when the fault was made
    if fault.vendor == "nixflex":
        return nixflex.status_error(endpoint, fault.status)
    return smsfactor.status_error(endpoint, fault.status, as_json)


def _mutated(fault: Fault, response: Response) -> Response:
    assert fault.mutate is not None
    content_type = response.headers.get("Content-Type", "")
    if "json" not in content_type:
        hint = " (ask for JSON with Accept: application/json)" if "xml" in content_type else ""
        raise FaultError(
            f"a mutate fault needs a JSON answer, but {fault.vendor} answered"
            f" {content_type or 'without a Content-Type'}{hint}"
        )
    try:
        document = json.loads(response.body)
    except ValueError as error:
        raise FaultError(f"a mutate fault needs a JSON answer: {error}") from error
    changed = fault.mutate(document)
    result = document if changed is None else changed  # None: changed in place
    return dataclasses.replace(response, body=json_body(result))


def faults_from_json(body: bytes) -> list[Fault]:
    """Parse ``POST /_sim/faults``: a JSON list of faults, the body as ``body_base64``.

    Raises ValueError with a message fit for the client, naming the faulty item.
    """
    try:
        items = json.loads(body or b"null")
    except ValueError as error:
        raise ValueError(f"body must be JSON: {error}") from error
    if not isinstance(items, list) or not items:
        raise ValueError("expected a non-empty JSON list of fault objects")
    faults = []
    for index, item in enumerate(items):
        try:
            faults.append(_fault_from_json(item))
        except (ValueError, TypeError) as error:
            raise ValueError(f"fault {index}: {error}") from error
    return faults


def _fault_from_json(item: object) -> Fault:
    if not isinstance(item, dict):
        raise ValueError("each fault must be a JSON object")
    if "mutate" in item:
        raise ValueError(
            "mutate needs a Python callable: inject it in-process with Simulator.inject,"
            " or send the changed body with kind replace"
        )
    if "body" in item:
        raise ValueError("give the body as body_base64")
    unknown = sorted(set(item) - set(JSON_FIELDS))
    if unknown:
        known = ", ".join(JSON_FIELDS)
        raise ValueError(f"unknown field(s) {', '.join(unknown)}; known: {known}")
    missing = [name for name in ("vendor", "kind") if name not in item]
    if missing:
        raise ValueError(f"missing field(s) {', '.join(missing)}")
    fields = dict(item)
    if "body_base64" in fields:
        encoded = fields.pop("body_base64")
        if not isinstance(encoded, str):
            raise ValueError("body_base64 must be a string")
        try:
            fields["body"] = base64.b64decode(encoded, validate=True)
        except binascii.Error as error:
            raise ValueError(f"body_base64 is not base64: {error}") from error
    return Fault(**fields)


def fault_to_json(fault: Fault) -> dict[str, object]:
    """A pending fault as ``GET /_sim/faults`` lists it: every field but body and mutate."""
    return {
        field.name: getattr(fault, field.name)
        for field in dataclasses.fields(fault)
        if field.name not in ("body", "mutate")
    }


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)
