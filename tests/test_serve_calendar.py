"""The serving process rewrites the figures' working-day table when the calendar settings
change (EXTRA_DAYS_OFF), so working-day durations follow the deployment's calendar."""

from __future__ import annotations

from datetime import date

from bot.cli.run import _refresh_work_calendar
from bot.settings import load_settings
from bot.store.db import session_scope
from bot.store.report_models import WorkCalendarDay


def working(url: str, day: date) -> bool:
    with session_scope(url) as session:
        return session.get(WorkCalendarDay, day).working


def test_serve_start_refreshes_the_calendar_table_after_extra_days_off_change(app_env,
                                                                               monkeypatch):
    day = date(2026, 6, 10)  # a Wednesday, a working day by the Labour Code
    _refresh_work_calendar(app_env)
    assert working(app_env, day)
    monkeypatch.setenv("EXTRA_DAYS_OFF", '["2026-06-10"]')
    load_settings.cache_clear()
    _refresh_work_calendar(app_env)
    assert not working(app_env, day)
