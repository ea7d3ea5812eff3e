"""Action items of an incident: a table to add, edit and close them."""

from __future__ import annotations

import streamlit as st

from core.models import Incident
from core.store import Store


def section(store: Store, incident: Incident) -> None:
    st.subheader("Action items")
    st.caption("Action items are tracked with the fishbone's causes.")
