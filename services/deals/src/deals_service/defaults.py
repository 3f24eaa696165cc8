"""What a new installation starts with: the default pipeline with the four basic stages,
and the usual reasons for losing a deal (migration 0003 writes them; so do the tests)."""
import uuid

from sqlalchemy import func, insert, select

from crm_common.events import utcnow

from .domain import DEFAULT_LOST_REASONS, DEFAULT_PIPELINE, DEFAULT_STAGES
from .orm import lost_reasons, pipelines, stages


def seed(connection) -> None:
    """Once: a database that has a pipeline (or lost reasons) already keeps what it has."""
    now = utcnow()
    if not connection.scalar(select(func.count()).select_from(pipelines)):
        pipeline_id = str(uuid.uuid4())
        connection.execute(insert(pipelines).values(
            id=pipeline_id, name=DEFAULT_PIPELINE, position=0, is_default=True,
            created_at=now, updated_at=now, version=1))
        connection.execute(insert(stages), [
            {"id": str(uuid.uuid4()), "pipeline_id": pipeline_id, "name": name,
             "position": position, "probability": probability, "created_at": now,
             "updated_at": now, "version": 1}
            for position, (name, probability) in enumerate(DEFAULT_STAGES)])
    if not connection.scalar(select(func.count()).select_from(lost_reasons)):
        connection.execute(insert(lost_reasons), [
            {"id": str(uuid.uuid4()), "label": label, "position": position, "active": True}
            for position, label in enumerate(DEFAULT_LOST_REASONS)])
