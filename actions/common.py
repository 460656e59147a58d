"""What the actions share: the menu, the draft's slots, idempotency keys."""

from __future__ import annotations

import re

from rasa_sdk import Tracker

MENU = [
    {"title": "Gửi phản ánh", "payload": "/report"},
    {"title": "Tra cứu đơn", "payload": "/check_status"},
]
DRAFT_SLOTS = ("report_text", "location", "report_category", "report_kind",
               "report_needs_triage", "latitude", "longitude", "media", "phone")
SKIPPED = "skipped"
MOBILE = re.compile(r"0(?:3|5|7|8|9)\d{8}")
LANDLINE = re.compile(r"02\d{9}")


def idempotency_key(tracker: Tracker) -> str:
    """The inbox message that asked for this step: a retried message maps to the same key."""
    metadata = tracker.latest_message.get("metadata") or {}
    inbox_id = metadata.get("inbox_id")
    if inbox_id is not None:
        return f"inbox:{inbox_id}"
    return f"rasa:{tracker.sender_id}:{tracker.latest_message.get('message_id')}"


def latest_ticket_code(tracker: Tracker) -> str | None:
    """The ticket code the latest message named (typed, or carried by a button)."""
    return next(tracker.get_latest_entity_values("ticket_code"), None)


def normalize_phone(text: str) -> str | None:
    """A Vietnamese phone number as 0xxxxxxxxx, or None. +84/84 become 0."""
    digits = re.sub(r"\D", "", text or "")
    if digits.startswith("84") and len(digits) in (11, 12):
        digits = "0" + digits[2:]
    return digits if MOBILE.fullmatch(digits) or LANDLINE.fullmatch(digits) else None


def given(value: object) -> bool:
    """A slot the citizen filled with something (not skipped, not blanked)."""
    return bool(value) and value != SKIPPED
