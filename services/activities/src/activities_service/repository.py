"""The queries of the timeline and the tasks, in one place."""
from datetime import date, datetime

from sqlalchemy import and_, delete, false, or_, select

from crm_common.errors import NotFound
from crm_common.text import fold

from .domain import TimelineEntry
from .entries import attending_users, linked_contacts
from .orm import entry_changes, entry_links

ENTRY = TimelineEntry


class Entries:
    def __init__(self, session):
        self.session = session

    def get(self, entry_id: str, *, deleted: bool = False) -> TimelineEntry:
        """`deleted`: a deleted entry too (its audit trail)."""
        query = select(ENTRY).where(ENTRY.id == entry_id)
        if not deleted:
            query = query.where(ENTRY.deleted_at.is_(None))
        entry = self.session.scalars(query).first()
        if entry is None:
            raise NotFound(f"activity {entry_id} not found")
        return entry

    def by_message_id(self, client_id: str, message_id: str) -> TimelineEntry | None:
        return self.session.scalars(select(ENTRY).where(
            ENTRY.client_id == client_id, ENTRY.message_id == message_id)).first()

    def add(self, entry: TimelineEntry) -> None:
        self.session.add(entry)
        self.session.flush()
        self.link(entry)

    def link(self, entry: TimelineEntry) -> None:
        """Its rows in entry_links: the contact persons' timelines, the users' calendars."""
        self.session.execute(delete(entry_links).where(entry_links.c.entry_id == entry.id))
        rows = [{"entry_id": entry.id, "kind": "contact", "ref_id": ref}
                for ref in sorted(linked_contacts(entry))]
        rows += [{"entry_id": entry.id, "kind": "user", "ref_id": ref}
                 for ref in sorted(attending_users(entry))]
        if rows:
            self.session.execute(entry_links.insert(), rows)

    def audit(self, entry: TimelineEntry, action: str, actor: str | None, at: datetime,
              changes: dict) -> None:
        self.session.execute(entry_changes.insert().values(
            entry_id=entry.id, action=action, actor=actor, at=at, version=entry.version,
            changes=changes))

    def trail(self, entry_id: str) -> list[dict]:
        rows = self.session.execute(select(entry_changes).where(
            entry_changes.c.entry_id == entry_id).order_by(entry_changes.c.id)).mappings()
        return [dict(row) for row in rows]

    def forget_trail(self, entry_ids: list[str]) -> None:
        """An erased person's entries: their audit trail says nothing about them either."""
        for start in range(0, len(entry_ids), 500):
            self.session.execute(entry_changes.update().where(
                entry_changes.c.entry_id.in_(entry_ids[start:start + 500])).values(
                changes={"erased": True}))

    # -- lists -------------------------------------------------------------------------

    def timeline_query(self, *, client_id=None, deal_id=None, contact_id=None,
                       client_ids=None, types=None, author=None, since=None, until=None,
                       q=None):
        query = select(ENTRY).where(ENTRY.deleted_at.is_(None))
        if client_id:
            query = query.where(ENTRY.client_id == client_id)
        if deal_id:
            query = query.where(ENTRY.deal_id == deal_id)
        if contact_id:
            query = query.where(ENTRY.id.in_(select(entry_links.c.entry_id).where(
                entry_links.c.kind == "contact", entry_links.c.ref_id == contact_id)))
        if client_ids is not None:  # the clients a restricted caller sees
            query = query.where(ENTRY.client_id.in_(client_ids) if client_ids else false())
        if types:
            query = query.where(ENTRY.type.in_(types))
        if author:
            query = query.where(ENTRY.author == author)
        if since:
            query = query.where(ENTRY.occurred_at >= since)
        if until:
            query = query.where(ENTRY.occurred_at < until)
        for word in fold(q).split() if q else ():
            # every word, anywhere in a word ("dvorak" finds "Dvořák", "smlou" "smlouva")
            query = query.where(ENTRY.search_text.like(f"%{_escape(word)}%", escape="\\"))
        return query

    def tasks(self, *, offset: int, count: int, assignee_ids=None, visible_to=None,
              status=None, client_id=None, deal_id=None, overdue_before=None,
              due_days: tuple[date, date] | None = None, day_bounds=None) -> list:
        """Tasks by due moment (none last), then creation. `overdue_before`: (today, now):
        due on an earlier day, or at a moment already past. `due_days` + `day_bounds`: due
        on one of those days, or at a moment within [start, end)."""
        query = select(ENTRY).where(ENTRY.type == "task", ENTRY.deleted_at.is_(None))
        if assignee_ids is not None:
            query = query.where(ENTRY.assignee_id.in_(assignee_ids))
        if visible_to is not None:  # a restricted caller: theirs, or written by them
            user_id = visible_to
            query = query.where(or_(ENTRY.assignee_id == user_id,
                                    ENTRY.author == f"user:{user_id}"))
        if status:
            query = query.where(ENTRY.status == status)
        if client_id:
            query = query.where(ENTRY.client_id == client_id)
        if deal_id:
            query = query.where(ENTRY.deal_id == deal_id)
        if overdue_before is not None:
            today, now = overdue_before
            query = query.where(or_(
                and_(ENTRY.due_date.is_not(None), ENTRY.due_date < today),
                and_(ENTRY.due_date.is_(None), ENTRY.due_at < now)))
        if due_days is not None:
            (first, last), (start, end) = due_days, day_bounds
            query = query.where(or_(
                and_(ENTRY.due_date.is_not(None), ENTRY.due_date >= first,
                     ENTRY.due_date <= last),
                and_(ENTRY.due_date.is_(None), ENTRY.due_at >= start, ENTRY.due_at < end)))
        query = query.order_by(ENTRY.due_at.is_(None), ENTRY.due_at, ENTRY.created_at,
                               ENTRY.id).offset(offset).limit(count)
        return self.session.scalars(query).all()

    def due_unannounced(self, now: datetime, limit: int) -> list[TimelineEntry]:
        """Open tasks whose moment has come and whose `task.due` was not sent. On
        PostgreSQL other replicas skip the rows one has taken (SKIP LOCKED)."""
        query = select(ENTRY).where(
            ENTRY.type == "task", ENTRY.status == "open", ENTRY.due_sent_at.is_(None),
            ENTRY.due_at <= now, ENTRY.deleted_at.is_(None)).order_by(ENTRY.due_at) \
            .limit(limit)
        if self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return self.session.scalars(query).all()

    def of_plan_runs(self, run_ids: list[str]) -> list[TimelineEntry]:
        if not run_ids:
            return []
        return self.session.scalars(select(ENTRY).where(
            ENTRY.plan_run_id.in_(run_ids), ENTRY.deleted_at.is_(None))
            .order_by(ENTRY.due_at, ENTRY.created_at)).all()


def _escape(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

