"""SLA deadlines: when an order paid at some instant must ship.

A promise is "ship within N business days" or "within N business hours",
counted on a business calendar in the store's zone, with a daily cut-off:
an order paid after the cut-off, or on a day that is not a business day,
counts as received on the next business day.
"""

from __future__ import annotations

import datetime as dt
from typing import final

import attrs
import pendulum

from orderkit._time import plus, to_utc
from orderkit._validate import Validator
from orderkit.calendar._calendars import (
    BusinessCalendar,
    add_business_days,
    next_business_day,
)
from orderkit.calendar._windows import (
    DayWindow,
    check_day,
    day_of,
    wall_instant,
    zone_info,
)
from orderkit.errors import ValidationError


__all__ = ["Deadline", "SlaPolicy"]


# A promise longer than a year is a typo; the bound also keeps a count over
# a calendar that covers every year finite.
MAX_BUSINESS_DAYS = 366
MAX_BUSINESS_HOURS = MAX_BUSINESS_DAYS * 24
_TICK = dt.timedelta(microseconds=1)


def _check_calendar(_instance: object, _attribute: object, value: object) -> None:
    if not isinstance(value, BusinessCalendar):
        raise ValidationError("calendar", value, "must be a BusinessCalendar")


def _check_zone(_instance: object, _attribute: object, value: object) -> None:
    zone_info(value)


def _check_cutoff(_instance: object, _attribute: object, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, dt.time):
        raise ValidationError("cutoff", value, "must be a datetime.time or None")
    if value.tzinfo is not None:
        raise ValidationError(
            "cutoff",
            value,
            "must be a wall-clock time without tzinfo: the zone is `zone`",
        )


_CALENDAR: Validator = _check_calendar
_ZONE: Validator = _check_zone
_CUTOFF: Validator = _check_cutoff


def _amount(field: str, least: int, most: int) -> Validator:
    def check(_instance: object, _attribute: object, value: object) -> None:
        if value is None:
            return
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValidationError(field, value, "must be an int or None")
        if not least <= value <= most:
            raise ValidationError(field, value, f"must be from {least} to {most}")

    return check


def _received(value: object) -> dt.date:
    return check_day(value, "received")


def _due_day(value: object) -> dt.date:
    return check_day(value, "day")


def _due(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "due")


@final
@attrs.frozen(slots=True)
class Deadline:
    """When an order must ship: the due date in the store's zone and the instant.

    Attributes:
        received: The business day the order counts as received: the day it
            was paid, or the next business day when it was paid after the
            cut-off or on a day off.
        day: The last day, in `zone`, on which shipping is on time.
        due: The instant shipping becomes late, UTC, exclusive: for a
            business-day promise the end of `day` (midnight after it in
            `zone`); for a business-hour promise the moment the hours run out.
        zone: The store's IANA zone.

    .. versionadded:: 0.1.0
    """

    received: dt.date = attrs.field(converter=_received)
    day: dt.date = attrs.field(converter=_due_day)
    due: pendulum.DateTime = attrs.field(converter=_due)
    zone: str = attrs.field(validator=_ZONE)

    def is_met_by(self, shipped_at: dt.datetime) -> bool:
        """Whether shipping at `shipped_at` keeps the promise: before `due`.

        Raises:
            NaiveDatetime: `shipped_at` has no UTC offset.
        """
        return to_utc(shipped_at, "shipped_at") < self.due


@final
@attrs.frozen(slots=True)
class SlaPolicy:
    """A shipping promise on a business calendar in the store's zone.

    Give exactly one of `business_days` and `business_hours`.

    - Business days: the order ships by the end of the business day that
      lies `business_days` business days after the day it counts as received
      (0: the same day). Paid on a business day before the cut-off, it counts
      as received that day; otherwise on the next business day.
    - Business hours: elapsed time that falls on business days in `zone`,
      midnight to midnight; weekends and holidays stop the clock. The clock
      starts when the order is paid, or at the start of the next business day
      when it is paid after the cut-off or on a day off.

    The cut-off is a wall-clock time in `zone`; on a day when DST skips it,
    it falls at the first instant after the gap.

    Attributes:
        calendar: Which dates are business days (`orderkit.calendar.CN`).
        zone: The store's IANA zone (`"Asia/Shanghai"`).
        cutoff: The daily cut-off, a naive `datetime.time`; `None` for none
            (an order paid at any time of a business day counts that day).
        business_days: Business days to ship, 0 to 366.
        business_hours: Business hours to ship, 1 to 8784.

    Raises:
        ValidationError: A field of the wrong type or out of range, an
            unknown zone, an aware cut-off, or not exactly one promise.

    .. versionadded:: 0.1.0
    """

    calendar: BusinessCalendar = attrs.field(validator=_CALENDAR)
    zone: str = attrs.field(validator=_ZONE)
    cutoff: dt.time | None = attrs.field(default=None, kw_only=True, validator=_CUTOFF)
    business_days: int | None = attrs.field(
        default=None,
        kw_only=True,
        validator=_amount("business_days", 0, MAX_BUSINESS_DAYS),
    )
    business_hours: int | None = attrs.field(
        default=None,
        kw_only=True,
        validator=_amount("business_hours", 1, MAX_BUSINESS_HOURS),
    )

    def __attrs_post_init__(self) -> None:
        if (self.business_days is None) == (self.business_hours is None):
            raise ValidationError(
                "business_days",
                (self.business_days, self.business_hours),
                "give exactly one of business_days and business_hours",
            )

    def _received(self, paid: pendulum.DateTime) -> tuple[dt.date, pendulum.DateTime]:
        """The day the order counts as received, and when its clock starts."""
        window = day_of(paid, self.zone)
        if self.calendar.is_business_day(window.day) and (
            self.cutoff is None
            or paid
            < wall_instant(window.day, self.cutoff, zone_info(self.zone), "cutoff")
        ):
            return window.day, paid
        received = next_business_day(self.calendar, window.day)
        return received, DayWindow(received, self.zone).start

    def ship_by(self, paid_at: dt.datetime) -> Deadline:
        """When an order paid at `paid_at` must ship.

        Args:
            paid_at: When the order was paid, timezone-aware, in any zone.

        Returns:
            The deadline: the due date in `zone` and the instant it ends.

        Raises:
            NaiveDatetime: `paid_at` has no UTC offset.
            CalendarDataMissing: The count reaches a year the calendar does
                not cover.
        """
        paid = to_utc(paid_at, "paid_at")
        received, start = self._received(paid)
        if self.business_hours is None:
            day = add_business_days(self.calendar, received, self.business_days or 0)
            return Deadline(received, day, DayWindow(day, self.zone).end, self.zone)
        due = self._after_hours(received, start, self.business_hours)
        return Deadline(
            received, day_of(plus(due, -_TICK), self.zone).day, due, self.zone
        )

    def _after_hours(
        self, received: dt.date, start: pendulum.DateTime, hours: int
    ) -> pendulum.DateTime:
        """The instant `hours` of business time after `start`."""
        remaining = dt.timedelta(hours=hours)
        window = DayWindow(received, self.zone)
        cursor = start
        while True:
            left: dt.timedelta = dt.datetime.__sub__(window.end, cursor)
            if remaining <= left:
                return plus(cursor, remaining)
            remaining -= left
            window = DayWindow(next_business_day(self.calendar, window.day), self.zone)
            cursor = window.start
