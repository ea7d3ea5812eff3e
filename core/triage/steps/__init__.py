"""The built-in triage steps, registered in run order (data first, then environment and code, then infrastructure).

Each line is the same :func:`core.triage.registry.register` call an extension makes; a new
step is one file in this folder plus one line here (see docs/architecture.md).
"""

from core.triage.registry import register
from core.triage.steps.changes import ChangesStep
from core.triage.steps.data import DataStep
from core.triage.steps.errors import ErrorsStep
from core.triage.steps.images import ImagesStep
from core.triage.steps.features import FeaturesStep
from core.triage.steps.lineage import LineageStep
from core.triage.steps.logs import LogsStep
from core.triage.steps.metrics import MetricsStep
from core.triage.steps.model_registry import RegistryStep
from core.triage.steps.non_finite import NonFiniteStep
from core.triage.steps.quality import QualityStep
from core.triage.steps.traces import TracesStep
from core.triage.steps.versions import VersionsStep

register(ChangesStep())
register(DataStep())
register(LogsStep())
register(MetricsStep())
register(RegistryStep())
register(NonFiniteStep())
register(QualityStep())
register(LineageStep())
register(TracesStep())
register(ErrorsStep())
register(ImagesStep())
register(VersionsStep())
register(FeaturesStep())
