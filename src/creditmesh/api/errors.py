"""The service's answers that are not field errors: an object this caller cannot see (404), an id reused (409)."""

from creditmesh.errors import CreditmeshError


class NotFound(CreditmeshError):
    """No such object for this caller: it does not exist, or it belongs to another tenant (the same answer)."""


class Conflict(CreditmeshError):
    """The id or key was used before with another request."""
