"""What one stored inbound message means for the conversation: the text Rasa may see, and the
facts the pipeline needs to answer without Rasa (files, a pin, a reply to a ticket message).

Channels fill InboxMessage.payload with these keys (all optional):
  button          "<outbox id>:<index>" of a button we offered
  media           [{"type": "photo"|"video"|"voice", ...}]: files staged in bot.core.attachments
  media_failed    [{"type": ..., "reason": "too_large"|"download_failed"|"refused"}]
  location_pin    {"latitude": float, "longitude": float}
  contact_phone   the sender's own phone number, shared with a button
  unsupported     what it was when we cannot use it ("sticker", "document", ...)
  reply_to        platform id of the message of ours the citizen replied to
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import attachments
from bot.store.models import InboxMessage, OutboxMessage

COMMANDS = {"/start": "/greet", "/batdau": "/greet", "/tracuu": "/check_status", "/huy": "/cancel",
            "/xoadulieu": "/erase_data"}
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u2028-\u202e\ufeff]")
PHONE_DIGITS = re.compile(r"\D")


@dataclass(frozen=True)
class Turn:
    text: str  # what Rasa gets ("" when there is nothing to say to it)
    typed: str  # the citizen's own words, cleaned (caption, or a pin described), for notes
    steered: bool  # a button or a command: the citizen chose where to go
    files: int  # files of this message kept (staged)
    failed_files: int
    unsupported: str | None
    reply_to: str | None
    first_contact: bool  # nothing came from this account before


def read_turn(session: Session, row: InboxMessage) -> Turn:
    payload = row.payload or {}
    files = len(attachments.of_inbox(session, row.id))
    typed = CONTROL.sub("", row.text or "").strip()
    pin = _pin(payload.get("location_pin"))
    if pin is not None:
        typed = typed or describe_pin(*pin)
    text, steered = _rasa_text(session, row, typed, pin, files)
    return Turn(text=text, typed=typed, steered=steered, files=files,
                failed_files=len(payload.get("media_failed") or []),
                unsupported=payload.get("unsupported"),
                reply_to=str(payload["reply_to"]) if payload.get("reply_to") else None,
                first_contact=_first_contact(session, row))


def _first_contact(session: Session, row: InboxMessage) -> bool:
    return session.scalar(select(InboxMessage.id).where(
        InboxMessage.channel == row.channel,
        InboxMessage.sender_external_id == row.sender_external_id,
        InboxMessage.id < row.id).limit(1)) is None


def dialogue_text(session: Session, row: InboxMessage) -> str:
    return read_turn(session, row).text


def _rasa_text(session: Session, row: InboxMessage, typed: str,
               pin: tuple[float, float] | None, files: int) -> tuple[str, bool]:
    """A pressed button's payload, a known command, a pin or a shared phone as the intent the
    bot itself writes, else the typed text with leading slashes removed, so typed text can
    never pose as an intent payload."""
    payload = resolve_button(session, row)
    if payload:
        return engine_payload(payload), True
    if pin is not None:
        return intent("inform_location", location=describe_pin(*pin),
                      latitude=f"{pin[0]:.6f}", longitude=f"{pin[1]:.6f}"), False
    if phone := PHONE_DIGITS.sub("", str((row.payload or {}).get("contact_phone") or "")):
        return intent("inform_phone", phone=phone[-15:]), True
    command = typed.split(maxsplit=1)[0].split("@")[0].lower() if typed.startswith("/") else ""
    if command in COMMANDS:
        rest = typed[len(typed.split(maxsplit=1)[0]):].strip()
        return COMMANDS[command] + (f'{{"ticket_code":"{rest}"}}' if _is_code(rest) else ""), True
    text = typed.lstrip("/").strip()
    if not text and files:
        return "/attach", False
    return text, False


def intent(name: str, **entities: str) -> str:
    """A Rasa intent payload written by the bot (values are JSON-escaped)."""
    return f"/{name}{json.dumps(entities, ensure_ascii=False)}" if entities else f"/{name}"


def describe_pin(latitude: float, longitude: float) -> str:
    return f"Vị trí GPS {latitude:.5f}, {longitude:.5f}"


def _pin(value: object) -> tuple[float, float] | None:
    if not isinstance(value, dict):
        return None
    try:
        latitude, longitude = float(value["latitude"]), float(value["longitude"])
    except (KeyError, TypeError, ValueError):
        return None
    if -90 <= latitude <= 90 and -180 <= longitude <= 180:
        return latitude, longitude
    return None


def resolve_button(session: Session, row: InboxMessage) -> str | None:
    """The Rasa payload behind a pressed button, only if we offered it to this sender."""
    match = re.fullmatch(r"(\d+):(\d+)", str((row.payload or {}).get("button", "")))
    if not match:
        return None
    offered = session.get(OutboxMessage, int(match[1]))
    index = int(match[2])
    if (
        offered is None
        or offered.recipient_external_id != row.sender_external_id
        or offered.channel != row.channel
        or index >= len(offered.buttons)
    ):
        return None
    return offered.buttons[index]["payload"]


def engine_payload(payload: str) -> str:
    """A button payload as Rasa takes it: the core's own ("rate:CODE:N",
    "not_satisfied:CODE") become intents with entities; Rasa's own pass as they are."""
    if match := re.fullmatch(r"rate:([\w-]+):([1-5])", payload):
        return f'/rate{{"ticket_code":"{match[1]}","rating":"{match[2]}"}}'
    if match := re.fullmatch(r"not_satisfied:([\w-]+)", payload):
        return f'/not_satisfied{{"ticket_code":"{match[1]}"}}'
    return payload


def _is_code(value: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z]{2,4}-\d{4}-\d{6}", value))
