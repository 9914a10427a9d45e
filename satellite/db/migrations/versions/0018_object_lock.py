"""Object Lock: a bucket's lock configuration, each version's retention and legal hold

Revision ID: 0018_object_lock
Revises: 0017_versions_order
Create Date: 2026-12-01 18:10:00.000000

Existing buckets were created without Object Lock (``object_lock`` NULL) and existing
versions carry no lock.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_object_lock"
down_revision: str | None = "0017_versions_order"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("buckets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("object_lock", sa.JSON(), nullable=True))
    with op.batch_alter_table("uploads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lock", sa.JSON(), nullable=True))
    with op.batch_alter_table("objects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lock_mode", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("lock_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("legal_hold", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("objects", schema=None) as batch_op:
        batch_op.alter_column("legal_hold", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("objects", schema=None) as batch_op:
        batch_op.drop_column("legal_hold")
        batch_op.drop_column("lock_until")
        batch_op.drop_column("lock_mode")
    with op.batch_alter_table("uploads", schema=None) as batch_op:
        batch_op.drop_column("lock")
    with op.batch_alter_table("buckets", schema=None) as batch_op:
        batch_op.drop_column("object_lock")
