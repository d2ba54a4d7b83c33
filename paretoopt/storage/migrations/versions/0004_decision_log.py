"""Decision log: one table of the steps that chose a design on a study's front (issue #22).

A new table only: databases of earlier revisions open with an empty log.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "decision_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("study_id", sa.Integer, sa.ForeignKey("studies.id", ondelete="CASCADE"), nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("parent", sa.Integer, nullable=True),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("inputs_json", sa.Text, nullable=False, server_default="{}"),
        sa.Column("outputs_json", sa.Text, nullable=False, server_default="{}"),
        sa.Column("author", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("study_id", "step", name="uq_decision_log_study_step"),
    )
    op.create_index("ix_decision_log_study_id", "decision_log", ["study_id"])


def downgrade() -> None:
    op.drop_index("ix_decision_log_study_id", table_name="decision_log")
    op.drop_table("decision_log")
