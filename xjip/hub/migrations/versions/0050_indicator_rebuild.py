"""indicators: the rebuild of the indicator facts as a job with progress (issue 12)

Revision ID: 0050
Revises: 0025
Create Date: 2026-12-06 01:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0050'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'indicator_rebuild',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('phase', sa.String(length=20), nullable=True),
        sa.Column('done', sa.BigInteger(), nullable=False),
        sa.Column('total', sa.BigInteger(), nullable=False),
        sa.Column('checkpoint', sa.JSON(none_as_null=True), nullable=True),
        sa.Column('requested_by', sa.String(length=100), nullable=True),
        sa.Column('pid', sa.Integer(), nullable=True),
        sa.Column('host', sa.String(length=100), nullable=True),
        sa.Column('started_at', sa.DateTime(), nullable=True),
        sa.Column('heartbeat_at', sa.DateTime(), nullable=True),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.Column('stop_requested', sa.Boolean(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_indicator_rebuild')),
    )


def downgrade() -> None:
    op.drop_table('indicator_rebuild')
