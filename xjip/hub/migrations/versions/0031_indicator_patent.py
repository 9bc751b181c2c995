"""indicators: per-invention-patent facts for the high-value criteria, kept by the after-commit
hook (issue 12)

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-05 21:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'indicator_patent',
        sa.Column('patent_id', sa.Integer(), nullable=False),
        sa.Column('bucket', sa.String(length=12), nullable=True),
        sa.Column('granted_on', sa.Date(), nullable=True),
        sa.Column('filed_on', sa.Date(), nullable=True),
        sa.Column('ends_on', sa.Date(), nullable=True),
        sa.Column('ended_undated', sa.Boolean(), nullable=False),
        sa.Column('sei_code', sa.String(length=10), nullable=True),
        sa.Column('sei_ipc', sa.String(length=20), nullable=True),
        sa.Column('foreign_grant', sa.String(length=40), nullable=True),
        sa.Column('pledge_wan', sa.Float(), nullable=True),
        sa.Column('pledge_key', sa.String(length=60), nullable=True),
        sa.Column('pledge_on', sa.Date(), nullable=True),
        sa.Column('is_synthetic', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['patent_id'], ['patent.id'], name=op.f('fk_indicator_patent_patent_id_patent'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('patent_id', name=op.f('pk_indicator_patent')),
    )
    op.create_index('ix_indicator_patent_bucket', 'indicator_patent', ['bucket', 'granted_on'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_indicator_patent_bucket', table_name='indicator_patent')
    op.drop_table('indicator_patent')
