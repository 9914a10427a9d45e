"""accounting: tallies, paystubs, statements, the reserve fund and data-loss incidents

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accounting_incidents",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("segment_id", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("bucket", sa.String(length=63), nullable=False),
        sa.Column(
            "key",
            sa.String(length=1024).with_variant(sa.String(length=1024, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("healthy", sa.Integer(), nullable=False),
        sa.Column("k", sa.Integer(), nullable=False),
        sa.Column("credit", sa.String(length=80), nullable=False),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounting_incidents")),
        sa.UniqueConstraint("segment_id", name=op.f("uq_accounting_incidents_segment_id")),
    )
    with op.batch_alter_table("accounting_incidents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_accounting_incidents_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "accounting_node_accounts",
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("held_balance", sa.String(length=80), nullable=False),
        sa.Column("carried", sa.String(length=80), nullable=False),
        sa.Column("half_returned", sa.Boolean(), nullable=False),
        sa.Column("closed_out", sa.Boolean(), nullable=False),
        sa.Column("updated_period", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("node_id", name=op.f("pk_accounting_node_accounts")),
    )
    op.create_table(
        "accounting_paystubs",
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("wallet", sa.String(length=128), nullable=False),
        sa.Column("byte_hours", sa.BigInteger(), nullable=False),
        sa.Column("egress", sa.BigInteger(), nullable=False),
        sa.Column("repair_egress", sa.BigInteger(), nullable=False),
        sa.Column("audit_egress", sa.BigInteger(), nullable=False),
        sa.Column("age_month", sa.Integer(), nullable=False),
        sa.Column("held_percent", sa.Integer(), nullable=False),
        sa.Column("storage_amount", sa.String(length=80), nullable=False),
        sa.Column("egress_amount", sa.String(length=80), nullable=False),
        sa.Column("repair_amount", sa.String(length=80), nullable=False),
        sa.Column("audit_amount", sa.String(length=80), nullable=False),
        sa.Column("gross", sa.String(length=80), nullable=False),
        sa.Column("held", sa.String(length=80), nullable=False),
        sa.Column("returned", sa.String(length=80), nullable=False),
        sa.Column("forfeited", sa.String(length=80), nullable=False),
        sa.Column("carried_in", sa.String(length=80), nullable=False),
        sa.Column("to_pay", sa.String(length=80), nullable=False),
        sa.Column("carried_out", sa.String(length=80), nullable=False),
        sa.Column("held_balance", sa.String(length=80), nullable=False),
        sa.Column("note", sa.String(length=255), nullable=False),
        sa.Column("settlement_state", sa.String(length=16), nullable=True),
        sa.Column("tx_hash", sa.String(length=80), nullable=True),
        sa.PrimaryKeyConstraint("period", "node_id", name=op.f("pk_accounting_paystubs")),
    )
    with op.batch_alter_table("accounting_paystubs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_accounting_paystubs_node_id"), ["node_id"], unique=False)

    op.create_table(
        "accounting_periods",
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("start", sa.BigInteger(), nullable=False),
        sa.Column("end", sa.BigInteger(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settlement", sa.String(length=32), nullable=False),
        sa.Column("nodes", sa.Integer(), nullable=False),
        sa.Column("payees", sa.Integer(), nullable=False),
        sa.Column("byte_hours", sa.BigInteger(), nullable=False),
        sa.Column("gross", sa.String(length=80), nullable=False),
        sa.Column("held", sa.String(length=80), nullable=False),
        sa.Column("returned", sa.String(length=80), nullable=False),
        sa.Column("forfeited", sa.String(length=80), nullable=False),
        sa.Column("to_pay", sa.String(length=80), nullable=False),
        sa.Column("carried", sa.String(length=80), nullable=False),
        sa.Column("revenue", sa.String(length=80), nullable=False),
        sa.Column("credits", sa.String(length=80), nullable=False),
        sa.Column("reserve_in", sa.String(length=80), nullable=False),
        sa.Column("reserve_out", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("period", name=op.f("pk_accounting_periods")),
    )
    op.create_table(
        "accounting_reserve",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("amount", sa.String(length=80), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=True),
        sa.Column("tenant_id", sa.String(length=32), nullable=True),
        sa.Column("incident_id", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounting_reserve")),
    )
    with op.batch_alter_table("accounting_reserve", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_accounting_reserve_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_accounting_reserve_period"), ["period"], unique=False)
        batch_op.create_index(batch_op.f("ix_accounting_reserve_tenant_id"), ["tenant_id", "period"], unique=False)

    op.create_table(
        "accounting_statements",
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("byte_hours", sa.BigInteger(), nullable=False),
        sa.Column("egress", sa.BigInteger(), nullable=False),
        sa.Column("class_a", sa.BigInteger(), nullable=False),
        sa.Column("class_b", sa.BigInteger(), nullable=False),
        sa.Column("storage_charge", sa.String(length=80), nullable=False),
        sa.Column("egress_charge", sa.String(length=80), nullable=False),
        sa.Column("request_charge", sa.String(length=80), nullable=False),
        sa.Column("revenue", sa.String(length=80), nullable=False),
        sa.Column("credits", sa.String(length=80), nullable=False),
        sa.Column("total", sa.String(length=80), nullable=False),
        sa.Column("reserve_share", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("period", "tenant_id", name=op.f("pk_accounting_statements")),
    )
    with op.batch_alter_table("accounting_statements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_accounting_statements_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "accounting_tallies",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("interval_start", sa.BigInteger(), nullable=False),
        sa.Column("interval_end", sa.BigInteger(), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("last_segment_id", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounting_tallies")),
    )
    with op.batch_alter_table("accounting_tallies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_accounting_tallies_status"), ["status", "interval_end"], unique=False)

    op.create_table(
        "accounting_tenant_meters",
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("egress", sa.BigInteger(), nullable=False),
        sa.Column("class_a", sa.BigInteger(), nullable=False),
        sa.Column("class_b", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("period", "tenant_id", name=op.f("pk_accounting_tenant_meters")),
    )
    op.create_table(
        "accounting_node_tallies",
        sa.Column("tally_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tally_id"],
            ["accounting_tallies.id"],
            name=op.f("fk_accounting_node_tallies_tally_id_accounting_tallies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tally_id", "node_id", name=op.f("pk_accounting_node_tallies")),
    )
    op.create_table(
        "accounting_tenant_tallies",
        sa.Column("tally_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tally_id"],
            ["accounting_tallies.id"],
            name=op.f("fk_accounting_tenant_tallies_tally_id_accounting_tallies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tally_id", "tenant_id", name=op.f("pk_accounting_tenant_tallies")),
    )
    with op.batch_alter_table("order_serials", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_serials_settled_at"), ["settled_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("order_serials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_serials_settled_at"))

    op.drop_table("accounting_tenant_tallies")
    op.drop_table("accounting_node_tallies")
    op.drop_table("accounting_tenant_meters")
    with op.batch_alter_table("accounting_tallies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounting_tallies_status"))

    op.drop_table("accounting_tallies")
    with op.batch_alter_table("accounting_statements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounting_statements_tenant_id"))

    op.drop_table("accounting_statements")
    with op.batch_alter_table("accounting_reserve", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounting_reserve_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_accounting_reserve_period"))
        batch_op.drop_index(batch_op.f("ix_accounting_reserve_at"))

    op.drop_table("accounting_reserve")
    op.drop_table("accounting_periods")
    with op.batch_alter_table("accounting_paystubs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounting_paystubs_node_id"))

    op.drop_table("accounting_paystubs")
    op.drop_table("accounting_node_accounts")
    with op.batch_alter_table("accounting_incidents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounting_incidents_tenant_id"))

    op.drop_table("accounting_incidents")
