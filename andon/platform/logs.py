"""Filters of the application's own log (settings.LOGGING)."""

import logging

from django.core.exceptions import PermissionDenied


class RefusalsWithoutTraceback(logging.Filter):
    """Django logs every refused request (403) at WARNING with the refusal's traceback. A refusal
    is routine (someone follows a link their role does not reach) and its traceback says nothing
    the line does not: the line stays, names the permission refused, and the traceback goes. A
    server's log then shows the refusals one line each, and real errors stand out."""

    def filter(self, record: logging.LogRecord) -> bool:
        refusal = record.exc_info[1] if record.exc_info else None
        if isinstance(refusal, PermissionDenied):
            record.exc_info = None
            record.exc_text = None
            permission = getattr(refusal, "permission", None)
            if permission:  # the message is %-formatted with the record's arguments
                record.msg = f"{record.msg} (refused: {permission.replace('%', '%%')})"
        return True
