"""The Conversions API endpoint: Meta's SDKs send their events to Tenaz as they would to Meta."""

from server.ingest.app import IngestServer, build_application, start_ingest

__all__ = ["IngestServer", "build_application", "start_ingest"]
