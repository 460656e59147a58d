"""Triage that teaches the NLU: the NLU's reading stored at filing, the optional training
consent after the receipt (a button handled without Rasa, asked until answered), the export of
corrected texts (masked, consented, never confidential or erased) as Rasa training data that
`nghedan train` includes, and the desk's weekly shares. Real database (SQLite and PostgreSQL),
real Rasa reader and classifier component, real pipeline with Rasa down."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.nlu.training_data.loading import load_data
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.report import file_report
from bot.core import desk, service
from bot.core.authz import Caller, NotAllowed
from bot.core.corrections import (
    HOUSE_MASK,
    NAME_MASK,
    PHONE_MASK,
    export_corrections,
    mask_personal_data,
    reading_of,
    training_consent,
    weekly_shares,
)
from bot.core.messaging import Outbound, queue_outbound
from bot.dialogue import rasa_runtime
from bot.dialogue.nlu_eval import read_report_yaml
from bot.dialogue.pipeline import FLOOD_WINDOW, Pipeline
from bot.dialogue.rasa_client import RasaClient
from bot.dialogue.training_consent import (
    BUTTONS,
    NO_TEXT,
    QUESTION_TEXT,
    YES_TEXT,
    answer,
    question_after_receipt,
)
from bot.rasa_ext.category import labelled_examples
from bot.settings import PROJECT_ROOT, load_settings
from bot.store.db import session_scope
from bot.store.desk_models import NluCorrection
from bot.store.models import ChannelIdentity, Citizen, InboxMessage, OutboxMessage, Ticket
from tests.conftest import BACKENDS
from tests.helpers import NOW, context, make_ticket, officer
from tests.test_pipeline import closed_port, stored

both_backends = pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)

LETTER = ("Kính gửi UBND xã An Bình. Tôi tên là Vũ Thị Hằng, ở số nhà 27 thôn 3, điện thoại "
          "0905 123 456. Bãi rác tự phát cạnh [mương](location) bốc mùi, ông Trần Văn Bảy "
          "ở nhà 34/5 vẫn đổ rác ra đó.")


def citizen_of(session, sender: str) -> Citizen:
    channel, external_id = sender.split(":", 1)
    return session.scalar(select(Citizen).join(ChannelIdentity).where(
        ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id))


def filed(sender: str, text: str, category: str = "ha_tang", kind: str = "phan_anh",
          confidence: float = 0.62) -> str:
    return service.submit_report(
        sender, text, "thôn 3", f"test:{sender}:{abs(hash(text))}:{category}:{kind}",
        category=category, kind=kind, ctx=context(), predicted_category=category,
        predicted_kind=kind, nlu_confidence=confidence).code


def accept_as(url: str, username: str, code: str, category: str, kind: str = "phan_anh") -> None:
    with session_scope(url) as session:
        desk.accept(session, officer(session, username), code, context(), kind=kind,
                    category=category)


def say_yes(url: str, sender: str, yes: bool = True) -> None:
    payload = "training_consent:yes" if yes else "training_consent:no"
    assert answer(url, sender, payload, True, NOW) == (YES_TEXT if yes else NO_TEXT)


# --- masking --------------------------------------------------------------------------------

def test_masking_hides_phones_names_and_house_numbers_but_keeps_places_and_amounts():
    masked = mask_personal_data(LETTER)
    for secret in ("Vũ Thị Hằng", "0905 123 456", "27", "Trần Văn Bảy", "34/5"):
        assert secret not in masked
    assert masked.count(NAME_MASK) == 2 and masked.count(PHONE_MASK) == 1
    assert masked.count(HOUSE_MASK) == 2 and "thôn 3" in masked
    assert mask_personal_data("Toi ten la Dinh Van Bay, goi +84 912 345 678 nhe") == (
        f"Toi ten la {NAME_MASK}, goi {PHONE_MASK} nhe")
    assert mask_personal_data("Chị Lan nhà số 12 Lê Lợi, CCCD 001203004567") == (
        f"Chị {NAME_MASK} nhà số {HOUSE_MASK} Lê Lợi, CCCD {PHONE_MASK}")
    kept = ("Tôi là người dân thôn số 2, nhà 2 tầng bị nứt, thiệt hại 200.000.000 đồng. "
            "Kính gửi Ông/Bà, ông Chủ tịch xã đã hứa; bà con xóm 4 có 3 người bị ngã. "
            "Tôi đã báo anh. Sáng nay vẫn chưa ai đến.")
    assert mask_personal_data(kept) == kept
    assert mask_personal_data("Họ tên: Lê Văn Tám. Ông Bảy") == (
        f"Họ tên: {NAME_MASK}. Ông {NAME_MASK}")


# --- predictions at filing ------------------------------------------------------------------

def report_tracker(sender: str, text: str, chosen_kind: str) -> Tracker:
    """A tracker as the Rasa server sends it to the action server: the report message with the
    classifier's parse, then the summary's Gửi."""
    parse = {"intent": {"name": "report", "confidence": 0.93}, "entities": [], "text": text,
             "category": {"name": "moi_truong", "confidence": 0.71},
             "kind": {"name": "phan_anh", "confidence": 0.8}, "needs_triage": False}
    affirm = {"intent": {"name": "affirm", "confidence": 1.0}, "entities": [],
              "text": "/affirm", "metadata": {"inbox_id": 77}}
    events = [ActionExecuted("action_listen").as_dict(),
              UserUttered(text, parse["intent"], [], parse).as_dict(),
              ActionExecuted("report_form").as_dict(),
              UserUttered("/affirm", affirm["intent"], [], affirm).as_dict()]
    slots = {"report_text": f"{text}\nThêm: mùi nặng nhất buổi sáng", "location": "thôn 3",
             "report_category": "moi_truong", "report_kind": chosen_kind,
             "report_needs_triage": False, "phone": "skipped"}
    return Tracker(sender, slots, affirm, events, False, None, None, "action_listen")


def test_reading_is_found_for_the_report_message_only():
    events = report_tracker("web:x", "Bãi rác cạnh mương bốc mùi", "phan_anh").events
    assert reading_of(events, "Bãi rác cạnh mương bốc mùi\nThêm chữ") == {
        "predicted_category": "moi_truong", "predicted_kind": "phan_anh", "nlu_confidence": 0.71}
    assert reading_of(events, "Một nội dung khác hẳn") == {}
    assert reading_of(events, None) == {}


@both_backends
def test_receipt_stores_the_nlu_reading_and_then_asks_the_optional_question(app_env):
    service.record_consent("web:c1", context())
    dispatcher = CollectingDispatcher()
    file_report(dispatcher, report_tracker("web:c1", LETTER, chosen_kind="kien_nghi"))
    receipt, question = dispatcher.messages
    assert "Mã đơn" in receipt["text"] and not receipt["buttons"]
    assert question["text"] == QUESTION_TEXT and question["buttons"] == BUTTONS
    assert [b["payload"] for b in question["buttons"]] == ["training_consent:yes",
                                                          "training_consent:no"]
    with session_scope(app_env) as session:
        ticket = session.scalar(select(Ticket))
        assert (ticket.predicted_category, ticket.predicted_kind) == ("moi_truong", "phan_anh")
        assert ticket.nlu_confidence == pytest.approx(0.71)
        assert ticket.kind == "kien_nghi"  # what the citizen chose on the summary
        assert session.get(Citizen, ticket.citizen_id).training_consent is None  # not a condition


# --- consent through the pipeline -----------------------------------------------------------

@both_backends
@pytest.mark.timeout(60)
def test_consent_button_is_stored_without_rasa_and_not_asked_again(app_env):
    code = filed("web:c2", LETTER)
    text, buttons = question_after_receipt("web:c2", code)
    with session_scope(app_env) as session:
        offered = queue_outbound(session, Outbound("web", "c2", text, buttons), "q", NOW).id
    rasa = RasaClient(f"http://127.0.0.1:{closed_port()}", "token", timeout=2)  # Rasa is down
    pipeline = Pipeline(app_env, rasa, clock=lambda: NOW)
    typed = stored(app_env, "training_consent:yes", "c2").id  # typed, not pressed
    pressed = stored(app_env, "Đồng ý", "c2", button=f"{offered}:0").id

    async def run() -> None:
        await pipeline.process_inbound(typed)
        with session_scope(app_env) as session:  # the typed look-alike went to the dialogue
            assert citizen_of(session, "web:c2").training_consent is None
        await pipeline.process_inbound(pressed)
        await rasa.aclose()

    asyncio.run(run())
    with session_scope(app_env) as session:
        assert session.get(InboxMessage, pressed).status == "done"
        reply = session.scalar(select(OutboxMessage).where(OutboxMessage.in_reply_to == pressed))
        assert reply.text == YES_TEXT
        citizen = citizen_of(session, "web:c2")
        assert citizen.training_consent is True and citizen.training_consent_at == NOW
    assert question_after_receipt("web:c2", filed("web:c2", "Đèn đường thôn 3 hỏng cả tuần")) \
        is None
    say_yes(app_env, "web:c2", yes=False)  # the other button later: the answer is replaced
    with session_scope(app_env) as session:
        assert citizen_of(session, "web:c2").training_consent is False


@both_backends
def test_no_question_after_a_to_cao_receipt(app_env):
    code = filed("web:c3", "Tôi xin tố cáo trưởng thôn 2 ăn chặn tiền hỗ trợ", "can_bo", "to_cao")
    assert question_after_receipt("web:c3", code) is None
    assert question_after_receipt("web:c3", filed("web:c3", LETTER)) is not None


# --- the export -----------------------------------------------------------------------------

def corrected_letter(url: str, sender: str, text: str = LETTER) -> str:
    code = filed(sender, text, category="ha_tang")
    accept_as(url, "kinhte", code, "moi_truong")  # the officer fixes the category
    return code


def exported(url: str, sender: str) -> Path:
    """A consenting citizen's corrected letter in the training export; the export's path."""
    corrected_letter(url, sender)
    say_yes(url, sender)
    assert rasa_runtime.rebuild_corrections(load_settings()) == 1
    return rasa_runtime.corrections_path(load_settings())


@both_backends
def test_export_is_rasa_training_data_with_the_officers_labels(app_env, tmp_path):
    code = corrected_letter(app_env, "web:c4")
    say_yes(app_env, "web:c4")
    out = tmp_path / "nlu" / "corrections.yml"
    with session_scope(app_env) as session:
        correction = session.scalar(select(NluCorrection))
        assert (correction.predicted_category, correction.fixed_category) == ("ha_tang",
                                                                            "moi_truong")
        assert session.scalar(select(Ticket).where(Ticket.code == code)).id == correction.ticket_id
        assert export_corrections(session, out) == 1
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    data = load_data(str(out))  # Rasa's own reader
    texts, categories = labelled_examples(data, "category", view=lambda t: t)
    _, kinds = labelled_examples(data, "kind", view=lambda t: t)
    assert categories == ["moi_truong"] and kinds == ["phan_anh"]
    assert texts == [mask_personal_data(LETTER).replace("[", "(").replace("]", ")")]
    assert not data.entity_examples  # "[mương](location)" is not read as an annotation
    assert "Vũ Thị Hằng" not in out.read_text() and "0905" not in out.read_text()
    assert read_report_yaml(out) == [{"text": texts[0], "intent": "report",
                                      "category": "moi_truong", "kind": "phan_anh",
                                      "location": None}]


@both_backends
def test_export_skips_unconsented_confidential_and_uncorrected_tickets(app_env, tmp_path):
    corrected_letter(app_env, "web:never-asked")
    corrected_letter(app_env, "web:said-no")
    say_yes(app_env, "web:said-no", yes=False)
    denounced = filed("web:ok", "Tôi xin tố cáo cán bộ địa chính nhận tiền", "can_bo", "to_cao")
    accept_as(app_env, "chutich", denounced, "dat_dai", "to_cao")  # corrected, but confidential
    turned = filed("web:ok", "Hàng xóm lấn đất nhà tôi, xin xã xem xét", "dat_dai", "phan_anh")
    accept_as(app_env, "kinhte", turned, "dat_dai", "to_cao")  # becomes a tố cáo at acceptance
    confirmed = filed("web:ok", "Đèn đường thôn 3 hỏng cả tuần nay rồi", "ha_tang")
    accept_as(app_env, "kinhte", confirmed, "ha_tang")  # the NLU was right: no correction
    kept = corrected_letter(app_env, "web:ok", "Cống thôn 3 tắc, nước thải tràn ra đường")
    say_yes(app_env, "web:ok")
    with session_scope(app_env) as session:
        assert len(session.scalars(select(NluCorrection)).all()) == 5
        out = tmp_path / "c.yml"
        assert export_corrections(session, out) == 1
        assert session.scalar(select(Ticket).where(Ticket.code == kept)).confidential is False
    assert [r["text"] for r in read_report_yaml(out)] == [
        "Cống thôn 3 tắc, nước thải tràn ra đường"]


@both_backends
def test_erasure_drops_the_text_from_the_export_and_forgets_the_answer(app_env):
    settings = load_settings()
    export = exported(app_env, "web:c5")
    assert "bốc mùi" in export.read_text()
    service.erase_personal_data("web:c5", context())
    assert not export.exists()  # the erasure itself rebuilt it: no old file outlives it
    assert rasa_runtime.rebuild_corrections(settings) == 0 and not export.exists()
    with session_scope(app_env) as session:
        assert training_consent(citizen_of(session, "web:c5")) is None  # asked again later


# --- training includes the export -----------------------------------------------------------

def test_train_command_reads_the_export_when_present_and_it_counts_for_staleness(app_env):
    settings = load_settings()
    command = rasa_runtime.train_command(settings)
    assert command[command.index("--data") + 1:command.index("--config")] == ["nlu_data"]
    settings.rasa_model_dir = settings.data_dir / "models"  # a stand-in model, not trained here
    settings.rasa_model_dir.mkdir(parents=True)
    rasa_runtime.model_path(settings).write_bytes(b"model")
    stamp = settings.rasa_model_dir / f"{rasa_runtime.MODEL_NAME}.sha256"
    stamp.write_text(rasa_runtime.training_fingerprint())
    assert rasa_runtime.model_is_current(settings)
    export = exported(app_env, "web:c6")
    command = rasa_runtime.train_command(settings)
    assert command[command.index("--data") + 1:command.index("--config")] == [
        "nlu_data", str(export.resolve())]
    assert not rasa_runtime.model_is_current(settings)  # new training data: stale
    stamp.write_text(rasa_runtime.training_fingerprint(extra=[export]))
    assert rasa_runtime.model_is_current(settings)
    export.write_text(export.read_text().replace("bốc mùi", "bốc mùi hôi"))
    assert not rasa_runtime.model_is_current(settings)  # its content counts, not its name


def test_an_unreadable_database_removes_the_old_export(empty_db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", empty_db_url)  # never migrated
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    load_settings.cache_clear()
    try:
        export = rasa_runtime.corrections_path(load_settings())
        export.parent.mkdir(parents=True)
        export.write_text("old texts")
        assert rasa_runtime.rebuild_corrections(load_settings()) is None
        assert not export.exists()
    finally:
        load_settings.cache_clear()


def test_corrections_command_prints_the_count(app_env, tmp_path):
    corrected_letter(app_env, "web:c7")
    say_yes(app_env, "web:c7")
    out = tmp_path / "elsewhere.yml"
    result = subprocess.run([sys.executable, "-m", "bot.cli", "nlu", "corrections", "--out",
                             str(out)], capture_output=True, text=True, timeout=120,
                            env=dict(os.environ), cwd=PROJECT_ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == f"1 câu -> {out}" and out.exists()


# --- the desk's weekly shares ---------------------------------------------------------------

@both_backends
def test_weekly_shares_per_iso_week_in_local_time_and_scoped_to_the_caller(app_env):
    def at(day: int, hour: int = 3, month: int = 2) -> datetime:
        return datetime(2026, month, day, hour, tzinfo=UTC)

    make_ticket(app_env, "trước cửa sổ", now=at(10), category="ha_tang")  # before the window
    fixed = make_ticket(app_env, "đường ngập", now=at(18), category="ha_tang")
    make_ticket(app_env, "đèn hỏng", now=at(19), category="ha_tang")
    make_ticket(app_env, "chuyện gì đó", now=at(24), category="khac", needs_triage=True)
    make_ticket(app_env, "ổ gà", now=at(26), category="ha_tang")
    make_ticket(app_env, "cống tắc", now=at(1, hour=20, month=3), category="ha_tang")  # Mon local
    accept_as(app_env, "kinhte", fixed, "moi_truong")
    with session_scope(app_env) as session:
        leader = weekly_shares(session, officer(session, "chutich"), weeks=3, now=NOW)
        unit = weekly_shares(session, officer(session, "kinhte"), weeks=3, now=NOW)
        with pytest.raises(NotAllowed):
            weekly_shares(session, Caller.citizen(1, "web"), now=NOW)
    assert [(w.week, w.tickets, w.routed_without_triage, w.corrected) for w in leader] == [
        ("2026-W08", 2, 2, 1), ("2026-W09", 2, 1, 0), ("2026-W10", 1, 1, 0)]
    assert (leader[0].routed_share, leader[0].corrected_share) == (1.0, 0.5)
    assert leader[1].routed_share == 0.5 and str(leader[2].start) == "2026-03-02"
    assert [(w.tickets, w.routed_without_triage) for w in unit] == [(2, 2), (1, 1), (1, 1)]


@pytest.mark.timeout(600)
def test_rasa_validates_the_project_data_with_the_export_as_training_reads_it(app_env):
    exported(app_env, "web:c8")
    data = rasa_runtime.training_data_paths(load_settings())
    result = subprocess.run([sys.executable, "-m", "rasa", "data", "validate", "--data", *data,
                             "--domain", "domain.yml", "--config", "config.yml"],
                            cwd=PROJECT_ROOT, env=rasa_runtime.rasa_env(), capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.mark.timeout(600)
def test_eval_corrections_scores_the_export_with_the_current_model(app_env):
    exported(app_env, "web:c9")
    result = subprocess.run([sys.executable, "-m", "bot.cli", "nlu", "eval", "--corrections"],
                            capture_output=True, text=True, timeout=600, env=dict(os.environ),
                            cwd=PROJECT_ROOT)  # DATA_DIR and DATABASE_URL of this test
    assert result.returncode == 0, result.stderr[-2000:]
    written, stripped = result.stdout.split("== ")[1:]
    assert written.startswith("corrections.yml, as written (1 rows)")
    assert "category accuracy" in written and "moi_truong" in written  # the officer's label
    assert stripped.startswith("corrections.yml, diacritics stripped (1 rows)")


@pytest.mark.timeout(900)
def test_web_chat_journey_records_the_reading_and_asks_once_after_the_receipt(tmp_path):
    """The whole stack (`nghedan up`: Rasa with the trained model, action server, bot): the
    parse that reaches the action server carries the classifier's reading."""
    import httpx

    from tests import e2e

    with e2e.running_setup(tmp_path) as setup, httpx.Client() as client:
        e2e.start_and_consent(client, setup)
        receipt = e2e.press(client, setup, e2e.to_summary(client, setup, e2e.say(
            client, setup, text=e2e.REPORT)), "Gửi")
        code = e2e.CODE.search(" ".join(m["text"] or "" for m in receipt))[0]
        assert receipt[-1]["text"] == QUESTION_TEXT
        assert [b["title"] for b in receipt[-1]["buttons"]] == ["Đồng ý", "Không"]
        thanks = e2e.press(client, setup, receipt[-1:], "Đồng ý")
        assert [m["text"] for m in thanks] == [YES_TEXT]
        time.sleep(FLOOD_WINDOW.total_seconds() + 1)  # a citizen typing, not a flood
        second = e2e.file_report(client, setup, "Đèn đường ở thôn 2 hỏng cả tuần nay, tối rất tối")
        with session_scope(setup.db_url) as session:
            ticket = session.scalar(select(Ticket).where(Ticket.code == code))
            assert ticket.predicted_category == ticket.category == "ha_tang"
            assert ticket.predicted_kind and 0 < ticket.nlu_confidence <= 1
            assert session.get(Citizen, ticket.citizen_id).training_consent is True
            asked = session.scalars(select(OutboxMessage).where(
                OutboxMessage.text == QUESTION_TEXT)).all()
            assert len(asked) == 1 and second != code  # not asked after the second receipt
