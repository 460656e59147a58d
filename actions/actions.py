"""Rasa custom actions: small, single-purpose, calling bot.core and nothing channel-specific."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.core import faq, service
from bot.core.taxonomy import Category, Kind

MIN_REPORT_LENGTH = 10
MENU = [
    {"title": "Gửi phản ánh", "payload": "/report"},
    {"title": "Tra cứu đơn", "payload": "/check_status"},
]


def idempotency_key(tracker: Tracker) -> str:
    """The inbox message that asked for this step: a retried message maps to the same key."""
    metadata = tracker.latest_message.get("metadata") or {}
    inbox_id = metadata.get("inbox_id")
    if inbox_id is not None:
        return f"inbox:{inbox_id}"
    return f"rasa:{tracker.sender_id}:{tracker.latest_message.get('message_id')}"


def report_classification(parse: dict[str, Any], text: str) -> dict[str, Any]:
    """Category, kind and triage flag of the message that carried the report text (when it
    did). A report the NLU was unsure of, or that was not read as a report at all (the text
    typed after the "Gửi phản ánh" button), goes to the triage desk."""
    if (parse.get("text") or "").strip() != text:
        return {}
    category = parse.get("category") or {}
    kind = parse.get("kind") or {}
    is_report = (parse.get("intent") or {}).get("name") == "report"
    return {"report_category": category.get("name"), "report_kind": kind.get("name"),
            "report_needs_triage": bool(parse.get("needs_triage", True)) or not is_report}


class ValidateReportForm(FormValidationAction):
    def name(self) -> str:
        return "validate_report_form"

    def validate_report_text(self, value: Any, dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: dict) -> dict[str, Any]:
        text = (value or "").strip()
        if text.startswith("/") or len(text) < MIN_REPORT_LENGTH:
            return {"report_text": None}
        return {"report_text": text, **report_classification(tracker.latest_message, text)}

    def validate_location(self, value: Any, dispatcher: CollectingDispatcher,
                          tracker: Tracker, domain: dict) -> dict[str, Any]:
        text = (value or "").strip()
        if not text:  # blanked after "Sửa"/"Hủy": ask again, nothing to complain about
            return {"location": None}
        if len(text) < 2 or text.startswith("/"):
            dispatcher.utter_message(text="Dạ, Ông/Bà cho biết rõ hơn địa điểm giúp ạ.")
            return {"location": None}
        return {"location": text}


class ActionSubmitReport(Action):
    def name(self) -> str:
        return "action_submit_report"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict) -> list[dict[str, Any]]:
        text = tracker.get_slot("report_text")
        if not text:
            dispatcher.utter_message(text="Dạ, Ông/Bà vui lòng mô tả sự việc cần phản ánh.")
            return []
        category = tracker.get_slot("report_category") or Category.KHAC
        receipt = service.submit_report(
            tracker.sender_id, text, tracker.get_slot("location"), idempotency_key(tracker),
            category=category, kind=tracker.get_slot("report_kind") or Kind.PHAN_ANH,
            needs_triage=tracker.get_slot("report_needs_triage") is not False,
        )
        dispatcher.utter_message(text=(
            f"Dạ, đã tiếp nhận phản ánh của Ông/Bà. Mã đơn: {receipt.code}.\n"
            f"Đơn vị tiếp nhận: {receipt.unit_name}. Tình trạng: {receipt.status_label}.\n"
            f"Hạn tiếp nhận, thụ lý: {receipt.accept_due_local}.\n"
            "Ông/Bà có thể tra cứu bất cứ lúc nào bằng mã này."
        ))
        return [SlotSet(name, None) for name in (
            "report_text", "location", "report_category", "report_kind", "report_needs_triage")]


class ActionCheckStatus(Action):
    def name(self) -> str:
        return "action_check_status"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict) -> list[dict[str, Any]]:
        code = tracker.get_slot("ticket_code")
        tickets = service.my_tickets(tracker.sender_id, code=code)
        if not tickets:
            text = (f"Dạ, không tìm thấy đơn {code} của Ông/Bà." if code
                    else "Dạ, Ông/Bà chưa gửi phản ánh nào qua kênh này.")
            dispatcher.utter_message(text=text, buttons=MENU)
            return [SlotSet("ticket_code", None)]
        lines = [f"• {t.code} ({t.received_local}): {t.status_label}" for t in tickets]
        dispatcher.utter_message(text="Dạ, tình trạng đơn của Ông/Bà:\n" + "\n".join(lines))
        return [SlotSet("ticket_code", None)]


class ActionAnswerFaq(Action):
    """The answer of the FAQ entry the NLU picked (answers live in the database, so officers
    edit them without retraining), with the menu in case it was not what was asked."""

    def name(self) -> str:
        return "action_answer_faq"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict) -> list[dict[str, Any]]:
        parse = tracker.latest_message
        entry = (parse.get("faq") or {}).get("name")
        answer = faq.best_answer(parse.get("text") or "", key=entry)
        if answer:
            dispatcher.utter_message(text=answer, buttons=MENU)
        else:
            dispatcher.utter_message(response="utter_faq_unknown")
        return []
