"""Block artefacts: the blocks of each trial's pipeline and their trained parameters (issue #20).

One row per block of a trial's pipeline (paretoopt.blocks), in data-flow order: kind, ports and
validation status (``meta_json``) and, for learned blocks, the safetensors blob of the trained
parameters with its SHA-256 digest and training curve. Trials stored before this revision have
no rows (their simulation was not a pipeline).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trial_artefacts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("trial_id", sa.Integer, sa.ForeignKey("trials.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False, server_default="0"),
        sa.Column("block", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(255), nullable=False),
        sa.Column("blob", sa.LargeBinary, nullable=True),
        sa.Column("digest", sa.String(96), nullable=True),
        sa.Column("curve_json", sa.Text, nullable=False, server_default="[]"),
        sa.Column("meta_json", sa.Text, nullable=False, server_default="{}"),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("trial_id", "block", name="uq_trial_artefacts_trial_block"),
    )
    op.create_index("ix_trial_artefacts_trial_id", "trial_artefacts", ["trial_id"])


def downgrade() -> None:
    op.drop_index("ix_trial_artefacts_trial_id", table_name="trial_artefacts")
    op.drop_table("trial_artefacts")
