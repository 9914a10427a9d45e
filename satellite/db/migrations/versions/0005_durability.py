"""durability: repair shortfalls, self-reported piece losses and the nodes' loss standing

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "repair_shortfalls",
        sa.Column("segment_id", sa.BigInteger(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.Column("healthy", sa.Integer(), nullable=False),
        sa.Column("target", sa.Integer(), nullable=False),
        sa.Column("missing", sa.Integer(), nullable=False),
        sa.Column("eligible", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("segment_id", name=op.f("pk_repair_shortfalls")),
    )
    with op.batch_alter_table("repair_shortfalls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_repair_shortfalls_policy_id"), ["policy_id"], unique=False)
    op.create_table(
        "piece_losses",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("piece_id", sa.String(length=64), nullable=False),
        sa.Column("segment_id", sa.BigInteger(), nullable=True),
        sa.Column("piece_number", sa.Integer(), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_piece_losses")),
    )
    with op.batch_alter_table("piece_losses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_piece_losses_node_id"), ["node_id", "reported_at"], unique=False)
    op.create_table(
        "node_loss_standing",
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("losses", sa.Integer(), nullable=False),
        sa.Column("lost_bytes", sa.BigInteger(), nullable=False),
        sa.Column("last_loss_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("warned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("suspension_reason", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["node_id"], ["nodes.id"], name=op.f("fk_node_loss_standing_node_id_nodes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("node_id", name=op.f("pk_node_loss_standing")),
    )
    with op.batch_alter_table("pieces", schema=None) as batch_op:
        batch_op.create_index("ix_pieces_node_piece", ["node_id", "piece_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pieces", schema=None) as batch_op:
        batch_op.drop_index("ix_pieces_node_piece")
    op.drop_table("node_loss_standing")
    with op.batch_alter_table("piece_losses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_piece_losses_node_id"))
    op.drop_table("piece_losses")
    with op.batch_alter_table("repair_shortfalls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_repair_shortfalls_policy_id"))
    op.drop_table("repair_shortfalls")
