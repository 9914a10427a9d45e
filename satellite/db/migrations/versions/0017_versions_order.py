"""objects: the unique (bucket_id, key, version) constraint becomes a unique index with version
descending, ListObjectVersions' order (a page of one key's versions then needs no sort)

Revision ID: 0017_versions_order
Revises: 0016_versioning
Create Date: 2026-12-01 18:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_versions_order"
down_revision: str | None = "0016_versioning"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("objects", schema=None) as batch_op:
        batch_op.drop_constraint("uq_objects_bucket_id_key_version", type_="unique")
    op.create_index("uq_objects_bucket_id_key_version", "objects", ["bucket_id", "key", sa.text("version DESC")],
                    unique=True)  # fmt: skip


def downgrade() -> None:
    op.drop_index("uq_objects_bucket_id_key_version", table_name="objects")
    with op.batch_alter_table("objects", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_objects_bucket_id_key_version", ["bucket_id", "key", "version"])
