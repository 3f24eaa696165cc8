"""Pipelines, stages and deals: plain Python, no framework."""
from dataclasses import dataclass, field
from datetime import date, datetime

from crm_common.changes import assign

OPEN, WON, LOST = "open", "won", "lost"
STATUSES = (OPEN, WON, LOST)
CLOSED = "closed"  # a filter: won or lost
# the default pipeline of a new installation (the seeds' four basic stages)
DEFAULT_PIPELINE = "Obchodní případy"
DEFAULT_STAGES = (("Nový", 10), ("Kvalifikace", 25), ("Nabídka", 50), ("Vyjednávání", 75))
DEFAULT_LOST_REASONS = ("Cena", "Konkurence", "Načasování", "Bez rozpočtu", "Bez odezvy",
                        "Jiné")


@dataclass
class Pipeline:
    id: str
    name: str
    position: int = 0
    is_default: bool = False
    archived_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 1

    def edit(self, values: dict, now: datetime) -> dict:
        changes = assign(self, values)
        if changes:
            self.touch(now)
        return changes

    def touch(self, now: datetime) -> None:
        """Its stages changed: the pipeline (as one resource) did."""
        self.updated_at, self.version = now, self.version + 1


@dataclass
class Stage:
    id: str
    pipeline_id: str
    name: str
    position: int
    probability: int  # the default probability (%) of the deals in it
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 1

    def edit(self, values: dict, now: datetime) -> dict:
        changes = assign(self, values)
        if changes:
            self.updated_at, self.version = now, self.version + 1
        return changes


@dataclass
class Deal:
    id: str
    title: str
    client_id: str
    pipeline_id: str
    stage_id: str
    currency: str
    value_minor: int | None = None  # the value in minor units (see money.py)
    client_name: str | None = None  # kept from the clients' events, for search
    client_version: int | None = None  # of the client_name: later events only
    contact_id: str | None = None
    owner_id: str | None = None
    expected_close_date: date | None = None
    probability: int = 0
    probability_manual: bool = False  # set by hand: stage moves leave it
    source: str | None = None
    description: str | None = None
    tags: list = field(default_factory=list)
    custom_fields: dict = field(default_factory=dict)
    status: str = OPEN
    closed_at: datetime | None = None
    lost_reason: str | None = None
    lost_note: str | None = None
    client_archived: bool = False
    stage_entered_at: datetime | None = None
    created_by: str | None = None
    updated_by: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 1

    def edit(self, values: dict, stages: dict[str, "Stage"], actor, now) -> dict:
        """A user's change ({field: value}, validated); a new stage is a move (`move`).
        Returns {field: {before, after}}."""
        values = dict(values)
        stage_id = values.pop("stage_id", None)
        if "probability" in values:
            manual = values["probability"] is not None
            if not manual:  # null: the stage's default again
                values["probability"] = stages[self.stage_id].probability
            values["probability_manual"] = manual
        changes = assign(self, values)
        if stage_id is not None and stage_id != self.stage_id:
            changes.update(self.move(stages[stage_id], stages[self.stage_id], now))
        changes.pop("probability_manual", None)
        if changes:
            self._touch(actor, now)
        return changes

    def move(self, to: Stage, current: Stage, now: datetime) -> dict:
        """Into another stage (of its pipeline, or another pipeline's): the stage's default
        probability unless one was set by hand."""
        changes = {"stage_id": {"before": current.id, "after": to.id}}
        if to.pipeline_id != self.pipeline_id:
            changes["pipeline_id"] = {"before": self.pipeline_id, "after": to.pipeline_id}
            self.pipeline_id = to.pipeline_id
        self.stage_id, self.stage_entered_at = to.id, now
        if not self.probability_manual and self.status == OPEN and \
                self.probability != to.probability:
            changes["probability"] = {"before": self.probability, "after": to.probability}
            self.probability = to.probability
        return changes

    def close(self, status: str, actor, now, reason: str | None = None,
              note: str | None = None) -> dict:
        """Won or lost: closed now; a won deal is certain (100 %), a lost one gone (0 %)."""
        if self.status != OPEN:
            raise ValueError(f"the deal is {self.status} already")
        before = (self.status, self.probability)
        self.status, self.closed_at = status, now
        self.probability = 100 if status == WON else 0
        self.lost_reason, self.lost_note = (reason, note) if status == LOST else (None, None)
        self._touch(actor, now)
        changes = {"status": {"before": before[0], "after": status}}
        if before[1] != self.probability:
            changes["probability"] = {"before": before[1], "after": self.probability}
        return changes

    def reopen(self, stage: Stage, actor, now) -> dict:
        if self.status == OPEN:
            raise ValueError("the deal is open")
        before = (self.status, self.probability)
        self.status, self.closed_at, self.lost_reason, self.lost_note = OPEN, None, None, None
        if not self.probability_manual:
            self.probability = stage.probability
        self._touch(actor, now)
        return {"status": {"before": before[0], "after": OPEN},
                "probability": {"before": before[1], "after": self.probability}}

    def _touch(self, actor, now):
        self.updated_by, self.updated_at, self.version = actor, now, self.version + 1


def time_in_stages(entries: list[tuple[str, datetime]], until: datetime) -> dict[str, float]:
    """Seconds spent in each stage: `entries` are (stage id, entered at), oldest first; the
    last stage counts until `until` (now, or when the deal closed)."""
    spent: dict[str, float] = {}
    for (stage_id, entered), following in zip(entries, [*entries[1:], (None, until)]):
        seconds = max(0.0, (following[1] - entered).total_seconds())
        spent[stage_id] = spent.get(stage_id, 0.0) + seconds
    return spent
