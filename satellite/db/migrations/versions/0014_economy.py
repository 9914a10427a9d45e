"""economy: what a node's operator is shown of its stake — the bonded amount and the end of its unbonding

Revision ID: 0014_economy
Revises: 0011
Create Date: 2026-12-01 14:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_economy"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("node_stakes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bonded", sa.String(length=80), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("unbonding_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("node_stakes", schema=None) as batch_op:
        batch_op.drop_column("unbonding_until")
        batch_op.drop_column("bonded")
