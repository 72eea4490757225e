"""When a message is due: offsets in the court's local calendar, then quiet hours.

"7 days before a 9:00 AM hearing" means 9:00 AM local a week earlier, even when a DST change
lies between (a naive UTC subtraction would land at 8:00 or 10:00 local). Quiet hours are
court-local too; a message never becomes due after the hearing it is about, nor (for notices
planned now) before the moment it is planned.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from court_pipeline.reminders.flows import Offset, QuietHours


def localize(naive_local: datetime, zone: ZoneInfo) -> datetime:
    """A wall-clock time in ``zone`` as an aware UTC instant.

    Ambiguous times (the repeated hour in autumn) take the first occurrence; times in the
    spring gap move forward by the gap (02:30 -> 03:30), as PEP 495 defines.
    """
    return naive_local.replace(tzinfo=zone, fold=0).astimezone(UTC)


def offset_due(start_at: datetime, zone: ZoneInfo, offset: Offset) -> datetime:
    """The instant an offset reminder is due for a hearing starting at ``start_at``."""
    local_start = start_at.astimezone(zone)
    day = local_start.date() - timedelta(days=offset.days)
    clock = offset.at if offset.at is not None else local_start.time().replace(tzinfo=None)
    due = localize(datetime.combine(day, clock), zone)
    return due - timedelta(hours=offset.hours)


def apply_quiet_hours(
    due: datetime,
    start_at: datetime | None,
    zone: ZoneInfo,
    quiet: QuietHours | None,
    not_before: datetime | None = None,
) -> datetime | None:
    """Move a due time out of quiet hours: to their end, or (if that is not before the
    hearing) to one minute before they began. None when no such time is allowed.

    Allowed means: outside quiet hours, before ``start_at`` (when given) and not before
    ``not_before`` (planning passes "now" for notices, so a notice is never due in the past,
    where delivery would send it at once)."""

    def allowed(moment: datetime) -> bool:
        return (
            (start_at is None or moment < start_at)
            and (not_before is None or moment >= not_before)
            and not in_quiet_hours(moment, zone, quiet)
        )

    if quiet is None or not in_quiet_hours(due, zone, quiet):
        return due if allowed(due) else None
    local = due.astimezone(zone).replace(tzinfo=None)
    end = datetime.combine(local.date(), quiet.end)
    if end <= local:
        end += timedelta(days=1)
    moved = localize(end, zone)
    if allowed(moved):
        return moved
    began = datetime.combine(local.date(), quiet.start)
    if began > local:
        began -= timedelta(days=1)
    earlier = localize(began, zone) - timedelta(minutes=1)
    return earlier if allowed(earlier) else None


def in_quiet_hours(moment: datetime, zone: ZoneInfo, quiet: QuietHours | None) -> bool:
    """True when ``moment`` falls in the court's quiet hours."""
    return quiet is not None and quiet.contains(moment.astimezone(zone).time())
