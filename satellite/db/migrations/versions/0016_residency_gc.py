"""residency ledger: pieces removed from metadata that await their node's garbage collection

Revision ID: 0016_residency_gc
Revises: 0012_residency
Create Date: 2026-12-01 17:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_residency_gc"
down_revision: str | None = "0012_residency"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "residency_gc_pending",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("piece_id", sa.String(length=64), nullable=False),
        sa.Column("bucket", sa.String(length=64), nullable=False),
        sa.Column("object_key", sa.String(length=1024), nullable=False),
        sa.Column("segment_id", sa.BigInteger(), nullable=False),
        sa.Column("piece_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_residency_gc_pending")),
    )
    with op.batch_alter_table("residency_gc_pending", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_residency_gc_pending_node_piece"), ["node_id", "piece_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("residency_gc_pending", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_residency_gc_pending_node_piece"))
    op.drop_table("residency_gc_pending")
