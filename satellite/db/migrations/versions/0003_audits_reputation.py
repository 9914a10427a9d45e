"""audit results, containment (pending audits) and reputation scores

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 09:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("suspension_reason", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("contained_at", sa.DateTime(timezone=True), nullable=True))

    op.create_table(
        "reputations",
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("audit_alpha", sa.Double(), nullable=False),
        sa.Column("audit_beta", sa.Double(), nullable=False),
        sa.Column("unknown_alpha", sa.Double(), nullable=False),
        sa.Column("unknown_beta", sa.Double(), nullable=False),
        sa.Column("online_score", sa.Double(), nullable=False),
        sa.Column("failure_count", sa.Integer(), nullable=False),
        sa.Column("offline_count", sa.Integer(), nullable=False),
        sa.Column("unknown_count", sa.Integer(), nullable=False),
        sa.Column("timeout_count", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["node_id"], ["nodes.id"], name=op.f("fk_reputations_node_id_nodes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("node_id", name=op.f("pk_reputations")),
    )

    op.create_table(
        "audit_results",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("segment_id", sa.BigInteger(), nullable=True),
        sa.Column("piece_number", sa.Integer(), nullable=True),
        sa.Column("piece_id", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("audited_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_results")),
    )
    with op.batch_alter_table("audit_results", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_results_audited_at"), ["audited_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_results_node_id"), ["node_id", "audited_at"], unique=False
        )

    op.create_table(
        "pending_audits",
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("segment_id", sa.BigInteger(), nullable=False),
        sa.Column("piece_number", sa.Integer(), nullable=False),
        sa.Column("piece_id", sa.String(length=64), nullable=False),
        sa.Column("merkle_root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("piece_size", sa.BigInteger(), nullable=False),
        sa.Column("share_size", sa.Integer(), nullable=False),
        sa.Column("leaf_indexes", sa.JSON(), nullable=False),
        sa.Column("misses", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["node_id"], ["nodes.id"], name=op.f("fk_pending_audits_node_id_nodes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("node_id", name=op.f("pk_pending_audits")),
    )


def downgrade() -> None:
    op.drop_table("pending_audits")
    with op.batch_alter_table("audit_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_results_node_id"))
        batch_op.drop_index(batch_op.f("ix_audit_results_audited_at"))
    op.drop_table("audit_results")
    op.drop_table("reputations")
    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.drop_column("contained_at")
        batch_op.drop_column("suspension_reason")
