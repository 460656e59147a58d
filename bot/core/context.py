"""What core operations need besides a session: the clock, time zone, code prefix, clock rules
and working-day calendar. Built once from the settings; tests build their own."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.core.clock import Clock, system_clock
from bot.core.clocks import DEFAULT_RULES_FILE, ClockContext, load_rules
from bot.core.workdays import WorkCalendar

if TYPE_CHECKING:
    from bot.settings import Settings


@dataclass(frozen=True)
class CoreContext:
    tz: ZoneInfo
    clocks: ClockContext
    code_prefix: str = "KN"
    clock: Clock = field(default=system_clock)
    relay_hours: int = 72  # after an officer's message, the citizen's messages go to the ticket
    urgent_accept_hours: int = 4  # acceptance clock of an urgent report, in hours

    @classmethod
    def build(cls, tz: ZoneInfo, code_prefix: str = "KN", clock: Clock = system_clock,
              rules_file=DEFAULT_RULES_FILE, calendar: WorkCalendar | None = None,
              relay_hours: int = 72, urgent_accept_hours: int = 4) -> CoreContext:
        clocks = ClockContext(load_rules(rules_file), calendar or WorkCalendar(), tz)
        return cls(tz=tz, clocks=clocks, code_prefix=code_prefix, clock=clock,
                   relay_hours=relay_hours, urgent_accept_hours=urgent_accept_hours)


def context_from_settings(clock: Clock = system_clock,
                          settings: Settings | None = None) -> CoreContext:
    """The context of the configured settings (or of the given `settings`)."""
    if settings is None:
        from bot.settings import load_settings

        settings = load_settings()
    calendar = WorkCalendar(extra_days_off=frozenset(settings.extra_days_off),
                            extra_working_days=frozenset(settings.extra_working_days))
    return CoreContext.build(settings.tz, settings.ticket_code_prefix, clock,
                             settings.clocks_file or DEFAULT_RULES_FILE, calendar,
                             relay_hours=settings.relay_hours,
                             urgent_accept_hours=settings.urgent_accept_hours)
