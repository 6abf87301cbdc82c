// TenazClient against a real Tenaz server: TENAZ_TEST_ADDRESS ("127.0.0.1:port") and
// TENAZ_TEST_API_KEY name it (tests/interop/test_typescript_client.py starts one and runs
// these tests). Without them every test is skipped.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";

import { Code } from "@connectrpc/connect";

import {
  DeliveryStatus,
  OperationKind,
  OperationState,
  TenazClient,
  TenazError,
  makeEvent,
  sequenceOf,
  type StatusChange,
} from "../src/index.js";

const address = process.env.TENAZ_TEST_ADDRESS ?? "";
const apiKey = process.env.TENAZ_TEST_API_KEY ?? "";
const run = `${process.pid}-${randomUUID().slice(0, 8)}`;

/** A unique event id, so that tests never see each other's events. */
function eventId(name: string): string {
  return `ts-${name}-${run}`;
}

async function rejection(promise: Promise<unknown>): Promise<TenazError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof TenazError, `expected a TenazError, got ${String(error)}`);
    return error;
  }
  assert.fail("the call succeeded");
}

describe("TenazClient against a real server", { skip: address === "" && "TENAZ_TEST_ADDRESS is not set" }, () => {
  let tenaz: TenazClient;

  before(async () => {
    tenaz = new TenazClient(address, apiKey, { timeoutMs: 10_000 });
    await tenaz.createSandboxDestination("ts-sandbox", { retryIntervalMs: 5_000 });
  });

  after(() => tenaz.close());

  test("manages destinations", async () => {
    const created = await tenaz.createSandboxDestination("ts-extra", { transientFailureRate: 0.25 });
    assert.equal(created.platform.case, "sandbox");
    assert.equal(created.platform.value?.transientFailureRate, 0.25);
    assert.ok(created.createdAt);

    const names = (await tenaz.listDestinations()).map((d) => d.name);
    assert.ok(names.includes("ts-extra") && names.includes("ts-sandbox"), names.join(","));

    const disabled = await tenaz.updateDestination({ name: "ts-extra", enabled: false }, ["enabled"]);
    assert.equal(disabled.enabled, false);
    assert.equal((await tenaz.getDestination("ts-extra")).enabled, false);

    await tenaz.deleteDestination("ts-extra");
    const gone = await rejection(tenaz.getDestination("ts-extra"));
    assert.equal(gone.code, Code.NotFound);
    assert.equal(gone.codeName, "NOT_FOUND");
  });

  test("submits one event and reads it back with its delivery", async () => {
    const id = eventId("one");
    const event = makeEvent({
      eventId: id,
      eventName: "Purchase",
      userData: { email: "Cliente@Example.com", phone: "(11) 98765-4321" },
      value: 197,
      currency: "BRL",
      extra: { coupon: "PRIMEIRA" },
    });
    const submitted = await tenaz.submitEvent(event);
    assert.equal(submitted.duplicate, false);
    const stored = submitted.event;
    assert.ok(stored);
    assert.deepEqual(
      stored.deliveries.map((d) => [d.destination, d.status]),
      [["ts-sandbox", DeliveryStatus.PENDING]],
    );

    const read = await tenaz.getEvent(stored.id);
    assert.equal(read.event?.eventId, id);
    assert.equal(read.event?.customData?.value, 197);
    assert.deepEqual(read.event?.customData?.extra, { coupon: "PRIMEIRA" });
    // Personal data comes back hashed, never as sent.
    assert.match(read.event?.userData?.email ?? "", /^[0-9a-f]{64}$/);

    const again = await tenaz.submitEvent(event);
    assert.equal(again.duplicate, true);
    assert.equal(again.event?.id, stored.id);
  });

  test("submits many events, all or none, with field violations on error", async () => {
    const good = makeEvent({ eventId: eventId("many-1"), eventName: "Lead", userData: { email: "a@example.com" } });
    const bad = makeEvent({ eventId: eventId("many-2"), eventName: "Lead", userData: { email: "not an email" } });
    const refused = await rejection(tenaz.submitEvents([good, bad]));
    assert.equal(refused.code, Code.InvalidArgument);
    assert.equal(refused.codeName, "INVALID_ARGUMENT");
    assert.deepEqual(
      refused.violations.map((v) => v.field),
      ["events[1].user_data.email"],
    );
    assert.ok(refused.violations[0]?.description);
    assert.match(refused.message, /events\[1\]\.user_data\.email/);
    // Nothing of the batch was stored.
    assert.equal((await tenaz.listEvents({ eventIds: [eventId("many-1")] })).events.length, 0);

    const ok = makeEvent({ eventId: eventId("many-2"), eventName: "Lead", userData: { email: "b@example.com" } });
    const response = await tenaz.submitEvents([good, ok]);
    assert.deepEqual(
      response.results.map((r) => [r.index, r.duplicate, r.deliveries.length]),
      [
        [0, false, 1],
        [1, false, 1],
      ],
    );
  });

  test("lists events page by page and iterates over every page", async () => {
    const ids = [1, 2, 3, 4, 5].map((n) => eventId(`page-${n}`));
    await tenaz.submitEvents(ids.map((id) => makeEvent({ eventId: id, eventName: "PageView", userData: { email: "p@example.com" } })));

    const first = await tenaz.listEvents({ eventName: "PageView", pageSize: 2 });
    assert.equal(first.events.length, 2);
    assert.notEqual(first.nextPageToken, "");

    const seen: string[] = [];
    for await (const stored of tenaz.iterEvents({ eventName: "PageView", pageSize: 2 })) {
      seen.push(stored.event?.eventId ?? "");
    }
    // Newest first.
    assert.deepEqual(seen, [...ids].reverse());

    const window = await tenaz.listEvents({ eventIds: ids, receivedAfter: new Date(Date.now() - 3_600_000) });
    assert.equal(window.events.length, 5);
    assert.equal((await tenaz.listEvents({ eventIds: ids, receivedBefore: new Date(0) })).events.length, 0);
  });

  test("watches status changes as an async iterator, and resumes after a sequence", async () => {
    const first = eventId("watch-1");
    const second = eventId("watch-2");
    for (const id of [first, second]) {
      await tenaz.submitEvent(makeEvent({ eventId: id, eventName: "Purchase", userData: { email: "w@example.com" } }));
    }

    const changes: StatusChange[] = [];
    for await (const message of tenaz.watchStatus({ afterSequence: 0, eventIds: [first, second] })) {
      if (message.message.case === "change") {
        changes.push(message.message.value);
        if (changes.length === 2) break; // leaving the loop ends the stream
      }
    }
    assert.deepEqual(
      changes.map((c) => [c.clientEventId, c.fromStatus, c.toStatus, c.destination]),
      [
        [first, DeliveryStatus.UNSPECIFIED, DeliveryStatus.PENDING, "ts-sandbox"],
        [second, DeliveryStatus.UNSPECIFIED, DeliveryStatus.PENDING, "ts-sandbox"],
      ],
    );
    const [a, b] = changes.map((c) => c.sequence);
    assert.ok(a !== undefined && b !== undefined && a < b);

    // Resuming after the first change starts with the second: no gap, no repeat.
    for await (const message of tenaz.watchStatus({ afterSequence: a, eventIds: [first, second] })) {
      assert.equal(message.message.case, "change");
      assert.equal(sequenceOf(message), b);
      break;
    }

    // With nothing new, heartbeats arrive and carry the sequence to resume after.
    const heartbeats = new AbortController();
    let beat: bigint | undefined;
    for await (const message of tenaz.watchStatus({
      afterSequence: b,
      eventIds: [first, second],
      heartbeatIntervalMs: 1_000,
      signal: heartbeats.signal,
    })) {
      assert.equal(message.message.case, "heartbeat");
      beat = sequenceOf(message);
      break;
    }
    assert.ok(beat !== undefined && beat >= b);
  });

  test("ends a status stream when its signal aborts", async () => {
    const stop = new AbortController();
    const stream = tenaz.watchStatus({ heartbeatIntervalMs: 1_000, signal: stop.signal });
    setTimeout(() => stop.abort(), 100);
    const ended = await rejection(
      (async () => {
        for await (const _ of stream) {
          // Heartbeats until the abort.
        }
      })(),
    );
    assert.equal(ended.code, Code.Canceled);
  });

  test("retries and cancels deliveries by id, and reads the operation", async () => {
    const submitted = await tenaz.submitEvent(
      makeEvent({ eventId: eventId("ops"), eventName: "Purchase", userData: { email: "o@example.com" } }),
    );
    const deliveryId = submitted.event?.deliveries[0]?.id;
    assert.ok(deliveryId);

    const retried = await tenaz.retryDeliveries({ deliveryIds: [deliveryId] });
    assert.equal(retried.kind, OperationKind.RETRY);
    assert.equal(retried.state, OperationState.DONE);
    assert.equal(retried.total, 1n);

    const cancelled = await tenaz.cancelDeliveries({ deliveryIds: [deliveryId] });
    assert.equal(cancelled.kind, OperationKind.CANCEL);
    assert.equal(cancelled.state, OperationState.DONE);
    assert.equal(cancelled.processed, 1n);

    const read = await tenaz.getOperation(cancelled.id);
    assert.equal(read.id, cancelled.id);
    assert.equal(read.state, OperationState.DONE);
  });

  test("reads statistics", async () => {
    const hour = 3_600_000;
    const stats = await tenaz.getStats({
      since: new Date(Date.now() - hour),
      until: new Date(Date.now() + hour),
      bucketMs: 600_000,
    });
    assert.ok(stats.since && stats.until);
    assert.ok(stats.counts.some((c) => c.destination === "ts-sandbox" && c.count > 0n));
    assert.ok(stats.destinations.some((d) => d.destination === "ts-sandbox"));
  });

  test("refuses a bad API key with UNAUTHENTICATED", async () => {
    const stranger = new TenazClient(address, "tz_not-a-real-key", { timeoutMs: 10_000 });
    try {
      const refused = await rejection(stranger.listDestinations());
      assert.equal(refused.code, Code.Unauthenticated);
      assert.equal(refused.codeName, "UNAUTHENTICATED");
      const stream = await rejection(
        (async () => {
          for await (const _ of stranger.watchStatus({ afterSequence: 0 })) {
            assert.fail("a stream without a valid key sent a message");
          }
        })(),
      );
      assert.equal(stream.code, Code.Unauthenticated);
    } finally {
      stranger.close();
    }
  });
});
