"""Rasa custom actions: small, single-purpose, calling bot.core and nothing channel-specific."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.core import faq, service
from bot.core.authz import NotAllowed
from bot.core.desk import TicketNotFound
from bot.core.taxonomy import STATUS_LABELS, Category, Kind, Status
from bot.core.tickets import IllegalTransition

MIN_REPORT_LENGTH = 10
DRAFT_SLOTS = ("report_text", "location", "report_category", "report_kind",
               "report_needs_triage")
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


def latest_ticket_code(tracker: Tracker) -> str | None:
    """The ticket code the latest message named (typed, or carried by a button)."""
    return next(tracker.get_latest_entity_values("ticket_code"), None)


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
        classification = report_classification(tracker.latest_message, text)
        if classification.get("report_kind") == Kind.TO_CAO:
            dispatcher.utter_message(response="utter_to_cao_notice")
        return {"report_text": text, **classification}

    def validate_location(self, value: Any, dispatcher: CollectingDispatcher,
                          tracker: Tracker, domain: dict) -> dict[str, Any]:
        text = (value or "").strip()
        if not text:  # blanked after "Sửa"/"Hủy": ask again, nothing to complain about
            return {"location": None}
        if len(text) < 2 or text.startswith("/"):
            dispatcher.utter_message(text="Dạ, Ông/Bà cho biết rõ hơn địa điểm giúp ạ.")
            return {"location": None}
        return {"location": text}


def file_report(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[dict[str, Any]]:
    """File the drafted report and tell the citizen its code, unit and deadline."""
    receipt = service.submit_report(
        tracker.sender_id, tracker.get_slot("report_text"), tracker.get_slot("location"),
        idempotency_key(tracker), category=tracker.get_slot("report_category") or Category.KHAC,
        kind=tracker.get_slot("report_kind") or Kind.PHAN_ANH,
        needs_triage=tracker.get_slot("report_needs_triage") is not False,
    )
    dispatcher.utter_message(text=(
        f"Dạ, đã tiếp nhận phản ánh của Ông/Bà. Mã đơn: {receipt.code}.\n"
        f"Đơn vị tiếp nhận: {receipt.unit_name}. Tình trạng: {receipt.status_label}.\n"
        f"Hạn tiếp nhận, thụ lý: {receipt.accept_due_local}.\n"
        "Ông/Bà có thể tra cứu bất cứ lúc nào bằng mã này."
    ))
    return [SlotSet(name, None) for name in DRAFT_SLOTS]


class ActionSubmitReport(Action):
    def name(self) -> str:
        return "action_submit_report"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict) -> list[dict[str, Any]]:
        if not tracker.get_slot("report_text"):
            dispatcher.utter_message(text="Dạ, Ông/Bà vui lòng mô tả sự việc cần phản ánh.")
            return []
        if not service.has_consented(tracker.sender_id):  # nothing is filed without consent
            return [FollowupAction("action_ask_consent")]
        return file_report(dispatcher, tracker)


class ActionAskConsent(Action):
    """First contact, or a report about to be filed without consent: the privacy notice with
    Đồng ý / Không đồng ý. Says nothing to a citizen who already agreed."""

    def name(self) -> str:
        return "action_ask_consent"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict) -> list[dict[str, Any]]:
        if not service.has_consented(tracker.sender_id):
            dispatcher.utter_message(response="utter_privacy_notice")
        return []


class ActionRecordConsent(Action):
    """Đồng ý: record it, then file the report that was waiting for it, if any."""

    def name(self) -> str:
        return "action_record_consent"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict) -> list[dict[str, Any]]:
        service.record_consent(tracker.sender_id)
        if tracker.get_slot("report_text"):
            return file_report(dispatcher, tracker)
        dispatcher.utter_message(response="utter_consent_thanks")
        return []


class ActionDeclineConsent(Action):
    """Không đồng ý: nothing personal is kept; the waiting draft is dropped."""

    def name(self) -> str:
        return "action_decline_consent"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict) -> list[dict[str, Any]]:
        dispatcher.utter_message(response="utter_consent_declined")
        return [SlotSet(name, None) for name in DRAFT_SLOTS]


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


class ActionCancel(Action):
    """ "Hủy" / "thôi": stop what is going on; with a ticket code ("/huy KN-2026-000123",
    "hủy giúp đơn KN-..."), withdraw that ticket of the caller's."""

    def name(self) -> str:
        return "action_cancel"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict) -> list[dict[str, Any]]:
        code = latest_ticket_code(tracker)
        if not code:
            dispatcher.utter_message(response="utter_cancelled")
            return []
        mine = service.my_tickets(tracker.sender_id, code=code)
        if mine and mine[0].status_label == STATUS_LABELS[Status.WITHDRAWN]:
            dispatcher.utter_message(text=f"Dạ, đơn {code} đã được rút trước đó rồi ạ.")
        else:
            try:
                # On success the citizen hears of it from the core's status push.
                service.withdraw(tracker.sender_id, code)
            except (TicketNotFound, NotAllowed):  # someone else's ticket looks like none
                dispatcher.utter_message(text=f"Dạ, không tìm thấy đơn {code} của Ông/Bà.",
                                         buttons=MENU)
            except IllegalTransition:
                dispatcher.utter_message(text=(
                    f"Dạ, đơn {code} đã xử lý xong nên không rút được nữa ạ."), buttons=MENU)
        return [SlotSet("ticket_code", None)]


class ActionEraseData(Action):
    """/xoadulieu, confirmed: the bot erases everything after this turn (bot.core.erasure);
    Rasa cannot delete the tracker it is about to save, so the action only asks for it."""

    def name(self) -> str:
        return "action_erase_data"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict) -> list[dict[str, Any]]:
        dispatcher.utter_message(json_message={"erase_personal_data": True})
        dispatcher.utter_message(response="utter_erased")
        return [SlotSet(name, None) for name in DRAFT_SLOTS]


class ActionRate(Action):
    """A 1-5 button under the answer: the ticket core closes the ticket with the rating."""

    def name(self) -> str:
        return "action_rate"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict) -> list[dict[str, Any]]:
        code = latest_ticket_code(tracker)
        rating = next(tracker.get_latest_entity_values("rating"), None)
        try:
            service.rate(tracker.sender_id, code or "", int(rating or 0))
        except (TicketNotFound, NotAllowed, IllegalTransition, ValueError):
            dispatcher.utter_message(text="Dạ, đơn này hiện không đánh giá được ạ.")
            return []
        dispatcher.utter_message(text=f"Dạ, cảm ơn Ông/Bà đã đánh giá {rating}/5.")
        return []


class ActionNotSatisfied(Action):
    """"Chưa hài lòng": the ticket goes back to work; the core tells citizen and officer."""

    def name(self) -> str:
        return "action_not_satisfied"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict) -> list[dict[str, Any]]:
        code = latest_ticket_code(tracker)
        try:
            service.reopen_not_satisfied(tracker.sender_id, code or "", reason="")
        except (TicketNotFound, NotAllowed, IllegalTransition):
            dispatcher.utter_message(text="Dạ, đơn này hiện không mở lại được ạ.")
        return []


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
