"""Business calendars, SLA deadlines and days as windows in an explicit zone.

A `BusinessCalendar` says which dates are working days; `TableCalendar`
builds one from plain data, and `CN` and `US_FEDERAL` ship with orderkit. A
calendar never guesses: a year outside its data raises
`orderkit.errors.CalendarDataMissing`. `SlaPolicy.ship_by` turns a payment
instant into a `Deadline` on such a calendar, with a daily cut-off in the
store's zone. `DayWindow` is one day in an IANA zone as the half-open
instants `[start, end)`, so consecutive days tile time across DST;
`day_of` and `yesterday` find the window for an instant. Everything here is
pure: time comes in as arguments.

.. versionadded:: 0.1.0
"""

from orderkit.calendar._calendars import BusinessCalendar as BusinessCalendar
from orderkit.calendar._calendars import TableCalendar as TableCalendar
from orderkit.calendar._calendars import add_business_days as add_business_days
from orderkit.calendar._calendars import next_business_day as next_business_day
from orderkit.calendar._sla import Deadline as Deadline
from orderkit.calendar._sla import SlaPolicy as SlaPolicy
from orderkit.calendar._tables import CN as CN
from orderkit.calendar._tables import US_FEDERAL as US_FEDERAL
from orderkit.calendar._windows import DayWindow as DayWindow
from orderkit.calendar._windows import day_of as day_of
from orderkit.calendar._windows import yesterday as yesterday


__all__ = [
    "BusinessCalendar",
    "CN",
    "DayWindow",
    "Deadline",
    "SlaPolicy",
    "TableCalendar",
    "US_FEDERAL",
    "add_business_days",
    "day_of",
    "next_business_day",
    "yesterday",
]
