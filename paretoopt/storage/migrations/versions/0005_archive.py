"""The archive of every evaluated design (issue #19): trajectory steps keep their standard errors,
constraints and sample size (``trajectory_steps.figures_json``), trials count their simulated
events (``trials.n_events``) and the final evaluation's sample size (``trials.n_samples``),
and ``archive_refinements`` holds the archive points that ``paretoopt refine`` re-evaluated on
the full evaluation sample.

Rows stored before this revision read as ``None`` (unknown errors, sample size and events).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trials") as batch:
        batch.add_column(sa.Column("n_events", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("n_samples", sa.Integer(), nullable=True))
    with op.batch_alter_table("trajectory_steps") as batch:
        batch.add_column(sa.Column("figures_json", sa.Text(), nullable=True))
    op.create_table(
        "archive_refinements",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("study_id", sa.Integer(), sa.ForeignKey("studies.id", ondelete="CASCADE"), nullable=False),
        sa.Column("trial_id", sa.Integer(), sa.ForeignKey("trials.id", ondelete="CASCADE"), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("params_json", sa.Text(), nullable=False),
        sa.Column("figures_json", sa.Text(), nullable=False),
        sa.Column("feasible", sa.Boolean(), nullable=False),
        sa.Column("n_samples", sa.Integer(), nullable=False),
        sa.Column("n_calls", sa.Integer(), nullable=False),
        sa.Column("n_backward", sa.Integer(), nullable=False),
        sa.Column("n_events", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("trial_id", "step", name="uq_archive_refinements_point"),
    )
    op.create_index("ix_archive_refinements_study_id", "archive_refinements", ["study_id"])


def downgrade() -> None:
    op.drop_index("ix_archive_refinements_study_id", table_name="archive_refinements")
    op.drop_table("archive_refinements")
    with op.batch_alter_table("trajectory_steps") as batch:
        batch.drop_column("figures_json")
    with op.batch_alter_table("trials") as batch:
        batch.drop_column("n_samples")
        batch.drop_column("n_events")
