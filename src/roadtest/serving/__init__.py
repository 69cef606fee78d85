"""The HTTP API: app factory, routes, the loaded champion, security and metrics.

``create_app(settings, services=None)`` builds the app; ``roadtest serve`` runs
it under uvicorn. Importing this package loads neither torch nor the app.
"""

from roadtest.serving.app import create_app
from roadtest.serving.services import Services

__all__ = ["Services", "create_app"]
