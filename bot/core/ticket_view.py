"""The desk's ticket page as data: the citizen's words and place, clocks with the time left,
the timeline, the conversation with the citizen, internal notes, attachments, documents,
likely duplicates, the access log and what the caller may do now. Templates only render it.

A ticket the caller may not handle is "not found" (TicketNotFound), so a tố cáo does not
even show that it exists to anyone but denunciation handlers and its assigned officer. Showing
the citizen's identity is recorded in data_access_log; for a tố cáo only handlers see it, and
only handlers see that ticket's access log."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.answers import templates_for
from bot.core.authz import Caller, active_officer, may_see_identity, officer_can_handle, roles_of
from bot.core.context import CoreContext
from bot.core.desk import TicketNotFound
from bot.core.duplicates import NEVER_DUPLICATES, Candidate, candidates
from bot.core.held_messages import HELD_LABEL, held_for_ticket
from bot.core.queue import local_text
from bot.core.taxonomy import (
    CATEGORY_LABELS,
    FINAL_STATUSES,
    KIND_LABELS,
    STATUS_LABELS,
    Kind,
    Role,
    Status,
)
from bot.core.tickets import IllegalTransition, require_transition
from bot.store.desk_models import AnswerTemplate, TicketDocument
from bot.store.models import (
    Area,
    Attachment,
    Citizen,
    DataAccessLog,
    Officer,
    OrgUnit,
    Ticket,
    TicketClock,
    TicketEvent,
    TicketNote,
)

VIEW_PURPOSE = "xem đơn trên bàn làm việc"
UNIT_LABELS = {"working_days": "ngày làm việc", "calendar_days": "ngày", "hours": "giờ"}
CITIZEN_LABEL, SYSTEM_LABEL = "Người dân", "Hệ thống"
PUBLIC_NOTE_KINDS = ("citizen", "question", "reply", "answer", "reason", "rating_comment")
CLOCK_LABELS = {"accept": "Thời hạn thụ lý", "resolve": "Thời hạn giải quyết"}
NOTE_LABELS = {"citizen": "Người dân bổ sung", "question": "Câu hỏi cho người dân",
               "reply": "Trả lời người dân", "answer": "Kết quả giải quyết",
               "reason": "Lý do", "note": "Ghi chú nội bộ",
               "rating_comment": "Ý kiến đánh giá"}
DOCUMENT_LABELS = {"acceptance": "Thông báo thụ lý", "decision": "Quyết định giải quyết",
                   "extension": "Quyết định gia hạn", "answer": "Văn bản trả lời"}
ACTION_LABELS = {
    "created": "Tiếp nhận đơn", "accepted": "Thụ lý", "assigned": "Giao cán bộ xử lý",
    "reassigned": "Giao lại cán bộ", "in_progress": "Bắt đầu xử lý",
    "need_info": "Đề nghị người dân bổ sung thông tin",
    "information_added": "Người dân bổ sung thông tin", "replied": "Trả lời người dân",
    "resolved": "Trả lời, giải quyết", "closed": "Đóng đơn", "rejected": "Không thụ lý",
    "transferred": "Chuyển cơ quan khác", "transferred_unit": "Chuyển đơn vị xử lý",
    "withdrawn": "Người dân rút đơn", "reopened": "Mở lại đơn", "note_added": "Ghi chú nội bộ",
    "linked_duplicate": "Gộp vào đơn trùng", "duplicate_linked": "Có đơn trùng được gộp vào",
    "resolve_clock_extended": "Gia hạn thời hạn giải quyết",
    "document_added": "Thêm văn bản", "urgent_cleared": "Bỏ đánh dấu khẩn cấp",
    "rated": "Người dân đánh giá", "rating_commented": "Người dân góp ý",
    "escalated": "Báo cáo lên cấp trên do quá hạn", "reminded": "Nhắc hạn",
    "personal_data_erased": "Xóa dữ liệu cá nhân theo yêu cầu", "updated": "Cập nhật đơn",
    "public_summary_set": "Viết, duyệt tóm tắt công khai",
    "public_summary_removed": "Bỏ tóm tắt công khai", "public_hidden": "Ẩn khỏi bảng công khai",
    "public_shown": "Hiện lại trên bảng công khai",
    "citizen_linked": "Người dân liên kết thêm kênh liên lạc",
}


@dataclass(frozen=True)
class ClockView:
    name: str
    label: str
    unit_label: str
    due_local: str
    left_text: str
    overdue: bool
    paused: bool
    stopped: bool
    extensions: int
    length: int = 0
    source: str = ""


@dataclass(frozen=True)
class EventView:
    at_local: str
    actor_label: str
    action_label: str
    action: str = ""


@dataclass(frozen=True)
class MessageView:
    at_local: str
    who: str
    kind: str
    text: str
    kind_label: str = ""
    from_citizen: bool = False


@dataclass(frozen=True)
class AttachmentView:
    id: int
    media_type: str
    content_type: str
    size_bytes: int = 0


@dataclass(frozen=True)
class DocumentView:
    kind: str
    kind_label: str
    number: str
    attachment_id: int | None
    at_local: str
    officer_name: str | None


@dataclass(frozen=True)
class AccessView:
    at_local: str
    actor_label: str
    purpose: str


@dataclass(frozen=True)
class TicketPage:
    code: str
    status: str
    status_label: str
    kind: str
    kind_label: str
    kind_intended_label: str | None
    category: str
    category_label: str
    confidence: float | None
    needs_triage: bool
    urgent: bool
    confidential: bool
    is_complex: bool
    text: str
    location_text: str | None
    map_url: str | None
    area_name: str | None
    unit_name: str | None
    officer_name: str | None
    received_local: str
    channel: str
    external_body: str | None
    citizen_name: str | None
    citizen_phone: str | None
    identity_hidden: bool
    clocks: list[ClockView]
    events: list[EventView]
    conversation: list[MessageView]
    internal_notes: list[MessageView]
    attachments: list[AttachmentView]
    documents: list[DocumentView]
    duplicate_candidates: list[Candidate]
    duplicate_of: str | None
    linked: list[str]
    access_log: list[AccessView]
    actions: frozenset[str]
    unit_officers: list[tuple[int, str]]
    units: list[tuple[str, str]]
    answer_templates: list[AnswerTemplate]
    kinds: list[tuple[str, str]] = field(default_factory=list)
    categories: list[tuple[str, str]] = field(default_factory=list)
    rating: int | None = None
    held: list[MessageView] = field(default_factory=list)  # not sent yet (Zalo's window)


def ticket_page(session: Session, caller: Caller, code: str, ctx: CoreContext,
                duplicate_threshold: float | None = None) -> TicketPage:
    """The page of ticket `code` for an officer; TicketNotFound when they may not see it.
    `duplicate_threshold` defaults to settings.duplicate_similarity."""
    officer = active_officer(session, caller)
    ticket = session.scalar(select(Ticket).where(Ticket.code == (code or "").strip().upper()))
    if ticket is None or not officer_can_handle(session, officer, ticket):
        raise TicketNotFound(code)
    now = ctx.clock()
    tz = ctx.tz
    roles = roles_of(officer)
    show_identity = may_see_identity(session, caller, ticket)
    citizen = session.get(Citizen, ticket.citizen_id) if ticket.citizen_id else None
    if show_identity and citizen is not None:
        session.add(DataAccessLog(at=now, actor_type=caller.type, actor_id=caller.id,
                                  citizen_id=citizen.id, ticket_id=ticket.id,
                                  purpose=VIEW_PURPOSE))
        session.flush()

    events = list(session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
                                  .order_by(TicketEvent.at, TicketEvent.id)))
    notes = list(session.scalars(select(TicketNote).where(TicketNote.ticket_id == ticket.id)
                                 .order_by(TicketNote.created_at, TicketNote.id)))
    documents = list(session.scalars(select(TicketDocument).where(
        TicketDocument.ticket_id == ticket.id).order_by(TicketDocument.id)))
    see_log = not ticket.confidential or Role.DENUNCIATION_HANDLER in roles
    accesses = (list(session.scalars(select(DataAccessLog).where(
        DataAccessLog.ticket_id == ticket.id).order_by(DataAccessLog.at, DataAccessLog.id)))
        if see_log else [])
    names = _officer_names(session, [
        *(e.actor_id for e in events if e.actor_type == "officer"),
        *(n.author_id for n in notes if n.author_type == "officer"),
        *(d.officer_id for d in documents), *(a.actor_id for a in accesses
                                              if a.actor_type == "officer"),
        ticket.officer_id])

    def who(actor_type: str, actor_id: int | None) -> str:
        if actor_type == "officer":
            return names.get(actor_id, "Cán bộ")
        return CITIZEN_LABEL if actor_type == "citizen" else SYSTEM_LABEL

    conversation = [MessageView(local_text(ticket.received_at, tz), CITIZEN_LABEL, "report",
                                ticket.text, "Nội dung phản ánh", True)]
    internal = []
    for note in notes:
        view = MessageView(local_text(note.created_at, tz), who(note.author_type, note.author_id),
                           note.kind, note.text, NOTE_LABELS.get(note.kind, note.kind),
                           note.author_type == "citizen")
        if note.internal or note.kind not in PUBLIC_NOTE_KINDS:
            internal.append(view)
        else:
            conversation.append(view)
    if ticket.answer_text and not any(n.kind == "answer" for n in notes):  # before notes held it
        resolved = next((e for e in reversed(events) if e.to_status == Status.RESOLVED), None)
        conversation.append(MessageView(
            local_text(resolved.at if resolved else ticket.updated_at, tz),
            who("officer", resolved.actor_id) if resolved else "Cán bộ", "answer",
            ticket.answer_text, NOTE_LABELS["answer"]))

    area = session.get(Area, ticket.area_id) if ticket.area_id else None
    unit = session.get(OrgUnit, ticket.unit_id) if ticket.unit_id else None
    master = session.get(Ticket, ticket.duplicate_of_id) if ticket.duplicate_of_id else None
    linked = list(session.scalars(select(Ticket.code).where(
        Ticket.duplicate_of_id == ticket.id).order_by(Ticket.id)))
    actions = allowed_actions(ticket, officer.id, roles)
    dupes: list[Candidate] = []
    if "link" in actions:
        if duplicate_threshold is None:
            from bot.settings import load_settings

            duplicate_threshold = load_settings().duplicate_similarity
        dupes = candidates(session, ticket, duplicate_threshold)
    return TicketPage(
        code=ticket.code, status=ticket.status,
        status_label=STATUS_LABELS.get(ticket.status, ticket.status),
        kind=ticket.kind, kind_label=KIND_LABELS.get(ticket.kind, ticket.kind),
        kind_intended_label=(KIND_LABELS.get(ticket.kind_intended, ticket.kind_intended)
                             if ticket.kind_intended else None),
        category=ticket.category,
        category_label=CATEGORY_LABELS.get(ticket.category, ticket.category),
        confidence=ticket.nlu_confidence, needs_triage=ticket.needs_triage,
        urgent=ticket.urgent, confidential=ticket.confidential, is_complex=ticket.is_complex,
        text=ticket.text, location_text=ticket.location_text, map_url=map_url(ticket),
        area_name=area.name if area else None, unit_name=unit.name if unit else None,
        officer_name=names.get(ticket.officer_id) if ticket.officer_id else None,
        received_local=local_text(ticket.received_at, tz), channel=ticket.channel,
        external_body=ticket.external_body,
        citizen_name=citizen.display_name if show_identity and citizen else None,
        citizen_phone=citizen.phone if show_identity and citizen else None,
        identity_hidden=not show_identity,
        clocks=[clock_view(c, now, ctx) for c in sorted(ticket.clocks, key=lambda c: c.id)],
        events=[EventView(local_text(e.at, tz), who(e.actor_type, e.actor_id),
                          event_label(e), e.action) for e in events],
        conversation=conversation, internal_notes=internal,
        attachments=[AttachmentView(a.id, a.media_type, a.content_type, a.size_bytes)
                     for a in session.scalars(select(Attachment).where(
                         Attachment.ticket_id == ticket.id).order_by(Attachment.id))],
        documents=[DocumentView(d.kind, DOCUMENT_LABELS.get(d.kind, d.kind), d.number,
                                d.attachment_id, local_text(d.created_at, tz),
                                names.get(d.officer_id)) for d in documents],
        duplicate_candidates=dupes, duplicate_of=master.code if master else None, linked=linked,
        access_log=[AccessView(local_text(a.at, tz), who(a.actor_type, a.actor_id), a.purpose)
                    for a in accesses],
        actions=actions,
        unit_officers=[(o.id, o.full_name) for o in session.scalars(
            select(Officer).where(Officer.unit_id == ticket.unit_id, Officer.active)
            .order_by(Officer.full_name))] if ticket.unit_id else [],
        units=[(u.code, u.name) for u in session.scalars(
            select(OrgUnit).where(OrgUnit.active, OrgUnit.id != ticket.unit_id)
            .order_by(OrgUnit.id))],
        answer_templates=templates_for(session, ticket.category),
        kinds=[(k.value, label) for k, label in KIND_LABELS.items()],
        categories=[(c.value, label) for c, label in CATEGORY_LABELS.items()],
        rating=ticket.rating,
        held=[MessageView(local_text(m.created_at, tz), SYSTEM_LABEL, "held", m.text or "",
                          HELD_LABEL) for m in held_for_ticket(session, ticket.id)],
    )


def _officer_names(session: Session, ids) -> dict[int, str]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    return dict(session.execute(select(Officer.id, Officer.full_name)
                                .where(Officer.id.in_(wanted))).tuples().all())


def map_url(ticket: Ticket) -> str | None:
    if ticket.latitude is None or ticket.longitude is None:
        return None
    lat, lon = f"{ticket.latitude:.6f}", f"{ticket.longitude:.6f}"
    return f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=17/{lat}/{lon}"


def event_label(event: TicketEvent) -> str:
    if event.action in ACTION_LABELS:
        return ACTION_LABELS[event.action]
    if event.to_status:
        return STATUS_LABELS.get(event.to_status, event.to_status)
    return event.action


def _can(ticket: Ticket, status: Status) -> bool:
    try:
        require_transition(ticket, status)
    except IllegalTransition:
        return False
    return True


def allowed_actions(ticket: Ticket, officer_id: int, roles: set[Role]) -> frozenset[str]:
    """The actions (WEB-B's POST names) this officer may use on the ticket now. The core
    functions check again; this only decides which forms the page shows."""
    status = Status(ticket.status)
    final = status in FINAL_STATUSES
    open_work = not final and status != Status.RESOLVED
    actions = {"note", "document"}
    pairs = (("accept", Status.ACCEPTED), ("resolve", Status.RESOLVED),
             ("reject", Status.REJECTED), ("ask", Status.NEED_INFO),
             ("start", Status.IN_PROGRESS))
    actions |= {name for name, target in pairs
                if _can(ticket, target) and (name != "start" or status != Status.NEED_INFO)}
    if status in (Status.RESOLVED, Status.CLOSED):
        actions.discard("start")
        actions.add("reopen")
    if not final:
        actions.add("reply")
    if open_work:
        actions.add("transfer")
        if roles & {Role.UNIT_HEAD, Role.LEADER, Role.ADMIN} or ticket.officer_id in (
                None, officer_id):
            actions.add("assign")
        if ticket.kind not in NEVER_DUPLICATES and ticket.duplicate_of_id is None:
            actions.add("link")
        if ticket.urgent:
            actions.add("clear_urgent")
    if ticket.kind == Kind.TO_CAO and any(
            c.name == "resolve" and c.stopped_at is None and (c.extensions or 0) < 2
            for c in ticket.clocks):
        actions.add("extend")
    return frozenset(actions)


def clock_view(clock: TicketClock, now: datetime, ctx: CoreContext) -> ClockView:
    stopped = clock.stopped_at is not None
    paused = clock.paused_at is not None and not stopped
    overdue = (clock.stopped_at or clock.paused_at or now) > clock.due_at
    return ClockView(
        name=clock.name, label=CLOCK_LABELS.get(clock.name, clock.name),
        unit_label=UNIT_LABELS.get(clock.unit, clock.unit),
        due_local=local_text(clock.due_at, ctx.tz), left_text=left_text(clock, now, ctx),
        overdue=overdue, paused=paused, stopped=stopped, extensions=clock.extensions or 0,
        length=clock.length, source=clock.source)


def left_text(clock: TicketClock, now: datetime, ctx: CoreContext) -> str:
    """"còn 3 ngày làm việc", "quá hạn 2 ngày", "còn 4 giờ", "tạm dừng, còn ..."."""
    if clock.stopped_at is not None:
        return "đã xong, đúng hạn" if clock.stopped_at <= clock.due_at else "đã xong, trễ hạn"
    at = clock.paused_at or now
    text = _span_text(clock.unit, at, clock.due_at, ctx)
    return f"tạm dừng, {text}" if clock.paused_at is not None else text


def _span_text(unit: str, at: datetime, due: datetime, ctx: CoreContext) -> str:
    late = at > due
    if unit == "hours":
        hours = math.ceil(abs((due - at).total_seconds()) / 3600)
        return f"quá hạn {hours} giờ" if late else f"còn {hours} giờ"
    days = abs((due.astimezone(ctx.tz).date() - at.astimezone(ctx.tz).date()).days)
    if unit == "working_days":
        try:
            work = ctx.clocks.calendar.working_days_between(*sorted((at, due)), ctx.tz)
        except ValueError:  # outside the calendar's years: count calendar days
            work = None
        if work is not None and not late:
            return f"còn {work} ngày làm việc" if work else "hết hạn trong hôm nay"
        if work:
            return f"quá hạn {work} ngày làm việc"
    if not late:
        return f"còn {days} ngày" if days else "hết hạn trong hôm nay"
    return f"quá hạn {max(days, 1)} ngày"
