"""Numbered text choices for channels that cannot show buttons.

Going out, a message's buttons become a numbered line under its text ("1. Gửi  2. Sửa  3. Hủy").
Coming in, a text that picks one of them (its number, or its title typed without diacritics in
any case: "1", "gui", "Gửi") gets `payload["button"] = "<outbox id>:<index>"`, exactly what a
pressed button carries on Telegram, so the dialogue never knows the channel had no buttons.

The open choices are those of the newest message with buttons sent to that recipient on that
channel, until the dialogue answers again without buttons (a push without buttons, such as a
status notice, or a "system busy" notice leaves them open). No table of its own: the outbox
is the record."""

from __future__ import annotations

import re
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.messaging import Inbound
from bot.core.text import fold
from bot.dialogue.pipeline import button_key
from bot.store.models import OutboxMessage

SEPARATOR = "  "  # between two choices on the line
MAX_CHOICE_TEXT = 60  # characters; longer texts are messages, never a choice
LOOK_BACK = 20  # newest outbox rows of one recipient looked at
_NUMBER = re.compile(r"(?:so |chon |lua chon )?(\d{1,2})")  # "1", "số 1", "chọn 1"
# The pipeline's answers in a conversation ("reply:<inbox id>:<n>"); its notices (flood,
# "system busy": other dedupe keys) and pushes leave the choices open.
_DIALOGUE_ANSWER = re.compile(r"reply:\d+:\d+")


def choice_line(buttons: list[dict[str, str]]) -> str:
    """The buttons as one numbered line; "" without buttons."""
    return SEPARATOR.join(f"{number}. {button['title']}"
                          for number, button in enumerate(buttons, start=1))


def render(text: str | None, buttons: list[dict[str, str]]) -> str:
    """The message as a channel without buttons shows it: the text, then the choices."""
    line = choice_line(buttons)
    if not line:
        return text or ""
    return f"{text}\n\n{line}" if text else line


def pick(typed: str, titles: list[str]) -> int | None:
    """The index of the choice a typed text names, or None: its number (1-based), else the one
    title equal to it once both are folded (no case, no diacritics, no punctuation)."""
    folded = fold(typed)
    if not folded:
        return None
    if match := _NUMBER.fullmatch(folded):
        index = int(match[1]) - 1
        return index if 0 <= index < len(titles) else None
    same = [index for index, title in enumerate(titles) if fold(title) == folded]
    return same[0] if len(same) == 1 else None


def open_offer(session: Session, channel: str, recipient: str) -> OutboxMessage | None:
    """The sent message whose choices the recipient may still answer, or None."""
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.channel == channel,
               OutboxMessage.recipient_external_id == recipient,
               OutboxMessage.status == "sent")
        .order_by(OutboxMessage.id.desc()).limit(LOOK_BACK))
    for row in rows:
        if row.buttons:
            return row
        if _DIALOGUE_ANSWER.fullmatch(row.dedupe_key or ""):  # it moved on without choices
            return None
    return None


def as_choice(session: Session, inbound: Inbound) -> Inbound:
    """The inbound message, with the button it picks when its text picks an open choice."""
    text = (inbound.text or "").strip()
    payload = inbound.payload
    if not text or len(text) > MAX_CHOICE_TEXT or "button" in payload or payload.get("media"):
        return inbound  # nothing typed, a message, a pressed button, a file's caption
    offer = open_offer(session, inbound.channel, inbound.sender_external_id)
    if offer is None:
        return inbound
    index = pick(text, [str(button.get("title", "")) for button in offer.buttons])
    if index is None:
        return inbound
    return replace(inbound, payload={**inbound.payload, "button": button_key(offer.id, index)})
