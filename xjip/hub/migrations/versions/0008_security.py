"""security: server-side web sessions, login failures for the login limits, exact rejection
counts per reason (rejected records are kept as a sample per reason)

Revision ID: 0008
Revises: 0003
Create Date: 2026-11-26 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'web_session',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('ended_at', sa.DateTime(), nullable=True),
        sa.Column('ended_why', sa.String(length=20), nullable=True),
        sa.Column('client', sa.String(length=64), nullable=True),
        sa.Column('user_agent', sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_web_session_user_id_app_user'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_web_session')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_web_session_token_hash')),
    )
    op.create_index(op.f('ix_web_session_user_id'), 'web_session', ['user_id'], unique=False)
    op.create_index(op.f('ix_web_session_expires_at'), 'web_session', ['expires_at'], unique=False)
    op.create_table(
        'login_failure',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account', sa.String(length=100), nullable=False),
        sa.Column('client', sa.String(length=64), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_login_failure')),
    )
    op.create_index(op.f('ix_login_failure_at'), 'login_failure', ['at'], unique=False)
    op.create_index('ix_login_failure_account_at', 'login_failure', ['account', 'at'], unique=False)
    op.create_index('ix_login_failure_client_at', 'login_failure', ['client', 'at'], unique=False)
    with op.batch_alter_table('import_job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rejection_counts', sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('import_job', schema=None) as batch_op:
        batch_op.drop_column('rejection_counts')
    op.drop_index('ix_login_failure_client_at', table_name='login_failure')
    op.drop_index('ix_login_failure_account_at', table_name='login_failure')
    op.drop_index(op.f('ix_login_failure_at'), table_name='login_failure')
    op.drop_table('login_failure')
    op.drop_index(op.f('ix_web_session_expires_at'), table_name='web_session')
    op.drop_index(op.f('ix_web_session_user_id'), table_name='web_session')
    op.drop_table('web_session')
