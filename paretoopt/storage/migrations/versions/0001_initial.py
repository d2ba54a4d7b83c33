"""Initial schema: studies, trials, trial values, trajectory steps.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_FLOAT_TYPE = sa.Enum("FINITE", "INF_POS", "INF_NEG", "NAN", name="float_type", native_enum=False, length=8)
_STATE = sa.Enum(
    "WAITING", "RUNNING", "COMPLETE", "FAILED", "PRUNED", name="trial_state", native_enum=False, length=8
)


def upgrade() -> None:
    op.create_table(
        "studies",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("definition_name", sa.String(255), nullable=False),
        sa.Column("definition_source", sa.Text, nullable=True),
        sa.Column("definition_hash", sa.String(64), nullable=False),
        sa.Column("definition_path", sa.Text, nullable=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("space_json", sa.Text, nullable=False),
        sa.Column("objectives_json", sa.Text, nullable=False),
        sa.Column("constraints_json", sa.Text, nullable=False),
        sa.Column("engine", sa.String(64), nullable=False),
        sa.Column("engine_options_json", sa.Text, nullable=False),
        sa.Column("scalarization", sa.String(64), nullable=False),
        sa.Column("seed", sa.Integer, nullable=False),
        sa.Column("normalization_json", sa.Text, nullable=True),
        sa.Column("settings_json", sa.Text, nullable=False),
        sa.Column("attrs_json", sa.Text, nullable=False),
        sa.Column("next_number", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_studies_name", "studies", ["name"], unique=True)
    op.create_table(
        "trials",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("study_id", sa.Integer, sa.ForeignKey("studies.id", ondelete="CASCADE"), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("batch", sa.Integer, nullable=False),
        sa.Column("state", _STATE, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("weights_json", sa.Text, nullable=False),
        sa.Column("choices_json", sa.Text, nullable=False),
        sa.Column("params_json", sa.Text, nullable=False),
        sa.Column("init_json", sa.Text, nullable=True),
        sa.Column("seed", sa.Integer, nullable=False),
        sa.Column("n_calls", sa.Integer, nullable=False),
        sa.Column("n_backward", sa.Integer, nullable=False),
        sa.Column("n_steps", sa.Integer, nullable=False),
        sa.Column("feasible", sa.Boolean, nullable=False),
        sa.Column("converged", sa.Boolean, nullable=False),
        sa.Column("loss", sa.Float, nullable=True),
        sa.Column("wall_time_s", sa.Float, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("worker", sa.String(255), nullable=True),
        sa.Column("retries", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=True),
        sa.Column("heartbeat_at", sa.DateTime, nullable=True),
        sa.Column("finished_at", sa.DateTime, nullable=True),
        sa.UniqueConstraint("study_id", "number", name="uq_trials_study_number"),
    )
    op.create_index("ix_trials_study_id", "trials", ["study_id"])
    op.create_index("ix_trials_study_state", "trials", ["study_id", "state"])
    op.create_table(
        "trial_values",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("trial_id", sa.Integer, sa.ForeignKey("trials.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("idx", sa.Integer, nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("value_type", _FLOAT_TYPE, nullable=False),
        sa.Column("stderr", sa.Float, nullable=True),
        sa.Column("stderr_type", _FLOAT_TYPE, nullable=False),
        sa.UniqueConstraint("trial_id", "kind", "idx", name="uq_trial_values"),
    )
    op.create_index("ix_trial_values_trial_id", "trial_values", ["trial_id"])
    op.create_table(
        "trajectory_steps",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("trial_id", sa.Integer, sa.ForeignKey("trials.id", ondelete="CASCADE"), nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("loss", sa.Float, nullable=True),
        sa.Column("loss_type", _FLOAT_TYPE, nullable=False),
        sa.Column("objectives_json", sa.Text, nullable=False),
        sa.Column("params_json", sa.Text, nullable=False),
    )
    op.create_index("ix_trajectory_steps_trial_id", "trajectory_steps", ["trial_id"])


def downgrade() -> None:
    op.drop_table("trajectory_steps")
    op.drop_table("trial_values")
    op.drop_table("trials")
    op.drop_table("studies")
