"""The ticket page's actions: POST /desk/tickets/<CODE>/<action>. Each checks the CSRF token
and the login, reads its form, calls the core (`bot.core.desk`) as the officer, and goes back to
the page with a message (POST-redirect-GET). The core decides who may do what; a refusal is a
polite page (403/409), a ticket the officer may not see is "not found" (404), never a traceback.
Acceptance, decision and document forms may carry the signed PDF (multipart, PDF only)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog
from aiohttp import BodyPartReader, web
from multidict import MultiDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import desk, public_board
from bot.core.authz import Caller, NotAllowed, require_ticket_access
from bot.core.context import CoreContext
from bot.core.tickets import IllegalTransition
from bot.store.db import session_scope
from bot.store.desk_models import TicketDocument
from bot.store.files import LocalFileStorage
from bot.store.models import Attachment, Ticket
from bot.web.desk import security
from bot.web.desk.views_ticket import (
    PDF_MAX_BYTES,
    desk_user,
    error_page,
    not_found,
    redirect_to_ticket,
    storage_of,
)

log = structlog.get_logger(__name__)

FIELD_MAX_BYTES = 32 * 1024  # a text field (4000 characters of Vietnamese fit easily)
MAX_FIELDS = 20  # the largest form has 7
CHUNK = 256 * 1024
PDF_MAGIC = b"%PDF-"
BAD_FORM_TITLE = "Thông tin chưa hợp lệ"
REFUSED_TITLE = "Không thực hiện được"
WRONG_STATE_TEXT = ("Thao tác này không áp dụng được với trạng thái hiện tại của đơn. "
                    "Anh/chị tải lại trang để xem tình trạng mới nhất giúp ạ.")


class FormError(ValueError):
    """A form we cannot take; the message is for the officer."""


@dataclass
class ActionForm:
    fields: MultiDict[str] = field(default_factory=MultiDict)
    pdf: bytes | None = None

    def text(self, name: str, limit: int = 4000) -> str:
        value = (self.fields.get(name) or "").strip()
        if len(value) > limit:
            raise FormError("Nội dung dài quá, anh/chị vui lòng rút gọn.")
        return value

    def flag(self, name: str) -> bool:
        return self.fields.get(name) in ("1", "on", "true", "yes")

    def number(self, name: str, label: str) -> int | None:
        value = self.text(name, 12)
        if not value:
            return None
        if not value.isdigit():
            raise FormError(f"{label} phải là một số.")
        return int(value)


async def read_form(request: web.Request) -> ActionForm:
    """URL-encoded fields, or multipart fields with at most one PDF (`file`), streamed so an
    oversized file is never held whole."""
    if not request.content_type.startswith("multipart/form-data"):
        try:
            return ActionForm(MultiDict(await request.post()))
        except web.HTTPRequestEntityTooLarge:
            raise FormError("Nội dung gửi lên lớn quá.") from None
    form = ActionForm()
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise FormError("Biểu mẫu không hợp lệ.")
            if part.name == "file":
                data = await _read(part, PDF_MAX_BYTES, "Tệp lớn quá (tối đa "
                                   f"{PDF_MAX_BYTES // (1024 * 1024)} MB).")
                if data:
                    if form.pdf is not None or not data.startswith(PDF_MAGIC):
                        raise FormError("Chỉ nhận một tệp PDF (văn bản đã ký).")
                    form.pdf = data
                continue
            if len(form.fields) >= MAX_FIELDS:
                raise FormError("Biểu mẫu không hợp lệ.")
            data = await _read(part, FIELD_MAX_BYTES, "Nội dung dài quá.")
            if part.name:
                form.fields.add(part.name, data.decode("utf-8"))
    except FormError:
        raise
    except (ValueError, AssertionError):  # broken multipart, or not UTF-8
        raise FormError("Biểu mẫu không hợp lệ.") from None
    return form


async def _read(part: BodyPartReader, limit: int, too_large: str) -> bytes:
    chunks, size = [], 0
    while chunk := await part.read_chunk(CHUNK):
        size += len(chunk)
        if size > limit:
            raise FormError(too_large)
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass(frozen=True)
class Call:
    """What one POST asks of the core."""

    session: Session
    caller: Caller
    code: str
    ctx: CoreContext
    form: ActionForm
    attachment_id: int | None


def _document_number(form: ActionForm, name: str = "document_number") -> str | None:
    return form.text(name, 100) or None


def _attach(call: Call, ticket: Ticket) -> None:
    """The signed PDF goes with the document the core call just recorded."""
    if call.attachment_id is None:
        return
    document = call.session.scalar(select(TicketDocument).where(
        TicketDocument.ticket_id == ticket.id).order_by(TicketDocument.id.desc()).limit(1))
    if document is not None and document.attachment_id is None:
        document.attachment_id = call.attachment_id


def _needs_number_with_pdf(call: Call, name: str = "document_number") -> None:
    if call.attachment_id is not None and not _document_number(call.form, name):
        raise FormError("Vui lòng ghi số văn bản của tệp PDF đính kèm.")


def do_accept(c: Call) -> Ticket:
    _needs_number_with_pdf(c)
    ticket = desk.accept(c.session, c.caller, c.code, c.ctx, kind=c.form.text("kind", 40),
                         category=c.form.text("category", 40), is_complex=c.form.flag("complex"),
                         document_number=_document_number(c.form))
    _attach(c, ticket)
    return ticket


def do_assign(c: Call) -> Ticket:
    return desk.assign(c.session, c.caller, c.code, c.ctx,
                       officer_id=c.form.number("officer_id", "Cán bộ"))


def do_start(c: Call) -> Ticket:
    return desk.start_work(c.session, c.caller, c.code, c.ctx)


def do_transfer(c: Call) -> Ticket:
    unit, reason = c.form.text("unit", 60), c.form.text("reason")
    if unit:
        return desk.transfer_to_unit(c.session, c.caller, c.code, c.ctx, unit_code=unit,
                                     reason=reason)
    body = c.form.text("body", 300)
    if not body:
        raise FormError("Vui lòng chọn đơn vị nhận, hoặc ghi tên cơ quan ngoài hệ thống.")
    return desk.transfer_outside(c.session, c.caller, c.code, c.ctx, body=body, reason=reason)


def do_ask(c: Call) -> Ticket:
    return desk.ask_for_information(c.session, c.caller, c.code, c.ctx,
                                    question=c.form.text("question"))


def do_reply(c: Call) -> Ticket:
    return desk.reply(c.session, c.caller, c.code, c.ctx, text=c.form.text("text"))


def do_resolve(c: Call) -> Ticket:
    _needs_number_with_pdf(c)
    summary = c.form.text("public_summary") if "public_summary" in c.form.fields else None
    ticket = desk.resolve(c.session, c.caller, c.code, c.ctx, answer=c.form.text("answer"),
                          document_number=_document_number(c.form), public_summary=summary)
    _attach(c, ticket)
    return ticket


def do_reject(c: Call) -> Ticket:
    return desk.reject(c.session, c.caller, c.code, c.ctx, reason=c.form.text("reason"),
                       redirect=c.form.text("redirect", 500))


def do_reopen(c: Call) -> Ticket:
    return desk.reopen(c.session, c.caller, c.code, c.ctx, reason=c.form.text("reason"))


def do_link(c: Call) -> Ticket:
    of_code = c.form.text("of_code", 40).upper()
    if not of_code:
        raise FormError("Vui lòng ghi mã đơn trùng.")
    master = c.session.scalar(select(Ticket).where(Ticket.code == of_code))
    if master is None or not _may_handle(c.session, c.caller, master):
        # another unit's ticket, or a tố cáo, is not found either
        raise FormError(f"Không tìm thấy đơn {of_code} trong phạm vi của anh/chị.")
    return desk.link_duplicate(c.session, c.caller, c.code, c.ctx, of_code=of_code)


def _may_handle(session: Session, caller: Caller, ticket: Ticket) -> bool:
    try:
        require_ticket_access(session, caller, ticket)
    except NotAllowed:
        return False
    return True


def do_note(c: Call) -> Ticket:
    return desk.add_note(c.session, c.caller, c.code, c.ctx, text=c.form.text("text"))


def do_extend(c: Call) -> Ticket:
    days = c.form.number("days", "Số ngày gia hạn")
    if days is None:
        raise FormError("Vui lòng ghi số ngày gia hạn (tối đa 30 ngày).")
    return desk.extend_resolve_clock(
        c.session, c.caller, c.code, c.ctx, days=days,
        decision_number=c.form.text("decision_number", 100), reason=c.form.text("reason"),
        especially_complex=c.form.flag("especially_complex"))


def do_clear_urgent(c: Call) -> Ticket:
    return desk.clear_urgent(c.session, c.caller, c.code, c.ctx, reason=c.form.text("reason"))


def do_document(c: Call) -> Ticket:
    return desk.add_document(c.session, c.caller, c.code, c.ctx, kind=c.form.text("kind", 30),
                             number=c.form.text("number", 100), attachment_id=c.attachment_id)


def do_public_summary(c: Call) -> Ticket:
    return public_board.set_summary(c.session, c.caller, c.code, c.ctx,
                                    text=c.form.text("public_summary"))


def do_public_hide(c: Call) -> Ticket:
    return public_board.hide(c.session, c.caller, c.code, c.ctx,
                             reason=c.form.text("reason", public_board.REASON_MAX))


def do_public_show(c: Call) -> Ticket:
    return public_board.show(c.session, c.caller, c.code, c.ctx)


ACTIONS: dict[str, Callable[[Call], Ticket]] = {
    "accept": do_accept, "assign": do_assign, "start": do_start, "transfer": do_transfer,
    "ask": do_ask, "reply": do_reply, "resolve": do_resolve, "reject": do_reject,
    "reopen": do_reopen, "link": do_link, "note": do_note, "extend": do_extend,
    "clear_urgent": do_clear_urgent, "document": do_document,
    "public_summary": do_public_summary, "public_hide": do_public_hide,
    "public_show": do_public_show,
}
TAKES_PDF = frozenset({"accept", "resolve", "document"})


class Hidden(LookupError):
    """The caller may not see this ticket: answer 404, as for a ticket that does not exist."""


def _store_pdf(session: Session, storage: LocalFileStorage, ticket: Ticket,
               data: bytes) -> tuple[int, str]:
    stored = storage.put(data, ".pdf")
    attachment = Attachment(ticket_id=ticket.id, inbox_id=None, media_type="document",
                            content_type="application/pdf", storage_key=stored.key,
                            size_bytes=stored.size_bytes, sha256=stored.sha256)
    session.add(attachment)
    session.flush()
    return attachment.id, stored.key


def _run(url: str, storage: LocalFileStorage, name: str, caller: Caller, code: str,
         ctx: CoreContext, form: ActionForm) -> tuple[str, bool]:
    """One action in one transaction; returns the ticket's code and whether the officer still
    handles it (a transfer to another unit: no, so back to the queue). A PDF stored for an action
    the core then refuses is removed again (unless an earlier upload holds the same bytes)."""
    stored_key = None
    try:
        with session_scope(url) as session:
            ticket = session.scalar(select(Ticket).where(Ticket.code == code))
            if ticket is None:
                raise Hidden(code)
            if not _may_handle(session, caller, ticket):
                raise Hidden(code)  # as the page does: outside one's scope a code reveals nothing
            attachment_id = None
            if form.pdf is not None:
                if name not in TAKES_PDF:
                    raise FormError("Thao tác này không nhận tệp đính kèm.")
                attachment_id, stored_key = _store_pdf(session, storage, ticket, form.pdf)
            done = ACTIONS[name](Call(session, caller, code, ctx, form, attachment_id))
            session.flush()
            return done.code, _may_handle(session, caller, done)
    except BaseException:
        if stored_key is not None:
            _drop_unused(url, storage, stored_key)
        raise


def _drop_unused(url: str, storage: LocalFileStorage, key: str) -> None:
    with session_scope(url) as session:
        if session.scalar(select(Attachment.id).where(Attachment.storage_key == key)) is None:
            storage.delete(key)


def action_view(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        user = desk_user(request)
        code = request.match_info["code"].upper()
        try:
            form = await read_form(request)
        except FormError as error:
            return error_page(request, 400, BAD_FORM_TITLE, str(error), code)
        security.check_csrf(request, form.fields)
        try:
            code, still_mine = await asyncio.to_thread(
                _run, security.db_url(request), storage_of(request), name, user.caller, code,
                security.core_context(request), form)
        except (Hidden, desk.TicketNotFound):
            return not_found(request)
        except FormError as error:
            return error_page(request, 400, BAD_FORM_TITLE, str(error), code)
        except NotAllowed as refused:
            return error_page(request, 403, REFUSED_TITLE, str(refused), code)
        except IllegalTransition:
            return error_page(request, 409, REFUSED_TITLE, WRONG_STATE_TEXT, code)
        log.info("desk_action", action=name, ticket=code, officer_id=user.caller.id)
        raise redirect_to_ticket(request, code, name, back_to_queue=not still_mine)

    handler.__name__ = f"ticket_{name}"
    return handler
