/**
 * A small typed wrapper over Tenaz's generated gRPC stubs, for Node.js.
 *
 * It adds what every caller would otherwise write again: the API key on every
 * call, Dates instead of Timestamps, paging, status changes as an async
 * iterator, and errors that carry the server's field violations.
 *
 * The transport is Connect's gRPC transport: real gRPC over HTTP/2, so it talks
 * to Tenaz's gRPC server as any other gRPC client does.
 */

import { create, type JsonObject, type MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  Code,
  ConnectError,
  createClient,
  type CallOptions,
  type Client,
  type Interceptor,
} from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";

import { BadRequestSchema } from "./gen/google/rpc/error_details_pb.js";
import {
  DestinationSchema,
  DestinationService,
  type Destination,
} from "./gen/tenaz/v1/destinations_pb.js";
import {
  DeliveryStatus,
  EventSchema,
  EventService,
  type DeliveryFilterSchema,
  type Event,
  type GetStatsResponse,
  type ListEventsResponse,
  type Operation,
  type StoredEvent,
  type SubmitEventResponse,
  type SubmitEventsResponse,
  type UserDataSchema,
  type WatchStatusResponse,
} from "./gen/tenaz/v1/events_pb.js";

/** Portuguese labels of the delivery statuses, as Tenaz's dashboard and CLI show them. */
export const STATUS_LABELS_PT_BR: Readonly<Record<DeliveryStatus, string>> = {
  [DeliveryStatus.UNSPECIFIED]: "",
  [DeliveryStatus.PENDING]: "Pendente",
  [DeliveryStatus.SENDING]: "Enviando",
  [DeliveryStatus.WAITING_RETRY]: "Esperando Retentativa",
  [DeliveryStatus.RESENDING]: "Reenviando",
  [DeliveryStatus.SUCCEEDED]: "Sucesso",
  [DeliveryStatus.FAILED]: "Falha",
};

/** One invalid field of a request, e.g. `events[3].user_data.email`. */
export interface FieldViolation {
  readonly field: string;
  readonly description: string;
}

/**
 * A call failed. `code` is the gRPC status code (`codeName` spells it as gRPC
 * does, e.g. "INVALID_ARGUMENT"); `violations` names each bad field when the
 * input was invalid.
 */
export class TenazError extends Error {
  readonly code: Code;
  readonly codeName: string;
  readonly rawMessage: string;
  readonly violations: readonly FieldViolation[];

  constructor(code: Code, rawMessage: string, violations: readonly FieldViolation[] = [], cause?: unknown) {
    const codeName = grpcCodeName(code);
    const lines = violations.map((v) => `\n  ${v.field}: ${v.description}`).join("");
    super(`${codeName}: ${rawMessage}${lines}`, { cause });
    this.name = "TenazError";
    this.code = code;
    this.codeName = codeName;
    this.rawMessage = rawMessage;
    this.violations = violations;
  }
}

/** The gRPC spelling of a status code: Code.InvalidArgument is "INVALID_ARGUMENT". */
export function grpcCodeName(code: Code): string {
  const name = Code[code] as string | undefined;
  return name === undefined ? `CODE_${code}` : name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

/** Turn anything a call threw into a TenazError, decoding google.rpc.BadRequest details. */
export function toTenazError(error: unknown): TenazError {
  if (error instanceof TenazError) {
    return error;
  }
  const connectError = ConnectError.from(error);
  const violations = connectError.findDetails(BadRequestSchema).flatMap((badRequest) =>
    badRequest.fieldViolations.map((v) => ({ field: v.field, description: v.description })),
  );
  return new TenazError(connectError.code, connectError.rawMessage, violations, error);
}

/** The personal and browser fields of an event (UserData), all optional. */
export type UserDataInit = MessageInitShape<typeof UserDataSchema>;

/** What `makeEvent` needs: the event's own fields, with a Date for its time. */
export interface EventInput {
  /** Your unique id of the event, e.g. the order id. */
  eventId: string;
  /** "Purchase", "Lead", ... or a custom name. */
  eventName: string;
  /** When the conversion happened; default now. */
  eventTime?: Date;
  /** Default: "website" with a clientUserAgent and an eventSourceUrl, else "other" (decided by Tenaz). */
  actionSource?: string;
  eventSourceUrl?: string;
  /** Plain values are normalised and hashed by Tenaz before they are stored. */
  userData?: UserDataInit;
  value?: number;
  currency?: string;
  orderId?: string;
  /** Destination names; empty means every enabled destination. */
  destinations?: string[];
  /** Further custom_data fields, passed to the platform as they are. */
  extra?: JsonObject;
}

/** Build an Event message from plain values. */
export function makeEvent(input: EventInput): Event {
  return create(EventSchema, {
    eventId: input.eventId,
    eventName: input.eventName,
    eventTime: timestampFromDate(input.eventTime ?? new Date()),
    actionSource: input.actionSource ?? "",
    eventSourceUrl: input.eventSourceUrl ?? "",
    userData: input.userData ?? {},
    customData: {
      value: input.value,
      currency: input.currency ?? "",
      orderId: input.orderId ?? "",
      extra: input.extra,
    },
    destinations: input.destinations ?? [],
  });
}

/** An event to submit: a message from `makeEvent`, or the Event fields as an object. */
export type EventInit = MessageInitShape<typeof EventSchema>;

/** Filters of ListEvents; they combine with AND. */
export interface ListEventsFilters {
  statuses?: DeliveryStatus[];
  destination?: string;
  eventName?: string;
  receivedAfter?: Date;
  receivedBefore?: Date;
  eventIds?: string[];
  /** Default 50, at most 500. */
  pageSize?: number;
  pageToken?: string;
}

/** Where a status stream starts, which changes it carries, and how it stops. */
export interface WatchOptions {
  /**
   * Send the changes after this sequence. Unset: only changes from now on;
   * 0: every change still kept. To resume after a disconnect, pass the last
   * sequence seen (`sequenceOf(message)`): nothing is lost or repeated.
   */
  afterSequence?: bigint | number;
  /** How often the server sends a heartbeat when idle; default 15 s, from 1 s to 5 min. */
  heartbeatIntervalMs?: number;
  destinations?: string[];
  statuses?: DeliveryStatus[];
  eventNames?: string[];
  eventIds?: string[];
  /** Aborting it ends the stream (the iterator then throws a CANCELED TenazError). */
  signal?: AbortSignal;
}

/** The sequence to resume after, from a change or a heartbeat. */
export function sequenceOf(message: WatchStatusResponse): bigint {
  switch (message.message.case) {
    case "change":
      return message.message.value.sequence;
    case "heartbeat":
      return message.message.value.lastSequence;
    default:
      return 0n;
  }
}

/** Deliveries for a bulk retry or cancel: by ids (done at once) or by a filter (background). */
export interface DeliverySelection {
  deliveryIds?: string[];
  filter?: MessageInitShape<typeof DeliveryFilterSchema>;
}

export interface TenazClientOptions {
  /** Deadline of each unary call; default 30 s. Streams have none. */
  timeoutMs?: number;
  /** Send HTTP/2 PINGs this often to keep long status streams alive behind proxies. */
  pingIntervalMs?: number;
}

/** Settings of a sandbox destination (the built-in fake ad platform). */
export interface SandboxOptions {
  /** Fraction (0 to 1) of requests that fail transiently. */
  transientFailureRate?: number;
  /** Time from a failed attempt to the next; default the server's (30 minutes). */
  retryIntervalMs?: number;
}

/** Settings of a Meta Conversions API destination. */
export interface MetaOptions {
  pixelId: string;
  /** Write-only: stored by Tenaz, never returned. */
  accessToken: string;
  testEventCode?: string;
  apiVersion?: string;
  baseUrl?: string;
  retryIntervalMs?: number;
}

/**
 * Client for one Tenaz server and one workspace (its API key).
 *
 * `address` is "host:port" (plaintext HTTP/2) or a URL: "http://host:port", or
 * "https://host" for TLS.
 */
export class TenazClient {
  /** The generated EventService client; the API key is added to its calls too. */
  readonly events: Client<typeof EventService>;
  /** The generated DestinationService client. */
  readonly destinations: Client<typeof DestinationService>;
  private readonly sessions: Http2SessionManager;
  private readonly timeoutMs: number;

  constructor(address: string, apiKey: string, options: TenazClientOptions = {}) {
    const baseUrl = /^https?:\/\//.test(address) ? address : `http://${address}`;
    const authorization: Interceptor = (next) => (request) => {
      request.header.set("authorization", `Bearer ${apiKey}`);
      return next(request);
    };
    this.sessions = new Http2SessionManager(baseUrl, { pingIntervalMs: options.pingIntervalMs });
    const transport = createGrpcTransport({
      baseUrl,
      interceptors: [authorization],
      sessionManager: this.sessions,
    });
    this.events = createClient(EventService, transport);
    this.destinations = createClient(DestinationService, transport);
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** Close the connection; calls in flight fail. */
  close(): void {
    this.sessions.abort();
  }

  private async call<T>(run: (options: CallOptions) => Promise<T>): Promise<T> {
    try {
      return await run({ timeoutMs: this.timeoutMs });
    } catch (error) {
      throw toTenazError(error);
    }
  }

  // Events

  /** Store one event and queue its deliveries; a repeated (event_name, event_id) gives `duplicate`. */
  submitEvent(event: EventInit): Promise<SubmitEventResponse> {
    return this.call((options) => this.events.submitEvent({ event }, options));
  }

  /** Store up to 1,000 events in one transaction: all or none. */
  submitEvents(events: EventInit[]): Promise<SubmitEventsResponse> {
    return this.call((options) => this.events.submitEvents({ events }, options));
  }

  /** One event with its deliveries and their attempts. */
  async getEvent(id: string): Promise<StoredEvent> {
    const response = await this.call((options) => this.events.getEvent({ id }, options));
    return required(response.event, "GetEventResponse.event");
  }

  /** One page of events, newest first. */
  listEvents(filters: ListEventsFilters = {}): Promise<ListEventsResponse> {
    const { receivedAfter, receivedBefore, ...rest } = filters;
    return this.call((options) =>
      this.events.listEvents(
        {
          ...rest,
          receivedAfter: receivedAfter && timestampFromDate(receivedAfter),
          receivedBefore: receivedBefore && timestampFromDate(receivedBefore),
        },
        options,
      ),
    );
  }

  /** Every matching event, newest first, fetching pages as needed. */
  async *iterEvents(filters: ListEventsFilters = {}): AsyncGenerator<StoredEvent, void, undefined> {
    let pageToken = filters.pageToken ?? "";
    do {
      const page = await this.listEvents({ ...filters, pageToken });
      yield* page.events;
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
  }

  /**
   * Status changes (and heartbeats) as they happen, until the server ends the
   * stream, `options.signal` aborts, or the loop over it stops.
   */
  async *watchStatus(options: WatchOptions = {}): AsyncGenerator<WatchStatusResponse, void, undefined> {
    const { afterSequence, heartbeatIntervalMs, signal, ...filters } = options;
    const stop = new AbortController();
    const forward = (): void => stop.abort(signal?.reason);
    if (signal?.aborted) {
      forward();
    }
    signal?.addEventListener("abort", forward, { once: true });
    try {
      const stream = this.events.watchStatus(
        {
          ...filters,
          afterSequence: afterSequence === undefined ? undefined : BigInt(afterSequence),
          heartbeatInterval: heartbeatIntervalMs === undefined ? undefined : durationFromMs(heartbeatIntervalMs),
        },
        { signal: stop.signal },
      );
      yield* stream;
    } catch (error) {
      throw toTenazError(error);
    } finally {
      // Leaving the loop early must also end the call on the server.
      signal?.removeEventListener("abort", forward);
      stop.abort();
    }
  }

  /** Send deliveries again now: by ids (done at once) or by filter (a background operation). */
  async retryDeliveries(selection: DeliverySelection): Promise<Operation> {
    const response = await this.call((options) => this.events.retryDeliveries(selection, options));
    return required(response.operation, "RetryDeliveriesResponse.operation");
  }

  /** Stop retrying deliveries: by ids (done at once) or by filter (a background operation). */
  async cancelDeliveries(selection: DeliverySelection): Promise<Operation> {
    const response = await this.call((options) => this.events.cancelDeliveries(selection, options));
    return required(response.operation, "CancelDeliveriesResponse.operation");
  }

  /** The progress of a retry or cancel operation. */
  async getOperation(id: string): Promise<Operation> {
    const response = await this.call((options) => this.events.getOperation({ id }, options));
    return required(response.operation, "GetOperationResponse.operation");
  }

  /** Deliveries by status and destination, attempts over time, each destination's health. */
  getStats(window: { since?: Date; until?: Date; bucketMs?: number } = {}): Promise<GetStatsResponse> {
    return this.call((options) =>
      this.events.getStats(
        {
          since: window.since && timestampFromDate(window.since),
          until: window.until && timestampFromDate(window.until),
          bucket: window.bucketMs === undefined ? undefined : durationFromMs(window.bucketMs),
        },
        options,
      ),
    );
  }

  // Destinations

  async createDestination(destination: MessageInitShape<typeof DestinationSchema>): Promise<Destination> {
    const response = await this.call((options) =>
      this.destinations.createDestination({ destination }, options),
    );
    return required(response.destination, "CreateDestinationResponse.destination");
  }

  createSandboxDestination(name: string, settings: SandboxOptions = {}): Promise<Destination> {
    return this.createDestination({
      name,
      enabled: true,
      platform: { case: "sandbox", value: { transientFailureRate: settings.transientFailureRate ?? 0 } },
      retryInterval: interval(settings.retryIntervalMs),
    });
  }

  createMetaDestination(name: string, settings: MetaOptions): Promise<Destination> {
    return this.createDestination({
      name,
      enabled: true,
      platform: {
        case: "meta",
        value: {
          pixelId: settings.pixelId,
          accessToken: settings.accessToken,
          testEventCode: settings.testEventCode ?? "",
          apiVersion: settings.apiVersion ?? "",
          baseUrl: settings.baseUrl ?? "",
        },
      },
      retryInterval: interval(settings.retryIntervalMs),
    });
  }

  async getDestination(name: string): Promise<Destination> {
    const response = await this.call((options) => this.destinations.getDestination({ name }, options));
    return required(response.destination, "GetDestinationResponse.destination");
  }

  /** Every destination of the workspace, ordered by name. */
  async listDestinations(): Promise<Destination[]> {
    const response = await this.call((options) => this.destinations.listDestinations({}, options));
    return response.destinations;
  }

  /** Change the fields named in `paths` ("enabled", "meta.access_token", ...) of the named destination. */
  async updateDestination(
    destination: MessageInitShape<typeof DestinationSchema>,
    paths: string[],
  ): Promise<Destination> {
    const response = await this.call((options) =>
      this.destinations.updateDestination({ destination, updateMask: { paths } }, options),
    );
    return required(response.destination, "UpdateDestinationResponse.destination");
  }

  async deleteDestination(name: string): Promise<void> {
    await this.call((options) => this.destinations.deleteDestination({ name }, options));
  }
}

function interval(ms: number | undefined): ReturnType<typeof durationFromMs> | undefined {
  return ms === undefined ? undefined : durationFromMs(ms);
}

function required<T>(value: T | undefined, name: string): T {
  if (value === undefined) {
    throw new TenazError(Code.Internal, `the server's answer has no ${name}`);
  }
  return value;
}
