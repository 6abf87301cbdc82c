// A command line over TenazClient for the cross-language tests (tests/interop): another
// language's client submits what this one watches, and the reverse. The server is
// TENAZ_TEST_ADDRESS with the key TENAZ_TEST_API_KEY; output is one JSON object a line.
//
//   node build/test/interop.js submit EVENT_ID [SANDBOX_FAIL_ATTEMPTS]
//   node build/test/interop.js watch EVENT_ID UNTIL_STATUS     (e.g. SUCCEEDED)
import { DeliveryStatus, TenazClient, makeEvent } from "../src/index.js";

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v))}\n`);
}

async function main(args: string[]): Promise<void> {
  const [command, eventId, option] = args;
  const tenaz = new TenazClient(process.env.TENAZ_TEST_ADDRESS ?? "", process.env.TENAZ_TEST_API_KEY ?? "", {
    timeoutMs: 10_000,
  });
  try {
    if (command === "submit" && eventId) {
      const failAttempts = Number(option ?? "0");
      const response = await tenaz.submitEvent(
        makeEvent({
          eventId,
          eventName: "Purchase",
          userData: { email: "interop@example.com" },
          value: 10,
          currency: "BRL",
          extra: failAttempts > 0 ? { sandbox_fail_attempts: failAttempts } : undefined,
        }),
      );
      print({
        id: response.event?.id,
        duplicate: response.duplicate,
        deliveries: response.event?.deliveries.map((d) => ({ id: d.id, status: DeliveryStatus[d.status] })),
      });
    } else if (command === "watch" && eventId && option) {
      const until = DeliveryStatus[option as keyof typeof DeliveryStatus];
      if (until === undefined) throw new Error(`unknown status ${option}`);
      // From sequence 0, so that nothing that happened before the stream opened is missed.
      for await (const message of tenaz.watchStatus({ afterSequence: 0, eventIds: [eventId] })) {
        if (message.message.case !== "change") continue;
        const change = message.message.value;
        print({
          sequence: change.sequence,
          event_id: change.eventId,
          client_event_id: change.clientEventId,
          from: DeliveryStatus[change.fromStatus],
          to: DeliveryStatus[change.toStatus],
          attempt: change.attemptNumber,
        });
        if (change.toStatus === until) break;
      }
    } else {
      throw new Error("usage: interop.js submit EVENT_ID [FAIL_ATTEMPTS] | watch EVENT_ID UNTIL_STATUS");
    }
  } finally {
    tenaz.close();
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exitCode = 1;
});
