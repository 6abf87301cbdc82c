/**
 * @tenaz/client: Tenaz's TypeScript client for Node.js. `TenazClient` is the
 * typed wrapper; the generated messages, enums and services of tenaz.v1 are
 * exported as well, for calls the wrapper does not cover.
 */
export * from "./client.js";
export * from "./gen/tenaz/v1/events_pb.js";
export * from "./gen/tenaz/v1/destinations_pb.js";
export {
  BadRequestSchema,
  type BadRequest,
  type BadRequest_FieldViolation,
} from "./gen/google/rpc/error_details_pb.js";
