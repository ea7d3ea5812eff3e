"""Cancel long work from the page: a Cancel button shown while the work runs.

Streamlit stops a running script at its next element call when the user presses a
widget, so work that reports progress (a status line or a bar per step) stops at its
next step when Cancel is pressed. The button's callback records the cancel before the
next run starts; the page then says the work was cancelled instead of starting it again.
"""

from __future__ import annotations

from typing import Any

import streamlit as st


def _flag(key: str) -> str:
    return f"{key}_cancelled"


def _cancel(key: str) -> None:
    st.session_state[_flag(key)] = True


def cancel_button(key: str, what: str) -> Any:
    """Show "Cancel <what>" until the returned placeholder is emptied (call ``.empty()`` when the work ends)."""
    slot = st.empty()
    slot.button(f"Cancel {what}", key=f"{key}_cancel", on_click=_cancel, args=(key,), icon=":material/stop_circle:",
                help="Stops at the next step; nothing is stored.")
    return slot


def take_cancelled(key: str) -> bool:
    """Whether the user cancelled this work since the last call (the flag is cleared)."""
    return bool(st.session_state.pop(_flag(key), False))
