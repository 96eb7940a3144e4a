"""B2B EDI gateway: AS2 and SFTP transport, X12 translation, reconciliation and customs filing."""

__version__ = "0.1.0"
