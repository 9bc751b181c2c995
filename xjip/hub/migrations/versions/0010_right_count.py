"""kept counts of the rights (right_count) maintained by triggers; patents abroad marked apart
from the unplaced ones

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-05 21:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0008'
branch_labels = None
depends_on = None


# Patents placed nowhere in China whose first applicant is foreign, or, the applicant's country
# unknown, that a foreign national office published (xjip.hub.places.abroad, as the writer now
# decides at import).
_ABROAD_PATENTS = """
UPDATE patent SET place_method = 'abroad'
WHERE prefecture_code IS NULL AND region_code IS NULL AND province_code IS NULL
  AND (place_method IS NULL OR place_method = 'none')
  AND (EXISTS (SELECT 1 FROM patent_party pp WHERE pp.patent_id = patent.id AND pp.role = 'applicant'
               AND pp.seq = 0 AND pp.country IS NOT NULL AND pp.country <> ''
               AND upper(pp.country) NOT IN ('CN', 'CHN'))
       OR (upper(country) NOT IN ('CN', 'CHN', 'WO', 'EP') AND length(country) = 2
           AND NOT EXISTS (SELECT 1 FROM patent_party pp WHERE pp.patent_id = patent.id AND pp.role = 'applicant'
                           AND pp.seq = 0 AND pp.country IS NOT NULL AND pp.country <> '')))
"""


def upgrade() -> None:
    from xjip.hub import counts

    op.create_table(
        'right_count',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('record_type', sa.String(length=20), nullable=False),
        sa.Column('is_synthetic', sa.Boolean(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=60), nullable=False),
        sa.Column('bucket', sa.String(length=12), nullable=False),
        sa.Column('no_title', sa.Integer(), nullable=False),
        sa.Column('no_party', sa.Integer(), nullable=False),
        sa.Column('n', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_right_count')),
        sa.UniqueConstraint('record_type', 'is_synthetic', 'year', 'status', 'bucket', 'no_title', 'no_party',
                            name='uq_right_count'),
    )
    bind = op.get_bind()
    bind.exec_driver_sql(_ABROAD_PATENTS)
    counts.install(bind)
    counts.rebuild(bind)


def downgrade() -> None:
    from xjip.hub import counts

    counts.uninstall(op.get_bind())
    op.drop_table('right_count')
