"""Numbered text choices (bot/channels/choices.py) on their own: how buttons are written out,
which typed texts pick one, which offer is still open, and that the dialogue then reads the
button's payload (bot/dialogue/turns.py) as if it had been pressed."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from bot.channels import choices
from bot.core.messaging import Inbound, Outbound, mark_sent, queue_outbound, store_inbound
from bot.dialogue.turns import read_turn
from bot.store.db import session_scope

NOW = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
CHANNEL, USER = "zalo_bot", "7001"
CONFIRM = [{"title": "Gửi", "payload": "/affirm"}, {"title": "Sửa", "payload": "/deny"},
           {"title": "Hủy", "payload": "/cancel"}]
_keys = itertools.count(1)


def test_buttons_become_one_numbered_line_under_the_text():
    assert choices.render("Dạ, Ông/Bà gửi đơn này chứ?", CONFIRM) == (
        "Dạ, Ông/Bà gửi đơn này chứ?\n\n1. Gửi  2. Sửa  3. Hủy")
    assert choices.render("Không có nút", []) == "Không có nút"
    assert choices.render(None, CONFIRM) == "1. Gửi  2. Sửa  3. Hủy"
    assert choices.choice_line([]) == ""


@pytest.mark.parametrize(("typed", "index"), [
    ("1", 0), (" 3 ", 2), ("2.", 1), ("số 2", 1), ("Chọn 3", 2),
    ("Gửi", 0), ("gui", 0), ("GUI", 0), ("gửi!", 0), ("huy", 2), ("  Sửa ", 1),
])
def test_a_number_or_a_title_without_diacritics_picks_a_choice(typed, index):
    assert choices.pick(typed, [b["title"] for b in CONFIRM]) == index


@pytest.mark.parametrize("typed", ["0", "4", "12", "", "!!", "gửi đơn", "sua lai", "1 2"])
def test_anything_else_picks_nothing(typed):
    assert choices.pick(typed, [b["title"] for b in CONFIRM]) is None


def test_titles_that_fold_alike_are_not_guessed_but_numbers_still_work():
    titles = ["Có", "Cô", "Không"]  # "co" names two of them
    assert choices.pick("co", titles) is None
    assert choices.pick("2", titles) == 1
    assert choices.pick("khong", titles) == 2


def test_rating_stars_are_picked_by_their_number():
    titles = ["1 ★", "2 ★", "3 ★", "4 ★", "5 ★", "Chưa hài lòng"]
    assert choices.pick("5", titles) == 4
    assert choices.pick("chua hai long", titles) == 5


# --- the open offer, from the outbox ---------------------------------------------------------


def sent(db_url: str, text: str, buttons=(), *, key: str | None = None,
         in_reply_to: int | None = None, user: str = USER, channel: str = CHANNEL,
         status: str = "sent") -> int:
    """An outbox row as a channel leaves it; `key` as the pipeline writes it ("reply:...")."""
    with session_scope(db_url) as session:
        row = queue_outbound(session, Outbound(channel, user, text, list(buttons),
                                               in_reply_to=in_reply_to),
                             key or f"push:{next(_keys)}", NOW)
        if status == "sent":
            mark_sent(row, NOW, "p1")
        else:
            row.status = status
        return row.id


def inbound_from(db_url: str, text: str, user: str = USER) -> int:
    """A message the citizen sent; its inbox id (needed for the pipeline's reply keys)."""
    with session_scope(db_url) as session:
        return store_inbound(session, Inbound(CHANNEL, f"in{next(_keys)}", user, text),
                             NOW).id


def picked(db_url: str, text: str, user: str = USER, channel: str = CHANNEL) -> dict:
    with session_scope(db_url) as session:
        return choices.as_choice(session, Inbound(channel, "x", user, text)).payload


def test_the_newest_offer_with_buttons_is_the_open_one(db_url):
    sent(db_url, "Loại đơn?", [{"title": "Phản ánh", "payload": "/a"}])
    newest = sent(db_url, "Gửi chứ?", CONFIRM)
    assert picked(db_url, "1") == {"button": f"{newest}:0"}
    assert picked(db_url, "huy") == {"button": f"{newest}:2"}
    assert picked(db_url, "đường thôn 3 bị ngập") == {}  # a message, not a choice


def test_a_dialogue_answer_without_buttons_closes_the_offer(db_url):
    sent(db_url, "Gửi chứ?", CONFIRM)
    asked = inbound_from(db_url, "sửa")
    sent(db_url, "Dạ, Ông/Bà nhập lại nội dung ạ.", key=f"reply:{asked}:0", in_reply_to=asked)
    assert picked(db_url, "1") == {}


def test_pushes_and_busy_notices_leave_the_offer_open(db_url):
    offer = sent(db_url, "Gửi chứ?", CONFIRM)
    sent(db_url, "Dạ, đơn KN-2026-000001 đã được tiếp nhận.")  # a status push
    waiting = inbound_from(db_url, "chờ chút")
    sent(db_url, "Dạ, hệ thống đang bận...", key=f"reply:{waiting}:busy", in_reply_to=waiting)
    assert picked(db_url, "gui") == {"button": f"{offer}:0"}


def test_only_sent_offers_to_this_recipient_on_this_channel_count(db_url):
    sent(db_url, "Gửi chứ?", CONFIRM, user="other")
    sent(db_url, "Gửi chứ?", CONFIRM, channel="telegram")
    sent(db_url, "Gửi chứ?", CONFIRM, status="pending")  # not seen yet
    sent(db_url, "Gửi chứ?", CONFIRM, status="failed")  # never seen
    assert picked(db_url, "1") == {}
    assert picked(db_url, "1", user="other") != {}


def test_a_pressed_button_or_a_long_text_is_left_alone(db_url):
    sent(db_url, "Gửi chứ?", CONFIRM)
    with session_scope(db_url) as session:
        pressed = Inbound(CHANNEL, "x", USER, "1", {"button": "5:1"})
        assert choices.as_choice(session, pressed).payload == {"button": "5:1"}
    assert picked(db_url, "gui " + "a" * choices.MAX_CHOICE_TEXT) == {}


def test_the_dialogue_reads_a_typed_choice_as_the_button_payload(db_url):
    offer = sent(db_url, "Gửi chứ?", CONFIRM)
    with session_scope(db_url) as session:
        typed = choices.as_choice(session, Inbound(CHANNEL, "typed-1", USER, "Gửi"))
        row = store_inbound(session, typed, NOW)
        turn = read_turn(session, row)
    assert typed.payload == {"button": f"{offer}:0"}
    assert (turn.text, turn.steered, turn.typed) == ("/affirm", True, "Gửi")
