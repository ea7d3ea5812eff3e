"""Who the command line acts as: ``python -m core --as USER …`` with that person's token in ``WORKBENCH_TOKEN``.

Without ``--as`` the command line behaves as it always has: it acts as the workbench itself (whoever
can run it holds the database credentials, which allow any write anyway), and its writes are audited
as ``system`` from ``cli: COMMAND``. With ``--as`` the token is checked against the store's tokens,
the person's role from the team list applies to every write, and the audit log names them.
"""

from __future__ import annotations

import os

from core.team.guard import ACTOR, VIA

TOKEN_VAR = "WORKBENCH_TOKEN"


def act_as(args, command: str | None) -> None:
    """Bind the acting identity and origin for this command line run (from ``args.acting_as``)."""
    words = [command or ""] + [str(v) for k, v in sorted(vars(args).items())
                               if k.endswith("_command") and isinstance(v, str)]
    VIA.set(("cli: " + " ".join(w for w in words if w)).strip())
    user = getattr(args, "acting_as", None)
    if not user:
        return
    from core.store import open_store
    from core.team.members import identity_for_token

    store = open_store(getattr(args, "database", None))
    try:
        ACTOR.set(identity_for_token(store, user, os.environ.get(TOKEN_VAR)))
    finally:
        store.dispose()
