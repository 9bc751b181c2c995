"""indicators: per-trademark in-force years and the year-end stock deltas kept by the
after-commit hook (issue 12: indicators over 1,000,000 records in ≤ 2 s)

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-05 21:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0032'
down_revision = '0031'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'indicator_trademark',
        sa.Column('trademark_id', sa.Integer(), nullable=False),
        sa.Column('bucket', sa.String(length=12), nullable=True),
        sa.Column('first_year', sa.Integer(), nullable=True),
        sa.Column('end_year', sa.Integer(), nullable=True),
        sa.Column('is_synthetic', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['trademark_id'], ['trademark.id'],
                                name=op.f('fk_indicator_trademark_trademark_id_trademark'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('trademark_id', name=op.f('pk_indicator_trademark')),
    )
    op.create_table(
        'indicator_delta',
        sa.Column('series', sa.String(length=60), nullable=False),
        sa.Column('bucket', sa.String(length=12), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.Column('synthetic', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('series', 'bucket', 'year', name=op.f('pk_indicator_delta')),
    )


def downgrade() -> None:
    op.drop_table('indicator_delta')
    op.drop_table('indicator_trademark')
