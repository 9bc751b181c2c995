"""imports requested by web worker processes, run by the server's one import runner

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 21:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'import_request',
        sa.Column('job_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('requested_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('job_id', name=op.f('pk_import_request')),
    )


def downgrade() -> None:
    op.drop_table('import_request')
