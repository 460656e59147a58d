"""Answers officers maintain: the answer templates an officer starts from when resolving a
ticket (per category, or for any category) and the FAQ entries the bot answers citizens with,
with their admin CRUD (Role.ADMIN, audited like the rest of bot/core/admin.py, which re-exports
these). DB rows, read on every use: a change takes effect without a restart or retraining."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.admin import (
    admin_of,
    apply_changes,
    audit,
    choice,
    cleaned,
    created,
    get_or_fail,
    new_code,
    required_text,
)
from bot.core.authz import Caller
from bot.core.taxonomy import Category
from bot.store.desk_models import AnswerTemplate
from bot.store.models import FaqEntry
from bot.store.types import utcnow


def templates_for(session: Session, category: str | None) -> list[AnswerTemplate]:
    """Active templates of this category first, then those for any category, by title."""
    query = select(AnswerTemplate).where(AnswerTemplate.active.is_(True))
    if category:
        query = query.where((AnswerTemplate.category == category)
                            | AnswerTemplate.category.is_(None))
    else:
        query = query.where(AnswerTemplate.category.is_(None))
    return sorted(session.scalars(query),
                  key=lambda t: (t.category is None, t.title.casefold(), t.id))


# --- FAQ entries -------------------------------------------------------------------------

def list_faq(session: Session, caller: Caller) -> list[FaqEntry]:
    admin_of(session, caller)
    return list(session.scalars(select(FaqEntry).order_by(FaqEntry.key)))


def create_faq(session: Session, caller: Caller, key: str, question: str, answer: str,
               now: datetime | None = None) -> FaqEntry:
    admin = admin_of(session, caller)
    key = new_code(session, FaqEntry.key, key, "Mã câu hỏi")
    entry = FaqEntry(key=key, question=required_text(question, "câu hỏi", 1000),
                     answer=required_text(answer, "câu trả lời", 4000), updated_at=now or utcnow())
    return created(session, admin, "faq", entry, ["key", "question", "answer"], now)


def update_faq(session: Session, caller: Caller, faq_id: int, now: datetime | None = None,
               **changes: Any) -> FaqEntry:
    """Fields: question, answer, active."""
    admin = admin_of(session, caller)
    entry = get_or_fail(session, FaqEntry, faq_id, "câu hỏi thường gặp")
    changed = apply_changes(entry, cleaned(changes, {
        "question": lambda v: required_text(v, "câu hỏi", 1000),
        "answer": lambda v: required_text(v, "câu trả lời", 4000), "active": bool}))
    if changed:
        entry.updated_at = now or utcnow()
        audit(session, admin, "faq", entry.id, "update", changed, now)
    return entry


# --- Answer templates --------------------------------------------------------------------

def list_templates(session: Session, caller: Caller) -> list[AnswerTemplate]:
    admin_of(session, caller)
    return list(session.scalars(select(AnswerTemplate).order_by(AnswerTemplate.id)))


def create_template(session: Session, caller: Caller, title: str, body: str,
                    category: str | None = None, now: datetime | None = None) -> AnswerTemplate:
    admin = admin_of(session, caller)
    template = AnswerTemplate(category=choice(Category, category, "Lĩnh vực", optional=True),
                              title=required_text(title, "tên mẫu"),
                              body=required_text(body, "nội dung", 4000),
                              updated_at=now or utcnow())
    return created(session, admin, "answer_template", template, ["category", "title", "body"],
                   now)


def update_template(session: Session, caller: Caller, template_id: int,
                    now: datetime | None = None, **changes: Any) -> AnswerTemplate:
    """Fields: category (None/"" = any), title, body, active."""
    admin = admin_of(session, caller)
    template = get_or_fail(session, AnswerTemplate, template_id, "mẫu trả lời")
    changed = apply_changes(template, cleaned(changes, {
        "category": lambda v: choice(Category, v, "Lĩnh vực", optional=True),
        "title": lambda v: required_text(v, "tên mẫu"),
        "body": lambda v: required_text(v, "nội dung", 4000), "active": bool}))
    if changed:
        template.updated_at = now or utcnow()
        audit(session, admin, "answer_template", template.id, "update", changed, now)
    return template
