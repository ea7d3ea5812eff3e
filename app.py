"""ML Incident Workbench: page config, navigation and the shared sidebar. No logic here."""

import streamlit as st

from ui import sidebar

st.set_page_config(page_title="ML Incident Workbench", page_icon="🧯", layout="wide")

PAGES = [
    st.Page("pages/incidents.py", title="Incidents", icon="📋", url_path="incidents", default=True),
    st.Page("pages/timeline.py", title="Timeline", icon="🕒", url_path="timeline"),
    st.Page("pages/distributions.py", title="Distributions", icon="📊", url_path="distributions"),
    st.Page("pages/logs.py", title="Logs", icon="📜", url_path="logs"),
    st.Page("pages/metrics.py", title="Metrics", icon="📈", url_path="metrics"),
    st.Page("pages/models.py", title="Models", icon="🧠", url_path="models"),
    st.Page("pages/fishbone.py", title="Fishbone", icon="🐟", url_path="fishbone"),
    st.Page("pages/triage.py", title="Triage", icon="🩺", url_path="triage"),
    st.Page("pages/postmortem.py", title="Post-mortem", icon="📝", url_path="postmortem"),
]

page = st.navigation(PAGES)
sidebar.render()
page.run()
