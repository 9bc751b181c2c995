"""records: every publication of a patent, conflicting rows kept, sources told apart, merged rows counted

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-01 09:00:00
"""
import re

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_KIND = re.compile(r"\d([A-Z]\d?)$")  # the kind code ending a canonical publication number
_GRANT = ("B", "C", "S", "Y", "E", "U")


def upgrade() -> None:
    op.create_table('patent_publication',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patent_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('kind', sa.String(length=4), nullable=True),
    sa.Column('date', sa.Date(), nullable=True),
    sa.Column('is_grant', sa.Boolean(), nullable=True),
    sa.Column('source', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['patent_id'], ['patent.id'], name=op.f('fk_patent_publication_patent_id_patent'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patent_publication')),
    sa.UniqueConstraint('patent_id', 'number', name='uq_patent_publication')
    )
    with op.batch_alter_table('patent_publication', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patent_publication_number'), ['number'], unique=False)

    op.create_table('patent_conflict',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patent_id', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=40), nullable=False),
    sa.Column('kept', sa.Text(), nullable=True),
    sa.Column('kept_source', sa.String(length=300), nullable=True),
    sa.Column('other', sa.Text(), nullable=True),
    sa.Column('other_source', sa.String(length=300), nullable=False),
    sa.Column('other_locator', sa.String(length=400), nullable=True),
    sa.Column('import_job_id', sa.Integer(), nullable=True),
    sa.Column('found_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['patent_id'], ['patent.id'], name=op.f('fk_patent_conflict_patent_id_patent'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patent_conflict')),
    sa.UniqueConstraint('patent_id', 'field', 'other_source', name='uq_patent_conflict')
    )
    with op.batch_alter_table('patent_conflict', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patent_conflict_import_job_id'), ['import_job_id'], unique=False)

    op.create_table('import_source',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('location_hash', sa.String(length=64), nullable=False),
    sa.Column('location', sa.Text(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_source')),
    sa.UniqueConstraint('key', name=op.f('uq_import_source_key')),
    sa.UniqueConstraint('location_hash', name=op.f('uq_import_source_location_hash'))
    )
    with op.batch_alter_table('import_job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('merged_count', sa.Integer(), nullable=True))
    _backfill_publications()


def _backfill_publications() -> None:
    """The publications a stored patent already names (its first publication and its grant)."""
    conn = op.get_bind()
    patent = sa.table('patent', sa.column('id'), sa.column('pub_number'), sa.column('pub_date', sa.Date()),
                      sa.column('grant_number'), sa.column('grant_date', sa.Date()), sa.column('source'))
    publication = sa.table('patent_publication', sa.column('patent_id'), sa.column('number'), sa.column('country'),
                           sa.column('kind'), sa.column('date', sa.Date()), sa.column('is_grant', sa.Boolean()),
                           sa.column('source'))
    last = 0
    while True:
        rows = conn.execute(sa.select(patent).where(patent.c.id > last).order_by(patent.c.id).limit(5000)).all()
        if not rows:
            break
        out = []
        for pid, pub, pub_date, grant, grant_date, source in rows:
            for number, date, granted in ((pub, pub_date, pub == grant), (grant, grant_date, True)):
                if not number or (granted and number == pub and out and out[-1]["number"] == number):
                    continue
                m = _KIND.search(number)
                kind = m.group(1) if m else None
                out.append({"patent_id": pid, "number": number[:40], "country": number[:2], "kind": kind,
                            "date": date, "is_grant": granted or (kind or "")[:1] in _GRANT, "source": source})
        if out:
            conn.execute(publication.insert(), out)
        last = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table('import_job', schema=None) as batch_op:
        batch_op.drop_column('merged_count')
    op.drop_table('import_source')
    with op.batch_alter_table('patent_conflict', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patent_conflict_import_job_id'))
    op.drop_table('patent_conflict')
    with op.batch_alter_table('patent_publication', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patent_publication_number'))
    op.drop_table('patent_publication')
