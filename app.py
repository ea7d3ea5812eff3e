"""ML Incident Workbench: page config, navigation and the shared sidebar. No logic here."""

import streamlit as st

from ui import sidebar

st.set_page_config(page_title="ML Incident Workbench", page_icon=":material/emergency:", layout="wide")

PAGES = [
    st.Page("pages/incidents.py", title="Incidents", icon=":material/list_alt:", default=True),
    st.Page("pages/timeline.py", title="Timeline", icon=":material/timeline:", url_path="timeline"),
    st.Page("pages/distributions.py", title="Distributions", icon=":material/bar_chart:", url_path="distributions"),
    st.Page("pages/logs.py", title="Logs", icon=":material/receipt_long:", url_path="logs"),
    st.Page("pages/metrics.py", title="Metrics", icon=":material/monitoring:", url_path="metrics"),
    st.Page("pages/models.py", title="Models", icon=":material/model_training:", url_path="models"),
    st.Page("pages/fishbone.py", title="Fishbone", icon=":material/account_tree:", url_path="fishbone"),
    st.Page("pages/triage.py", title="Triage", icon=":material/troubleshoot:", url_path="triage"),
    st.Page("pages/postmortem.py", title="Post-mortem", icon=":material/description:", url_path="postmortem"),
]

page = st.navigation(PAGES)
sidebar.render()
page.run()
