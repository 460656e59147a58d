"""Answer templates an officer starts from when resolving a ticket (per category, or for any
category), and their admin CRUD (Role.ADMIN, audited like the rest of bot/core/admin.py):
DB rows, so a change shows on the next page without a restart."""

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
    get_or_fail,
    only_fields,
    required_text,
)
from bot.core.authz import Caller
from bot.core.taxonomy import Category
from bot.store.desk_models import AnswerTemplate
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
    session.add(template)
    session.flush()
    audit(session, admin, "answer_template", template.id, "create",
          ["category", "title", "body"], now)
    return template


def update_template(session: Session, caller: Caller, template_id: int,
                    now: datetime | None = None, **changes: Any) -> AnswerTemplate:
    """Fields: category (None/"" = any), title, body, active."""
    admin = admin_of(session, caller)
    template = get_or_fail(session, AnswerTemplate, template_id, "mẫu trả lời")
    only_fields(changes, {"category", "title", "body", "active"})
    if "category" in changes:
        changes["category"] = choice(Category, changes["category"], "Lĩnh vực", optional=True)
    if "title" in changes:
        changes["title"] = required_text(changes["title"], "tên mẫu")
    if "body" in changes:
        changes["body"] = required_text(changes["body"], "nội dung", 4000)
    if "active" in changes:
        changes["active"] = bool(changes["active"])
    changed = apply_changes(template, changes)
    if changed:
        template.updated_at = now or utcnow()
        audit(session, admin, "answer_template", template.id, "update", changed, now)
    return template
