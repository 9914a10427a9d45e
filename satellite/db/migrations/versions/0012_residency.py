"""residency ledger: every placement event of a piece, hash-chained per bucket

Revision ID: 0012_residency
Revises: 0011
Create Date: 2026-12-01 14:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_residency"
down_revision: str | None = "0013_access_policies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "residency_ledger",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("bucket", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("object_key", sa.String(length=1024), nullable=False),
        sa.Column("segment_id", sa.BigInteger(), nullable=False),
        sa.Column("piece_number", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_residency_ledger")),
    )
    with op.batch_alter_table("residency_ledger", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_residency_ledger_bucket_seq"), ["bucket", "seq"], unique=True)
        batch_op.create_index(batch_op.f("ix_residency_ledger_bucket_at"), ["bucket", "at"], unique=False)
    op.create_table(
        "residency_heads",
        sa.Column("bucket", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("bucket", name=op.f("pk_residency_heads")),
    )


def downgrade() -> None:
    op.drop_table("residency_heads")
    with op.batch_alter_table("residency_ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_residency_ledger_bucket_at"))
        batch_op.drop_index(batch_op.f("ix_residency_ledger_bucket_seq"))
    op.drop_table("residency_ledger")
