"""Streamlit-only helpers: cached wrappers over core, shared state and widgets."""
