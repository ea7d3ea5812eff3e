"""runbooks with versions; action items link the guard rail they implement

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runbooks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pattern", sa.String(length=120), nullable=False),
        sa.Column("cause_class", sa.String(length=32), nullable=False),
        sa.Column("origin", sa.String(length=20), nullable=False),
        sa.Column("source_incident_id", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["source_incident_id"], ["incidents.id"],
                                name=op.f("fk_runbooks_source_incident_id_incidents"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runbooks")),
        sa.UniqueConstraint("pattern", name="uq_runbooks_pattern"),
    )
    op.create_index("ix_runbooks_cause_class", "runbooks", ["cause_class"], unique=False)
    op.create_table(
        "runbook_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("runbook_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("symptoms", sa.JSON(), nullable=False),
        sa.Column("views", sa.JSON(), nullable=False),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.Column("mitigations", sa.JSON(), nullable=False),
        sa.Column("owners", sa.JSON(), nullable=False),
        sa.Column("signature", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["runbook_id"], ["runbooks.id"],
                                name=op.f("fk_runbook_versions_runbook_id_runbooks"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runbook_versions")),
        sa.UniqueConstraint("runbook_id", "version", name="uq_runbook_versions_runbook_version"),
    )
    with op.batch_alter_table("action_items") as batch:
        batch.add_column(sa.Column("prevents", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("done_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("action_items") as batch:
        batch.drop_column("done_at")
        batch.drop_column("prevents")
    op.drop_table("runbook_versions")
    op.drop_index("ix_runbooks_cause_class", table_name="runbooks")
    op.drop_table("runbooks")
