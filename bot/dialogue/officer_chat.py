"""Officers' quick actions in chat: a channel account linked to an officer (invite code) talks
to this module, never to Rasa.

  /hangdoi        the officer's open tickets, urgent first, then by deadline (queue tab "mine")
  /don CODE       one ticket: status, kind, category, place, deadlines, the desk link
  officer:take:CODE  button "Nhận xử lý" (bot.core.notices.ticket_buttons puts it under every
                  ticket notice): thụ lý with the ticket's kind and category when it is still
                  received, and take it over (assign to self) when it is someone else's
  officer:show:CODE  button "Chi tiết": as /don CODE
  anything else   one help line with the commands and the desk link

Every press is authorised again here, on the server: the button key ("<outbox id>:<index>")
must name a message sent to THIS account (and, when the message was a notice, to the officer
linked now), and the core decides with Caller.officer whether the officer may act on the
ticket. A forged key, or a button forwarded to someone else, is refused politely and changes
nothing; a citizen pressing an officer's forwarded button is told so too."""

from __future__ import annotations

import re
from datetime import datetime

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.authz import Caller, NotAllowed
from bot.core.citizens import identity_for
from bot.core.context import CoreContext, context_from_settings
from bot.core.desk import TicketNotFound, accept, assign, load_ticket, look_up
from bot.core.notices import ticket_link
from bot.core.officers import looks_like_invite
from bot.core.queue import QueueFilter, load_queue
from bot.core.routing import OPEN_STATUSES
from bot.core.service import split_sender
from bot.core.taxonomy import CATEGORY_LABELS, KIND_LABELS, STATUS_LABELS, Category, Status
from bot.core.ticket_view import clock_view
from bot.core.tickets import IllegalTransition
from bot.dialogue.turns import CONTROL, resolve_button
from bot.settings import load_settings
from bot.store.db import session_scope
from bot.store.models import Area, InboxMessage, Officer, OrgUnit, OutboxMessage, Ticket

log = structlog.get_logger(__name__)

Reply = tuple[str, list[dict[str, str]]]
TAKE, SHOW = "take", "show"
CODE = r"[A-Za-z]{2,4}-\d{4}-\d{6,9}"
PAYLOAD = re.compile(rf"officer:(take|show):({CODE})")
BUTTON_KEY = re.compile(r"(\d{1,18}):(\d{1,4})")
QUEUE_ROWS = 10  # tickets listed by /hangdoi (the desk has the rest)
QUEUE_BUTTONS = 5  # "Chi tiết" buttons under the list
TEXT_CHARS = 300  # the citizen's words shown by /don
CHAT_PURPOSE = "xem đơn qua tin nhắn cán bộ"

HELP_TEXT = ("Dạ, tài khoản này đã liên kết với cán bộ {name}. Anh/chị nhắn /hangdoi để xem "
             "các đơn mình đang phụ trách, /don MÃ_ĐƠN để xem một đơn. Trang quản lý: {desk}")
DON_USAGE_TEXT = "Dạ, anh/chị nhắn /don kèm mã đơn, ví dụ: /don KN-2026-000123."
NOT_FOUND_TEXT = "Dạ, không tìm thấy đơn {code} trong phạm vi xử lý của anh/chị."
REFUSED_TEXT = ("Dạ, nút này không thuộc tin nhắn gửi cho anh/chị hoặc đã hết hiệu lực, nên "
                "hệ thống không thực hiện gì. Anh/chị có thể nhắn /don MÃ_ĐƠN để xem đơn.")
CITIZEN_REFUSED_TEXT = ("Dạ, nút này chỉ dành cho cán bộ được gửi thông báo, nên hệ thống "
                        "không thực hiện gì. Ông/Bà không cần thao tác thêm ạ.")
UNKNOWN_BUTTON_TEXT = ("Dạ, nút này không dùng được ở tài khoản cán bộ {name}. Anh/chị nhắn "
                       "/hangdoi hoặc /don MÃ_ĐƠN. Trang quản lý: {desk}")
EMPTY_QUEUE_TEXT = "Dạ, anh/chị hiện không phụ trách đơn nào đang mở."
QUEUE_HEAD_TEXT = "Dạ, anh/chị đang phụ trách {total} đơn đang mở (khẩn cấp trước, rồi theo hạn):"
QUEUE_MORE_TEXT = "… và {more} đơn khác."
UNIT_TEXT = "Đơn vị còn {unit} đơn đang mở. Hàng đợi đầy đủ: {desk}"
TAKEN_TEXT = "Dạ, anh/chị đã nhận xử lý đơn {code}."
ACCEPTED_TEXT = "Đã thụ lý: {kind} · {category}."
ASSIGNED_TEXT = "Đơn đã được giao cho anh/chị."
KEPT_OFFICER_TEXT = "Đơn vẫn do cán bộ {name} của đơn vị phụ trách."
UNASSIGNED_TEXT = "Đơn chưa giao cho cán bộ nào của đơn vị."
ALREADY_TEXT = "Dạ, đơn {code} đã do anh/chị phụ trách ({status})."
CLOSED_TEXT = ("Dạ, đơn {code} đang ở trạng thái «{status}», không nhận xử lý được nữa. "
               "Xem đơn: {link}")
TRIAGE_TEXT = ("Dạ, đơn {code} chưa rõ lĩnh vực, cần phân loại trước khi thụ lý. Anh/chị vui "
               "lòng thụ lý trên trang quản lý: {link}")
OTHER_UNIT_TEXT = ("Dạ, đơn {code} thuộc {unit}; anh/chị không nhận giao đơn này được. "
                   "Xem đơn: {link}")
CANNOT_TEXT = "Dạ, chưa thực hiện được với đơn {code}: {reason}"
CONFIDENTIAL_TEXT = ("Đơn tố cáo được bảo mật: nội dung và người gửi chỉ xem trên trang "
                     "quản lý.")


def answer(db_url: str, sender_key: str, inbox_id: int, now: datetime) -> list[Reply] | None:
    """The replies to a message from an officer's account, or to a press of an officer's
    button by anyone; None when it is neither (the message goes on to the dialogue). Called by
    the pipeline's hook (bot.dialogue.pipeline.officer_message) in a worker thread."""
    channel, external_id = split_sender(sender_key)
    with session_scope(db_url) as session:
        row = session.get(InboxMessage, inbox_id)
        if row is None:
            return None
        officer = linked_officer(session, channel, external_id)
        pressed = (row.payload or {}).get("button")
        text = CONTROL.sub("", row.text or "").strip()
        if officer is None:
            if pressed is not None and _names_officer_button(session, str(pressed)):
                log.warning("officer_button_refused", inbox_id=inbox_id, reason="not_officer")
                return [(CITIZEN_REFUSED_TEXT, [])]
            return None
        officer_id, name = officer.id, officer.full_name
        payload = _offered_payload(session, row, officer_id) if pressed is not None else None
    if pressed is not None and payload is None:
        log.warning("officer_button_refused", inbox_id=inbox_id, officer_id=officer_id,
                    reason="not_sent_to_this_account")
        return [(REFUSED_TEXT, [])]
    if pressed is None and looks_like_invite(text):
        return None  # a new invite code: the pipeline links the account again
    return _dispatch(db_url, Caller.officer(officer_id, channel), name, payload, text, now)


def linked_officer(session: Session, channel: str, external_id: str) -> Officer | None:
    """The active officer this chat account is linked to, if any."""
    identity = identity_for(session, channel, external_id)
    if identity is None or identity.officer_id is None:
        return None
    officer = session.get(Officer, identity.officer_id)
    return officer if officer is not None and officer.active else None


def _offered_payload(session: Session, row: InboxMessage, officer_id: int) -> str | None:
    """The payload of the pressed button, only if it was on a message to this account (and,
    for a notice, to the officer linked now: an account linked again keeps no old powers)."""
    payload = resolve_button(session, row)
    if payload is None:
        return None
    offered = session.get(OutboxMessage, int(str(row.payload["button"]).split(":")[0]))
    if offered.officer_id is not None and offered.officer_id != officer_id:
        return None
    return payload


def _names_officer_button(session: Session, key: str) -> bool:
    """Whether a pressed key names an officer's button, whoever it was sent to."""
    match = BUTTON_KEY.fullmatch(key)
    offered = session.get(OutboxMessage, int(match[1])) if match else None
    if offered is None or int(match[2]) >= len(offered.buttons or []):
        return False
    return str(offered.buttons[int(match[2])].get("payload", "")).startswith("officer:")


def _dispatch(db_url: str, caller: Caller, name: str, payload: str | None, text: str,
              now: datetime) -> list[Reply]:
    desk = load_settings().desk_base_url + "/desk/"
    ctx = context_from_settings(lambda: now)  # one moment for the whole turn
    if payload is not None:
        match = PAYLOAD.fullmatch(payload)
        if match is None:  # a citizen's button (rating...) on an account now an officer's
            return [(UNKNOWN_BUTTON_TEXT.format(name=name, desk=desk), [])]
        action, code = match[1], match[2].upper()
        if action == TAKE:
            return [_guarded(db_url, code, lambda s: take(s, caller, code, ctx))]
        return [_guarded(db_url, code, lambda s: show(s, caller, code, ctx))]
    words = text.split()
    command = words[0].split("@")[0].lower() if words else ""
    if command == "/hangdoi":
        with session_scope(db_url) as session:
            return [my_queue(session, caller, ctx, desk)]
    bare_code = len(words) == 1 and re.fullmatch(CODE, words[0])
    if command == "/don" or bare_code:
        code = words[-1].upper() if bare_code or len(words) == 2 else ""
        if not re.fullmatch(CODE, code):
            return [(DON_USAGE_TEXT, [])]
        return [_guarded(db_url, code, lambda s: show(s, caller, code, ctx))]
    return [(HELP_TEXT.format(name=name, desk=desk), [])]


class _Hidden(LookupError):
    """Not a ticket this officer may see (or none at all): said the same way for both, so a
    tố cáo does not show that it exists."""


def _ticket(session: Session, caller: Caller, code: str) -> Ticket:
    try:
        return load_ticket(session, caller, code)
    except (NotAllowed, TicketNotFound):
        raise _Hidden(code) from None


def _guarded(db_url: str, code: str, work) -> Reply:
    """Run one officer action in its own transaction; a refusal by the core rolls it all back
    and is told politely."""
    try:
        with session_scope(db_url) as session:
            return work(session)
    except _Hidden:
        log.info("officer_chat_refused", reason="not_found")
        return NOT_FOUND_TEXT.format(code=code), []
    except NotAllowed as refusal:
        log.info("officer_chat_refused", reason="not_allowed")
        return CANNOT_TEXT.format(code=code, reason=str(refusal)), []
    except IllegalTransition:
        log.info("officer_chat_refused", reason="illegal_transition")
        return CANNOT_TEXT.format(code=code, reason="trạng thái đơn không cho phép."), []


def _label(labels: dict, value: str | None) -> str:
    return labels.get(value, value or "")


def take(session: Session, caller: Caller, code: str, ctx: CoreContext) -> Reply:
    """"Nhận xử lý": thụ lý with the ticket's kind and category when it is still received,
    then assign it to the caller when it is another's (and the caller is of its unit)."""
    _lock(session, code)
    ticket = _ticket(session, caller, code)  # authorised for this officer, or not found
    officer = session.get(Officer, caller.id)
    code, link = ticket.code, ticket_link(ticket.code)
    if ticket.status not in OPEN_STATUSES:
        return CLOSED_TEXT.format(code=code, status=_label(STATUS_LABELS, ticket.status),
                                  link=link), []
    received = ticket.status == Status.RECEIVED
    if received and (ticket.needs_triage or ticket.category == Category.KHAC):
        return TRIAGE_TEXT.format(code=code, link=link), []
    mine_possible = officer.unit_id == ticket.unit_id
    if not received and (ticket.officer_id == officer.id or not mine_possible):
        if ticket.officer_id == officer.id:
            return ALREADY_TEXT.format(code=code,
                                       status=_label(STATUS_LABELS, ticket.status)), []
        unit = session.get(OrgUnit, ticket.unit_id)
        return OTHER_UNIT_TEXT.format(code=code, unit=unit.name if unit else "đơn vị khác",
                                      link=link), []
    lines = [TAKEN_TEXT.format(code=code)]
    if received:
        accept(session, caller, code, ctx, kind=ticket.kind, category=ticket.category)
        lines.append(ACCEPTED_TEXT.format(kind=_label(KIND_LABELS, ticket.kind),
                                          category=_label(CATEGORY_LABELS, ticket.category)))
    if ticket.officer_id != officer.id and mine_possible:
        assign(session, caller, code, ctx, officer_id=officer.id)
        lines.append(ASSIGNED_TEXT)
    elif ticket.officer_id != officer.id:
        holder = session.get(Officer, ticket.officer_id) if ticket.officer_id else None
        lines.append(KEPT_OFFICER_TEXT.format(name=holder.full_name) if holder
                     else UNASSIGNED_TEXT)
    session.flush()
    lines += _deadlines(ticket, ctx)
    lines.append(f"Xem và xử lý: {link}")
    log.info("officer_chat_took", code=code, officer_id=officer.id, accepted=received)
    return "\n".join(lines), [{"title": "Chi tiết", "payload": f"officer:{SHOW}:{code}"}]


def _lock(session: Session, code: str) -> None:
    """Two officers pressing at once: the second waits and then sees the first one's work
    (PostgreSQL row lock; SQLite writes one at a time anyway)."""
    session.scalar(select(Ticket.id).where(Ticket.code == code.strip().upper())
                   .with_for_update())


def show(session: Session, caller: Caller, code: str, ctx: CoreContext) -> Reply:
    """One ticket as the officer may see it; a tố cáo's words and sender stay on the desk."""
    ticket = _ticket(session, caller, code)
    code, link = ticket.code, ticket_link(ticket.code)
    lines = [f"Đơn {code}" + (" · KHẨN CẤP" if ticket.urgent else ""),
             f"Trạng thái: {_label(STATUS_LABELS, ticket.status)}",
             f"Loại đơn: {_label(KIND_LABELS, ticket.kind)} · Lĩnh vực: "
             f"{_label(CATEGORY_LABELS, ticket.category)}"]
    area = session.get(Area, ticket.area_id) if ticket.area_id else None
    place = ", ".join(p for p in (ticket.location_text, area.name if area else None) if p)
    if place:
        lines.append(f"Địa điểm: {place}")
    unit = session.get(OrgUnit, ticket.unit_id) if ticket.unit_id else None
    holder = session.get(Officer, ticket.officer_id) if ticket.officer_id else None
    lines.append(f"Đơn vị: {unit.name if unit else 'chưa có'} · Cán bộ: "
                 f"{holder.full_name if holder else 'chưa giao'}")
    lines += _deadlines(ticket, ctx)
    if ticket.confidential:
        lines.append(CONFIDENTIAL_TEXT)
    else:
        view = look_up(session, caller, code, ctx, purpose=CHAT_PURPOSE)
        words = " ".join(view.text.split())
        lines.append("Nội dung: " + (words[:TEXT_CHARS].rsplit(" ", 1)[0] + "…"
                                     if len(words) > TEXT_CHARS else words))
        if not view.identity_hidden and (view.citizen_name or view.citizen_phone):
            lines.append("Người gửi: " + ", ".join(
                p for p in (view.citizen_name, view.citizen_phone) if p))
    lines.append(f"Xem và xử lý: {link}")
    buttons = []
    if ticket.status in OPEN_STATUSES and (ticket.status == Status.RECEIVED
                                           or ticket.officer_id != caller.id):
        buttons.append({"title": "Nhận xử lý", "payload": f"officer:{TAKE}:{code}"})
    return "\n".join(lines), buttons


def _deadlines(ticket: Ticket, ctx: CoreContext) -> list[str]:
    now: datetime = ctx.clock()
    lines = []
    for clock in sorted(ticket.clocks, key=lambda c: c.started_at):
        view = clock_view(clock, now, ctx)
        lines.append(f"{view.label}: {view.due_local} ({view.left_text})")
    return lines


def my_queue(session: Session, caller: Caller, ctx: CoreContext, desk: str) -> Reply:
    """/hangdoi: the tab "mine" of the desk's queue, as a short list with buttons."""
    result = load_queue(session, caller, QueueFilter(tab="mine"), ctx.clock(),
                        page_size=QUEUE_ROWS, tz=ctx.tz)
    unit_line = UNIT_TEXT.format(unit=result.counts.get("unit", 0), desk=desk)
    if not result.rows:
        return f"{EMPTY_QUEUE_TEXT}\n{unit_line}", []
    lines = [QUEUE_HEAD_TEXT.format(total=result.total)]
    for number, row in enumerate(result.rows, start=1):
        flags = ("KHẨN · " if row.urgent else "") + ("QUÁ HẠN · " if row.overdue else "")
        where = f" · {row.area_name}" if row.area_name else ""
        due = f" · hạn {row.due_local}" if row.due_local else ""
        lines.append(f"{number}. {flags}{row.code} · {row.category_label}{where} · "
                     f"{row.status_label}{due}")
    if result.total > len(result.rows):
        lines.append(QUEUE_MORE_TEXT.format(more=result.total - len(result.rows)))
    lines.append(unit_line)
    buttons = [{"title": f"Chi tiết {row.code}", "payload": f"officer:{SHOW}:{row.code}"}
               for row in result.rows[:QUEUE_BUTTONS]]
    return "\n".join(lines), buttons
