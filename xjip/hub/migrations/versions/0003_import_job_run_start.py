"""import job: where the current run began (rate and time left on the job page)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 10:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('import_job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('run_started_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('run_bytes_start', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('run_read_start', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('import_job', schema=None) as batch_op:
        batch_op.drop_column('run_read_start')
        batch_op.drop_column('run_bytes_start')
        batch_op.drop_column('run_started_at')
