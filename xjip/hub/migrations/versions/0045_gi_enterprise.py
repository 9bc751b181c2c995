"""gi enterprise accounts: links from accounts to special-mark users; usage reports accepted or returned

Revision ID: 0045
Revises: 0050
Create Date: 2026-12-06 01:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0045'
down_revision = '0050'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'gi_enterprise_link',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('mark_user_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('created_by', sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_gi_enterprise_link_user_id_app_user'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['mark_user_id'], ['gi_mark_user.id'],
                                name=op.f('fk_gi_enterprise_link_mark_user_id_gi_mark_user'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_gi_enterprise_link')),
        sa.UniqueConstraint('user_id', 'mark_user_id', name='uq_gi_enterprise_link'),
    )
    with op.batch_alter_table('gi_enterprise_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gi_enterprise_link_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_gi_enterprise_link_mark_user_id'), ['mark_user_id'], unique=False)
    with op.batch_alter_table('gi_usage_report', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=20), server_default='submitted', nullable=False))
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('updated_by', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('reviewed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('reviewed_by', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('review_reason', sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f('ix_gi_usage_report_status'), ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('gi_usage_report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gi_usage_report_status'))
        for column in ('review_reason', 'reviewed_by', 'reviewed_at', 'updated_by', 'updated_at', 'status'):
            batch_op.drop_column(column)
    with op.batch_alter_table('gi_enterprise_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gi_enterprise_link_mark_user_id'))
        batch_op.drop_index(batch_op.f('ix_gi_enterprise_link_user_id'))
    op.drop_table('gi_enterprise_link')
