"""Triage that teaches the NLU: what the NLU read at filing, the citizen's optional consent to
training on their words, the export of corrected texts as Rasa NLU training data, and the
desk's weekly figures (share routed without triage, share corrected).

The export holds the words of tickets an officer corrected at acceptance (NluCorrection), of
citizens who said yes to training (asked after the receipt, never a condition of filing), never
confidential (tố cáo) or erased tickets, with phone numbers, names and house numbers masked. It
lives outside git (DATA_DIR/nlu/corrections.yml) and is rebuilt before every training, so an
erasure or a withdrawn yes reaches the next model."""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from bot.core.authz import Caller, active_officer, unit_and_below
from bot.core.erasure import ERASED_TEXT
from bot.core.taxonomy import ActorType, Kind
from bot.core.text import fold
from bot.store.desk_models import NluCorrection
from bot.store.models import Citizen, Ticket

if TYPE_CHECKING:
    from bot.settings import Settings

REPORT_INTENT = "report"
PHONE_MASK, NAME_MASK, HOUSE_MASK = "<SĐT>", "<HỌ TÊN>", "<SỐ NHÀ>"


# --- what the NLU read when the report was filed -------------------------------------------

def reading_of(events: Iterable[Mapping[str, Any]], report_text: str | None) -> dict[str, Any]:
    """The NLU's category, kind and category confidence for the user message that carried the
    report text (the last one, in a Rasa tracker's events), as keyword arguments of
    service.submit_report; empty when no message carried it (then nothing was predicted)."""
    text = (report_text or "").strip()
    if not text:
        return {}
    for event in reversed(list(events)):
        parse = event.get("parse_data") or {}
        said = (event.get("text") or parse.get("text") or "").strip()
        if event.get("event") != "user" or not said or not (
                text == said or text.startswith(said + "\n")):
            continue
        category, kind = parse.get("category") or {}, parse.get("kind") or {}
        if not category.get("name"):
            return {}
        confidence = category.get("confidence")
        return {"predicted_category": str(category["name"]),
                "predicted_kind": str(kind["name"]) if kind.get("name") else None,
                "nlu_confidence": float(confidence) if confidence is not None else None}
    return {}


# --- consent to training --------------------------------------------------------------------

def training_consent(citizen: Citizen | None) -> bool | None:
    """The citizen's answer (True/False), or None when never asked or asked before an erasure
    (an erasure forgets the answer with everything else)."""
    if citizen is None or citizen.training_consent is None:
        return None
    if citizen.erased_at is not None and (citizen.training_consent_at is None
                                          or citizen.training_consent_at <= citizen.erased_at):
        return None
    return citizen.training_consent


def record_training_consent(citizen: Citizen, yes: bool, now: datetime) -> None:
    """Store the answer; a later press of the other button replaces it."""
    citizen.training_consent, citizen.training_consent_at = yes, now


# --- masking --------------------------------------------------------------------------------

# 9 to 12 digits, separators allowed, starting like a Vietnamese number (0.., +84.., 84..):
# phones, landlines and citizen ID numbers. Amounts ("200.000.000 đồng") start otherwise.
PHONE = re.compile(r"(?<![\w+])(?:\+84|84|0)(?:[ .\-]?\d){8,11}(?!\w)")
# Matched on whole words, case-insensitive; without diacritics only where no other word folds
# to the same letters ("bà"/"ba" three, "cô"/"có", "chị"/"chỉ" stay accented only).
NAME_TRIGGERS = ("tôi là", "tôi tên là", "tôi tên", "tên là", "tên tôi là", "em là", "em tên là",
                 "cháu là", "cháu tên là", "họ tên", "họ và tên", "ông", "bà", "anh", "chị",
                 "cô", "chú", "bác", "toi la", "toi ten la", "toi ten", "ten la", "ten toi la",
                 "em la", "em ten la", "chau la", "ho ten", "ho va ten", "ong", "anh")
_TRIGGERS = sorted({tuple(unicodedata.normalize("NFC", t).split()) for t in NAME_TRIGGERS},
                   key=len, reverse=True)
# Capitalised words after "ông"/"anh" that are titles, address words or pronouns, not names.
NOT_NAMES = {fold(w) for w in ("Chủ", "Phó", "Trưởng", "Bí", "Cán", "Giám", "Ủy", "UBND",
                               "HĐND", "Công", "Tổ", "Trạm", "Kính", "Xin", "Tôi", "Chúng",
                               "Thôn", "Xóm", "Ấp", "Bản", "Khu", "Đội", "Xã", "Phường")}
FIRST_NOT_NAMES = NOT_NAMES | {fold(w) for w in ("Ông", "Bà", "Anh", "Chị", "Em", "Cô", "Chú",
                                                 "Bác", "Cháu")}
WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
HOUSE = re.compile(
    r"(?i)\b(số nhà|so nha|nhà số|nha so|số|so|nhà|nha)(\s+)(\d+[a-z]?(?:/\d+[a-z]?)*)"
    r"(?!\s*(?:tầng|tang|người|nguoi|hộ|ho|căn|can|cái|cai|lần|lan|tháng|thang|năm|nam|ngày|"
    r"ngay|tuổi|tuoi|m\b|mét|met|km|triệu|trieu|đồng|dong|con|chiếc|chiec|xe|giờ|gio|phút)\b)")
AREA_BEFORE_NUMBER = re.compile(r"(?i)(?<!\w)(thôn|thon|tổ|to|xóm|xom|ấp|ap|khu phố|khu pho|"
                                r"khu|đội|doi|bản|ban|lộ|lo|hẻm|hem|kiệt|kiet|ngõ|ngo|tuyến|tuyen)\s*$")


def mask_phones(text: str) -> str:
    return PHONE.sub(PHONE_MASK, text)


def mask_house_numbers(text: str) -> str:
    """"số 12", "số nhà 27", "nhà 34/5": the number masked; "thôn số 2", "nhà 2 tầng" kept."""
    def replace(match: re.Match[str]) -> str:
        if match[1].lower() in ("số", "so") and AREA_BEFORE_NUMBER.search(
                text[:match.start()]):
            return match[0]
        return f"{match[1]}{match[2]}{HOUSE_MASK}"

    return HOUSE.sub(replace, text)


def mask_names(text: str) -> str:
    """Capitalised words after "tôi là", "tên là", "ông", "bà", "anh", "chị"... (with or
    without diacritics): best effort, a name written without a lead-in is not found."""
    words = list(WORD.finditer(text))
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(words):
        trigger = next((t for t in _TRIGGERS if _starts_with(words, i, t)), None)
        if trigger is None:
            i += 1
            continue
        j = i + len(trigger)
        start = j
        while j < len(words) and j - start < 5 and _looks_like_name(text, words, j, start):
            j += 1
        if j > start:
            spans.append((words[start].start(), words[j - 1].end()))
        i = max(j, i + 1)
    for begin, end in reversed(spans):
        text = text[:begin] + NAME_MASK + text[end:]
    return text


def _starts_with(words: list[re.Match[str]], i: int, trigger: tuple[str, ...]) -> bool:
    return i + len(trigger) <= len(words) and all(
        unicodedata.normalize("NFC", words[i + k][0].lower()) == part
        for k, part in enumerate(trigger))


def _looks_like_name(text: str, words: list[re.Match[str]], j: int, start: int) -> bool:
    word = words[j][0]
    if not word[0].isupper() or fold(word) in (FIRST_NOT_NAMES if j == start else NOT_NAMES):
        return False
    # after the lead-in only spaces or a colon ("ông. Sáng nay" is a new sentence, not a
    # name); between a name's words only spaces
    gap = text[words[j - 1].end():words[j].start()] if j else ""
    return not gap.strip(" \t:" if j == start else " \t")


def mask_personal_data(text: str) -> str:
    return mask_names(mask_house_numbers(mask_phones(text)))


# --- the export -----------------------------------------------------------------------------

@dataclass(frozen=True)
class CorrectedText:
    code: str
    text: str  # masked, one line
    category: str
    kind: str


CONTROL = re.compile(r"[\x00-\x1f\x7f\u200b-\u200f\u2028-\u202e\ufeff]+")


def example_line(text: str) -> str:
    """One training example line: masked, on one line, without the brackets Rasa would read as
    entity annotations ("[thôn 3](location)")."""
    masked = mask_personal_data(text)
    masked = masked.replace("[", "(").replace("]", ")").replace("{", "(").replace("}", ")")
    return " ".join(CONTROL.sub(" ", masked).split())


def corrected_texts(session: Session) -> list[CorrectedText]:
    """Corrected tickets whose words may train the NLU (see the module's docstring)."""
    rows = session.execute(
        select(Ticket, NluCorrection, Citizen)
        .join(NluCorrection, NluCorrection.ticket_id == Ticket.id)
        .join(Citizen, Citizen.id == Ticket.citizen_id)
        .where(Citizen.training_consent.is_(True), Ticket.confidential.is_(False),
               Ticket.kind != Kind.TO_CAO, NluCorrection.fixed_kind != Kind.TO_CAO,
               Ticket.text != ERASED_TEXT)
        .order_by(Ticket.id)).all()
    found = []
    for ticket, correction, citizen in rows:
        if training_consent(citizen) is not True:
            continue  # answered before an erasure
        line = example_line(ticket.text or "")
        if len(line) >= 3:
            found.append(CorrectedText(ticket.code, line, correction.fixed_category,
                                       correction.fixed_kind))
    return found


HEADER = ("# Generated by `nghedan nlu corrections` (rebuilt before every `nghedan train`); do "
          "not edit, do not commit.\n# Citizens' words (masked) with the category and kind an "
          "officer fixed at acceptance.\n")


def to_rasa_yaml(items: list[CorrectedText]) -> str:
    """Rasa NLU YAML in the shape of nlu_data/nlu/report_*.yml: intent report, one block per
    category and kind, labels in the block's metadata (read by CategoryKindClassifier)."""
    blocks: dict[tuple[str, str], list[str]] = {}
    for item in items:
        blocks.setdefault((item.category, item.kind), [])
        if item.text not in blocks[(item.category, item.kind)]:
            blocks[(item.category, item.kind)].append(item.text)
    lines = [HEADER.rstrip("\n"), 'version: "3.1"', "", "nlu:"]
    for (category, kind), texts in sorted(blocks.items()):
        lines += [f"- intent: {REPORT_INTENT}", "  metadata:", f"    category: {category}",
                  f"    kind: {kind}", "  examples: |"]
        lines += [f"    - {text}" for text in texts]
    return "\n".join(lines) + "\n"


def export_corrections(session: Session, out_path: Path) -> int:
    """Write the corrected texts to out_path (atomically, readable by the owner only) and
    return their number; with none, out_path is removed so no old text outlives an erasure."""
    items = corrected_texts(session)
    if not items:
        out_path.unlink(missing_ok=True)
        return 0
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(out_path.name + ".partial")
    partial.write_text(to_rasa_yaml(items), encoding="utf-8")
    partial.chmod(0o600)
    os.replace(partial, out_path)
    return len(items)


def export_path(settings: Settings) -> Path:
    """Where `nghedan nlu corrections` and `nghedan train` keep the export (outside git)."""
    return settings.data_dir / "nlu" / "corrections.yml"


def rebuild_export(settings: Settings) -> int | None:
    """Export again from the database. None when the database cannot be read (not migrated
    yet, unreachable): then the old export is removed rather than trusted."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.store.db import session_scope

    path = export_path(settings)
    try:
        with session_scope(settings.effective_database_url) as session:
            return export_corrections(session, path)
    except SQLAlchemyError:
        path.unlink(missing_ok=True)
        return None


# --- the desk's weekly figures --------------------------------------------------------------

@dataclass(frozen=True)
class WeekShare:
    week: str  # ISO week, "2026-W10"
    start: date  # its Monday (local time)
    tickets: int
    routed_without_triage: int
    corrected: int

    @property
    def routed_share(self) -> float | None:
        return self.routed_without_triage / self.tickets if self.tickets else None

    @property
    def corrected_share(self) -> float | None:
        return self.corrected / self.tickets if self.tickets else None


def weekly_shares(session: Session, caller: Caller, weeks: int = 8,
                  now: datetime | None = None,
                  tz: ZoneInfo | None = None) -> list[WeekShare]:
    """Per ISO week (local time, oldest first, the current week last): tickets received, how
    many were routed without the triage desk, how many an officer corrected at acceptance.
    Officers see their unit and the units below it; counts include confidential tickets (no
    ticket is listed)."""
    from bot.settings import load_settings

    tz = tz or load_settings().tz
    now = now or datetime.now(tz)
    today = now.astimezone(tz).date()
    first = today - timedelta(days=today.weekday()) - timedelta(weeks=weeks - 1)
    mondays = [first + timedelta(weeks=n) for n in range(weeks)]
    bounds = [datetime.combine(monday, datetime.min.time(), tz) for monday in mondays]
    bounds.append(bounds[-1] + timedelta(weeks=1))
    # One aggregate row, three sums per week (in SQL: no loop over tickets in Python).
    columns = []
    for low, high in zip(bounds, bounds[1:], strict=False):
        in_week = (Ticket.received_at >= low) & (Ticket.received_at < high)
        columns += [func.count(case((in_week, 1))),
                    func.count(case((in_week & ~Ticket.needs_triage, 1))),
                    func.count(case((in_week & NluCorrection.id.is_not(None), 1)))]
    query = (select(*columns)
             .outerjoin(NluCorrection, NluCorrection.ticket_id == Ticket.id)
             .where(Ticket.received_at >= bounds[0], Ticket.received_at < bounds[-1]))
    if caller.type != ActorType.SYSTEM:
        officer = active_officer(session, caller)
        query = query.where(Ticket.unit_id.in_(unit_and_below(session, officer.unit_id)))
    sums = session.execute(query.select_from(Ticket)).one()
    return [WeekShare(f"{monday.isocalendar()[0]}-W{monday.isocalendar()[1]:02d}", monday,
                      *sums[3 * n:3 * n + 3]) for n, monday in enumerate(mondays)]
