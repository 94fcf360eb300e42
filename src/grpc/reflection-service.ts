import type { ServerHttp2Stream } from 'node:http2';
import type protobuf from 'protobufjs';
import { Status } from '../status.js';
import type { DescriptorCatalog } from './descriptor-catalog.js';
import type { GrpcExchange } from './grpc-exchange.js';
import type { BuiltinService } from './builtin-service.js';
import { readRequests } from './request-reader.js';
import { standardRoot } from './standard-protos.js';

/** A decoded `ServerReflectionRequest` (field names as in the .proto). */
interface ReflectionRequest {
  host?: string;
  message_request?: 'file_by_filename' | 'file_containing_symbol' | 'file_containing_extension' | 'all_extension_numbers_of_type' | 'list_services';
  file_by_filename?: string;
  file_containing_symbol?: string;
  file_containing_extension?: { containing_type?: string; extension_number?: number };
  all_extension_numbers_of_type?: string;
  list_services?: string;
}

/**
 * The server reflection service (`grpc.reflection.v1` and `v1alpha`, the same messages):
 * lists the services and hands out the .proto schema of each, so that `grpcurl list` and
 * `describe` work without the client's own copy. In gRPC it is a bidirectional stream, one
 * answer per request; as a built-in service it is served here, on the HTTP/2 stream
 * itself, answering each request message as it arrives.
 */
export class ReflectionService implements BuiltinService {
  private readonly request: protobuf.Type;
  private readonly response: protobuf.Type;

  constructor(private readonly catalog: DescriptorCatalog) {
    const root = standardRoot();
    // v1alpha's messages are v1's, field for field: one pair of types serves both.
    this.request = root.lookupType('grpc.reflection.v1.ServerReflectionRequest');
    this.response = root.lookupType('grpc.reflection.v1.ServerReflectionResponse');
  }

  serve(method: string, stream: ServerHttp2Stream, exchange: GrpcExchange): boolean {
    if (method !== 'ServerReflectionInfo') return false;
    exchange.open();
    readRequests(
      stream,
      (body) => {
        const request = this.request.toObject(this.request.decode(body), { oneofs: true }) as ReflectionRequest;
        exchange.writeMessage(this.response.encode({ valid_host: request.host ?? '', original_request: request, ...this.answer(request) }).finish());
      },
      () => exchange.end(),
      (fault) => exchange.sendStatus(fault.status, fault.message, undefined),
    );
    return true;
  }

  /** The `message_response` of one request. */
  private answer(request: ReflectionRequest): Record<string, unknown> {
    const files = (found: Uint8Array[] | undefined, what: string): Record<string, unknown> =>
      found === undefined ? notFound(what) : { file_descriptor_response: { file_descriptor_proto: found } };
    switch (request.message_request) {
      case 'list_services':
        return { list_services_response: { service: this.catalog.services().map((name) => ({ name })) } };
      case 'file_by_filename':
        return files(this.catalog.fileByName(request.file_by_filename ?? ''), `file ${JSON.stringify(request.file_by_filename)}`);
      case 'file_containing_symbol':
        return files(this.catalog.fileContaining(request.file_containing_symbol ?? ''), `symbol ${JSON.stringify(request.file_containing_symbol)}`);
      case 'all_extension_numbers_of_type': {
        const type = request.all_extension_numbers_of_type ?? '';
        // proto3 services declare no extensions: a known type has none, an unknown one is not found.
        return this.catalog.hasMessage(type)
          ? { all_extension_numbers_response: { base_type_name: type, extension_number: [] } }
          : notFound(`type ${JSON.stringify(type)}`);
      }
      case 'file_containing_extension':
        return notFound(
          `extension ${request.file_containing_extension?.extension_number} of ${JSON.stringify(request.file_containing_extension?.containing_type)}`,
        );
      default:
        return { error_response: { error_code: Status.INVALID_ARGUMENT, error_message: 'empty reflection request' } };
    }
  }
}

function notFound(what: string): Record<string, unknown> {
  return { error_response: { error_code: Status.NOT_FOUND, error_message: `${what} not found` } };
}
