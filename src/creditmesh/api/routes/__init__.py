"""One router per resource, included by :func:`creditmesh.api.app.create_app`."""
