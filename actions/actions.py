"""Rasa custom actions: small, single-purpose, calling bot.core and nothing channel-specific."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import DRAFT_SLOTS, MENU, given, latest_ticket_code
from actions.report import file_report
from bot.core import faq, service
from bot.core.authz import NotAllowed
from bot.core.desk import TicketNotFound
from bot.core.taxonomy import STATUS_LABELS, Status
from bot.core.tickets import IllegalTransition


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
        service.discard_draft_attachments(tracker.sender_id)
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
            service.discard_draft_attachments(tracker.sender_id)
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


FEEDBACK_SLOTS = ("feedback_ticket", "feedback_mode", "feedback")


class ActionRate(Action):
    """A 1-5 button under the answer: the ticket core closes the ticket with the rating; the
    feedback form then offers an optional comment."""

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
            return [SlotSet(name, None) for name in FEEDBACK_SLOTS]
        dispatcher.utter_message(text=f"Dạ, cảm ơn Ông/Bà đã đánh giá {rating}/5.")
        return [SlotSet("feedback_ticket", code), SlotSet("feedback_mode", "rating"),
                SlotSet("feedback", None)]


class ActionNotSatisfied(Action):
    """"Chưa hài lòng": the ticket goes back to work (and is escalated, if so configured); the
    core tells citizen and officer. The feedback form then asks what is still wrong."""

    def name(self) -> str:
        return "action_not_satisfied"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict) -> list[dict[str, Any]]:
        code = latest_ticket_code(tracker)
        try:
            service.reopen_not_satisfied(tracker.sender_id, code or "", reason="")
        except (TicketNotFound, NotAllowed, IllegalTransition):
            dispatcher.utter_message(text="Dạ, đơn này hiện không mở lại được ạ.")
            return [SlotSet(name, None) for name in FEEDBACK_SLOTS]
        return [SlotSet("feedback_ticket", code), SlotSet("feedback_mode", "not_satisfied"),
                SlotSet("feedback", None)]


class ValidateFeedbackForm(FormValidationAction):
    def name(self) -> str:
        return "validate_feedback_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: dict) -> list[str]:
        return list(domain_slots) if tracker.get_slot("feedback_ticket") else []


class ActionAskFeedback(Action):
    def name(self) -> str:
        return "action_ask_feedback"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict) -> list[dict[str, Any]]:
        text = ("Dạ, Ông/Bà cho biết còn chưa hài lòng ở điểm nào để cán bộ xử lý tiếp ạ."
                if tracker.get_slot("feedback_mode") == "not_satisfied"
                else "Dạ, Ông/Bà có góp ý gì thêm không ạ? (không bắt buộc)")
        dispatcher.utter_message(text=text, buttons=[{"title": "Bỏ qua", "payload": "/skip"}])
        return []


class ActionSaveFeedback(Action):
    """The optional comment after a rating, or why the citizen is not satisfied."""

    def name(self) -> str:
        return "action_save_feedback"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict) -> list[dict[str, Any]]:
        code, comment = tracker.get_slot("feedback_ticket"), tracker.get_slot("feedback")
        if code and given(comment):
            try:
                if tracker.get_slot("feedback_mode") == "not_satisfied":
                    service.add_reason(tracker.sender_id, code, comment)
                else:
                    service.add_rating_comment(tracker.sender_id, code, comment)
                dispatcher.utter_message(text="Dạ, đã ghi nhận ý kiến của Ông/Bà. Cảm ơn Ông/Bà ạ.")
            except (TicketNotFound, NotAllowed):
                dispatcher.utter_message(text="Dạ, đơn này hiện không nhận thêm ý kiến được ạ.")
        return [SlotSet(name, None) for name in FEEDBACK_SLOTS]


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
