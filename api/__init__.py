"""dakora.api — the FastAPI app (runtime fetch API, auth, git smart HTTP mount).

Public surface: :func:`create_app` and :func:`invalidate_project`.
"""

from dakora.api.app import create_app
from dakora.api.state import ServerState, invalidate_project

__all__ = ["ServerState", "create_app", "invalidate_project"]
