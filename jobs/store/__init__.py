"""All of Tenaz's SQL, one module per table family.

Functions take an open `psycopg.AsyncConnection` so that the service layer can
compose several of them in one transaction (an event, its deliveries, their
status changes and the queue job commit together or not at all).
"""
