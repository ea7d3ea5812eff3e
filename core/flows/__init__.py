"""Operations that span entities, used by both the pages (``ui/``) and the command line (``core/cli/``).

No Streamlit here: a page adds only its buttons, messages and cache clears around these calls.

- :mod:`core.flows.pin`: pin evidence of every kind (triage, drift and schema, change ranking,
  log query and patterns, change point, run diff) and set the impact start;
- :mod:`core.flows.accept`: accept a triage hypothesis onto the fishbone (a suspected cause and a
  first Five Whys chain), and the one root-cause class → fishbone category mapping;
- :mod:`core.flows.timeline_io`: timeline import (read, map, preview, apply) and export;
- :mod:`core.flows.import_bundle`: the all-or-nothing import of an incident bundle (store rows
  and bundle files together).
"""
