"""/xoadulieu: a citizen erases their personal data everywhere it is kept.

Tickets stay (the commune's records and statistics need the category, unit, dates and status)
but lose every personal trace: the text, the place, the search text, every note (the citizen's
and the officers' questions, replies, answers, reasons, internal notes), the answer, the rating
comment, attachments, the relay window, the officers' notices and chat messages about it
(which carried the place), the public board's summary and hide reason; open ones are withdrawn.
The citizen record loses
name, phone and consent; inbox and outbox keep their rows (delivery bookkeeping) without texts
or buttons; the Rasa conversation tracker is deleted. Each ticket gets a
`personal_data_erased` event. Running it twice changes nothing more."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bot.core import attachments as files_of
from bot.core.authz import Caller
from bot.core.citizens import identity_for
from bot.core.context import CoreContext
from bot.core.taxonomy import Status
from bot.core.tickets import TRANSITIONS, Actor, change_status, update_fields
from bot.store.desk_models import OfficerNotice
from bot.store.files import FileStorage
from bot.store.models import (
    Attachment,
    ConversationTracker,
    InboxMessage,
    OutboxMessage,
    Ticket,
    TicketNote,
)

ERASED_TEXT = "[Đã xóa theo yêu cầu của người dân]"
# What officers' notices and chat messages about an erased ticket say instead (they carried
# the place and the citizen's words).
ERASED_NOTICE = "Đơn {code}: nội dung đã được xóa theo yêu cầu của người dân."


@dataclass(frozen=True)
class Erased:
    tickets: int
    messages: int
    attachments: int
    conversations: list[str]  # Rasa sender ids whose trackers were deleted here


def erase_citizen(session: Session, channel: str, external_id: str, ctx: CoreContext,
                  storage: FileStorage | None = None) -> Erased:
    identity = identity_for(session, channel, external_id)
    if identity is None or identity.citizen is None:
        return Erased(0, 0, 0, [])
    citizen = identity.citizen
    actor = Caller.citizen(citizen.id, channel).actor
    # Messages queued from here on (the officer's "withdrawn" notice) are not the citizen's.
    last_outbox = session.scalar(select(func.max(OutboxMessage.id))) or 0
    tickets = list(session.scalars(select(Ticket).where(Ticket.citizen_id == citizen.id)))
    removed_files = sum(_erase_ticket(session, t, actor, ctx, storage) for t in tickets)
    accounts = [(i.channel, i.external_id) for i in citizen.identities]
    for account in accounts:  # files of a draft that was never filed
        removed_files += files_of.discard(
            session, storage, files_of.staged(session, *account, ctx.clock(), max_age=None))
    citizen.display_name = citizen.phone = None
    citizen.consent_at = citizen.consent_version = None
    citizen.erased_at = ctx.clock()
    messages = _blank_messages(session, accounts, last_outbox)
    senders = [f"{c}:{e}" for c, e in accounts]
    session.execute(delete(ConversationTracker).where(ConversationTracker.sender_id.in_(senders)))
    return Erased(len(tickets), messages, removed_files, senders)


def _erase_ticket(session: Session, ticket: Ticket, actor: Actor, ctx: CoreContext,
                  storage: FileStorage | None) -> int:
    files = list(session.scalars(select(Attachment).where(Attachment.ticket_id == ticket.id)))
    if ticket.text == ERASED_TEXT and not files:
        return 0  # erased before
    if Status.WITHDRAWN in TRANSITIONS[Status(ticket.status)]:
        change_status(session, ticket, Status.WITHDRAWN, actor, ctx)
    # Every text around the ticket: the citizen's and the officers' (questions, replies, answers
    # and reasons quote or answer the citizen's words); numbered documents are the office's.
    for note in session.scalars(select(TicketNote).where(TicketNote.ticket_id == ticket.id)):
        note.text = ERASED_TEXT
    files_of.discard(session, storage, files)
    update_fields(session, ticket, actor, ctx, action="personal_data_erased",
                  data={"attachments": len(files)}, text=ERASED_TEXT, location_text=None,
                  latitude=None, longitude=None, rating_comment=None, answer_text=None,
                  search_text=None, relay_until=None, public_summary=None,
                  public_hidden_reason=None)
    _blank_officer_notices(session, ticket)
    return len(files)


def _blank_officer_notices(session: Session, ticket: Ticket) -> None:
    text = ERASED_NOTICE.format(code=ticket.code)
    session.flush()  # the notices of the withdrawal just announced
    for notice in session.scalars(select(OfficerNotice).where(
            OfficerNotice.ticket_id == ticket.id)):
        notice.text = text
    for row in session.scalars(select(OutboxMessage).where(
            OutboxMessage.ticket_id == ticket.id, OutboxMessage.officer_id.is_not(None),
            OutboxMessage.text.is_not(None))):
        row.text = text


def _blank_messages(session: Session, accounts: list[tuple[str, str]], last_outbox: int) -> int:
    count = 0
    for channel, external_id in accounts:
        for row in session.scalars(select(InboxMessage).where(
                InboxMessage.channel == channel, InboxMessage.sender_external_id == external_id)):
            if row.text is not None or row.payload:
                row.text, row.payload = None, {}
                count += 1
        for row in session.scalars(select(OutboxMessage).where(
                OutboxMessage.channel == channel, OutboxMessage.id <= last_outbox,
                OutboxMessage.recipient_external_id == external_id)):
            if row.text is not None:
                row.text, row.buttons = None, []
                count += 1
            if row.status in ("pending", "held"):  # never send what was erased
                row.status, row.last_error = "failed", "erased at the citizen's request"
    return count
