"""The optional question after a receipt: may the citizen's words (masked) teach the NLU?

Separate from the privacy consent (never a condition of filing; the notice and its version stay
as they are). The receipt action appends `question_after_receipt`; the answer is a button whose
payload ("training_consent:yes" / "training_consent:no") the pipeline hands to `answer`
without Rasa, so the model needs no new intent. Asked after each receipt until answered, then
never again (an erasure forgets the answer)."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select

from bot.core.citizens import citizen_for, identity_for
from bot.core.corrections import record_training_consent, training_consent
from bot.core.service import split_sender
from bot.settings import load_settings
from bot.store.db import session_scope
from bot.store.models import Ticket

YES, NO = "training_consent:yes", "training_consent:no"
PAYLOAD = re.compile(r"training_consent:(yes|no)")
QUESTION_TEXT = (
    "Dạ, thêm một câu hỏi không bắt buộc: Ông/Bà có đồng ý cho chúng tôi dùng lời phản ánh "
    "của Ông/Bà (đã che số điện thoại, tên người và số nhà) để dạy hệ thống hiểu và phân loại "
    "phản ánh đúng hơn không ạ? Dù Ông/Bà chọn thế nào, đơn vẫn được giải quyết như nhau.")
BUTTONS = [{"title": "Đồng ý", "payload": YES}, {"title": "Không", "payload": NO}]
YES_TEXT = ("Dạ, cảm ơn Ông/Bà đã đồng ý. Nếu đổi ý, Ông/Bà bấm \"Không\" ở câu hỏi trên "
            "hoặc gửi /xoadulieu để xóa dữ liệu cá nhân ạ.")
NO_TEXT = ("Dạ, chúng tôi sẽ không dùng lời của Ông/Bà để dạy hệ thống. Đơn của Ông/Bà vẫn "
           "được giải quyết bình thường ạ.")


def question_after_receipt(sender_key: str, code: str, db_url: str | None = None
                           ) -> tuple[str, list[dict[str, str]]] | None:
    """The question and its buttons, or None when this citizen already answered or the ticket
    is confidential (a tố cáo's words are never used, so asking then would mislead)."""
    channel, external_id = split_sender(sender_key)
    db_url = db_url or load_settings().effective_database_url
    with session_scope(db_url) as session:
        identity = identity_for(session, channel, external_id)
        citizen = identity.citizen if identity is not None else None
        if citizen is None or training_consent(citizen) is not None:
            return None
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        if ticket is None or ticket.confidential or ticket.citizen_id != citizen.id:
            return None
    return QUESTION_TEXT, [dict(b) for b in BUTTONS]


def answer(db_url: str, sender_key: str, text: str, steered: bool, now: datetime) -> str | None:
    """Store a pressed Đồng ý/Không and return the reply; None when the message is not such a
    press (typed text that merely looks like the payload goes to the dialogue as usual)."""
    match = PAYLOAD.fullmatch(text.strip())
    if not steered or match is None:
        return None
    yes = match[1] == "yes"
    channel, external_id = split_sender(sender_key)
    with session_scope(db_url) as session:
        record_training_consent(citizen_for(session, channel, external_id, now), yes, now)
    return YES_TEXT if yes else NO_TEXT
