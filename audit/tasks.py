def purge_audit_trail() -> int:
    from .services import audit_purge

    return audit_purge()
