"""Court-date reminders: flows, templates, the outbox, opt-outs and delivery.

The review export lives in ``court_pipeline.reminders.export`` (also ``python -m``).
"""

from court_pipeline.reminders.assets import build_reminder_assets
from court_pipeline.reminders.delivery import ReminderDelivery
from court_pipeline.reminders.flows import FlowsError, RemindersConfig, load_flows
from court_pipeline.reminders.optouts import import_replies_csv
from court_pipeline.reminders.planner import plan_reminders

__all__ = [
    "FlowsError",
    "ReminderDelivery",
    "RemindersConfig",
    "build_reminder_assets",
    "import_replies_csv",
    "load_flows",
    "plan_reminders",
]
