import protobuf from 'protobufjs';

/**
 * The standard gRPC services a ringrpc server answers itself, written out from their
 * published definitions (grpc/grpc-proto: `grpc/health/v1/health.proto`,
 * `grpc/reflection/v1/reflection.proto`), field numbers and all. They are parsed once, on
 * first use, so that a server that never sees a gRPC client never pays for them.
 */
const HEALTH_PROTO = `
syntax = "proto3";
package grpc.health.v1;
message HealthCheckRequest { string service = 1; }
message HealthCheckResponse {
  enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; }
  ServingStatus status = 1;
}
service Health {
  rpc Check(HealthCheckRequest) returns (HealthCheckResponse);
  rpc Watch(HealthCheckRequest) returns (stream HealthCheckResponse);
}
`;

/** The reflection service of package `pkg` (v1 and v1alpha have the same messages). */
function reflectionProto(pkg: string): string {
  return `
syntax = "proto3";
package ${pkg};
service ServerReflection {
  rpc ServerReflectionInfo(stream ServerReflectionRequest) returns (stream ServerReflectionResponse);
}
message ServerReflectionRequest {
  string host = 1;
  oneof message_request {
    string file_by_filename = 3;
    string file_containing_symbol = 4;
    ExtensionRequest file_containing_extension = 5;
    string all_extension_numbers_of_type = 6;
    string list_services = 7;
  }
}
message ExtensionRequest { string containing_type = 1; int32 extension_number = 2; }
message ServerReflectionResponse {
  string valid_host = 1;
  ServerReflectionRequest original_request = 2;
  oneof message_response {
    FileDescriptorResponse file_descriptor_response = 4;
    ExtensionNumberResponse all_extension_numbers_response = 5;
    ListServiceResponse list_services_response = 6;
    ErrorResponse error_response = 7;
  }
}
message FileDescriptorResponse { repeated bytes file_descriptor_proto = 1; }
message ExtensionNumberResponse { string base_type_name = 1; repeated int32 extension_number = 2; }
message ListServiceResponse { repeated ServiceResponse service = 1; }
message ServiceResponse { string name = 1; }
message ErrorResponse { int32 error_code = 1; string error_message = 2; }
`;
}

/** `grpc.health.v1.Health`. */
export const HEALTH_SERVICE = 'grpc.health.v1.Health';
/** The reflection services answered: the current one, and the older one some tools still call. */
export const REFLECTION_SERVICES = ['grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'] as const;

let standard: protobuf.Root | undefined;

/** One root holding the health service and both reflection services, parsed on first use. */
export function standardRoot(): protobuf.Root {
  if (standard === undefined) {
    const root = new protobuf.Root();
    for (const text of [HEALTH_PROTO, reflectionProto('grpc.reflection.v1'), reflectionProto('grpc.reflection.v1alpha')]) {
      protobuf.parse(text, root, { keepCase: true });
    }
    root.resolveAll();
    standard = root;
  }
  return standard;
}
