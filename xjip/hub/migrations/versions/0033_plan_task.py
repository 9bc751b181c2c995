"""indicators: the plan's main tasks and special projects as trackable items (issue 12 §6)

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-05 21:25:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0033'
down_revision = '0032'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'plan_task',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=20), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('parent_code', sa.String(length=20), nullable=True),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('text', sa.Text(), nullable=True),
        sa.Column('department', sa.String(length=200), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('milestones', sa.JSON(none_as_null=True), nullable=True),
        sa.Column('evidence', sa.JSON(none_as_null=True), nullable=True),
        sa.Column('updated_by', sa.String(length=100), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_task')),
        sa.UniqueConstraint('code', name=op.f('uq_plan_task_code')),
    )


def downgrade() -> None:
    op.drop_table('plan_task')
