"""semantic search: embedding queue (fed by the after-commit hook) and the worker's progress

Revision ID: 0025
Revises: 0040
Create Date: 2026-12-05 21:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0025'
down_revision = '0040'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'embed_queue',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('model', sa.String(length=20), nullable=False),
        sa.Column('record_type', sa.String(length=20), nullable=False),
        sa.Column('record_id', sa.Integer(), nullable=False),
        sa.Column('queued_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_embed_queue')),
        sa.UniqueConstraint('model', 'record_type', 'record_id', name='uq_embed_queue'),
    )
    op.create_index('ix_embed_queue_model_id', 'embed_queue', ['model', 'id'], unique=False)
    op.create_table(
        'embed_run',
        sa.Column('model', sa.String(length=20), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=True),
        sa.Column('host', sa.String(length=200), nullable=True),
        sa.Column('started_at', sa.DateTime(), nullable=True),
        sa.Column('heartbeat_at', sa.DateTime(), nullable=True),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.Column('done', sa.Integer(), nullable=False),
        sa.Column('total', sa.Integer(), nullable=False),
        sa.Column('texts_per_second', sa.Float(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('model', name=op.f('pk_embed_run')),
    )


def downgrade() -> None:
    op.drop_table('embed_run')
    op.drop_index('ix_embed_queue_model_id', table_name='embed_queue')
    op.drop_table('embed_queue')
