"""Until the first release, the schema lives in one initial migration: regenerate it from the models.
(After a release, add new revisions with `alembic revision --autogenerate` instead.)"""
import tempfile
from pathlib import Path

from alembic import command

from xjip.hub.store import MIGRATIONS_DIR, Store
from xjip.settings import Settings

target = MIGRATIONS_DIR / "versions" / "0001_initial_schema.py"
target.unlink(missing_ok=True)
with tempfile.TemporaryDirectory() as tmp:
    store = Store(Settings.from_env(data_dir=tmp, database_url=f"sqlite:///{Path(tmp) / 'x.db'}"))
    command.revision(store.alembic_config(), message="initial schema", autogenerate=True, rev_id="0001")
print(target)
