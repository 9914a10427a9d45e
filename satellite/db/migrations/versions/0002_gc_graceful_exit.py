"""garbage collection retain lists and graceful exits

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gc_retain_lists",
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("piece_count", sa.BigInteger(), nullable=False),
        sa.Column("filter_bytes", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["node_id"], ["nodes.id"], name=op.f("fk_gc_retain_lists_node_id_nodes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("node_id", name=op.f("pk_gc_retain_lists")),
    )
    with op.batch_alter_table("gc_retain_lists", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gc_retain_lists_attempted_at"), ["attempted_at"], unique=False)

    op.create_table(
        "graceful_exits",
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("initiated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column("pieces_at_start", sa.BigInteger(), nullable=False),
        sa.Column("pieces_transferred", sa.BigInteger(), nullable=False),
        sa.Column("bytes_transferred", sa.BigInteger(), nullable=False),
        sa.Column("pieces_failed", sa.BigInteger(), nullable=False),
        sa.Column("last_progress_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["node_id"], ["nodes.id"], name=op.f("fk_graceful_exits_node_id_nodes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("node_id", name=op.f("pk_graceful_exits")),
    )
    with op.batch_alter_table("graceful_exits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_graceful_exits_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("graceful_exits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_graceful_exits_status"))
    op.drop_table("graceful_exits")
    with op.batch_alter_table("gc_retain_lists", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gc_retain_lists_attempted_at"))
    op.drop_table("gc_retain_lists")
