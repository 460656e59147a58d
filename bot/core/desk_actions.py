"""What an officer does to a ticket: accept (thụ lý), assign, start, transfer, ask the citizen,
reply, resolve, reject, reopen. Every call names its caller and is authorised; every text an
officer writes is a TicketNote (erasure can clear it) and the event keeps its id only.
(`bot.core.desk` re-exports these names; the records part is in `bot.core.desk_records`.)"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import public_board
from bot.core.authz import Caller, NotAllowed, officer_can_handle, require_ticket_access
from bot.core.context import CoreContext
from bot.core.routing import least_loaded_officer
from bot.core.taxonomy import FINAL_STATUSES, Category, Kind, Status
from bot.core.tickets import (
    IllegalTransition,
    announce,
    change_status,
    record_event,
    require_transition,
    update_fields,
)
from bot.store.desk_models import NluCorrection, TicketDocument
from bot.store.models import Officer, OrgUnit, Ticket, TicketNote

MAX_TEXT = 4000
DOCUMENT_KINDS = ("acceptance", "decision", "extension", "answer")


class TicketNotFound(LookupError):
    pass


def load_ticket(session: Session, caller: Caller, code: str) -> Ticket:
    ticket = session.scalar(select(Ticket).where(Ticket.code == code.strip().upper()))
    if ticket is None:
        raise TicketNotFound(code)
    require_ticket_access(session, caller, ticket)
    return ticket


def write_note(session: Session, ticket: Ticket, caller: Caller, kind: str, text: str,
               ctx: CoreContext, internal: bool = False) -> TicketNote:
    """An officer's text (question, reply, answer, reason, note), flushed so events can name
    its id."""
    note = TicketNote(ticket_id=ticket.id, author_type=caller.type, author_id=caller.id,
                      internal=internal, kind=kind, text=text.strip()[:MAX_TEXT],
                      created_at=ctx.clock())
    session.add(note)
    session.flush()
    return note


def add_document_row(session: Session, ticket: Ticket, caller: Caller, kind: str,
                     number: str, ctx: CoreContext,
                     attachment_id: int | None = None) -> TicketDocument:
    number = (number or "").strip()
    if kind not in DOCUMENT_KINDS:
        raise NotAllowed("Loại văn bản không hợp lệ.")
    if not number or len(number) > 100:
        raise NotAllowed("Vui lòng ghi số văn bản (tối đa 100 ký tự).")
    document = TicketDocument(ticket_id=ticket.id, kind=kind, number=number,
                              attachment_id=attachment_id, officer_id=caller.id,
                              created_at=ctx.clock())
    session.add(document)
    session.flush()
    return document


def _relay(ticket: Ticket, ctx: CoreContext) -> None:
    """After an officer's message the citizen's next messages go to this ticket for a while."""
    ticket.relay_until = (ctx.clock() + timedelta(hours=ctx.relay_hours)
                          if ctx.relay_hours else None)


def _move_with_note(session: Session, caller: Caller, ticket: Ticket, ctx: CoreContext,
                    status: Status, note_kind: str, text: str, internal: bool = False,
                    action: str | None = None, relay: bool = False) -> Ticket:
    """Keep the officer's text as a note and move the ticket to `status`; the event names the
    note only. `relay`: the text is a message the citizen may answer."""
    note = write_note(session, ticket, caller, note_kind, text, ctx, internal=internal)
    if relay:
        _relay(ticket, ctx)
    change_status(session, ticket, status, caller.actor, ctx, action=action,
                  data={"note_id": note.id})
    return ticket


def _codes(kind: str, category: str) -> tuple[Kind, Category]:
    try:
        return Kind(kind), Category(category)
    except ValueError:
        raise NotAllowed("Loại đơn hoặc lĩnh vực không hợp lệ.") from None


def _record_correction(session: Session, ticket: Ticket, caller: Caller, kind: Kind,
                       category: Category, ctx: CoreContext) -> bool:
    """A thụ lý that changes what the NLU read (or, without a prediction, what was filed)."""
    filed = next((e.data for e in ticket.events if e.action == "created"), None) or {}
    predicted_category = ticket.predicted_category or filed.get("category", ticket.category)
    predicted_kind = ticket.predicted_kind or filed.get("kind", ticket.kind)
    if (predicted_category, predicted_kind) == (category.value, kind.value):
        return False
    if session.scalar(select(NluCorrection).where(NluCorrection.ticket_id == ticket.id)):
        return True
    session.add(NluCorrection(
        ticket_id=ticket.id, predicted_category=predicted_category, predicted_kind=predicted_kind,
        fixed_category=category.value, fixed_kind=kind.value, confidence=ticket.nlu_confidence,
        officer_id=caller.id, at=ctx.clock()))
    return True


def accept(session: Session, caller: Caller, code: str, ctx: CoreContext, kind: str,
           category: str, is_complex: bool = False,
           document_number: str | None = None) -> Ticket:
    """Thụ lý: the officer confirms or fixes the legal kind and category (a change is kept as
    an NLU correction); the resolve clock starts. A tố cáo becomes confidential."""
    ticket = load_ticket(session, caller, code)
    kind_code, category_code = _codes(kind, category)
    require_transition(ticket, Status.ACCEPTED)
    corrected = _record_correction(session, ticket, caller, kind_code, category_code, ctx)
    document = (add_document_row(session, ticket, caller, "acceptance", document_number, ctx)
                if document_number and document_number.strip() else None)
    ticket.kind, ticket.category = kind_code.value, category_code.value
    ticket.is_complex = bool(is_complex)
    ticket.confidential = ticket.confidential or kind_code == Kind.TO_CAO
    change_status(session, ticket, Status.ACCEPTED, caller.actor, ctx,
                  data={"kind": kind_code.value, "category": category_code.value,
                        "complex": bool(is_complex), "corrected": corrected,
                        "document_id": document.id if document else None})
    return ticket


def assign(session: Session, caller: Caller, code: str, ctx: CoreContext,
           officer_id: int | None = None) -> Ticket:
    """Give the ticket to an officer of its unit (the least loaded one when none is named)."""
    ticket = load_ticket(session, caller, code)
    require_open(ticket)
    officer = (session.get(Officer, officer_id) if officer_id is not None
               else least_loaded_officer(session, ticket.unit_id))
    if officer is None or not officer.active:
        raise NotAllowed("Không có cán bộ phù hợp để giao.")
    if officer.unit_id != ticket.unit_id or not officer_can_handle(session, officer, ticket):
        raise NotAllowed("Cán bộ được giao phải thuộc đơn vị xử lý đơn này.")
    previous = ticket.officer_id
    ticket.officer_id = officer.id
    if ticket.status == Status.NEED_INFO and ticket.status_before_info == Status.ACCEPTED:
        ticket.status_before_info = Status.ASSIGNED.value  # the answer returns it assigned
    if Status(ticket.status) == Status.ACCEPTED:
        change_status(session, ticket, Status.ASSIGNED, caller.actor, ctx, action="assigned",
                      data={"officer_id": officer.id, "previous": previous})
    else:
        update_fields(session, ticket, caller.actor, ctx, action="reassigned", notify=True,
                      data={"officer_id": officer.id, "previous": previous},
                      officer_id=officer.id)
    return ticket


def start_work(session: Session, caller: Caller, code: str, ctx: CoreContext) -> Ticket:
    ticket = load_ticket(session, caller, code)
    change_status(session, ticket, Status.IN_PROGRESS, caller.actor, ctx)
    return ticket


def transfer_to_unit(session: Session, caller: Caller, code: str, ctx: CoreContext,
                     unit_code: str, reason: str) -> Ticket:
    """Move the ticket to another unit of this system; status and clocks continue. The reason
    is an internal note."""
    ticket = load_ticket(session, caller, code)
    require_open(ticket)
    require_text(reason)
    unit = session.scalar(select(OrgUnit).where(OrgUnit.code == unit_code, OrgUnit.active))
    if unit is None:
        raise NotAllowed(f"Không có đơn vị {unit_code}.")
    if unit.id == ticket.unit_id:
        raise NotAllowed("Đơn đã thuộc đơn vị này.")
    note = write_note(session, ticket, caller, "reason", reason, ctx, internal=True)
    previous = ticket.unit_id
    officer = least_loaded_officer(session, unit.id)
    update_fields(session, ticket, caller.actor, ctx, action="transferred_unit", notify=True,
                  data={"from_unit": previous, "to_unit": unit.id, "note_id": note.id},
                  unit_id=unit.id, officer_id=officer.id if officer else None)
    return ticket


def transfer_outside(session: Session, caller: Caller, code: str, ctx: CoreContext,
                     body: str, reason: str) -> Ticket:
    """Vượt thẩm quyền: send it to a higher level or another body; it leaves this system."""
    ticket = load_ticket(session, caller, code)
    require_text(reason)
    if not body or len(body.strip()) < 2:
        raise NotAllowed("Vui lòng ghi rõ cơ quan nhận đơn.")
    require_transition(ticket, Status.TRANSFERRED)
    ticket.external_body = body.strip()[:300]
    return _move_with_note(session, caller, ticket, ctx, Status.TRANSFERRED, "reason", reason)


def ask_for_information(session: Session, caller: Caller, code: str, ctx: CoreContext,
                        question: str) -> Ticket:
    """Ask the citizen; works before acceptance too. The citizen's answer returns the ticket
    to the status it has now (tickets.return_from_need_info)."""
    ticket = load_ticket(session, caller, code)
    require_text(question)
    require_transition(ticket, Status.NEED_INFO)
    return _move_with_note(session, caller, ticket, ctx, Status.NEED_INFO, "question", question,
                           relay=True)


def reply(session: Session, caller: Caller, code: str, ctx: CoreContext, text: str) -> Ticket:
    """A message to the citizen that changes no status (event "replied")."""
    ticket = load_ticket(session, caller, code)
    require_open(ticket)
    require_text(text)
    note = write_note(session, ticket, caller, "reply", text, ctx)
    _relay(ticket, ctx)
    ticket.updated_at = ctx.clock()
    event = record_event(session, ticket, caller.actor, "replied", ctx.clock(),
                         data={"note_id": note.id})
    announce(session, ticket, event, ctx)
    return ticket


def resolve(session: Session, caller: Caller, code: str, ctx: CoreContext, answer: str,
            document_number: str | None = None, public_summary: str | None = None) -> Ticket:
    """`public_summary`: the officer's text for the public board (bot.core.public_board;
    checked for personal data, refused for tố cáo); None leaves it as it is, "" removes it."""
    ticket = load_ticket(session, caller, code)
    require_text(answer)
    require_transition(ticket, Status.RESOLVED)
    summary = public_board.checked_summary(session, ticket, public_summary)
    note = write_note(session, ticket, caller, "answer", answer, ctx)
    kind = "decision" if ticket.kind in (Kind.KHIEU_NAI, Kind.TO_CAO) else "answer"
    document = (add_document_row(session, ticket, caller, kind, document_number, ctx)
                if document_number and document_number.strip() else None)
    ticket.answer_text = note.text
    _relay(ticket, ctx)
    change_status(session, ticket, Status.RESOLVED, caller.actor, ctx,
                  data={"note_id": note.id, "document_id": document.id if document else None})
    if summary is not None:
        public_board.store_summary(session, ticket, caller, ctx, summary)
    return ticket


REDIRECT_LINE = "Ông/Bà có thể gửi đơn tới: {redirect}"


def reject(session: Session, caller: Caller, code: str, ctx: CoreContext, reason: str,
           redirect: str) -> Ticket:
    """Không thụ lý, with the reason and where to turn instead (told to the citizen)."""
    ticket = load_ticket(session, caller, code)
    require_text(reason)
    if not redirect or len(redirect.strip()) < 3:
        raise NotAllowed("Vui lòng ghi rõ nơi người dân có thể gửi đơn.")
    require_transition(ticket, Status.REJECTED)
    text = f"{reason.strip()}\n{REDIRECT_LINE.format(redirect=redirect.strip())}"
    return _move_with_note(session, caller, ticket, ctx, Status.REJECTED, "reason", text)


def reopen(session: Session, caller: Caller, code: str, ctx: CoreContext, reason: str) -> Ticket:
    """Back to in_progress from resolved/closed, with a fresh resolve period."""
    ticket = load_ticket(session, caller, code)
    require_text(reason)
    if Status(ticket.status) not in (Status.RESOLVED, Status.CLOSED):
        raise IllegalTransition(f"{ticket.code}: only a resolved or closed ticket reopens")
    return _move_with_note(session, caller, ticket, ctx, Status.IN_PROGRESS, "reason", reason,
                           internal=True, action="reopened")


def require_open(ticket: Ticket) -> None:
    if Status(ticket.status) in FINAL_STATUSES:
        raise NotAllowed("Đơn này đã kết thúc.")


def require_text(text: str) -> None:
    if not text or len(text.strip()) < 3:
        raise NotAllowed("Vui lòng ghi rõ nội dung (lý do, câu hỏi hoặc trả lời).")
