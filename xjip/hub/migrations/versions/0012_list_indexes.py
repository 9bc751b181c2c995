"""indexes of the lists' keyset order: (is_synthetic, date, id) and the same within a prefecture

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 21:20:00
"""
from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

DATES = {"patent": "app_date", "trademark": "app_date", "gi": "approval_date", "gi_mark_user": "approved_date",
         "copyright": "reg_date", "plant_variety": "app_date", "right_transaction": "date",
         "pledge": "reg_date", "enforcement_case": "accepted_date", "institution": "established_date"}


def upgrade() -> None:
    for table, date in DATES.items():
        op.create_index(f"ix_{table}_list", table, ["is_synthetic", date, "id"])
        op.create_index(f"ix_{table}_pref_list", table, ["prefecture_code", "is_synthetic", date, "id"])


def downgrade() -> None:
    for table in DATES:
        op.drop_index(f"ix_{table}_pref_list", table_name=table)
        op.drop_index(f"ix_{table}_list", table_name=table)
