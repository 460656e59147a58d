"""/lienket: a citizen links their accounts on two channels (bot.core.citizen_links), answered
by the pipeline without the dialogue engine. "/lienket" alone asks for a code; "/lienket 12345678"
on another channel uses it."""

from __future__ import annotations

import re
from datetime import datetime

import structlog

from bot.core.citizen_links import CODE_DIGITS, LinkRefused, create_code, redeem_code
from bot.core.service import split_sender
from bot.store.db import session_scope

log = structlog.get_logger(__name__)

COMMAND = re.compile(r"/lienket(?:@\w+)?(?:\s+(.*))?", re.IGNORECASE | re.DOTALL)
CODE_TEXT = ("Dạ, mã liên kết của Ông/Bà là {code} (dùng trong 10 phút). "
             "Trên kênh kia, Ông/Bà nhắn: /lienket {code}")
LINKED_TEXT = ("Dạ, đã liên kết tài khoản này với tài khoản {other} của Ông/Bà. "
               "Ông/Bà có thể tra cứu đơn từ cả hai kênh; thông báo về đơn sẽ gửi đến kênh "
               "Ông/Bà nhắn gần nhất ạ.")
REFUSED_TEXTS = {
    "consent": ("Dạ, Ông/Bà chưa đồng ý với thông báo về dữ liệu cá nhân trên kênh này. "
                "Ông/Bà nhắn /lienket ở kênh đã dùng để gửi đơn, rồi nhắn mã nhận được vào "
                "đây ạ."),
    "wrong": ("Dạ, mã liên kết không đúng hoặc đã hết hạn. Ông/Bà nhắn /lienket ở kênh kia "
              "để nhận mã mới ạ."),
    "locked": "Dạ, Ông/Bà đã nhập sai mã nhiều lần. Vui lòng thử lại sau 1 giờ ạ.",
    "same": ("Dạ, mã này cần nhắn từ kênh khác (Zalo, Telegram hoặc web). Tài khoản này đã "
             "gắn với đơn của Ông/Bà rồi ạ."),
}
USAGE_TEXT = "Dạ, mã liên kết gồm 8 chữ số, ví dụ: /lienket 12345678 ạ."
CHANNEL_NAMES = {"zalo": "Zalo", "zalo_bot": "Zalo", "telegram": "Telegram",
                 "web": "trò chuyện trên web"}


def answer(db_url: str, sender_key: str, typed: str, now: datetime) -> str | None:
    """The reply to a /lienket message; None for any other message."""
    match = COMMAND.fullmatch(typed.strip())
    if match is None:
        return None
    code = re.sub(r"\s+", "", match[1] or "")
    if code and not re.fullmatch(rf"\d{{{CODE_DIGITS}}}", code):
        return USAGE_TEXT
    channel, external_id = split_sender(sender_key)
    with session_scope(db_url) as session:  # a refusal's wrong try is committed too
        try:
            if not code:
                return CODE_TEXT.format(code=create_code(session, channel, external_id, now))
            linked = redeem_code(session, channel, external_id, code, now)
        except LinkRefused as refusal:
            log.info("citizen_link_refused", channel=channel, reason=refusal.reason)
            return REFUSED_TEXTS[refusal.reason]
    log.info("citizen_linked", channel=channel, citizen_id=linked.citizen_id,
             moved_tickets=linked.moved_tickets)
    return LINKED_TEXT.format(other=CHANNEL_NAMES.get(linked.other_channel, "kia"))
