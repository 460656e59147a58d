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
# Buttons under the answer. Payloads are the core's own ("rate:CODE:N"); the dialogue layer
# turns them into what its engine understands.
NOT_SATISFIED = "Chưa hài lòng"


def rating_buttons(code: str) -> list[dict[str, str]]:
    stars = [{"title": f"{n} ★", "payload": f"rate:{code}:{n}"} for n in range(1, 6)]
    return [*stars, {"title": NOT_SATISFIED, "payload": f"not_satisfied:{code}"}]

OFFICER_NEW = "Đơn mới {code} ({category}) cần tiếp nhận. Hạn thụ lý: {due}."
OFFICER_ASSIGNED = "Anh/chị được giao xử lý đơn {code} ({category}). Hạn: {due}."
OFFICER_INFO_ADDED = "Người dân đã bổ sung thông tin cho đơn {code}."
OFFICER_REOPENED = "Đơn {code} được mở lại (người dân chưa hài lòng)."
OFFICER_REMINDER = "Nhắc việc: đơn {code} đã dùng 75% thời hạn {clock}; hạn {due}."
NOT_SATISFIED_ESCALATION = ("Người dân chưa hài lòng với kết quả đơn {code}; đơn đã mở lại. "
                            "Người xử lý: {officer}.")
ESCALATION = "Quá hạn: đơn {code} đã quá hạn {clock} ({due}). Người xử lý: {officer}."
CLOCK_NAMES = {"accept": "thụ lý", "resolve": "giải quyết"}


def status_text(status: Status, **values: str) -> str:
    return CITIZEN_STATUS[status].format(**values)


def status_label(status: str) -> str:
    return STATUS_LABELS[Status(status)]
