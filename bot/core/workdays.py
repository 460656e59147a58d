"""Vietnamese working-day calendar for legal deadlines (standard library only).

Public holidays follow Bộ luật Lao động 2019, art. 112(1): 1/1; Tết Nguyên Đán (5 days);
Giỗ Tổ Hùng Vương (lunar 10/3); 30/4; 1/5; Quốc khánh 2/9 plus one adjacent day. A holiday
on a weekly day off (Saturday/Sunday) gives a compensatory day off (nghỉ bù) on the next
working day (art. 111(3)).

Simplifications, each correctable per deployment with `extra_days_off` / `extra_working_days`:
- Tết is the last day of the lunar year plus lunar 1/1..1/4, the usual government practice
  (art. 112(3) lets the Prime Minister fix the exact days every year, often with swapped days).
  Tết days falling on a weekend get compensatory days like any other holiday.
- Quốc khánh uses 1/9 and 2/9 (the adjacent day chosen by the government from 2025).
- Nothing beyond the Labour Code list is built in (e.g. new commemorative days off): add such
  days, and the yearly swaps, as configuration.

Lunar dates use Hồ Ngọc Đức's published algorithm for the Vietnamese calendar (UTC+7, after
Meeus' "Astronomical Algorithms"). Only years 2025..2035 are supported, the range checked
against a table of known dates in tests/test_workdays.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

MIN_YEAR, MAX_YEAR = 2025, 2035
VN_UTC_OFFSET_HOURS = 7  # the Vietnamese calendar is computed at UTC+7, not China's UTC+8
_SYNODIC_MONTH = 29.530588853
_JD_1900_NEW_MOON = 2415021.076998695  # new moon k=0 (1 Jan 1900), Meeus' epoch
_ONE_DAY = timedelta(days=1)
_SATURDAY = 5

TET = "Tết Nguyên Đán"
GIO_TO = "Giỗ Tổ Hùng Vương"
EXTRA_DAY_OFF = "Ngày nghỉ bổ sung"


# --- Lunar calendar (Hồ Ngọc Đức) ---------------------------------------------------------

def _jd_from_date(day: date) -> int:
    return day.toordinal() + 1721425  # Julian day number of the Gregorian date


def _date_from_jd(jd: int) -> date:
    return date.fromordinal(jd - 1721425)


def _new_moon_day(k: int) -> int:
    """Local (UTC+7) Julian day number of the k-th new moon after 1 Jan 1900."""
    t = k / 1236.85
    t2, t3 = t * t, t * t * t
    dr = math.pi / 180
    jd1 = 2415020.75933 + 29.53058868 * k + 0.0001178 * t2 - 0.000000155 * t3
    jd1 += 0.00033 * math.sin((166.56 + 132.87 * t - 0.009173 * t2) * dr)
    m = 359.2242 + 29.10535608 * k - 0.0000333 * t2 - 0.00000347 * t3  # sun's mean anomaly
    mpr = 306.0253 + 385.81691806 * k + 0.0107306 * t2 + 0.00001236 * t3  # moon's
    f = 21.2964 + 390.67050646 * k - 0.0016528 * t2 - 0.00000239 * t3  # moon's latitude arg.
    c1 = (0.1734 - 0.000393 * t) * math.sin(m * dr) + 0.0021 * math.sin(2 * dr * m)
    c1 += -0.4068 * math.sin(mpr * dr) + 0.0161 * math.sin(dr * 2 * mpr)
    c1 += -0.0004 * math.sin(dr * 3 * mpr)
    c1 += 0.0104 * math.sin(dr * 2 * f) - 0.0051 * math.sin(dr * (m + mpr))
    c1 += -0.0074 * math.sin(dr * (m - mpr)) + 0.0004 * math.sin(dr * (2 * f + m))
    c1 += -0.0004 * math.sin(dr * (2 * f - m)) - 0.0006 * math.sin(dr * (2 * f + mpr))
    c1 += 0.0010 * math.sin(dr * (2 * f - mpr)) + 0.0005 * math.sin(dr * (2 * mpr + m))
    delta_t = -0.000278 + 0.000265 * t + 0.000262 * t2  # TT - UT, valid for t >= -11
    jd_new = jd1 + c1 - delta_t
    return math.floor(jd_new + 0.5 + VN_UTC_OFFSET_HOURS / 24)


def _sun_longitude_sector(jdn: int) -> int:
    """Sun's longitude at local midnight starting day `jdn`, as a 30-degree sector 0..11."""
    t = (jdn - 0.5 - VN_UTC_OFFSET_HOURS / 24 - 2451545.0) / 36525
    t2 = t * t
    dr = math.pi / 180
    m = 357.52910 + 35999.05030 * t - 0.0001559 * t2 - 0.00000048 * t * t2
    l0 = 280.46645 + 36000.76983 * t + 0.0003032 * t2
    dl = (1.914600 - 0.004817 * t - 0.000014 * t2) * math.sin(dr * m)
    dl += (0.019993 - 0.000101 * t) * math.sin(dr * 2 * m) + 0.000290 * math.sin(dr * 3 * m)
    longitude = ((l0 + dl) * dr) % (2 * math.pi)
    return math.floor(longitude / math.pi * 6)


def _lunar_month_11(year: int) -> int:
    """Start (Julian day) of lunar month 11 of `year`: the month holding the winter solstice."""
    k = math.floor((_jd_from_date(date(year, 12, 31)) - 2415021) / _SYNODIC_MONTH)
    start = _new_moon_day(k)
    if _sun_longitude_sector(start) >= 9:  # new moon after the solstice: take the one before
        start = _new_moon_day(k - 1)
    return start


def _leap_month_offset(a11: int) -> int:
    """Months after month 11 to the leap month: the first month without a major solar term."""
    k = math.floor((a11 - _JD_1900_NEW_MOON) / _SYNODIC_MONTH + 0.5)
    i = 1
    arc = _sun_longitude_sector(_new_moon_day(k + i))
    while True:
        last = arc
        i += 1
        arc = _sun_longitude_sector(_new_moon_day(k + i))
        if arc == last or i >= 14:
            return i - 1


def lunar_to_solar(day: int, month: int, lunar_year: int) -> date:
    """Solar date of lunar `day`/`month` (not a leap month) of `lunar_year`."""
    if month < 11:
        a11, b11 = _lunar_month_11(lunar_year - 1), _lunar_month_11(lunar_year)
    else:
        a11, b11 = _lunar_month_11(lunar_year), _lunar_month_11(lunar_year + 1)
    k = math.floor(0.5 + (a11 - _JD_1900_NEW_MOON) / _SYNODIC_MONTH)
    offset = (month - 11) % 12
    if b11 - a11 > 365 and offset >= _leap_month_offset(a11):  # a leap month comes first
        offset += 1
    return _date_from_jd(_new_moon_day(k + offset) + day - 1)


# --- Public holidays --------------------------------------------------------------------

def _check_year(year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(
            f"year {year} is outside the supported range {MIN_YEAR}..{MAX_YEAR} "
            "(lunar holidays are only verified for these years)"
        )


def _is_weekend(day: date) -> bool:
    return day.weekday() >= _SATURDAY


@lru_cache(maxsize=32)
def _statutory_holidays(year: int) -> dict[date, str]:
    """Holidays of art. 112(1) plus compensatory days, for one Gregorian year."""
    _check_year(year)
    tet = lunar_to_solar(1, 1, year)
    days = {
        date(year, 1, 1): "Tết Dương lịch",
        # The day before lunar 1/1 is the last day of the lunar year (29 or 30 tháng Chạp).
        tet - _ONE_DAY: f"{TET} (ngày cuối năm Âm lịch)",
        **{tet + i * _ONE_DAY: f"{TET} (mùng {i + 1})" for i in range(4)},
        lunar_to_solar(10, 3, year): f"{GIO_TO} (10/3 Âm lịch)",
        date(year, 4, 30): "Ngày Chiến thắng (30/4)",
        date(year, 5, 1): "Ngày Quốc tế Lao động (1/5)",
        date(year, 9, 1): "Quốc khánh (1/9, ngày liền kề)",
        date(year, 9, 2): "Quốc khánh (2/9)",
    }
    result = dict(days)
    for day, name in sorted(days.items()):
        if not _is_weekend(day):
            continue
        # Art. 111(3): a holiday on a weekly day off moves to the next working day.
        substitute = day + _ONE_DAY
        while _is_weekend(substitute) or substitute in result:
            substitute += _ONE_DAY
        result[substitute] = f"Nghỉ bù {name}"
    return dict(sorted(result.items()))


# --- Calendar -----------------------------------------------------------------------------

def _local_date(moment: datetime, tz: ZoneInfo, what: str) -> date:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime (UTC), got a naive one")
    return moment.astimezone(tz).date()


def _check_days(days: int) -> None:
    if days < 0:
        raise ValueError(f"days must be >= 0, got {days}")


def _end_of_day(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.max, tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True)
class WorkCalendar:
    """Working days in Vietnam: Monday..Friday except public holidays and their compensatory
    days. `extra_days_off` (e.g. a day off by government decision or a swapped Monday) and
    `extra_working_days` (e.g. the Saturday worked in exchange, or a computed compensatory day
    the yearly decision does not grant) override the built-in rules.

    Deadlines: `start` is an aware datetime (normally UTC); days are counted on its local date
    in `tz` (Asia/Ho_Chi_Minh). The start day itself never counts, as the term begins the day
    after receipt. "N working days from start" ends at the end (23:59:59.999999 local) of the
    N-th working day after the start day; "N calendar days" at the end of the N-th calendar day
    after it. With N = 0 the deadline is the end of the start day. Results are aware UTC.
    Dates outside 2025..2035 raise ValueError (lunar holidays are only verified there).
    """

    extra_days_off: frozenset[date] = frozenset()
    extra_working_days: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        both = self.extra_days_off & self.extra_working_days
        if both:
            listed = ", ".join(str(day) for day in sorted(both))
            raise ValueError(f"dates both extra days off and extra working days: {listed}")

    def holidays(self, year: int) -> dict[date, str]:
        """Days off other than ordinary weekends in `year`: date -> Vietnamese name, with
        compensatory days ("Nghỉ bù ...") and extra days off, minus extra working days."""
        result = dict(_statutory_holidays(year))
        for day in self.extra_days_off:
            if day.year == year:
                result.setdefault(day, EXTRA_DAY_OFF)
        for day in self.extra_working_days:
            result.pop(day, None)
        return dict(sorted(result.items()))

    def is_working_day(self, day: date) -> bool:
        _check_year(day.year)
        if day in self.extra_working_days:
            return True
        if day in self.extra_days_off or _is_weekend(day):
            return False
        return day not in _statutory_holidays(day.year)

    def add_working_days(self, start: datetime, days: int, tz: ZoneInfo) -> datetime:
        """End of the `days`-th working day after the local start day, as aware UTC."""
        day = _local_date(start, tz, "start")
        _check_days(days)
        remaining = days
        while remaining:
            day += _ONE_DAY
            if self.is_working_day(day):
                remaining -= 1
        return _end_of_day(day, tz)

    def add_calendar_days(self, start: datetime, days: int, tz: ZoneInfo) -> datetime:
        """End of the `days`-th calendar day after the local start day, as aware UTC."""
        day = _local_date(start, tz, "start")
        _check_days(days)
        return _end_of_day(day + days * _ONE_DAY, tz)

    def working_days_between(self, start: datetime, end: datetime, tz: ZoneInfo) -> int:
        """Working days after the local start day up to and including the local end day
        (so add_working_days(start, n) is n working days after start). Negative if `end`
        is on an earlier local day than `start`."""
        first = _local_date(start, tz, "start")
        last = _local_date(end, tz, "end")
        if last < first:
            return -self.working_days_between(end, start, tz)
        count = 0
        day = first
        while day < last:
            day += _ONE_DAY
            count += self.is_working_day(day)
        return count
