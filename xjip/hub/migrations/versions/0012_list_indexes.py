"""indexes of the lists' keyset order: (is_synthetic, date, id) and the same within a prefecture;
pledge_number (each number a pledge names, kept by triggers) for the record pages' dealings

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 21:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

DATES = {"patent": "app_date", "trademark": "app_date", "gi": "approval_date", "gi_mark_user": "approved_date",
         "copyright": "reg_date", "plant_variety": "app_date", "right_transaction": "date",
         "pledge": "reg_date", "enforcement_case": "accepted_date", "institution": "established_date"}


# Items of pledge.right_numbers (a JSON list of strings) as rows. SQLite: row triggers with
# json_each; PostgreSQL: statement triggers over the transition tables with json_array_elements_text.
_SQLITE = [
    "CREATE TRIGGER trg_pledge_number_ins AFTER INSERT ON pledge BEGIN "
    "INSERT INTO pledge_number (pledge_id, right_type, number) SELECT NEW.id, NEW.right_type, j.value "
    "FROM json_each(CASE WHEN json_valid(NEW.right_numbers) THEN NEW.right_numbers ELSE '[]' END) j "
    "WHERE j.type = 'text'; END",
    "CREATE TRIGGER trg_pledge_number_del AFTER DELETE ON pledge BEGIN "
    "DELETE FROM pledge_number WHERE pledge_id = OLD.id; END",
    "CREATE TRIGGER trg_pledge_number_upd AFTER UPDATE ON pledge "
    "WHEN OLD.right_numbers IS NOT NEW.right_numbers OR OLD.right_type IS NOT NEW.right_type OR OLD.id <> NEW.id BEGIN "
    "DELETE FROM pledge_number WHERE pledge_id = OLD.id; "
    "INSERT INTO pledge_number (pledge_id, right_type, number) SELECT NEW.id, NEW.right_type, j.value "
    "FROM json_each(CASE WHEN json_valid(NEW.right_numbers) THEN NEW.right_numbers ELSE '[]' END) j "
    "WHERE j.type = 'text'; END",
]
_PG_ITEMS = ("SELECT r.id, r.right_type, x FROM {rows} r, "
             "json_array_elements_text(CASE WHEN json_typeof(r.right_numbers) = 'array' THEN r.right_numbers "
             "ELSE '[]'::json END) AS x")
_PG = [
    "CREATE OR REPLACE FUNCTION xjip_pledge_number_ins() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "INSERT INTO pledge_number (pledge_id, right_type, number) " + _PG_ITEMS.format(rows="new_rows")
    + "; RETURN NULL; END $$",
    "CREATE TRIGGER trg_pledge_number_ins AFTER INSERT ON pledge REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION xjip_pledge_number_ins()",
    "CREATE OR REPLACE FUNCTION xjip_pledge_number_del() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "DELETE FROM pledge_number WHERE pledge_id IN (SELECT id FROM old_rows); RETURN NULL; END $$",
    "CREATE TRIGGER trg_pledge_number_del AFTER DELETE ON pledge REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION xjip_pledge_number_del()",
    "CREATE OR REPLACE FUNCTION xjip_pledge_number_upd() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "DELETE FROM pledge_number WHERE pledge_id IN (SELECT id FROM old_rows); "
    "INSERT INTO pledge_number (pledge_id, right_type, number) " + _PG_ITEMS.format(rows="new_rows")
    + "; RETURN NULL; END $$",
    "CREATE TRIGGER trg_pledge_number_upd AFTER UPDATE ON pledge REFERENCING OLD TABLE AS old_rows "
    "NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION xjip_pledge_number_upd()",
]


def upgrade() -> None:
    for table, date in DATES.items():
        op.create_index(f"ix_{table}_list", table, ["is_synthetic", date, "id"])
        op.create_index(f"ix_{table}_pref_list", table, ["prefecture_code", "is_synthetic", date, "id"])
    op.create_index('ix_right_transaction_lookup', 'right_transaction', ['right_type', 'right_number'])
    op.create_table(
        'pledge_number',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('pledge_id', sa.Integer(), nullable=False),
        sa.Column('right_type', sa.String(length=20), nullable=True),
        sa.Column('number', sa.String(length=60), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_pledge_number')),
    )
    op.create_index('ix_pledge_number_pledge_id', 'pledge_number', ['pledge_id'])
    op.create_index('ix_pledge_number_lookup', 'pledge_number', ['right_type', 'number'])
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql("INSERT INTO pledge_number (pledge_id, right_type, number) "
                             + _PG_ITEMS.format(rows="pledge"))
        statements = _PG
    else:
        bind.exec_driver_sql("INSERT INTO pledge_number (pledge_id, right_type, number) SELECT p.id, p.right_type, "
                             "j.value FROM pledge p, json_each(CASE WHEN json_valid(p.right_numbers) "
                             "THEN p.right_numbers ELSE '[]' END) j WHERE j.type = 'text'")
        statements = _SQLITE
    for sql in statements:
        bind.exec_driver_sql(sql)


def downgrade() -> None:
    bind = op.get_bind()
    for suffix in ("ins", "del", "upd"):
        bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS trg_pledge_number_{suffix}"
                             + (" ON pledge" if bind.dialect.name == "postgresql" else ""))
        if bind.dialect.name == "postgresql":
            bind.exec_driver_sql(f"DROP FUNCTION IF EXISTS xjip_pledge_number_{suffix}()")
    op.drop_table('pledge_number')
    op.drop_index('ix_right_transaction_lookup', table_name='right_transaction')
    for table in DATES:
        op.drop_index(f"ix_{table}_pref_list", table_name=table)
        op.drop_index(f"ix_{table}_list", table_name=table)
