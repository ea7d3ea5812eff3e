"""The built-in evidence kinds: one file each, registered here in one line each.

An extension registers its own kind the same way, once before rendering:
``core.evidence.register_kind("my_kind", MyPayload, MyRenderer())``.
"""

from core.evidence.kinds.changepoint import ChangePointPayload, ChangePointRenderer
from core.evidence.kinds.changes import ChangesPayload, ChangesRenderer
from core.evidence.kinds.drift import DriftPayload, DriftRenderer
from core.evidence.kinds.images import ImagesPayload, ImagesRenderer
from core.evidence.kinds.log_patterns import LogPatternsPayload, LogPatternsRenderer
from core.evidence.kinds.log_query import LogQueryPayload, LogQueryRenderer
from core.evidence.kinds.run_diff import RunDiffPayload, RunDiffRenderer
from core.evidence.kinds.schema import SchemaPayload, SchemaRenderer
from core.evidence.kinds.trace_cascade import TraceCascadePayload, TraceCascadeRenderer
from core.evidence.kinds.triage import TriagePayload, TriageRenderer
from core.evidence.registry import register_kind

register_kind("triage", TriagePayload, TriageRenderer(), description="ranked root-cause hypotheses of a triage")
register_kind("drift", DriftPayload, DriftRenderer(), description="a drift report, or the drift of one column")
register_kind("schema", SchemaPayload, SchemaRenderer(), description="one schema finding")
register_kind("changepoint", ChangePointPayload, ChangePointRenderer(),
              description="a metric's onset and change points")
register_kind("log_query", LogQueryPayload, LogQueryRenderer(),
              description="a log search with its count and sample")
register_kind("log_patterns", LogPatternsPayload, LogPatternsRenderer(),
              description="new, vanished and changed log templates")
register_kind("changes", ChangesPayload, ChangesRenderer(), description="change events ranked before the onset")
register_kind("run_diff", RunDiffPayload, RunDiffRenderer(),
              description="a model version that changed before the onset")
register_kind("trace_cascade", TraceCascadePayload, TraceCascadeRenderer(),
              description="where a cascade started, from the traces")
register_kind("images", ImagesPayload, ImagesRenderer(),
              description="two sets of images compared by their derived statistics")
