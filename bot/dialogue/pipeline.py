"""One path for every channel: inbox row -> Rasa -> outbox rows.

Channels store the inbound message first (bot.core.messaging.store_inbound), then call
`process_inbound`. A crash anywhere leaves the inbox row pending, and the worker retries it; the
replies' dedupe keys and the actions' idempotency keys make the retry safe."""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import attachments, service
from bot.core.authz import NotAllowed
from bot.core.clock import Clock, system_clock
from bot.core.messaging import Outbound, queue_outbound
from bot.core.officers import InviteError, looks_like_invite, redeem_invite
from bot.dialogue import officer_chat, training_consent
from bot.dialogue.rasa_client import DialogueUnavailable, RasaClient
from bot.dialogue.turns import Turn, read_turn
from bot.store.db import session_scope
from bot.store.models import InboxMessage

log = structlog.get_logger(__name__)

MAX_DIALOGUE_ATTEMPTS = 5
UNAVAILABLE_TEXT = (
    "Dạ, hệ thống đang bận, chưa xử lý được tin nhắn của Ông/Bà. "
    "Tin nhắn đã được lưu, chúng tôi sẽ trả lời ngay khi có thể."
)
EMPTY_TEXT = "Dạ, Ông/Bà vui lòng nhắn nội dung bằng chữ để chúng tôi hỗ trợ ạ."
MAX_DIALOGUE_TEXT = 4000  # characters; Telegram's own limit is 4096
TOO_LONG_TEXT = ("Dạ, tin nhắn dài quá ({length} ký tự). Ông/Bà vui lòng chia thành các tin "
                 "ngắn hơn {limit} ký tự ạ; tin vừa rồi vẫn được lưu.")
FILE_GRACE = timedelta(minutes=5)  # a channel's downloads finish (or fail) well within this
FLOOD_LIMIT, FLOOD_WINDOW = 10, timedelta(seconds=30)  # messages per sender per window
FLOOD_TEXT = "Dạ, Ông/Bà nhắn nhanh quá, vui lòng đợi một chút rồi nhắn tiếp ạ."
UNSUPPORTED_TEXT = ("Dạ, tôi chưa đọc được loại tin này. Ông/Bà vui lòng nhắn bằng chữ, hoặc "
                    "gửi ảnh, video, tin nhắn thoại hay vị trí ạ.")
FILE_FAILED_TEXT = ("Dạ, tệp Ông/Bà gửi chưa nhận được (quá lớn, tối đa 20 MB, hoặc không phải "
                    "ảnh, video, tin nhắn thoại). Ông/Bà vui lòng gửi lại giúp ạ.")
INFO_ADDED_TEXT = "Dạ, đã bổ sung vào đơn {code}. Cán bộ phụ trách sẽ xem và xử lý tiếp ạ."
INTRO_TEXT = ("Dạ, xin chào Ông/Bà! Đây là Nghe Dân, kênh tiếp nhận phản ánh, kiến nghị của "
              "UBND xã/phường. Nội dung Ông/Bà gửi chỉ dùng để giải quyết phản ánh; trước khi "
              "gửi đơn, tôi sẽ xin Ông/Bà đồng ý.")
LINKED_TEXT = ("Đã liên kết tài khoản này với cán bộ {name}. "
               "Anh/chị sẽ nhận thông báo đơn mới, nhắc hạn và cảnh báo quá hạn tại đây.")


Reply = tuple[str | None, list[dict[str, str]]]  # text and buttons, queued to the sender


@dataclass(frozen=True)
class Message:
    """What a hook sees of one inbound message (see HOOKS)."""

    db_url: str
    inbox_id: int
    sender: str  # "channel:external_id"
    turn: Turn
    now: datetime


Hook = Callable[[Message], list[Reply] | None]


def officer_message(message: Message) -> list[Reply] | None:
    """Part CHAT: a message from an account linked to an officer goes to
    bot.dialogue.officer_chat (quick actions, /hangdoi, /don), never to Rasa."""
    return officer_chat.answer(message.db_url, message.sender, message.inbox_id, message.now)


def training_consent_answer(message: Message) -> list[Reply] | None:
    """Part NLU: "Đồng ý"/"Không" (payload training_consent:yes|no) after a receipt."""
    turn = message.turn
    said = training_consent.answer(message.db_url, message.sender, turn.text, turn.steered,
                                   message.now)
    return [(said, [])] if said else None


# Tried in order, in a worker thread, after the invite check and before the citizens'
# conversation: the first hook that returns replies (even an empty list) handles the message.
HOOKS: tuple[Hook, ...] = (officer_message, training_consent_answer)


def _files_expected(session: Session, row: InboxMessage) -> bool:
    """Files announced by the channel, none kept and none failed yet: still downloading."""
    payload = row.payload or {}
    return bool(payload.get("media")) and not payload.get("media_failed") and not (
        attachments.of_inbox(session, row.id))


def sender_key(channel: str, external_id: str) -> str:
    return f"{channel}:{external_id}"


def button_key(outbox_id: int, index: int) -> str:
    return f"{outbox_id}:{index}"


class Pipeline:
    def __init__(self, db_url: str, rasa: RasaClient, clock: Clock = system_clock) -> None:
        self.db_url = db_url
        self.rasa = rasa
        self.clock = clock
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._in_flight: set[int] = set()
        self._recent: defaultdict[str, deque[datetime]] = defaultdict(deque)

    async def process_inbound(self, inbox_id: int) -> list[int]:
        """Handle one stored message; returns the ids of the queued replies."""
        if inbox_id in self._in_flight:
            return []
        self._in_flight.add(inbox_id)
        try:
            return await self._process(inbox_id)
        finally:
            self._in_flight.discard(inbox_id)

    async def sweep_pending(self, older_than_seconds: float = 10.0) -> int:
        """Retry messages left pending (Rasa was down, a process died mid-way). A message whose
        files the channel may still be downloading gets FILE_GRACE first."""
        now = self.clock()
        with session_scope(self.db_url) as session:
            rows = session.scalars(
                select(InboxMessage)
                .where(InboxMessage.status == "pending",
                       InboxMessage.received_at <= now - timedelta(seconds=older_than_seconds))
                .order_by(InboxMessage.id).limit(100)).all()
            ids = [row.id for row in rows
                   if row.received_at <= now - FILE_GRACE or not _files_expected(session, row)]
        for inbox_id in ids:
            await self.process_inbound(inbox_id)
        return len(ids)

    async def _process(self, inbox_id: int) -> list[int]:
        with session_scope(self.db_url) as session:
            row = session.get(InboxMessage, inbox_id)
            if row is None or row.status != "pending":
                return []
            key = sender_key(row.channel, row.sender_external_id)
            turn = read_turn(session, row)
            retry = row.attempts > 0
        if not retry and self._flooding(key):
            return self._drop_flood(inbox_id, key)
        async with self._locks[key]:
            return await self._converse(inbox_id, key, turn)

    def _flooding(self, key: str) -> bool:
        """More than FLOOD_LIMIT new messages from one sender inside FLOOD_WINDOW."""
        now, recent = self.clock(), self._recent[key]
        while recent and now - recent[0] > FLOOD_WINDOW:
            recent.popleft()
        recent.append(now)
        return len(recent) > FLOOD_LIMIT

    def _drop_flood(self, inbox_id: int, key: str) -> list[int]:
        """Kept in the inbox, not answered; the sender is told once per flood."""
        now = self.clock()
        with session_scope(self.db_url) as session:
            row = session.get(InboxMessage, inbox_id)
            row.status, row.processed_at, row.last_error = "dropped", now, "flood"
            told = []
            if len(self._recent[key]) == FLOOD_LIMIT + 1:
                told = [self._queue(session, row, "flood", FLOOD_TEXT, [], now)]
        log.warning("inbound_flood_dropped", inbox_id=inbox_id)
        return told

    async def _converse(self, inbox_id: int, key: str, turn: Turn) -> list[int]:
        text = turn.text
        # An officer linking this account (read as typed, "/moi" included): not for Rasa.
        if len(turn.typed) <= MAX_DIALOGUE_TEXT and (code := looks_like_invite(turn.typed)):
            return self._finish(inbox_id, [(self._link_officer(key, code), [])])
        if (handled := await self._run_hooks(inbox_id, key, turn)) is not None:
            return self._finish(inbox_id, handled)
        # A file we could not take is said once; words that came with it still go on.
        notices = [(FILE_FAILED_TEXT, [])] if turn.failed_files or (
            turn.unsupported and text) else []
        if not text and (turn.unsupported or notices):
            return self._finish(inbox_id, notices or [(UNSUPPORTED_TEXT, [])])
        if not text:
            return self._finish(inbox_id, [(EMPTY_TEXT, [])])
        if len(text) > MAX_DIALOGUE_TEXT:
            return self._finish(inbox_id, [(TOO_LONG_TEXT.format(
                length=len(text), limit=MAX_DIALOGUE_TEXT), [])])
        if turn.steered or turn.typed.startswith("/"):  # a button or a command: not relayed
            self._end_relay(key)
        elif ticket := self._ticket_context(key, turn):
            reply = await asyncio.to_thread(self._add_information, key, ticket, turn, inbox_id)
            return self._finish(inbox_id, [*notices, (reply, [])])
        try:
            replies = await self.rasa.respond(
                key, text, {"inbox_id": inbox_id, "attachments": turn.files})
        except DialogueUnavailable as error:
            return self._postpone(inbox_id, str(error))
        if any(r.custom.get("erase_personal_data") for r in replies):
            # After Rasa's turn, so the tracker it just saved is erased too.
            await asyncio.to_thread(service.erase_personal_data, key)
            log.info("personal_data_erased", inbox_id=inbox_id)
        introduced = any("Nghe Dân" in (r.text or "") for r in replies)  # the greeting did
        if not introduced and turn.first_contact:
            notices.insert(0, (INTRO_TEXT, []))
        return self._finish(inbox_id, [*notices, *((r.text, r.buttons) for r in replies
                                                   if r.text)])

    async def _run_hooks(self, inbox_id: int, key: str, turn: Turn) -> list[Reply] | None:
        message = Message(self.db_url, inbox_id, key, turn, self.clock())
        for hook in HOOKS:
            if (replies := await asyncio.to_thread(hook, message)) is not None:
                return replies
        return None

    def _ticket_context(self, key: str, turn: Turn) -> str | None:
        """The ticket this message belongs to, rather than to the conversation: the one the
        citizen replied to, else one waiting for information from them, else one an officer
        wrote to them about lately (relay: ticket.relay_until still ahead, not finished)."""
        channel, external_id = service.split_sender(key)
        with session_scope(self.db_url) as session:
            replied = turn.reply_to and service.ticket_of_message(
                session, channel, external_id, turn.reply_to)
            return (replied
                    or service.ticket_waiting_for_information(session, channel, external_id)
                    or service.ticket_in_relay(session, channel, external_id, self.clock()))

    def _end_relay(self, key: str) -> None:
        """The citizen chose where to go: their next words are for the conversation."""
        channel, external_id = service.split_sender(key)
        with session_scope(self.db_url) as session:
            service.end_relay(session, channel, external_id, self.clock())

    @staticmethod
    def _add_information(key: str, code: str, turn: Turn, inbox_id: int) -> str:
        try:
            service.add_information(key, code, turn.typed, f"inbox:{inbox_id}",
                                    inbox_id=inbox_id)
        except NotAllowed as refusal:
            return str(refusal)
        return INFO_ADDED_TEXT.format(code=code)

    def _finish(self, inbox_id: int, replies: list[Reply]) -> list[int]:
        now = self.clock()
        with session_scope(self.db_url) as session:
            row = session.get(InboxMessage, inbox_id)
            ids = [self._queue(session, row, i, text, buttons, now)
                   for i, (text, buttons) in enumerate(replies)]
            row.status, row.processed_at, row.attempts = "done", now, row.attempts + 1
        log.info("inbound_processed", inbox_id=inbox_id, replies=len(ids))
        return ids

    def _link_officer(self, key: str, code: str) -> str:
        channel, external_id = service.split_sender(key)
        try:
            with session_scope(self.db_url) as session:
                officer = redeem_invite(session, channel, external_id, code, self.clock())
                return LINKED_TEXT.format(name=officer.full_name)
        except InviteError as error:
            return str(error)

    def _postpone(self, inbox_id: int, reason: str) -> list[int]:
        now = self.clock()
        with session_scope(self.db_url) as session:
            row = session.get(InboxMessage, inbox_id)
            row.attempts += 1
            row.last_error = reason
            if row.attempts == 1:  # tell the citizen once that we are late, not every retry
                self._queue(session, row, "busy", UNAVAILABLE_TEXT, [], now)
            if row.attempts >= MAX_DIALOGUE_ATTEMPTS:
                row.status = "failed"
        log.warning("dialogue_unavailable", inbox_id=inbox_id, reason=reason)
        return []

    @staticmethod
    def _queue(session: Session, row: InboxMessage, index: int | str, text: str | None,
               buttons: list[dict[str, str]], now: datetime) -> int:
        outbound = Outbound(
            channel=row.channel, recipient_external_id=row.sender_external_id, text=text,
            buttons=buttons, in_reply_to=row.id,
        )
        return queue_outbound(session, outbound, f"reply:{row.id}:{index}", now).id
