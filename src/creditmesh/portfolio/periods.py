"""Days and periods as every portfolio figure takes them: a ``datetime.date`` (never a time of day), calendar periods.

The metrics are daily, so a ``datetime`` is refused rather than truncated; a
period ``[start, end]`` includes both ends.
"""

from __future__ import annotations

import datetime as dt

from creditmesh.errors import ParameterError

#: Period lengths :func:`periods` (and :func:`~creditmesh.portfolio.series.metric_series`) accept.
FREQUENCIES = ("day", "month", "quarter")


def as_day(value: object, field: str) -> dt.date:
    """``value`` if it is a ``datetime.date`` (not a ``datetime``); a :class:`ParameterError` naming ``field`` otherwise."""
    # datetime is a subclass of date; a metric day must not carry a time of day.
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise ParameterError(field, f"expected a datetime.date, got {type(value).__name__} {value!r}")
    return value


def as_period(start: object, end: object) -> dict[str, dt.date]:
    """``{"start": start, "end": end}`` as days, refused when ``start`` is after ``end``."""
    first, last = as_day(start, "start"), as_day(end, "end")
    if first > last:
        raise ParameterError("start", f"{first.isoformat()} is after end {last.isoformat()}")
    return {"start": first, "end": last}


def quarter_start(day: dt.date) -> dt.date:
    """The first day of the calendar quarter containing ``day``."""
    day = as_day(day, "as_of")
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def periods(freq: str, start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date]]:
    """Calendar periods of ``freq`` from the one holding ``start`` to the one holding ``end``, the last cut at ``end``."""
    if freq not in FREQUENCIES:
        raise ParameterError("freq", f"expected one of {', '.join(FREQUENCIES)}, got {freq!r}")
    as_period(start, end)
    out: list[tuple[dt.date, dt.date]] = []
    if freq == "day":
        day = start
        while day <= end:
            out.append((day, day))
            day += dt.timedelta(days=1)
        return out
    step = 1 if freq == "month" else 3
    month = (start.month - 1) // step * step + 1
    first = dt.date(start.year, month, 1)
    while first <= end:
        months = first.month - 1 + step
        following = dt.date(first.year + months // 12, months % 12 + 1, 1)
        out.append((first, min(following - dt.timedelta(days=1), end)))
        first = following
    return out
