"""The HTTP ingest server: the Conversions API endpoint, where Meta's SDKs send their events to
Tenaz as they would to Meta, and EventService in the Connect protocol, for tools without gRPC."""

from server.ingest.app import IngestServer, build_application, start_ingest

__all__ = ["IngestServer", "build_application", "start_ingest"]
