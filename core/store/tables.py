"""SQLAlchemy table definitions of the incident store.

The schema is created and changed only by the Alembic migrations in
``core/store/migrations``; a test checks that these tables and the migrated
database agree. All times are stored as timezone-aware UTC.
"""

from __future__ import annotations

from datetime import timezone

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)



class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every backend (SQLite keeps no zone, so it is restored on read)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; times must be UTC-aware")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


TS = UTCDateTime()

incidents = Table(
    "incidents",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("title", String(300), nullable=False),
    Column("summary", Text, nullable=False, default=""),
    Column("service", String(200), nullable=False, default=""),
    Column("severity", String(8), nullable=False),
    Column("status", String(20), nullable=False),
    Column("root_cause", String(32)),
    Column("milestones", JSON, nullable=False, default=dict),
    Column("roles", JSON, nullable=False, default=dict),
    Column("participants", JSON, nullable=False, default=list),
    Column("kpi_metric", String(200), nullable=False, default=""),
    Column("kpi_direction", String(20), nullable=False, default="higher_is_better"),
    Column("window_start", TS),
    Column("window_end", TS),
    Column("baseline_start", TS),
    Column("baseline_end", TS),
    Column("bundle_path", Text),
    Column("version", Integer, nullable=False, default=1),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
)

timeline_events = Table(
    "timeline_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(64), ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    Column("ts", TS, nullable=False),
    Column("end_ts", TS),
    Column("kind", String(20), nullable=False),
    Column("source", String(100), nullable=False, default="manual"),
    Column("title", Text, nullable=False),
    Column("details", JSON, nullable=False, default=dict),
    Column("link", Text),
    Column("pinned", Boolean, nullable=False, default=False),
    Column("author", String(200), nullable=False, default=""),
    Column("evidence_id", Integer, ForeignKey("evidence.id", ondelete="SET NULL")),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("version", Integer, nullable=False, default=1),
    Column("created_at", TS, nullable=False),
    Index("ix_timeline_events_incident_ts", "incident_id", "ts"),
)

timeline_revisions = Table(
    "timeline_revisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", Integer, ForeignKey("timeline_events.id", ondelete="CASCADE"), nullable=False),
    Column("changed_at", TS, nullable=False),
    Column("author", String(200), nullable=False, default=""),
    Column("before", JSON),
    Column("after", JSON),
)

evidence = Table(
    "evidence",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(64), ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("title", Text, nullable=False),
    Column("query", JSON, nullable=False, default=dict),
    Column("window_start", TS),
    Column("window_end", TS),
    Column("result", JSON, nullable=False, default=dict),
    Column("digest", String(64), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("author", String(200), nullable=False, default=""),
    Index("ix_evidence_incident", "incident_id"),
)

categories = Table(
    "fishbone_categories",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(64), ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("position", Integer, nullable=False, default=0),
    Column("version", Integer, nullable=False, default=1),
    UniqueConstraint("incident_id", "name", name="uq_fishbone_categories_incident_name"),
)

fishbones = Table(
    "fishbones",
    metadata,
    Column("incident_id", String(64), ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True),
    Column("problem", Text, nullable=False, default=""),
    Column("version", Integer, nullable=False, default=1),
)

causes = Table(
    "causes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(64), ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    Column("category_id", Integer, ForeignKey("fishbone_categories.id", ondelete="CASCADE"), nullable=False),
    Column("parent_id", Integer, ForeignKey("causes.id", ondelete="CASCADE")),
    Column("text", Text, nullable=False),
    Column("status", String(20), nullable=False, default="suspected"),
    Column("notes", Text, nullable=False, default=""),
    Column("evidence", JSON, nullable=False, default=list),
    Column("position", Integer, nullable=False, default=0),
    Column("version", Integer, nullable=False, default=1),
    Index("ix_causes_incident", "incident_id"),
)

why_steps = Table(
    "why_steps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(64), ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    Column("chain", String(200), nullable=False, default="main"),
    Column("parent_id", Integer, ForeignKey("why_steps.id", ondelete="CASCADE")),
    Column("question", Text, nullable=False),
    Column("answer", Text, nullable=False, default=""),
    Column("evidence", JSON, nullable=False, default=list),
    Column("cause_id", Integer, ForeignKey("causes.id", ondelete="SET NULL")),
    Column("position", Integer, nullable=False, default=0),
    Column("version", Integer, nullable=False, default=1),
    Index("ix_why_steps_incident", "incident_id"),
)

action_items = Table(
    "action_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(64), ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    Column("text", Text, nullable=False),
    Column("owner", String(200), nullable=False, default=""),
    Column("due", Date),
    Column("status", String(20), nullable=False, default="open"),
    Column("cause_id", Integer, ForeignKey("causes.id", ondelete="SET NULL")),
    Column("version", Integer, nullable=False, default=1),
    Column("prevents", String(200)),  # the guard rail it implements: "rule:<alert>", "contract:<suite>", "fallback:<policy>"
    Column("done_at", TS),  # when its status became done (for a guard rail: when it shipped)
    Index("ix_action_items_incident", "incident_id"),
)

report_sections = Table(
    "report_sections",
    metadata,
    Column("incident_id", String(64), ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True),
    Column("section", String(60), primary_key=True),
    Column("text", Text, nullable=False, default=""),
    Column("version", Integer, nullable=False, default=1),
    Column("updated_at", TS, nullable=False),
)

# Runbooks: one row per failure pattern (a root-cause class by default, or a pattern learned from an
# incident); its text lives in numbered versions, so every save is a new version and old ones stay readable.
runbooks = Table(
    "runbooks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("pattern", String(120), nullable=False),
    Column("cause_class", String(32), nullable=False),
    Column("origin", String(20), nullable=False, default="default"),
    Column("source_incident_id", String(64), ForeignKey("incidents.id", ondelete="SET NULL")),
    Column("version", Integer, nullable=False, default=1),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    UniqueConstraint("pattern", name="uq_runbooks_pattern"),
    Index("ix_runbooks_cause_class", "cause_class"),
)

runbook_versions = Table(
    "runbook_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("runbook_id", Integer, ForeignKey("runbooks.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("title", String(300), nullable=False),
    Column("symptoms", JSON, nullable=False, default=list),
    Column("views", JSON, nullable=False, default=list),
    Column("checks", JSON, nullable=False, default=list),
    Column("mitigations", JSON, nullable=False, default=list),
    Column("owners", JSON, nullable=False, default=list),
    Column("signature", JSON, nullable=False, default=dict),
    Column("note", Text, nullable=False, default=""),
    Column("author", String(200), nullable=False, default=""),
    Column("saved_at", TS, nullable=False),
    UniqueConstraint("runbook_id", "version", name="uq_runbook_versions_runbook_version"),
)

# Team mode. The audit log is append-only (the store refuses updates and deletes, and the migration adds
# database triggers that refuse them too); it has no foreign key, so it outlives a deleted incident.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", TS, nullable=False),
    Column("user_name", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("via", String(200), nullable=False, default=""),
    Column("incident_id", String(64)),
    Column("object_type", String(60), nullable=False),
    Column("object_id", String(200), nullable=False, default=""),
    Column("action", String(20), nullable=False),
    Column("label", Text, nullable=False, default=""),
    Column("version_before", Integer),
    Column("version_after", Integer),
    Column("changed", JSON, nullable=False, default=list),
    Column("before", JSON),
    Column("after", JSON),
    Column("summary", Text, nullable=False, default=""),
    Index("ix_audit_log_incident_at", "incident_id", "at"),
)

# Who is looking at which incident and page: one row per browser session, refreshed by heartbeats.
presence = Table(
    "presence",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("user_name", String(200), nullable=False),
    Column("display_name", String(200), nullable=False, default=""),
    Column("role", String(20), nullable=False),
    Column("incident_id", String(64)),
    Column("page", String(100), nullable=False, default=""),
    Column("range_start", TS),
    Column("range_end", TS),
    Column("replica", String(100), nullable=False, default=""),
    Column("seen_at", TS, nullable=False),
    Index("ix_presence_incident_seen", "incident_id", "seen_at"),
)

# The team's role mapping (it wins over the ID token's role claim, so a commander can change a role live).
team_members = Table(
    "team_members",
    metadata,
    Column("user_name", String(200), primary_key=True),
    Column("role", String(20), nullable=False),
    Column("updated_by", String(200), nullable=False, default=""),
    Column("updated_at", TS, nullable=False),
)

# Automation tokens for the command line's --as (only their SHA-256 is stored).
team_tokens = Table(
    "team_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_name", String(200), nullable=False),
    Column("token_sha256", String(64), nullable=False),
    Column("created_by", String(200), nullable=False, default=""),
    Column("created_at", TS, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
    UniqueConstraint("token_sha256", name="uq_team_tokens_token_sha256"),
)

# ICS handovers: who handed which role to whom, with the required summary.
handovers = Table(
    "handovers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(64), ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    Column("role", String(40), nullable=False),
    Column("outgoing", String(200), nullable=False, default=""),
    Column("incoming", String(200), nullable=False),
    Column("summary", Text, nullable=False),
    Column("at", TS, nullable=False),
    Column("recorded_by", String(200), nullable=False, default=""),
    Column("event_id", Integer, ForeignKey("timeline_events.id", ondelete="SET NULL")),
    Index("ix_handovers_incident", "incident_id"),
)

# A person's unsent text (a handover summary being written), kept across a reload of the tab and across
# replicas; one row per person and purpose, removed when the text is sent.
drafts = Table(
    "drafts",
    metadata,
    Column("user_name", String(200), primary_key=True),
    Column("purpose", String(200), primary_key=True),
    Column("text", Text, nullable=False, default=""),
    Column("updated_at", TS, nullable=False),
)
