import type protobuf from 'protobufjs';
import protojson from 'protobufjs/ext/protojson.js';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';

/**
 * Parses proto3 JSON (bytes as base64, 64-bit integers as strings, enums by name) into a
 * message of `type`. Anything that does not fit, such as an unknown field or a wrong type,
 * is INVALID_ARGUMENT naming the message type.
 */
export function messageFromJson(type: protobuf.Type, json: unknown): protobuf.Message {
  try {
    return protojson.fromJson(type, json as Record<string, unknown>);
  } catch (err) {
    throw new RpcError(Status.INVALID_ARGUMENT, `JSON does not fit ${type.fullName.replace(/^\./, '')}: ${(err as Error).message}`, { cause: err });
  }
}

/** Formats a message as proto3 JSON (the inverse of {@link messageFromJson}). */
export function messageToJson(type: protobuf.Type, message: object): unknown {
  return protojson.toJson(type, message as protobuf.Message);
}
