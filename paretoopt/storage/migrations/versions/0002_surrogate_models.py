"""Surrogate models: one table of fitted surrogates per study (safetensors blob + digest).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "surrogate_models",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("study_id", sa.Integer, sa.ForeignKey("studies.id", ondelete="CASCADE"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("trial_numbers_json", sa.Text, nullable=False),
        sa.Column("n_points", sa.Integer, nullable=False),
        sa.Column("blob", sa.LargeBinary, nullable=False),
        sa.Column("digest", sa.String(96), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("study_id", "version", name="uq_surrogate_models_study_version"),
    )
    op.create_index("ix_surrogate_models_study_id", "surrogate_models", ["study_id"])


def downgrade() -> None:
    op.drop_index("ix_surrogate_models_study_id", table_name="surrogate_models")
    op.drop_table("surrogate_models")
