"""One path for every channel: inbox row -> Rasa -> outbox rows.

Channels store the inbound message first (bot.core.messaging.store_inbound), then call
`process_inbound`. Each sender's messages are answered one at a time, oldest first
(bot.dialogue.inbox_queue). A crash anywhere leaves the inbox row pending, and the worker retries
it; the replies' dedupe keys and the actions' idempotency keys make the retry safe.

While Rasa is down (refused, timed out, 5xx with its /status not ready) messages stay pending
however long it lasts, each sender is told once per outage (bot.dialogue.outage), and the sweep
asks Rasa again with a capped backoff. Any other error is retried MAX_DIALOGUE_ATTEMPTS times,
then the message is marked failed with the reason."""

from __future__ import annotations

import asyncio
import traceback
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy.orm import Session

from bot.core import service
from bot.core.authz import NotAllowed
from bot.core.citizens import mark_seen
from bot.core.clock import Clock, system_clock
from bot.core.messaging import Outbound, queue_outbound
from bot.core.officers import InviteError, looks_like_invite, redeem_invite
from bot.dialogue import citizen_link, inbox_queue, officer_chat, outage, training_consent
from bot.dialogue.inbox_queue import Drained, Queued
from bot.dialogue.rasa_client import DialogueRejected, DialogueUnavailable, RasaClient
from bot.dialogue.turns import Turn, read_turn
from bot.store.db import session_scope
from bot.store.models import InboxMessage

log = structlog.get_logger(__name__)

MAX_DIALOGUE_ATTEMPTS = 5  # errors other than Rasa being down, before a message is failed
ERRORS_KEY = "dialogue_errors"  # the count, kept in the inbox row's payload
SWEEP_SENDERS_AT_ONCE = 4
UNAVAILABLE_TEXT = (
    "Dạ, hệ thống trả lời tự động đang tạm gián đoạn. Tin nhắn của Ông/Bà đã được lưu "
    "và sẽ được trả lời ngay khi hệ thống hoạt động lại."
)
EMPTY_TEXT = "Dạ, Ông/Bà vui lòng nhắn nội dung bằng chữ để chúng tôi hỗ trợ ạ."
MAX_DIALOGUE_TEXT = 4000  # characters; Telegram's own limit is 4096
TOO_LONG_TEXT = ("Dạ, tin nhắn dài quá ({length} ký tự). Ông/Bà vui lòng chia thành các tin "
                 "ngắn hơn {limit} ký tự ạ; tin vừa rồi vẫn được lưu.")
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
               "Anh/chị sẽ nhận thông báo đơn mới, nhắc hạn và cảnh báo quá hạn tại đây. "
               "Nếu liên kết nhiều tài khoản chat, thông báo gửi tới tài khoản anh/chị nhắn "
               "gần nhất.")


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


def citizen_link_answer(message: Message) -> list[Reply] | None:
    """/lienket: a citizen links their accounts on two channels (bot.dialogue.citizen_link)."""
    said = citizen_link.answer(message.db_url, message.sender, message.turn.typed, message.now)
    return [(said, [])] if said else None


# Tried in order, in a worker thread, after the invite check and before the citizens'
# conversation: the first hook that returns replies (even an empty list) handles the message.
HOOKS: tuple[Hook, ...] = (officer_message, citizen_link_answer, training_consent_answer)


def sender_key(channel: str, external_id: str) -> str:
    return f"{channel}:{external_id}"


def button_key(outbox_id: int, index: int) -> str:
    return f"{outbox_id}:{index}"


class Pipeline:
    def __init__(self, db_url: str, rasa: RasaClient, clock: Clock = system_clock) -> None:
        self.db_url = db_url
        self.rasa = rasa
        self.clock = clock
        self.probe = outage.Probe()  # when this process may ask Rasa again after a failure
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._recent: defaultdict[str, deque[datetime]] = defaultdict(deque)

    async def process_inbound(self, inbox_id: int) -> list[int]:
        """Handle one stored message, after the same sender's older ones still pending;
        returns the ids of the queued replies."""
        with session_scope(self.db_url) as session:
            sender = inbox_queue.queued(session, inbox_id)
        if sender is None:
            return []
        return (await self._drain(sender, current=inbox_id)).replies

    async def sweep_pending(self, older_than_seconds: float = 10.0) -> int:
        """Retry messages left pending (Rasa was down, a process died mid-way): each sender's
        oldest first, several senders at once; a message whose files the channel may still be
        downloading gets inbox_queue.FILE_GRACE first. While Rasa is known to be down, nothing
        until the probe is due. Returns how many messages were due."""
        now = self.clock()
        if self._rasa_known_down():
            return 0
        with session_scope(self.db_url) as session:
            senders = inbox_queue.senders_waiting(
                session, now - timedelta(seconds=older_than_seconds))
        if not senders:
            return 0
        first = await self._drain(senders[0], limit=1)  # the oldest asks Rasa first, alone
        if first.stuck:
            senders = senders[1:]
        gate = asyncio.Semaphore(SWEEP_SENDERS_AT_ONCE)

        async def drain(sender: Queued) -> Drained:
            async with gate:
                return await self._drain(sender)

        due = first.due
        for result in await asyncio.gather(*map(drain, senders), return_exceptions=True):
            if isinstance(result, BaseException):
                log.error("inbox_sweep_error", error=type(result).__name__)
            else:
                due += result.due
        return due

    async def _drain(self, sender: Queued, current: int | None = None,
                     limit: int | None = None) -> Drained:
        """The sender's pending messages up to `sender.id` (the first `limit`), in order, until
        one stays pending; then only `current`, which waits at the dialogue's door if it must
        (see _converse)."""
        async with self._locks[sender_key(sender.channel, sender.sender_external_id)]:
            with session_scope(self.db_url) as session:
                ready = inbox_queue.ready_ids(session, sender, self.clock(), current)[:limit]
            drained = Drained(len(ready))
            for inbox_id in ready:
                if drained.stuck and inbox_id != current:
                    continue  # behind one still pending; the channel's own message is tried
                finished, ids = await self._handle(inbox_id)
                drained.replies += ids
                drained.stuck |= not finished
            return drained

    async def _handle(self, inbox_id: int) -> tuple[bool, list[int]]:
        """One message under its lease: (no longer pending, replies queued)."""
        with session_scope(self.db_url) as session:
            if not inbox_queue.claim(session, inbox_id, self.clock()):
                return False, []
        try:
            replies = await self._process(inbox_id)
        except Exception as error:  # a bug or a permanent error: counted, then failed
            return self._record_error(inbox_id, error), []
        except BaseException:  # cancelled (shutdown): the next process need not wait
            self._unlease(inbox_id)
            raise
        return replies is not None, replies or []

    async def _process(self, inbox_id: int) -> list[int] | None:
        """The replies queued, or None when the message waits for Rasa."""
        with session_scope(self.db_url) as session:
            row = session.get(InboxMessage, inbox_id)
            key = sender_key(row.channel, row.sender_external_id)
            turn = read_turn(session, row)
            new, received = row.attempts == 0, row.received_at
            mark_seen(session, row.channel, row.sender_external_id, received)
        if new and self._flooding(key, received):
            return self._drop_flood(inbox_id, key)
        return await self._converse(inbox_id, key, turn)

    def _flooding(self, key: str, received: datetime) -> bool:
        """More than FLOOD_LIMIT messages from one sender received inside FLOOD_WINDOW (by
        when they came, so a queue answered after an outage is no flood)."""
        recent = self._recent[key]
        while recent and received - recent[0] > FLOOD_WINDOW:
            recent.popleft()
        recent.append(received)
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

    async def _converse(self, inbox_id: int, key: str, turn: Turn) -> list[int] | None:
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
        if self._rasa_known_down():
            return self._postpone(inbox_id, None, None)
        if self._behind_earlier(inbox_id):
            return None
        asked_at = self.clock()
        try:
            replies = await self.rasa.respond(
                key, text, {"inbox_id": inbox_id, "attachments": turn.files})
        except DialogueUnavailable as error:
            if error.server_error and await self.rasa.is_ready():
                raise  # Rasa is up and this message broke it: an error, not an outage
            self.probe.failed(self.clock())
            return self._postpone(inbox_id, str(error), asked_at)
        self.probe.answered()
        if any(r.custom.get("erase_personal_data") for r in replies):
            # After Rasa's turn, so the tracker it just saved is erased too.
            await asyncio.to_thread(service.erase_personal_data, key)
            log.info("personal_data_erased", inbox_id=inbox_id)
        introduced = any("Nghe Dân" in (r.text or "") for r in replies)  # the greeting did
        if not introduced and turn.first_contact:
            notices.insert(0, (INTRO_TEXT, []))
        return self._finish(inbox_id, [*notices, *((r.text, r.buttons) for r in replies
                                                   if r.text)], answered_at=asked_at)

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

    def _finish(self, inbox_id: int, replies: list[Reply],
                answered_at: datetime | None = None) -> list[int]:
        """Done: the replies queued; a Rasa answer to a request made at `answered_at` ends any
        outage that began before it."""
        now = self.clock()
        with session_scope(self.db_url) as session:
            row = session.get(InboxMessage, inbox_id)
            if answered_at is not None:
                outage.record_answer(session, now, answered_at)
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

    def _rasa_known_down(self) -> bool:
        """This process failed to reach Rasa, is not due to ask again, and no process has heard
        from it since."""
        if not self.probe.waiting(self.clock()):
            return False
        with session_scope(self.db_url) as session:
            if outage.current(session) is not None:
                return True
        self.probe.answered()
        return False

    def _behind_earlier(self, inbox_id: int) -> bool:
        """An older message from this sender has not been answered: this one waits its turn
        (counted as an attempt, the lease given back)."""
        with session_scope(self.db_url) as session:
            row = session.get(InboxMessage, inbox_id)
            if not inbox_queue.earlier_pending(session, row, self.clock()):
                return False
            inbox_queue.release(row, None)
        return True

    def _postpone(self, inbox_id: int, reason: str | None,
                  asked_at: datetime | None) -> None:
        """Rasa is down (this request failed at `asked_at`, or it is known to be down): the
        message stays pending and its sender is told once per outage."""
        now = self.clock()
        with session_scope(self.db_url) as session:
            row = session.get(InboxMessage, inbox_id)
            started = (outage.record_failure(session, now, asked_at) if asked_at is not None
                       else outage.current(session))
            if started is not None:
                queue_outbound(session, Outbound(
                    channel=row.channel, recipient_external_id=row.sender_external_id,
                    text=UNAVAILABLE_TEXT, in_reply_to=row.id,
                ), outage.notice_key(started, row.channel, row.sender_external_id), now)
            inbox_queue.release(row, reason)
        if reason is not None:
            log.warning("dialogue_unavailable", inbox_id=inbox_id, reason=reason)

    def _record_error(self, inbox_id: int, error: Exception) -> bool:
        """Counted in the row's payload; failed with the reason after MAX_DIALOGUE_ATTEMPTS.
        Only the error's type (or our own short reason) is kept: never message text."""
        ours = isinstance(error, DialogueUnavailable | DialogueRejected)
        reason = f"{type(error).__name__}: {error}" if ours else type(error).__name__
        with session_scope(self.db_url) as session:
            row = session.get(InboxMessage, inbox_id)
            errors = int((row.payload or {}).get(ERRORS_KEY, 0)) + 1
            row.payload = {**(row.payload or {}), ERRORS_KEY: errors}
            inbox_queue.release(row, reason)
            failed = errors >= MAX_DIALOGUE_ATTEMPTS
            if failed:
                row.status, row.processed_at = "failed", self.clock()
        frames = traceback.extract_tb(error.__traceback__)  # where, never what was said
        at = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else None
        log.error("inbound_error", inbox_id=inbox_id, reason=reason, errors=errors,
                  failed=failed, at=at)
        return failed

    def _unlease(self, inbox_id: int) -> None:
        with session_scope(self.db_url) as session:
            row = session.get(InboxMessage, inbox_id)
            if row is not None and row.status == "pending":
                row.processed_at = None

    @staticmethod
    def _queue(session: Session, row: InboxMessage, index: int | str, text: str | None,
               buttons: list[dict[str, str]], now: datetime) -> int:
        outbound = Outbound(
            channel=row.channel, recipient_external_id=row.sender_external_id, text=text,
            buttons=buttons, in_reply_to=row.id,
        )
        return queue_outbound(session, outbound, f"reply:{row.id}:{index}", now).id
