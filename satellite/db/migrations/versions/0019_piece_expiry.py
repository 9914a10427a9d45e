"""Piece TTLs: when the nodes delete a segment's pieces by themselves

Revision ID: 0019_piece_expiry
Revises: 0018_object_lock
Create Date: 2026-12-01 18:40:00.000000

Existing segments were uploaded without a TTL (``piece_expires`` NULL).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_piece_expiry"
down_revision: str | None = "0018_object_lock"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("segments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("piece_expires", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("segments", schema=None) as batch_op:
        batch_op.drop_column("piece_expires")
