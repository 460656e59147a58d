"""Photos, videos and voice notes citizens send. A channel stores the inbound message, downloads
each file and stages it here against that inbox row; the conversation then decides which ticket
it belongs to (the report being drafted, a ticket waiting for information, or a replied-to one).
"""

from __future__ import annotations

import hashlib
import mimetypes
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.store.files import FileStorage
from bot.store.models import Attachment, InboxMessage, Ticket

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024  # the Bot API's own download limit
STAGED_FOR = timedelta(hours=24)  # older unassigned files are not pulled into a new report
MEDIA_TYPES = {
    "photo": ("image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"),
    "video": ("video/mp4", "video/quicktime", "video/webm", "video/3gpp"),
    "voice": ("audio/ogg", "audio/mpeg", "audio/mp4", "audio/aac", "audio/webm", "audio/wav",
              "audio/x-m4a", "audio/amr", "audio/3gpp"),
}


class AttachmentRefused(ValueError):
    """Not a kind of file we keep (or too big); the message is meant for the citizen."""


def base_type(content_type: str) -> str:
    """"image/jpeg; charset=x" -> "image/jpeg"."""
    return (content_type or "").split(";")[0].strip().lower()


def media_type_for(content_type: str) -> str | None:
    """photo | video | voice for a content type we accept, else None."""
    base = base_type(content_type)
    return next((kind for kind, types in MEDIA_TYPES.items() if base in types), None)


def stage_attachment(session: Session, storage: FileStorage, inbox_id: int, content_type: str,
                     data: bytes) -> Attachment:
    """Keep one downloaded file of an inbox message; the same bytes twice keep one row."""
    media_type = media_type_for(content_type)
    if media_type is None:
        raise AttachmentRefused("Dạ, tệp này chưa được hỗ trợ; Ông/Bà vui lòng gửi ảnh, video "
                                "hoặc tin nhắn thoại ạ.")
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise AttachmentRefused("Dạ, tệp lớn quá (tối đa 20 MB) ạ.")
    digest = hashlib.sha256(data).hexdigest()
    existing = session.scalar(select(Attachment).where(
        Attachment.inbox_id == inbox_id, Attachment.sha256 == digest))
    if existing is not None:
        return existing
    base = base_type(content_type)
    stored = storage.put(data, mimetypes.guess_extension(base) or "")
    attachment = Attachment(inbox_id=inbox_id, media_type=media_type, content_type=base,
                            storage_key=stored.key, size_bytes=stored.size_bytes,
                            sha256=stored.sha256)
    session.add(attachment)
    session.flush()
    return attachment


def of_inbox(session: Session, inbox_id: int) -> list[Attachment]:
    return list(session.scalars(select(Attachment).where(Attachment.inbox_id == inbox_id)
                                .order_by(Attachment.id)))


def staged(session: Session, channel: str, external_id: str, now: datetime,
           max_age: timedelta | None = STAGED_FOR) -> list[Attachment]:
    """Files this account sent (recently, unless max_age is None) that belong to no ticket."""
    query = (select(Attachment).join(InboxMessage, Attachment.inbox_id == InboxMessage.id)
             .where(Attachment.ticket_id.is_(None), InboxMessage.channel == channel,
                    InboxMessage.sender_external_id == external_id))
    if max_age is not None:
        query = query.where(InboxMessage.received_at >= now - max_age)
    return list(session.scalars(query.order_by(Attachment.id)))


def count_for(session: Session, ticket: Ticket) -> int:
    return session.scalar(select(func.count()).select_from(Attachment).where(
        Attachment.ticket_id == ticket.id)) or 0


def assign(attachments: list[Attachment], ticket: Ticket) -> int:
    for attachment in attachments:
        attachment.ticket_id = ticket.id
    return len(attachments)


def discard(session: Session, storage: FileStorage | None, attachments: list[Attachment]) -> int:
    """Drop files (a cancelled draft, an erasure). A file shared by another row stays on disk."""
    for attachment in attachments:
        shared = session.scalar(select(Attachment.id).where(
            Attachment.storage_key == attachment.storage_key, Attachment.id != attachment.id))
        if storage is not None and shared is None:
            storage.delete(attachment.storage_key)
        session.delete(attachment)
    return len(attachments)
