"""Vietnamese working-day calendar: lunar holidays, compensatory days, deadline arithmetic."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.core.workdays import WorkCalendar, lunar_to_solar

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
CAL = WorkCalendar()

# Oracle: lunar 1/1 (Tết) and lunar 10/3 (Giỗ Tổ) for 2025..2035, checked against the new-moon
# times (UTC+7) in Hồ Ngọc Đức's published tables and an independent full Meeus computation.
# 2030 is 2 Feb, not 3 Feb: the new moon is at 23:07 on 2 Feb in Vietnam (UTC+7) but 00:07 on
# 3 Feb in China (UTC+8), so the Chinese New Year date differs from Tết that year.
TET = {
    2025: date(2025, 1, 29), 2026: date(2026, 2, 17), 2027: date(2027, 2, 6),
    2028: date(2028, 1, 26), 2029: date(2029, 2, 13), 2030: date(2030, 2, 2),
    2031: date(2031, 1, 23), 2032: date(2032, 2, 11), 2033: date(2033, 1, 31),
    2034: date(2034, 2, 19), 2035: date(2035, 2, 8),
}
GIO_TO = {  # 2031 has a leap 3rd month; Giỗ Tổ is in the regular one
    2025: date(2025, 4, 7), 2026: date(2026, 4, 26), 2027: date(2027, 4, 16),
    2028: date(2028, 4, 4), 2029: date(2029, 4, 23), 2030: date(2030, 4, 12),
    2031: date(2031, 4, 1), 2032: date(2032, 4, 19), 2033: date(2033, 4, 9),
    2034: date(2034, 4, 28), 2035: date(2035, 4, 17),
}


def local(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    """A Hanoi wall-clock time as the aware UTC datetime the system stores."""
    return datetime(y, m, d, hh, mm, tzinfo=HCM).astimezone(UTC)


def end_of(y: int, m: int, d: int) -> datetime:
    return datetime.combine(date(y, m, d), time.max, tzinfo=HCM).astimezone(UTC)


@pytest.mark.parametrize("year", sorted(TET))
def test_lunar_dates_match_the_oracle_table(year: int) -> None:
    assert lunar_to_solar(1, 1, year) == TET[year]
    assert lunar_to_solar(10, 3, year) == GIO_TO[year]
    holidays = CAL.holidays(year)
    assert holidays[TET[year]].startswith("Tết Nguyên Đán")
    assert holidays[GIO_TO[year]].startswith("Giỗ Tổ Hùng Vương")


@pytest.mark.parametrize(("lunar", "expected"), [
    ((1, 1, 2025), date(2025, 1, 29)), ((1, 1, 2026), date(2026, 2, 17)),
    ((1, 1, 2027), date(2027, 2, 6)), ((1, 1, 2028), date(2028, 1, 26)),
    ((1, 1, 2029), date(2029, 2, 13)), ((1, 1, 2030), date(2030, 2, 2)),
    ((10, 3, 2025), date(2025, 4, 7)), ((10, 3, 2026), date(2026, 4, 26)),
])
def test_known_anchors(lunar: tuple[int, int, int], expected: date) -> None:
    assert lunar_to_solar(*lunar) == expected


def test_tet_2026_block_is_five_weekdays() -> None:
    # Tháng Chạp of Ất Tỵ starts 19/1/2026, so 16/2 is 29 Chạp, the last day of the year.
    assert lunar_to_solar(1, 12, 2025) == date(2026, 1, 19)
    holidays = CAL.holidays(2026)
    block = [date(2026, 2, d) for d in range(16, 21)]
    assert [holidays[day] for day in block] == [
        "Tết Nguyên Đán (ngày cuối năm Âm lịch)", "Tết Nguyên Đán (mùng 1)",
        "Tết Nguyên Đán (mùng 2)", "Tết Nguyên Đán (mùng 3)", "Tết Nguyên Đán (mùng 4)",
    ]
    assert not any(CAL.is_working_day(day) for day in block)
    assert CAL.is_working_day(date(2026, 2, 13)) and CAL.is_working_day(date(2026, 2, 23))
    assert date(2026, 2, 21) not in holidays  # all five fell on weekdays: no compensation


def test_deadline_started_before_tet_skips_it() -> None:
    assert CAL.add_working_days(local(2026, 2, 13), 1, HCM) == end_of(2026, 2, 23)
    # Thu 12/2: Fri 13/2, then 23/2..27/2, then 2/3..5/3 are the 10 working days.
    assert CAL.add_working_days(local(2026, 2, 12, 16), 10, HCM) == end_of(2026, 3, 5)
    assert CAL.add_calendar_days(local(2026, 2, 12), 10, HCM) == end_of(2026, 2, 22)


def test_april_30_and_may_1() -> None:
    holidays = CAL.holidays(2026)
    assert date(2026, 4, 30).weekday() == 3 and date(2026, 5, 1).weekday() == 4
    assert holidays[date(2026, 4, 30)] == "Ngày Chiến thắng (30/4)"
    assert holidays[date(2026, 5, 1)] == "Ngày Quốc tế Lao động (1/5)"
    assert CAL.add_working_days(local(2026, 4, 29), 1, HCM) == end_of(2026, 5, 4)


@pytest.mark.parametrize("year", [2025, 2026])
def test_national_day_with_the_day_before(year: int) -> None:
    holidays = CAL.holidays(year)
    assert holidays[date(year, 9, 2)] == "Quốc khánh (2/9)"
    assert holidays[date(year, 9, 1)] == "Quốc khánh (1/9, ngày liền kề)"
    assert not CAL.is_working_day(date(year, 9, 1))
    assert CAL.is_working_day(date(year, 9, 3))


def test_holiday_on_a_weekend_gives_a_compensatory_day() -> None:
    h2026 = CAL.holidays(2026)
    assert date(2026, 4, 26).weekday() == 6  # Giỗ Tổ on a Sunday
    assert h2026[date(2026, 4, 27)] == "Nghỉ bù Giỗ Tổ Hùng Vương (10/3 Âm lịch)"
    assert not CAL.is_working_day(date(2026, 4, 27))
    assert CAL.is_working_day(date(2026, 4, 28))
    assert CAL.holidays(2028)[date(2028, 1, 3)] == "Nghỉ bù Tết Dương lịch"  # 1/1 a Saturday
    # 30/4/2028 is a Sunday and 1/5 a Monday holiday: the compensation moves on to Tuesday.
    assert CAL.holidays(2028)[date(2028, 5, 2)] == "Nghỉ bù Ngày Chiến thắng (30/4)"
    # 1/9/2029 and 2/9/2029 are Saturday and Sunday: two compensatory days.
    h2029 = CAL.holidays(2029)
    assert h2029[date(2029, 9, 3)].startswith("Nghỉ bù Quốc khánh")
    assert h2029[date(2029, 9, 4)] == "Nghỉ bù Quốc khánh (2/9)"
    # Tết days on a weekend are compensated after the block (simplification of the decision).
    h2027 = CAL.holidays(2027)
    assert h2027[date(2027, 2, 10)] == "Nghỉ bù Tết Nguyên Đán (mùng 1)"
    assert h2027[date(2027, 2, 11)] == "Nghỉ bù Tết Nguyên Đán (mùng 2)"
    assert CAL.is_working_day(date(2027, 2, 12))


def test_ordinary_weeks() -> None:
    assert CAL.is_working_day(date(2026, 3, 2))
    assert not CAL.is_working_day(date(2026, 3, 7)) and not CAL.is_working_day(date(2026, 3, 8))
    assert CAL.add_working_days(local(2026, 3, 2), 0, HCM) == end_of(2026, 3, 2)
    assert CAL.add_working_days(local(2026, 3, 6), 1, HCM) == end_of(2026, 3, 9)
    assert CAL.add_working_days(local(2026, 3, 7), 5, HCM) == end_of(2026, 3, 13)


def test_working_days_between() -> None:
    assert CAL.working_days_between(local(2026, 3, 2), local(2026, 3, 9, 8), HCM) == 5
    assert CAL.working_days_between(local(2026, 3, 2, 8), local(2026, 3, 2, 17), HCM) == 0
    assert CAL.working_days_between(local(2026, 2, 13), local(2026, 2, 23), HCM) == 1
    assert CAL.working_days_between(local(2026, 3, 9), local(2026, 3, 2), HCM) == -5
    start = local(2026, 12, 28, 15)
    for n in range(0, 40):
        assert CAL.working_days_between(start, CAL.add_working_days(start, n, HCM), HCM) == n


def test_calendar_days_count_in_local_time_across_month_and_year() -> None:
    late = datetime(2025, 12, 31, 17, 30, tzinfo=UTC)  # already 00:30 on 1/1/2026 in Hanoi
    assert CAL.add_calendar_days(late, 10, HCM) == end_of(2026, 1, 11)
    assert CAL.add_calendar_days(late, 0, HCM) == end_of(2026, 1, 1)
    earlier = datetime(2025, 12, 31, 16, 59, tzinfo=UTC)  # 23:59 on 31/12 in Hanoi
    assert CAL.add_calendar_days(earlier, 1, HCM) == end_of(2026, 1, 1)
    assert CAL.add_calendar_days(local(2026, 1, 31), 30, HCM) == end_of(2026, 3, 2)
    due = CAL.add_calendar_days(local(2026, 1, 31), 30, HCM)
    assert due == datetime(2026, 3, 2, 16, 59, 59, 999999, tzinfo=UTC) and due.tzinfo is UTC


def test_working_days_count_in_local_time() -> None:
    # Tue 3/3/2026 17:30 UTC is Wed 4/3 00:30 in Hanoi: the next working day is Thu 5/3.
    assert CAL.add_working_days(datetime(2026, 3, 3, 17, 30, tzinfo=UTC), 1, HCM) == end_of(
        2026, 3, 5)
    assert CAL.add_working_days(datetime(2026, 3, 3, 16, 30, tzinfo=UTC), 1, HCM) == end_of(
        2026, 3, 4)
    # 1/1/2026 local is a holiday: the first working day after it is Fri 2/1.
    late = datetime(2025, 12, 31, 17, 30, tzinfo=UTC)
    assert CAL.add_working_days(late, 1, HCM) == end_of(2026, 1, 2)
    plus7 = datetime(2026, 3, 4, 0, 30, tzinfo=timezone(timedelta(hours=7)))
    assert CAL.add_working_days(plus7, 1, HCM) == end_of(2026, 3, 5)


def test_extra_days_off_and_working_days() -> None:
    cal = WorkCalendar(
        extra_days_off=frozenset({date(2026, 3, 9)}),
        extra_working_days=frozenset({date(2026, 3, 14), date(2026, 4, 27)}),
    )
    assert not cal.is_working_day(date(2026, 3, 9))
    assert cal.is_working_day(date(2026, 3, 14))  # a Saturday worked in exchange
    assert cal.is_working_day(date(2026, 4, 27))  # a computed compensatory day cancelled
    holidays = cal.holidays(2026)
    assert holidays[date(2026, 3, 9)] == "Ngày nghỉ bổ sung"
    assert date(2026, 4, 27) not in holidays
    assert CAL.add_working_days(local(2026, 3, 6), 1, HCM) == end_of(2026, 3, 9)
    assert cal.add_working_days(local(2026, 3, 6), 1, HCM) == end_of(2026, 3, 10)
    assert cal.add_working_days(local(2026, 3, 13), 1, HCM) == end_of(2026, 3, 14)
    assert cal.working_days_between(local(2026, 3, 6), local(2026, 3, 16), HCM) == 6
    assert WorkCalendar(extra_days_off=frozenset({date(2026, 4, 30)})).holidays(2026)[
        date(2026, 4, 30)] == "Ngày Chiến thắng (30/4)"


def test_invalid_input_raises_value_error() -> None:
    naive = datetime(2026, 3, 2, 10, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.add_working_days(naive, 1, HCM)
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.add_calendar_days(naive, 1, HCM)
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.working_days_between(naive, local(2026, 3, 3), HCM)
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.working_days_between(local(2026, 3, 3), naive, HCM)
    with pytest.raises(ValueError, match=">= 0"):
        CAL.add_working_days(local(2026, 3, 2), -1, HCM)
    with pytest.raises(ValueError, match=">= 0"):
        CAL.add_calendar_days(local(2026, 3, 2), -1, HCM)
    for year in (2024, 2036):
        with pytest.raises(ValueError, match="2025..2035"):
            CAL.holidays(year)
        with pytest.raises(ValueError, match="2025..2035"):
            CAL.is_working_day(date(year, 6, 3))
    with pytest.raises(ValueError, match="2025..2035"):
        CAL.add_working_days(local(2035, 12, 28), 10, HCM)
    with pytest.raises(ValueError, match="both"):
        WorkCalendar(extra_days_off=frozenset({date(2026, 3, 9)}),
                     extra_working_days=frozenset({date(2026, 3, 9)}))
