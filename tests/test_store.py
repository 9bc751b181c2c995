from sqlalchemy import select

from xjip.hub.models import Base, Patent


def test_migrations_match_models(store):
    """The Alembic head creates exactly the tables and columns the models declare."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    assert store.current_revision() is not None


def test_roundtrip_patent(store):
    with store.session() as s:
        s.add(Patent(key="CN202223220665.2", country="CN", title="一种无人机机载多功能盒", ipc=["B64U20/80"]))
    with store.session() as s:
        p = s.scalars(select(Patent)).one()
        assert p.title == "一种无人机机载多功能盒" and p.ipc == ["B64U20/80"] and p.is_synthetic is False


def test_a_savepoint_opening_a_transaction_does_not_commit_on_its_own(store):
    """A batch whose first write sits in a savepoint (an insert that may meet a concurrent
    one) is still all or nothing: on SQLite the savepoint's RELEASE must not commit."""
    import pytest
    from sqlalchemy import func, insert

    from xjip.hub.models import Entity

    store.upgrade()
    with pytest.raises(RuntimeError):
        with store.session() as s:
            with s.begin_nested():
                s.execute(insert(Entity).values(name="x", name_key="x", kind="company"))
            raise RuntimeError("killed before the batch commits")
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Entity)) == 0
