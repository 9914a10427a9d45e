"""S3 versioning: every object row is a version with an S3 version id, maybe a delete marker

Revision ID: 0016_versioning
Revises: 0016_residency_gc
Create Date: 2026-12-01 17:40:00.000000

Existing rows are the one version of their key written while no bucket was versioned: the
"null" version, latest, not a delete marker.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_versioning"
down_revision: str | None = "0016_residency_gc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("objects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version_id", sa.String(length=32), nullable=False, server_default="null"))
        batch_op.add_column(sa.Column("is_latest", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column("delete_marker", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("objects", schema=None) as batch_op:
        batch_op.alter_column("version_id", server_default=None)
        batch_op.alter_column("is_latest", server_default=None)
        batch_op.alter_column("delete_marker", server_default=None)
        batch_op.create_index("ix_objects_current", ["bucket_id", "is_latest", "key"], unique=False)
        batch_op.create_index("ix_objects_version_id", ["bucket_id", "key", "version_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("objects", schema=None) as batch_op:
        batch_op.drop_index("ix_objects_version_id")
        batch_op.drop_index("ix_objects_current")
        batch_op.drop_column("delete_marker")
        batch_op.drop_column("is_latest")
        batch_op.drop_column("version_id")
