"""repair queue: segments at risk or out of policy, waiting for a repairer

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "repair_queue",
        sa.Column("segment_id", sa.BigInteger(), nullable=False),
        sa.Column("healthy", sa.Integer(), nullable=False),
        sa.Column("margin", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=False),
        sa.Column("inserted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("segment_id", name=op.f("pk_repair_queue")),
    )
    with op.batch_alter_table("repair_queue", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_repair_queue_margin"), ["margin", "healthy", "inserted_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("repair_queue", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_repair_queue_margin"))
    op.drop_table("repair_queue")
