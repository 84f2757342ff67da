"""fiv_figures: one row per broker, year, product and access type instead of per contract

The budget (B1) reads a broker's sum per year and access type, and nothing reads a single
contract. The table keeps the sum of the premiums and how many contracts it covers, keyed
by (year, broker_number, product, access_type): no serial key and no second index to write
for every contract of a million-row import. Existing contracts are summed into their
figures, so every budget comes out as before.

The downgrade writes each figure back as one row: the budget stays the same, the single
contracts are not restored (a figure whose sum no longer fits the old 32-bit column stops
the downgrade on PostgreSQL instead of changing a budget).

Revision ID: fivspeed_1
Revises: messages_lease_1
Create Date: 2026-12-02 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "fivspeed_1"
down_revision: str | None = "messages_lease_1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_GROUP = "year, broker_number, product, access_type"


def upgrade() -> None:
    # Summed aside first: the new table takes the old one's name and key name.
    op.execute(
        f"CREATE TEMPORARY TABLE fiv_sums AS SELECT {_GROUP}, "
        "SUM(premium_cents) AS premium_cents, COUNT(*) AS contracts "
        f"FROM fiv_figures GROUP BY {_GROUP}"
    )
    with op.batch_alter_table("fiv_figures", schema=None) as batch_op:
        batch_op.drop_index("ix_fiv_figures_year_broker")
    op.drop_table("fiv_figures")
    op.create_table(
        "fiv_figures",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("broker_number", sa.String(length=32), nullable=False),
        sa.Column("product", sa.String(length=40), nullable=False),
        sa.Column("access_type", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("premium_cents", sa.BigInteger(), nullable=False),
        sa.Column("contracts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "year", "broker_number", "product", "access_type", name=op.f("pk_fiv_figures")
        ),
    )
    op.execute(
        f"INSERT INTO fiv_figures ({_GROUP}, premium_cents, contracts) "
        f"SELECT {_GROUP}, premium_cents, contracts FROM fiv_sums"
    )
    op.execute("DROP TABLE fiv_sums")


def downgrade() -> None:
    op.execute(
        f"CREATE TEMPORARY TABLE fiv_sums AS SELECT {_GROUP}, premium_cents FROM fiv_figures"
    )
    op.drop_table("fiv_figures")
    op.create_table(
        "fiv_figures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("broker_number", sa.String(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(length=40), nullable=False),
        sa.Column("access_type", sa.Integer(), nullable=False),
        sa.Column("premium_cents", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fiv_figures")),
    )
    with op.batch_alter_table("fiv_figures", schema=None) as batch_op:
        batch_op.create_index("ix_fiv_figures_year_broker", ["year", "broker_number"], unique=False)
    op.execute(
        f"INSERT INTO fiv_figures ({_GROUP}, premium_cents) "
        f"SELECT {_GROUP}, premium_cents FROM fiv_sums ORDER BY {_GROUP}"
    )
    op.execute("DROP TABLE fiv_sums")
