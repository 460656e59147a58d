"""Every notification text, in one place: short, polite Vietnamese."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.core.taxonomy import STATUS_LABELS, Status


def local(when: datetime, tz: ZoneInfo) -> str:
    return when.astimezone(tz).strftime("%H:%M ngày %d/%m/%Y")


CITIZEN_STATUS = {
    Status.RECEIVED: "Dạ, đơn {code} đã được tiếp nhận và chuyển tới {unit}.",
    Status.ACCEPTED: "Dạ, đơn {code} đã được thụ lý. Hạn giải quyết: {due}.",
    Status.ASSIGNED: "Dạ, đơn {code} đã được giao cho {unit} xử lý.",
    Status.IN_PROGRESS: "Dạ, đơn {code} đang được xử lý.",
    Status.NEED_INFO: "Dạ, để giải quyết đơn {code}, cán bộ cần Ông/Bà bổ sung: {question}\n"
                      "Ông/Bà vui lòng trả lời tin nhắn này.",
    Status.RESOLVED: "Dạ, đơn {code} đã có kết quả trả lời:\n{answer}\n"
                     "Ông/Bà vui lòng đánh giá mức độ hài lòng (1–5).",
    Status.CLOSED: "Dạ, đơn {code} đã đóng. Cảm ơn Ông/Bà đã phản ánh.",
    Status.REJECTED: "Dạ, đơn {code} không được thụ lý. Lý do: {reason}",
    Status.TRANSFERRED: "Dạ, đơn {code} đã được chuyển tới {body} để giải quyết theo thẩm quyền.",
    Status.WITHDRAWN: "Dạ, đơn {code} đã được rút theo đề nghị của Ông/Bà.",
}
REOPENED = "Dạ, đơn {code} đã được mở lại để xử lý tiếp."
EXTENDED = ("Dạ, thời hạn giải quyết đơn {code} được gia hạn đến {due} theo quyết định số "
            "{number}.")
OFFICER_REPLY = "Dạ, {unit} gửi Ông/Bà về đơn {code}:\n{text}"
# Buttons under the answer. Payloads are the core's own ("rate:CODE:N"); the dialogue layer
# turns them into what its engine understands.
NOT_SATISFIED = "Chưa hài lòng"


def rating_buttons(code: str) -> list[dict[str, str]]:
    stars = [{"title": f"{n} ★", "payload": f"rate:{code}:{n}"} for n in range(1, 6)]
    return [*stars, {"title": NOT_SATISFIED, "payload": f"not_satisfied:{code}"}]

# Notices to officers: a headline, then NOTICE_DETAILS (category, place, deadline, link).
OFFICER_NEW = "Đơn mới {code} cần tiếp nhận."
OFFICER_URGENT = "KHẨN CẤP: đơn mới {code} báo nguy hiểm, anh/chị vui lòng xử lý ngay."
OFFICER_URGENT_TRANSFERRED = ("KHẨN CẤP: đơn {code} báo nguy hiểm được chuyển tới {unit}, "
                              "anh/chị vui lòng xử lý ngay.")
OFFICER_ASSIGNED = "Anh/chị được giao xử lý đơn {code}."
OFFICER_TRANSFERRED = "Đơn {code} được chuyển tới {unit}, anh/chị vui lòng tiếp nhận."
OFFICER_INFO_ADDED = "Người dân đã bổ sung thông tin cho đơn {code}."
OFFICER_REOPENED = "Đơn {code} được mở lại."
OFFICER_REOPENED_BY_CITIZEN = "Đơn {code} được mở lại (người dân chưa hài lòng)."
OFFICER_REMINDER = "Nhắc việc: đơn {code} đã dùng 75% thời hạn {clock}."
NOT_SATISFIED_ESCALATION = ("Người dân chưa hài lòng với kết quả đơn {code}; đơn đã mở lại. "
                            "Người xử lý: {officer}.")
ESCALATION = "Quá hạn: đơn {code} đã quá hạn {clock}. Người xử lý: {officer}."
NOTICE_DETAILS = "Lĩnh vực: {category}. Địa điểm: {place}. Hạn: {due}.\nXem đơn: {link}"
CONFIDENTIAL_PLACE = "(đơn bảo mật, xem trên trang)"
NO_PLACE = "chưa rõ"
# To the reporter of a ticket linked as a duplicate of another one (the master).
LINKED_TO_MASTER = ("Dạ, đơn {code} của Ông/Bà phản ánh cùng sự việc với đơn {master} nên được "
                    "giải quyết chung. Ông/Bà sẽ nhận thông báo kết quả tại đây.")
LINKED_RESOLVED = ("Dạ, đơn {code} (giải quyết chung với đơn {master}) đã có kết quả trả "
                   "lời:\n{answer}")
CLOCK_NAMES = {"accept": "thụ lý", "resolve": "giải quyết"}


def status_text(status: Status, **values: str) -> str:
    return CITIZEN_STATUS[status].format(**values)


def status_label(status: str) -> str:
    return STATUS_LABELS[Status(status)]
