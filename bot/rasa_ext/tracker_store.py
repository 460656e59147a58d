"""Rasa tracker store on the project's own database (SQLite or PostgreSQL via SQLAlchemy 2).

Rasa 3.6's SQLTrackerStore needs SQLAlchemy 1.4; this one keeps Rasa's serialised tracker in
`conversation_trackers`, so conversations survive a restart in the default setup. Loaded by the
Rasa server from endpoints.yml (`type: bot.rasa_ext.tracker_store.ProjectTrackerStore`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import rasa.shared.core.trackers
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SerializedTrackerAsText, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import select

from bot.settings import load_settings
from bot.store.db import session_scope
from bot.store.models import ConversationTracker
from bot.store.types import utcnow


class ProjectTrackerStore(TrackerStore, SerializedTrackerAsText):
    def __init__(self, domain: Domain, event_broker: EventBroker | None = None,
                 db_url: str | None = None, **kwargs: Any) -> None:
        self.db_url = db_url or load_settings().effective_database_url
        super().__init__(domain, event_broker, **kwargs)

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)
        state = self.serialise_tracker(tracker)
        with session_scope(self.db_url) as session:
            row = session.get(ConversationTracker, tracker.sender_id)
            if row is None:
                session.add(ConversationTracker(sender_id=tracker.sender_id, state=state))
            else:
                row.state, row.updated_at = state, utcnow()

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        return self._load(sender_id, fetch_all_sessions=False)

    async def retrieve_full_tracker(self, sender_id: str) -> DialogueStateTracker | None:
        return self._load(sender_id, fetch_all_sessions=True)

    async def keys(self) -> Iterable[str]:
        with session_scope(self.db_url) as session:
            return list(session.scalars(select(ConversationTracker.sender_id)))

    def _load(self, sender_id: str, fetch_all_sessions: bool) -> DialogueStateTracker | None:
        with session_scope(self.db_url) as session:
            row = session.get(ConversationTracker, sender_id)
            state = row.state if row else None
        if state is None:
            return None
        tracker = self.deserialise_tracker(sender_id, state)
        if tracker is None or fetch_all_sessions:
            return tracker
        sessions = rasa.shared.core.trackers.get_trackers_for_conversation_sessions(tracker)
        return sessions[-1] if len(sessions) > 1 else tracker
