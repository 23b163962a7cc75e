"""The bundled calendars: China's statutory holidays and US federal holidays.

Each year is copied from its official source and cross-checked in the tests
against the `holidays` and `chinesecalendar` packages:

- China: the State Council's notice on the next year's holidays
  (国务院办公厅关于…部分节假日安排的通知), published each autumn or winter for
  the year after. Holidays list every day off in a run, weekend days
  included; the extra working days are the 调休 make-up days.
- United States: the federal holidays of 5 U.S.C. 6103, on their observed
  dates (a Saturday holiday is observed on the Friday before, a Sunday one on
  the Monday after). Closures by executive order (Christmas Eve 2024,
  2025-01-09 for President Carter, 2025-12-24 and 2025-12-26) are left out:
  they are not statutory, and carriers kept working.
"""

from __future__ import annotations

import datetime as dt

from orderkit.calendar._calendars import TableCalendar


__all__ = ["CN", "US_FEDERAL"]


# (name, year, first "MM-DD", last "MM-DD"): a run of days off, both ends
# included, as the notices state them ("10月1日至7日放假").
_CN_RUNS = (
    ("New Year's Day", 2024, "01-01", "01-01"),
    ("Spring Festival", 2024, "02-10", "02-17"),
    ("Tomb-sweeping Day", 2024, "04-04", "04-06"),
    ("Labour Day", 2024, "05-01", "05-05"),
    ("Dragon Boat Festival", 2024, "06-10", "06-10"),
    ("Mid-autumn Festival", 2024, "09-15", "09-17"),
    ("National Day", 2024, "10-01", "10-07"),
    ("New Year's Day", 2025, "01-01", "01-01"),
    ("Spring Festival", 2025, "01-28", "02-04"),
    ("Tomb-sweeping Day", 2025, "04-04", "04-06"),
    ("Labour Day", 2025, "05-01", "05-05"),
    ("Dragon Boat Festival", 2025, "05-31", "06-02"),
    ("National Day and Mid-autumn Festival", 2025, "10-01", "10-08"),
    ("New Year's Day", 2026, "01-01", "01-03"),
    ("Spring Festival", 2026, "02-15", "02-23"),
    ("Tomb-sweeping Day", 2026, "04-04", "04-06"),
    ("Labour Day", 2026, "05-01", "05-05"),
    ("Dragon Boat Festival", 2026, "06-19", "06-21"),
    ("Mid-autumn Festival", 2026, "09-25", "09-27"),
    ("National Day", 2026, "10-01", "10-07"),
)

# (date, the holiday it makes up for): weekend days worked (调休上班).
_CN_WORKDAYS = (
    ("2024-02-04", "Spring Festival"),
    ("2024-02-18", "Spring Festival"),
    ("2024-04-07", "Tomb-sweeping Day"),
    ("2024-04-28", "Labour Day"),
    ("2024-05-11", "Labour Day"),
    ("2024-09-14", "Mid-autumn Festival"),
    ("2024-09-29", "National Day"),
    ("2024-10-12", "National Day"),
    ("2025-01-26", "Spring Festival"),
    ("2025-02-08", "Spring Festival"),
    ("2025-04-27", "Labour Day"),
    ("2025-09-28", "National Day and Mid-autumn Festival"),
    ("2025-10-11", "National Day and Mid-autumn Festival"),
    ("2026-01-04", "New Year's Day"),
    ("2026-02-14", "Spring Festival"),
    ("2026-02-28", "Spring Festival"),
    ("2026-05-09", "Labour Day"),
    ("2026-09-20", "National Day"),
    ("2026-10-10", "National Day"),
)

_US_HOLIDAYS = (
    ("2024-01-01", "New Year's Day"),
    ("2024-01-15", "Martin Luther King Jr. Day"),
    ("2024-02-19", "Washington's Birthday"),
    ("2024-05-27", "Memorial Day"),
    ("2024-06-19", "Juneteenth National Independence Day"),
    ("2024-07-04", "Independence Day"),
    ("2024-09-02", "Labor Day"),
    ("2024-10-14", "Columbus Day"),
    ("2024-11-11", "Veterans Day"),
    ("2024-11-28", "Thanksgiving Day"),
    ("2024-12-25", "Christmas Day"),
    ("2025-01-01", "New Year's Day"),
    ("2025-01-20", "Martin Luther King Jr. Day"),
    ("2025-02-17", "Washington's Birthday"),
    ("2025-05-26", "Memorial Day"),
    ("2025-06-19", "Juneteenth National Independence Day"),
    ("2025-07-04", "Independence Day"),
    ("2025-09-01", "Labor Day"),
    ("2025-10-13", "Columbus Day"),
    ("2025-11-11", "Veterans Day"),
    ("2025-11-27", "Thanksgiving Day"),
    ("2025-12-25", "Christmas Day"),
    ("2026-01-01", "New Year's Day"),
    ("2026-01-19", "Martin Luther King Jr. Day"),
    ("2026-02-16", "Washington's Birthday"),
    ("2026-05-25", "Memorial Day"),
    ("2026-06-19", "Juneteenth National Independence Day"),
    ("2026-07-03", "Independence Day (observed)"),
    ("2026-07-04", "Independence Day"),
    ("2026-09-07", "Labor Day"),
    ("2026-10-12", "Columbus Day"),
    ("2026-11-11", "Veterans Day"),
    ("2026-11-26", "Thanksgiving Day"),
    ("2026-12-25", "Christmas Day"),
    ("2027-01-01", "New Year's Day"),
    ("2027-01-18", "Martin Luther King Jr. Day"),
    ("2027-02-15", "Washington's Birthday"),
    ("2027-05-31", "Memorial Day"),
    ("2027-06-18", "Juneteenth National Independence Day (observed)"),
    ("2027-06-19", "Juneteenth National Independence Day"),
    ("2027-07-04", "Independence Day"),
    ("2027-07-05", "Independence Day (observed)"),
    ("2027-09-06", "Labor Day"),
    ("2027-10-11", "Columbus Day"),
    ("2027-11-11", "Veterans Day"),
    ("2027-11-25", "Thanksgiving Day"),
    ("2027-12-24", "Christmas Day (observed)"),
    ("2027-12-25", "Christmas Day"),
    ("2027-12-31", "New Year's Day (observed)"),
)


def _run(year: int, first: str, last: str) -> list[dt.date]:
    start = dt.date.fromisoformat(f"{year}-{first}")
    end = dt.date.fromisoformat(f"{year}-{last}")
    return [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]


CN = TableCalendar(
    "CN",
    first_year=2024,
    last_year=2026,
    holidays={
        day: name
        for name, year, first, last in _CN_RUNS
        for day in _run(year, first, last)
    },
    workdays={dt.date.fromisoformat(day): name for day, name in _CN_WORKDAYS},
)
"""Mainland China, 2024 to 2026: statutory holidays and 调休 make-up workdays.

.. versionadded:: 0.1.0
"""

US_FEDERAL = TableCalendar(
    "US",
    first_year=2024,
    last_year=2027,
    holidays={dt.date.fromisoformat(day): name for day, name in _US_HOLIDAYS},
)
"""United States federal holidays, 2024 to 2027, on their observed dates.

Rule-based, so known years ahead; China's table waits for each year's
official announcement (usually in November of the year before).

.. versionadded:: 0.1.0
"""
