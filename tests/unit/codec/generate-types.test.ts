import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadProto } from '../../../src/codec/proto-loader.js';
import { generateTypes } from '../../../src/codec/generate-types.js';

const test = suite('generate-types');
const run = promisify(execFile);

const CORPUS = 'tests/fixtures/protos';
const FILES = ['values/v1/values.proto', 'shop/common/v1/money.proto', 'shop/catalog/v1/catalog.proto', 'shop/orders/v1/orders.proto'];
const TSC = path.resolve('node_modules/.bin/tsc');

/** What `ringrpc gen <file> --import-from <module>` writes (src/cli/gen.ts does exactly this). */
function gen(file: string, importFrom: string): string {
  return generateTypes(loadProto(file), { importFrom, sourceName: file });
}

// Uses of the generated types that must compile, and lies they must not tell.
const USAGE = `
import type { MessageInit } from 'RINGRPC';
import { OrderService, type Order, type PlaceOrderRequest } from './orders.js';
import type { Product } from './catalog.js';
import type { Scalars, Oneofs, Maps, WellKnown } from './values.js';

export function read(order: Order, product: Product, s: Scalars, o: Oneofs, m: Maps, w: WellKnown): unknown[] {
  const seen: unknown[] = [order.orderId satisfies bigint, order.customerId satisfies string, product.productId satisfies string];
  if (order.payment === 'storeCreditCents') seen.push(order.storeCreditCents satisfies bigint);
  if (order.payment === 'cardToken') seen.push(order.cardToken satisfies string, order.voucherCode satisfies undefined);
  if (order.payment === undefined) seen.push(order.cardToken satisfies undefined);
  // @ts-expect-error a oneof member may be unset
  seen.push(order.cardToken satisfies string);
  // @ts-expect-error a message field may be unset
  seen.push(order.placedAt.seconds);
  seen.push(order.placedAt?.seconds satisfies bigint | undefined, product.description?.value satisfies string | undefined);
  seen.push(order.itemsByLine['12']?.quantity, product.labels['k'], product.variants[0]?.optionValues);
  seen.push(s.fInt64 satisfies bigint, s.fUint64 satisfies bigint, s.fBytes satisfies Uint8Array, s.fDouble satisfies number, s.fMessage?.id);
  seen.push(o.maybeInt64 satisfies bigint | undefined, o.maybeBytes satisfies Uint8Array | undefined);
  if (o.choice === 'cMessage') seen.push(o.cMessage.name satisfies string);
  seen.push(m.stringByInt64 satisfies { [key: string]: string }, w.count?.value satisfies bigint | undefined, w.nothing);
  return seen;
}

export const init: MessageInit<PlaceOrderRequest> = {
  order: { orderId: 1n, itemsByLine: { '1': { quantity: 2 } }, storeCreditCents: '-5', adjustmentsCents: [1, 2n] },
};
// @ts-expect-error two members of one oneof
export const both: MessageInit<Order> = { cardToken: 'a', voucherCode: 'b' };
export const methods = [OrderService.methods.getOrder.path, OrderService.methods.placeOrder.localName];
`;

test('the output for a realistic corpus passes tsc --strict (packages, imports, snake_case, maps, oneofs, nesting, enums, well-known types)', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ringrpc-gen-'));
  try {
    const ringrpc = path.relative(dir, path.resolve('src/index.js')).split(path.sep).join('/');
    for (const file of FILES) writeFileSync(path.join(dir, `${path.basename(file, '.proto')}.ts`), gen(path.join(CORPUS, file), ringrpc));
    writeFileSync(path.join(dir, 'usage.ts'), USAGE.replace('RINGRPC', ringrpc));
    const compilerOptions = {
      strict: true,
      noEmit: true,
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      lib: ['ES2024'],
      types: ['node'],
      typeRoots: [path.resolve('node_modules/@types')],
      skipLibCheck: true,
    };
    writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['*.ts'] }));
    const result = await run(TSC, ['-p', path.join(dir, 'tsconfig.json')]).then(
      () => '',
      (err: { stdout?: string; message: string }) => err.stdout || err.message,
    );
    assert.is(result, '', `tsc --strict failed on the generated code:\n${result}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('names: three `Item`s in three packages get full names; nested types are Outer_Inner; imported types are declared once', () => {
  const code = gen(path.join(CORPUS, 'shop/orders/v1/orders.proto'), 'ringrpc');
  for (const name of ['shop_orders_v1_Item', 'shop_catalog_v1_Item', 'shop_common_v1_Item']) assert.ok(code.includes(`export interface ${name} {`), name);
  for (const line of [
    'export interface Order_Shipment {',
    'export type Order_State =',
    'export interface Timestamp {',
    'export type Value = {',
    '  orderId: bigint;',
    '  itemsByLine: { [key: string]: shop_orders_v1_Item };',
  ]) {
    assert.ok(code.includes(line), `missing: ${line}`);
  }
  assert.is(code.split('export interface Money {').length, 2);
  assert.not.ok(code.includes('LongLike'));
});

test('a message named like something the module uses gets its full name', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ringrpc-gen-'));
  try {
    writeFileSync(
      path.join(dir, 'r.proto'),
      'syntax = "proto3"; package r; message Record { map<string, string> m = 1; } message root {} service S { rpc Do(Record) returns (root); }',
    );
    const code = gen(path.join(dir, 'r.proto'), 'ringrpc');
    assert.ok(code.includes('export interface r_Record {'));
    assert.ok(code.includes('export interface r_root {'));
    assert.ok(code.includes("do: MethodDefinition<r_Record, r_root, 'unary'>;"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('oneofs with too many combinations for a union are optional members named by the oneof', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ringrpc-gen-'));
  try {
    const oneofs = Array.from(
      { length: 5 },
      (_, i) => `oneof o${i} { string a${i} = ${i * 3 + 1}; string b${i} = ${i * 3 + 2}; string c${i} = ${i * 3 + 3}; }`,
    ).join(' ');
    writeFileSync(path.join(dir, 'w.proto'), `syntax = "proto3"; package w; message Wide { ${oneofs} }`);
    const code = gen(path.join(dir, 'w.proto'), 'ringrpc');
    assert.ok(code.includes('export interface Wide {'));
    assert.ok(code.includes("  o0?: 'a0' | 'b0' | 'c0';"));
    assert.ok(code.includes('  a0?: string;'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the committed values fixture, examples/bench/generated.ts and examples/actors/generated.ts are up to date', () => {
  const values = path.join(CORPUS, 'values/v1/values.proto');
  assert.fixture(readFileSync(path.join(CORPUS, 'values/v1/generated.ts'), 'utf8'), gen(values, '../../../../../src/index.js'));
  const bench = 'proto/bench/v1/bench.proto';
  assert.fixture(readFileSync('examples/bench/generated.ts', 'utf8'), gen(bench, '../../src/index.js'));
  const accounts = 'proto/accounts/v1/accounts.proto';
  assert.fixture(readFileSync('examples/actors/generated.ts', 'utf8'), gen(accounts, '../../src/index.js'));
});

test.run();
