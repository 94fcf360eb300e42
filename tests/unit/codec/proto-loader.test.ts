import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadServices } from '../../../src/index.js';

const test = suite('proto-loader');

test('google/protobuf imports resolve: the bundled well-known types, and the files protobufjs ships (descriptor.proto for custom options)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ringrpc-loader-'));
  try {
    writeFileSync(
      path.join(dir, 'w.proto'),
      `syntax = "proto3"; package w;
      import "google/protobuf/descriptor.proto";
      import "google/protobuf/timestamp.proto";
      import "google/protobuf/wrappers.proto";
      import "google/protobuf/empty.proto";
      import "google/protobuf/duration.proto";
      extend google.protobuf.FieldOptions { string label = 50001; }
      message M { string a = 1 [(label) = "x"]; google.protobuf.Timestamp at = 2; google.protobuf.StringValue s = 3; google.protobuf.Duration d = 4; }
      service S { rpc Do(M) returns (google.protobuf.Empty); }`,
    );
    const [service] = loadServices(path.join(dir, 'w.proto'));
    const type = service!.methods['do']!.requestType;
    const decoded = type.decode(type.encode({ at: { seconds: 5n }, s: { value: 'v' } }).finish()) as unknown as {
      at: { seconds: bigint };
      s: { value: string };
    };
    assert.is(decoded.at.seconds, 5n);
    assert.is(decoded.s.value, 'v');
    assert.is(service!.methods['do']!.responseType.fullName, '.google.protobuf.Empty');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
