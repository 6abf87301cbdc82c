"""The baseline: the customer's design card read literally and naively, kept as a yardstick.

    server.py   a gRPC service with the same protos (SubmitEvent, SubmitEvents): stores each
                event and, in the same transaction, defers ONE procrastinate job per event
                (a batch of events is one insert and one batch defer)
    worker.py   a procrastinate worker whose task sends ONE event per HTTP request to the
                platform, records the attempt and the status, and leaves retries to
                procrastinate's built-in RetryStrategy with a fixed wait
    schema.py   its two tables, and the procrastinate schema, in a database of its own

It is fair on purpose: same protos, same fake platform, same PostgreSQL server, the same
personal-data hashing and Meta answer classification as Tenaz (imported from `jobs`), the
same worker concurrency and HTTP connection limits, successful jobs deleted as Tenaz does,
and the event's payload carried in the job so the task needs no extra read. What it does
not do is batch: one job, one request, one status write per event.
"""
