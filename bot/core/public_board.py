"""The public board ("dân biết, dân kiểm tra, dân giám sát"): what an officer publishes about a
resolved ticket, and the check that keeps citizens' personal data off it.

- A ticket is published when it is resolved or closed, has a public summary an officer wrote or
  approved, is not hidden, not confidential (never a tố cáo) and not linked as a duplicate.
- The summary is the officer's own text, never the citizen's: it is refused when it holds a
  phone number, an e-mail address, the citizen's name or phone, a house number, or copies the
  citizen's words (`summary_problem`). The same check runs again when the board is rendered
  (the citizen may have given a name later), and on the officer's answer: an answer that fails
  it is shown as "Đã trả lời công dân." only.
- Writing, approving, hiding and showing again are audited as ticket events (codes and field
  names only; the hide reason is kept on the ticket, where erasure clears it).
The listing, search and monthly figures are in `bot.core.public_list`."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.core.authz import Caller, NotAllowed
from bot.core.context import CoreContext
from bot.core.taxonomy import Kind, Status
from bot.core.text import fold
from bot.core.tickets import update_fields
from bot.store.models import Citizen, Officer, Ticket

SUMMARY_MIN, SUMMARY_MAX = 10, 1000
REASON_MIN, REASON_MAX = 3, 300
PUBLISHED_STATUSES = (Status.RESOLVED.value, Status.CLOSED.value)
# This many words in a row taken from the citizen's text is a copy (fewer is a restatement of
# the subject, "bãi rác tự phát cạnh trường"); a short text copied whole is one too.
COPIED_WORDS, SHORT_TEXT_WORDS = 12, 6

LENGTH_TEXT = f"Tóm tắt công khai cần từ {SUMMARY_MIN} đến {SUMMARY_MAX} ký tự."
PROBLEM_TEXTS = {
    "phone": "Tóm tắt công khai không được có số điện thoại (hay số giấy tờ). "
             "Anh/chị vui lòng bỏ số đó ra giúp ạ.",
    "email": "Tóm tắt công khai không được có địa chỉ email. Anh/chị vui lòng bỏ ra giúp ạ.",
    "name": "Tóm tắt công khai không được nêu tên người dân. Anh/chị vui lòng viết lại, "
            "ví dụ \"người dân phản ánh…\" ạ.",
    "house": "Tóm tắt công khai không được có số nhà, địa chỉ nhà riêng của người dân. "
             "Anh/chị vui lòng chỉ ghi thôn, tổ dân phố ạ.",
    "copy": "Tóm tắt công khai không được chép nguyên văn đơn của người dân. Anh/chị vui lòng "
            "viết lại ngắn gọn vụ việc và kết quả giải quyết ạ.",
}
CONFIDENTIAL_TEXT = "Đơn tố cáo và đơn bảo mật không bao giờ được đăng lên bảng công khai."
NOT_RESOLVED_TEXT = "Chỉ viết tóm tắt công khai cho đơn đã trả lời, giải quyết."
REASON_TEXT = f"Vui lòng ghi lý do ẩn (từ {REASON_MIN} đến {REASON_MAX} ký tự)."
ALREADY_HIDDEN_TEXT = "Đơn này đã được ẩn khỏi bảng công khai."
NOT_HIDDEN_TEXT = "Đơn này đang không bị ẩn."

# A run of digits with single spaces, dots or dashes between them (0912 345 678, 0912.345.678,
# +84 912-345-678). Nine digits or more is a phone or an ID number.
_DIGIT_RUN = re.compile(r"\+?\d(?:[ .\-]?\d)+")
# 1.500.000.000 đồng is money, not a phone: groups of three, no leading zero, then the unit.
_MONEY = re.compile(r"[1-9]\d{0,2}(?:[.,]\d{3})+\s*(?:đồng|đ\b|vnđ|vnd|triệu|tỷ)")
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_HOUSE = re.compile(r"(?<!\w)(?:nhà\s+số|số\s+nhà)(?!\w)")
_NUMBER = re.compile(r"(?<!\w)số\s*\d+")
# "số 12" names a house unless it numbers a document, a road, a public work or an area
# (Quyết định số 12/QĐ-UBND, đường số 5, tổ dân phố số 3).
_PUBLIC_NUMBERED = re.compile(
    r"(?:quyết định|công văn|văn bản|thông báo|kế hoạch|nghị định|nghị quyết|thông tư|luật|"
    r"chỉ thị|tờ trình|biên bản|đường|quốc lộ|tỉnh lộ|tuyến|tổ dân phố|tổ|thôn|xóm|khu phố|"
    r"khu|ấp|bản|đội|cầu|cống|trạm|cột điện|cột|điểm|phòng|lớp)\s*$")
_DOCUMENT_TAIL = re.compile(r"\s*/\s*(?:\d+\s*/\s*)?[a-zđ]")
_HONORIFICS = ("ông", "bà", "anh", "chị", "cô", "chú", "bác", "cụ", "em", "cháu", "gia đình")


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text or "")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text or "")


def _has_phone(text: str, citizen_phone: str | None) -> bool:
    money = [m.span() for m in _MONEY.finditer(text)]
    for run in _DIGIT_RUN.finditer(text):
        inside_money = any(a <= run.start() and run.end() <= b for a, b in money)
        if len(_digits(run.group())) >= 9 and not inside_money:
            return True
    phone = _digits(citizen_phone)
    significant = phone[-9:] if len(phone) >= 9 else ""
    return bool(significant) and significant in _digits(text)


def _has_house_number(lowered: str) -> bool:
    if _HOUSE.search(lowered):
        return True
    for match in _NUMBER.finditer(lowered):
        if _DOCUMENT_TAIL.match(lowered, match.end()):
            continue  # số 12/QĐ-UBND, số 45/2024/NĐ-CP
        if not _PUBLIC_NUMBERED.search(lowered[:match.start()]):
            return True
    return False


def _names_in(text: str, name: str | None) -> bool:
    """The citizen's full name (diacritics ignored); the last two words of a longer name
    (Văn An, Thị Lan) and the given name after a form of address (ông An, chị Lan) as written,
    with their marks, so "có an ninh" is not "cô An"."""
    words = _nfc(name).lower().split()
    if not words:
        return False
    lowered = _nfc(text).lower()
    if len(words) >= 2 and _contains(fold(text), fold(" ".join(words))):
        return True
    phrases = [f"{title} {words[-1]}" for title in _HONORIFICS]
    if len(words) >= 3:
        phrases.append(" ".join(words[-2:]))
    return any(_contains(lowered, phrase) for phrase in phrases)


def _contains(folded: str, phrase: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", folded) is not None


def _copies(folded: str, citizen_text: str | None) -> bool:
    source = fold(citizen_text or "").split()
    if len(source) < SHORT_TEXT_WORDS:
        return False
    if len(source) <= COPIED_WORDS:
        return _contains(folded, " ".join(source))
    runs = {" ".join(source[i:i + COPIED_WORDS]) for i in range(len(source) - COPIED_WORDS + 1)}
    words = folded.split()
    return any(" ".join(words[i:i + COPIED_WORDS]) in runs
               for i in range(len(words) - COPIED_WORDS + 1))


def summary_problem(text: str, citizen_name: str | None = None,
                    citizen_phone: str | None = None,
                    citizen_text: str | None = None) -> str | None:
    """Why `text` may not be shown publicly ("phone", "email", "name", "house", "copy"), or
    None. Also used on the officer's answer before the board shows it."""
    text = _nfc(text)
    lowered = text.lower()
    folded = fold(text)
    if _EMAIL.search(text):
        return "email"
    if _has_phone(text, citizen_phone):
        return "phone"
    if _names_in(text, citizen_name):
        return "name"
    if _has_house_number(lowered):
        return "house"
    if _copies(folded, citizen_text):
        return "copy"
    return None


def may_publish(ticket: Ticket) -> bool:
    """Never a tố cáo nor any confidential ticket."""
    return not ticket.confidential and ticket.kind != Kind.TO_CAO


def _citizen(session: Session, ticket: Ticket) -> Citizen | None:
    return session.get(Citizen, ticket.citizen_id) if ticket.citizen_id else None


def check_summary(session: Session, ticket: Ticket, text: str) -> str:
    """The summary to store (trimmed), or NotAllowed with a polite message for the officer."""
    if not may_publish(ticket):
        raise NotAllowed(CONFIDENTIAL_TEXT)
    summary = _nfc(text).strip()
    if not SUMMARY_MIN <= len(summary) <= SUMMARY_MAX:
        raise NotAllowed(LENGTH_TEXT)
    citizen = _citizen(session, ticket)
    problem = summary_problem(summary, citizen.display_name if citizen else None,
                              citizen.phone if citizen else None, ticket.text)
    if problem:
        raise NotAllowed(PROBLEM_TEXTS[problem])
    return summary


def checked_summary(session: Session, ticket: Ticket, text: str | None) -> str | None:
    """For resolve: None = leave the summary as it is; "" = no summary (not published);
    otherwise the checked text. Checked before the ticket is touched."""
    if text is None:
        return None
    if not text.strip():
        return ""
    return check_summary(session, ticket, text)


def store_summary(session: Session, ticket: Ticket, caller: Caller, ctx: CoreContext,
                  summary: str) -> None:
    """Keep a checked summary ("" removes it); the event names the fields, never the text."""
    if (summary or None) == ticket.public_summary:
        if summary and ticket.public_summary_by != caller.id:  # another officer approves it
            update_fields(session, ticket, caller.actor, ctx, action="public_summary_set",
                          public_summary_by=caller.id)
        return
    action = "public_summary_set" if summary else "public_summary_removed"
    update_fields(session, ticket, caller.actor, ctx, action=action,
                  public_summary=summary or None, public_summary_by=caller.id if summary else None)


def set_summary(session: Session, caller: Caller, code: str, ctx: CoreContext,
                text: str) -> Ticket:
    """Write or approve the public summary of a resolved ticket after resolving it (an empty
    text removes it)."""
    from bot.core.desk_actions import load_ticket  # desk_actions imports this module

    ticket = load_ticket(session, caller, code)
    if not may_publish(ticket):
        raise NotAllowed(CONFIDENTIAL_TEXT)
    if ticket.status not in PUBLISHED_STATUSES:
        raise NotAllowed(NOT_RESOLVED_TEXT)
    store_summary(session, ticket, caller, ctx, checked_summary(session, ticket, text) or "")
    return ticket


def hide(session: Session, caller: Caller, code: str, ctx: CoreContext, reason: str) -> Ticket:
    """Take the item off the board, with the reason (kept on the ticket, audited as an event
    with the officer and the field names)."""
    from bot.core.desk_actions import load_ticket

    ticket = load_ticket(session, caller, code)
    if not may_publish(ticket):
        raise NotAllowed(CONFIDENTIAL_TEXT)
    reason = _nfc(reason).strip()
    if not REASON_MIN <= len(reason) <= REASON_MAX:
        raise NotAllowed(REASON_TEXT)
    if ticket.public_hidden_at is not None:
        raise NotAllowed(ALREADY_HIDDEN_TEXT)
    update_fields(session, ticket, caller.actor, ctx, action="public_hidden",
                  public_hidden_at=ctx.clock(), public_hidden_reason=reason,
                  public_hidden_by=caller.id)
    return ticket


def show(session: Session, caller: Caller, code: str, ctx: CoreContext) -> Ticket:
    """Put a hidden item back on the board (audited the same way)."""
    from bot.core.desk_actions import load_ticket

    ticket = load_ticket(session, caller, code)
    if not may_publish(ticket):
        raise NotAllowed(CONFIDENTIAL_TEXT)
    if ticket.public_hidden_at is None:
        raise NotAllowed(NOT_HIDDEN_TEXT)
    update_fields(session, ticket, caller.actor, ctx, action="public_shown",
                  public_hidden_at=None, public_hidden_reason=None, public_hidden_by=None)
    return ticket


def is_published(ticket: Ticket) -> bool:
    return (may_publish(ticket) and ticket.status in PUBLISHED_STATUSES
            and bool(ticket.public_summary) and ticket.public_hidden_at is None
            and ticket.duplicate_of_id is None)


@dataclass(frozen=True)
class DeskPublicState:
    """The ticket page's "Bảng công khai" box."""

    allowed: bool  # not confidential: may ever be published
    resolved: bool  # a summary may be written now
    summary: str | None
    summary_by: str | None
    hidden: bool
    hidden_reason: str | None
    hidden_by: str | None
    published: bool


def desk_state(session: Session, ticket: Ticket) -> DeskPublicState:
    def name(officer_id: int | None) -> str | None:
        officer = session.get(Officer, officer_id) if officer_id else None
        return officer.full_name if officer else None

    return DeskPublicState(
        allowed=may_publish(ticket), resolved=ticket.status in PUBLISHED_STATUSES,
        summary=ticket.public_summary, summary_by=name(ticket.public_summary_by),
        hidden=ticket.public_hidden_at is not None, hidden_reason=ticket.public_hidden_reason,
        hidden_by=name(ticket.public_hidden_by), published=is_published(ticket))
