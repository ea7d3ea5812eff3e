"""The guard rails in the post-mortem: action items with their proof, and the attachments zip.

:func:`from_plan` turns a :class:`core.prevention.plan.PreventionPlan` into :class:`GuardRails`
(text only: one :class:`GuardRail` per alert rule, route snippet, data contract and circuit
breaker, each with the proof the tools gave, plus the files). The post-mortem's action-item
section lists them (:func:`action_items_markdown`) and the STAR summary names the strongest proof
("alert would have fired 52 min before detection"). :func:`attachments_zip` and
:func:`write_attachments` carry the files beside the PDF.

Runbook link: :func:`runbook_link` asks the runbook store (``core.store.runbooks.runbook_for``)
for the entry of the incident's root-cause class and links it on the Runbooks page.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import InvalidInputError
from core.report.text import md_table, md_text


@dataclass(frozen=True)
class GuardRail:
    """One generated guard rail: what it is, the file it lives in and its proof."""

    kind: str  # alert | routes | contract | breaker | template
    name: str
    file: str
    proof: str
    proven: bool


@dataclass(frozen=True)
class RunbookLink:
    title: str
    link: str  # the app's link, e.g. /runbooks?incident=ID&runbooks_pattern=stale_data
    version: int | None = None


@dataclass(frozen=True)
class GuardRails:
    """The guard rails of an incident as the post-mortem shows and attaches them."""

    incident: str
    cause: str
    items: tuple[GuardRail, ...]
    files: dict[str, str] = field(default_factory=dict)  # file name -> text
    headline: str = ""  # the strongest time-to-detect proof
    runbook: RunbookLink | None = None

    @property
    def proven(self) -> tuple[GuardRail, ...]:
        return tuple(i for i in self.items if i.proven)


def from_plan(plan: Any, runbook: RunbookLink | None = None) -> GuardRails:
    """The post-mortem's view of a prevention plan (:func:`core.prevention.plan.prevent`)."""
    from core.prevention.plan import ALERTMANAGER_FILE, POLICY_YAML, RULES_FILE

    items: list[GuardRail] = []
    tools = ("promtool check and unit tests passed" if plan.promtool_ok else "promtool FAILED")
    for rule, saved in zip(plan.ruleset.rules, plan.saved):
        items.append(GuardRail("alert", f"Prometheus alert {rule.alert} ({rule.title.lower()})", RULES_FILE,
                               f"{saved.sentence}; {tools}", plan.promtool_ok and rule.fires_at is not None))
    for t in plan.ruleset.templates:
        items.append(GuardRail("template", f"{t.title} alert (template to fill in)", RULES_FILE,
                               f"not generated: {t.missing}", False))
    if plan.routes is not None:
        items.append(GuardRail("routes", f"Alertmanager route to {plan.ruleset.team}-pager", ALERTMANAGER_FILE,
                               "; ".join(plan.routes.lines()) + "; fill in the receiver", plan.routes.ok))
    c = plan.contract
    if c is not None:
        if c.skipped:
            items.append(GuardRail("contract", "Data contract", "", c.lines()[0], False))
        else:
            engine = "Great Expectations suite" if c.engine == "great_expectations" else "schema-check contract"
            cols = ", ".join(col for col, _ in c.columns)
            items.append(GuardRail("contract", f"Data contract ({engine}) on {cols}", c.file_name,
                                   "; ".join(c.lines()[1:]), c.proven))
    rep = plan.replay
    items.append(GuardRail("breaker", "Circuit breaker with fallback", POLICY_YAML, rep.sentence,
                           rep.tripped_at is not None and rep.false_trips_before_onset == 0))
    best = max((s for s in plan.saved if s.minutes_before_detection is not None and s.minutes_before_detection > 0),
               key=lambda s: s.minutes_before_detection, default=None)
    headline = (f"alert {best.alert} would have fired {best.minutes_before_detection:.0f} min before detection"
                if best is not None else "")
    return GuardRails(plan.incident, plan.cause.value, tuple(items), dict(plan.files), headline, runbook)


def runbook_link(store: Any, cause: str, incident_id: str | None = None) -> RunbookLink | None:
    """The runbook entry to follow for ``cause`` (``core.store.runbooks.runbook_for``: the entry learned
    for the incident's failure pattern, else the class default), as a link to the Runbooks page."""
    if store is None:
        return None
    from core.store.runbooks import runbook_for

    try:
        entry = runbook_for(store, cause, incident_id=incident_id)
    except InvalidInputError:
        return None
    query = (f"incident={incident_id}&" if incident_id else "") + f"runbooks_pattern={entry.pattern}"
    return RunbookLink(entry.title, f"/runbooks?{query}", entry.version)


def action_items_markdown(gr: GuardRails) -> str:
    """The guard-rail block of the action-item section: each rail, its file and its proof."""
    rows = [[i.name, i.file or "—", ("proven: " if i.proven else "") + i.proof]
            for i in gr.items]
    head = (f"**Guard rails generated from the root cause ({md_text(gr.cause.replace('_', ' '))})**, each "
            "proven on this incident's own data; the files are attached to this post-mortem "
            f"({md_text(gr.incident)}-attachments.zip).")
    out = [head, "", md_table(["Guard rail", "File", "Proof"], rows)]
    if gr.runbook is not None:
        out += ["", f"Runbook: [{md_text(gr.runbook.title)}]({gr.runbook.link})"
                + (f" (version {gr.runbook.version})" if gr.runbook.version else "") + "."]
    else:
        out += ["", "Runbook: none linked yet (add this failure pattern to the runbook on the Triage page)."]
    return "\n".join(out)


def star_action(gr: GuardRails) -> str:
    """The STAR action clause about the guard rails."""
    n = len(gr.proven)
    text = f"generated {n} guard rail(s) proven on the incident's data"
    return text + (f" ({gr.headline})" if gr.headline else "")


def attachments(gr: GuardRails) -> dict[str, str]:
    """The attached files: the guard rails' files and, when linked, the runbook link."""
    files = dict(gr.files)
    if gr.runbook is not None:
        files["runbook.md"] = (f"# {gr.runbook.title}\n\nIn the workbench: {gr.runbook.link}"
                               + (f" (version {gr.runbook.version})" if gr.runbook.version else "") + "\n")
    return files


def attachments_zip(gr: GuardRails) -> bytes:
    """The attachments in one zip, under a folder ``<incident>-attachments/``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in sorted(attachments(gr).items()):
            z.writestr(f"{gr.incident}-attachments/{name}", text)
    return buf.getvalue()


def write_attachments(gr: GuardRails, target: Path) -> list[Path]:
    """Write the attachments to ``target``: a zip when it ends in ``.zip``, else a folder (created).

    Raises:
        InvalidInputError: the zip's folder does not exist, or ``target`` is a file that is not a zip.
    """
    target = Path(target)
    if target.suffix.lower() == ".zip":
        if not target.parent.exists():
            raise InvalidInputError(f"folder {target.parent} does not exist; create it first")
        target.write_bytes(attachments_zip(gr))
        return [target]
    if target.exists() and not target.is_dir():
        raise InvalidInputError(f"{target} is a file; give a folder or a path ending in .zip")
    target.mkdir(parents=True, exist_ok=True)
    out = []
    for name, text in sorted(attachments(gr).items()):
        (target / name).write_text(text, encoding="utf-8")
        out.append(target / name)
    return out


def generate_for_incident(store: Any, incident: Any, *, contract: bool = True,
                          out_dir: Path | None = None) -> tuple[GuardRails, Any]:
    """Generate and prove the guard rails of a stored incident from its bundle (for the post-mortem).

    The cause is the incident's root-cause class, else the bundle's, else triage's top hypothesis;
    the milestones are the incident's. Returns the post-mortem view and the plan itself.

    Raises:
        InvalidInputError: the incident has no bundle, or it cannot be used.
        core.prevention.proof.PromtoolMissing: promtool is not installed.
    """
    from core.prevention.plan import prevent

    if not incident.bundle_path:
        raise InvalidInputError(f"incident {incident.id} has no bundle: guard rails are generated from the "
                                "bundle's series and datasets; import the bundle first")
    plan = prevent(incident.bundle_path, out_dir=out_dir, cause=incident.root_cause, contract=contract,
                   milestones={k: v for k, v in incident.milestones.items() if v})
    return from_plan(plan, runbook_link(store, plan.cause.value, incident.id)), plan
