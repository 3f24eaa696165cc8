"""What a unit of work tells its caller when the database goes away: nothing was done (before
COMMIT), or the outcome is unknown (during COMMIT, or after part of the call committed)."""
import pytest
from sqlalchemy.exc import OperationalError

from crm_common.db import make_engine, make_session_factory
from crm_common.errors import OutcomeUnknown, ServiceUnavailable
from crm_common.messaging import metadata
from crm_common.testing import free_port
from crm_common.uow import UnitOfWork


def test_an_unreachable_database_means_nothing_was_done():
    engine = make_engine(f"postgresql+psycopg2://postgres@127.0.0.1:{free_port()}/none",
                         connect_args={"connect_timeout": 2})
    with pytest.raises(ServiceUnavailable, match="nothing was done"):
        with UnitOfWork(make_session_factory(engine), "svc") as uow:
            uow.ping()


def test_after_an_earlier_commit_of_the_same_call_it_is_half_done():
    engine = make_engine(f"postgresql+psycopg2://postgres@127.0.0.1:{free_port()}/none",
                         connect_args={"connect_timeout": 2})
    with pytest.raises(OutcomeUnknown):
        with UnitOfWork(make_session_factory(engine), "svc",
                        committed_before=lambda: True) as uow:
            uow.ping()


def test_a_connection_lost_during_commit_means_the_outcome_is_unknown(tmp_path, monkeypatch):
    engine = make_engine(f"sqlite:///{tmp_path / 'uow.db'}")
    metadata.create_all(engine)
    commits = []
    with pytest.raises(OutcomeUnknown, match="may or may not"):
        with UnitOfWork(make_session_factory(engine), "svc",
                        on_commit=lambda: commits.append(1)) as uow:
            uow.emit("thing.happened", "s", {})

            def lost(*_):
                raise OperationalError("COMMIT", {}, Exception("server closed the connection"))
            monkeypatch.setattr(uow.session, "commit", lost)
            uow.commit()
    assert commits == []


def test_other_errors_pass_through_unchanged(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'uow.db'}")
    with pytest.raises(KeyError):
        with UnitOfWork(make_session_factory(engine), "svc"):
            raise KeyError("x")
