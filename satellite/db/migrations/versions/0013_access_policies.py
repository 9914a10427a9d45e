"""access policies: a tenant-wide Block Public Access (bucket ACLs and policies use bucket_settings)

Revision ID: 0013_access_policies
Revises: 0011
Create Date: 2026-12-01 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_access_policies"
down_revision: str | None = "0015_ops"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tenant_access_blocks",
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("block", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_tenant_access_blocks_tenant_id_tenants"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_tenant_access_blocks")),
    )


def downgrade() -> None:
    op.drop_table("tenant_access_blocks")
