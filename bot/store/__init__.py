"""Persistence: models, engines/sessions, migrations. Importing it installs the audit guard."""

from bot.store import audit as _audit  # noqa: F401
