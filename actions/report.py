"""The report form: what it asks, how answers are checked, the summary and filing."""

from __future__ import annotations

import json
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    DRAFT_SLOTS,
    SKIPPED,
    given,
    idempotency_key,
    normalize_phone,
)
from bot.core import service
from bot.core.corrections import reading_of
from bot.core.taxonomy import KIND_LABELS, Category, Kind
from bot.dialogue.training_consent import question_after_receipt

MIN_REPORT_LENGTH = 10
ASK_LOCATION = ("Dạ, sự việc xảy ra ở đâu ạ? Ông/Bà chọn thôn/tổ dân phố dưới đây, nhắn địa "
                "chỉ (đường, địa danh gần nhất), hoặc gửi vị trí trên bản đồ.")


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

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: dict) -> list[str]:
        """Files sent with the report, or a phone we already have: not asked again."""
        slots = list(domain_slots)
        if tracker.get_slot("media") is None and service.draft_attachments(tracker.sender_id):
            slots.remove("media")
        if tracker.get_slot("phone") is None and service.known_phone(tracker.sender_id):
            slots.remove("phone")
        return slots

    def validate_report_text(self, value: Any, dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: dict) -> dict[str, Any]:
        text = (value or "").strip()
        if text.startswith("/") or len(text) < MIN_REPORT_LENGTH:
            return {"report_text": None}
        classification = report_classification(tracker.latest_message, text)
        if classification.get("report_kind") == Kind.TO_CAO:
            dispatcher.utter_message(response="utter_to_cao_notice")
        place = {}
        tagged = next(tracker.get_latest_entity_values("location"), None)
        if not (tracker.get_slot("location") or tagged) and (area := service.area_named_in(text)):
            place = {"location": area}  # a configured thôn/tổ named but not tagged by the NLU
        return {"report_text": text, **classification, **place}

    def validate_location(self, value: Any, dispatcher: CollectingDispatcher,
                          tracker: Tracker, domain: dict) -> dict[str, Any]:
        text = (value or "").strip()
        if not text:  # blanked after "Sửa"/"Hủy": ask again, nothing to complain about
            return {"location": None}
        if len(text) < 2 or text.startswith("/"):
            dispatcher.utter_message(text="Dạ, Ông/Bà cho biết rõ hơn địa điểm giúp ạ.")
            return {"location": None}
        return {"location": text}

    def validate_media(self, value: Any, dispatcher: CollectingDispatcher,
                       tracker: Tracker, domain: dict) -> dict[str, Any]:
        """A file or Bỏ qua; anything typed instead is more description of the problem."""
        if value in ("attached", SKIPPED):
            if value == "attached":
                dispatcher.utter_message(response="utter_attachment_received")
            return {"media": value}
        extra = (value or "").strip()
        report = tracker.get_slot("report_text") or ""
        if len(extra) >= 2 and not extra.startswith("/"):
            return {"media": SKIPPED, "report_text": f"{report}\n{extra}".strip()}
        return {"media": None}

    def validate_phone(self, value: Any, dispatcher: CollectingDispatcher,
                       tracker: Tracker, domain: dict) -> dict[str, Any]:
        if value == SKIPPED:
            return {"phone": SKIPPED}
        phone = normalize_phone(str(value or ""))
        if phone is None:
            dispatcher.utter_message(text=("Dạ, số điện thoại chưa đúng (ví dụ 0905123456). "
                                           "Ông/Bà nhập lại hoặc bấm Bỏ qua ạ."),
                                     buttons=[{"title": "Bỏ qua", "payload": "/skip"}])
            return {"phone": None}
        return {"phone": phone}


class ActionAskLocation(Action):
    """Where: the commune's areas as buttons (from the database), or a typed place or a pin."""

    def name(self) -> str:
        return "action_ask_location"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict) -> list[dict[str, Any]]:
        buttons = [{"title": name, "payload": "/inform_location"
                    + json.dumps({"location": name}, ensure_ascii=False)}
                   for name in service.area_names()]
        dispatcher.utter_message(text=ASK_LOCATION, buttons=buttons)
        return []


def kind_label(tracker: Tracker) -> str:
    kind = tracker.get_slot("report_kind") or Kind.PHAN_ANH
    return KIND_LABELS.get(Kind(kind), KIND_LABELS[Kind.PHAN_ANH])


class ActionConfirmReport(Action):
    """The summary, with Gửi / Sửa / Đổi loại đơn / Hủy."""

    def name(self) -> str:
        return "action_confirm_report"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict) -> list[dict[str, Any]]:
        files = service.draft_attachments(tracker.sender_id)
        phone = tracker.get_slot("phone")
        lines = [
            "Dạ, Ông/Bà kiểm tra lại giúp:",
            f"• Loại đơn: {kind_label(tracker)}",
            f"• Nội dung: {tracker.get_slot('report_text')}",
            f"• Địa điểm: {tracker.get_slot('location')}",
            f"• Ảnh, video: {files} tệp" if files else "• Ảnh, video: không có",
            f"• Số điện thoại: {phone}" if given(phone) else "• Số điện thoại: không để lại",
            "Ông/Bà bấm Gửi để gửi đơn ạ.",
        ]
        dispatcher.utter_message(text="\n".join(lines), buttons=[
            {"title": "Gửi", "payload": "/affirm"}, {"title": "Sửa", "payload": "/deny"},
            {"title": "Đổi loại đơn", "payload": "/change_kind"},
            {"title": "Hủy", "payload": "/cancel"}])
        return []


class ActionSetKind(Action):
    """The kind the citizen intends, chosen on the summary (the officer fixes the legal one)."""

    def name(self) -> str:
        return "action_set_kind"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict) -> list[dict[str, Any]]:
        chosen = next(tracker.get_latest_entity_values("kind"), None)
        if chosen not in {k.value for k in Kind}:
            return []
        if chosen == Kind.TO_CAO:
            dispatcher.utter_message(response="utter_to_cao_notice")
        return [SlotSet("report_kind", chosen)]


def file_report(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[dict[str, Any]]:
    """File the drafted report and tell the citizen its code, unit and deadline."""
    phone = tracker.get_slot("phone")
    receipt = service.submit_report(
        tracker.sender_id, tracker.get_slot("report_text"), tracker.get_slot("location"),
        idempotency_key(tracker), category=tracker.get_slot("report_category") or Category.KHAC,
        kind=tracker.get_slot("report_kind") or Kind.PHAN_ANH,
        needs_triage=tracker.get_slot("report_needs_triage") is not False,
        latitude=_coordinate(tracker.get_slot("latitude")),
        longitude=_coordinate(tracker.get_slot("longitude")),
        phone=phone if given(phone) else None,
        **reading_of(tracker.events, tracker.get_slot("report_text")),  # kept for corrections
    )
    dispatcher.utter_message(text=receipt_text(receipt))
    if asked := question_after_receipt(tracker.sender_id, receipt.code):  # optional, after
        dispatcher.utter_message(text=asked[0], buttons=asked[1])
    return [SlotSet(name, None) for name in DRAFT_SLOTS]


URGENT_LINE = ("Đơn được đánh dấu KHẨN CẤP: lãnh đạo đơn vị và cán bộ trực đã được báo ngay "
               "để xử lý.\n")
EMERGENCY_LINE = ("Dạ, nếu có người đang gặp nguy hiểm, Ông/Bà vui lòng gọi ngay 113 (công an), "
                  "114 (cứu hỏa), 115 (cấp cứu).\n")


def receipt_text(receipt: service.Receipt) -> str:
    """The code, unit and deadline; for an urgent report, that it was marked so and, when lives
    may be at risk, the emergency numbers first."""
    files = f"Đã nhận kèm {receipt.attachments} tệp.\n" if receipt.attachments else ""
    emergency = EMERGENCY_LINE if receipt.life_at_risk else ""
    urgent = URGENT_LINE if receipt.urgent else ""
    return (f"{emergency}Dạ, đã tiếp nhận đơn của Ông/Bà. Mã đơn: {receipt.code}.\n{urgent}"
            f"Đơn vị tiếp nhận: {receipt.unit_name}. Tình trạng: {receipt.status_label}.\n"
            f"Hạn tiếp nhận, thụ lý: {receipt.accept_due_local}.\n{files}"
            "Ông/Bà có thể tra cứu bất cứ lúc nào bằng mã này.")


def _coordinate(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


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
