"""column mapping: a mapping staff chose for an unknown header, used again for the same header

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 12:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('column_mapping',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('importer', sa.String(length=40), nullable=False),
    sa.Column('header_key', sa.String(length=64), nullable=False),
    sa.Column('header', sa.JSON(none_as_null=True), nullable=True),
    sa.Column('mapping', sa.JSON(none_as_null=True), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_by', sa.String(length=100), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_column_mapping')),
    sa.UniqueConstraint('importer', 'header_key', name='uq_column_mapping_header')
    )


def downgrade() -> None:
    op.drop_table('column_mapping')
