"""saved searches (xjip.search.saved) and their notices of newly imported matches

Revision ID: 0020
Revises: 0008
Create Date: 2026-12-05 21:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0020'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'saved_search',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('username', sa.String(length=100), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('query', sa.Text(), nullable=False),
        sa.Column('filters', sa.JSON(none_as_null=True), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('seen_at', sa.DateTime(), nullable=True),
        sa.Column('new_count', sa.Integer(), nullable=False),
        sa.Column('new_sample', sa.JSON(none_as_null=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_search')),
    )
    op.create_index(op.f('ix_saved_search_username'), 'saved_search', ['username'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_saved_search_username'), table_name='saved_search')
    op.drop_table('saved_search')
