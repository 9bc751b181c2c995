"""indicators: hand-entered reported values, population, settings and awards, never overwritten
(issue 12)

Revision ID: 0030
Revises: 0008
Create Date: 2026-12-05 21:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0030'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'indicator_entry',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('key', sa.String(length=100), nullable=False),
        sa.Column('year', sa.Integer(), nullable=True),
        sa.Column('region_code', sa.String(length=12), nullable=True),
        sa.Column('value', sa.Float(), nullable=True),
        sa.Column('value_json', sa.JSON(none_as_null=True), nullable=True),
        sa.Column('unit', sa.String(length=20), nullable=True),
        sa.Column('source_document', sa.Text(), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('entered_by', sa.String(length=100), nullable=False),
        sa.Column('entered_at', sa.DateTime(), nullable=False),
        sa.Column('supersedes_id', sa.Integer(), nullable=True),
        sa.Column('withdrawn', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['supersedes_id'], ['indicator_entry.id'],
                                name=op.f('fk_indicator_entry_supersedes_id_indicator_entry')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_indicator_entry')),
        sa.UniqueConstraint('supersedes_id', name=op.f('uq_indicator_entry_supersedes_id')),
    )
    op.create_index('ix_indicator_entry_kind_key', 'indicator_entry', ['kind', 'key'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_indicator_entry_kind_key', table_name='indicator_entry')
    op.drop_table('indicator_entry')
