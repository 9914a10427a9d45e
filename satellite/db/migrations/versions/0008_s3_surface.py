"""S3 surface: completed multipart uploads (idempotent Complete), policy aliases (region names), bucket settings (CORS)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "completed_uploads",
        sa.Column("upload_id", sa.String(length=64), nullable=False),
        sa.Column("bucket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "key",
            sa.String(length=1024).with_variant(sa.String(length=1024, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("etag", sa.String(length=80), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("checksums", sa.JSON(), nullable=False),
        sa.Column("segment_count", sa.Integer(), nullable=False),
        sa.Column("object_created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bucket_id"], ["buckets.id"], name=op.f("fk_completed_uploads_bucket_id_buckets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("upload_id", name=op.f("pk_completed_uploads")),
    )
    with op.batch_alter_table("completed_uploads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_completed_uploads_completed_at"), ["completed_at"], unique=False)
    op.create_table(
        "policy_aliases",
        sa.Column("alias", sa.String(length=64), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["placement_policies.id"],
            name=op.f("fk_policy_aliases_policy_id_placement_policies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("alias", name=op.f("pk_policy_aliases")),
    )
    with op.batch_alter_table("policy_aliases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_policy_aliases_policy_id"), ["policy_id"], unique=False)
    op.create_table(
        "bucket_settings",
        sa.Column("bucket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bucket_id"], ["buckets.id"], name=op.f("fk_bucket_settings_bucket_id_buckets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("bucket_id", "name", name=op.f("pk_bucket_settings")),
    )


def downgrade() -> None:
    op.drop_table("bucket_settings")
    with op.batch_alter_table("policy_aliases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_policy_aliases_policy_id"))
    op.drop_table("policy_aliases")
    with op.batch_alter_table("completed_uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_completed_uploads_completed_at"))
    op.drop_table("completed_uploads")
