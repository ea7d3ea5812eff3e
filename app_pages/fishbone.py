"""Fishbone page: the incident's Ishikawa diagram, cause editor, Five Whys and action items, edited live."""

import streamlit as st

from ui import fishbone as view
from ui import state
from ui.incidents import md_text

st.title("Fishbone")
incident = state.current_incident()
if incident is None:
    st.info("No incident selected: pick one in the sidebar or create one on the Incidents page.")
    st.stop()
st.caption(f"{incident.id} · {md_text(incident.title)}")
st.caption("Causes are coloured by status — red confirmed, amber suspected, grey ruled out. "
           "Hover a dot for its evidence; click it to edit. Every change is saved at once.")
view.live(state.get_store(), incident, view.fit_width_picker())
