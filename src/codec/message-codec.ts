import protobuf from 'protobufjs';
import { Int64Reader, Int64Writer, isInt64, isInt64Key } from './int64.js';

/**
 * Makes the decoded messages of a root match the types `ringrpc gen` declares for them.
 * protobufjs alone gives `[]` for an absent `bytes` field, `''`/`0`/`null` for unset
 * members of a oneof, and `Long` objects for 64-bit integers. {@link prepareMessageTypes}
 * fixes each message type once, when a service is defined (`defineService`, so also
 * `loadServices`, generated code and every worker thread), and the server's lanes and the
 * client, which call `type.decode`/`encode`/`verify`, get the fix with nothing to change:
 *
 * - an absent `bytes` field reads as an empty `Buffer`, and present ones are `Buffer`s
 *   too, even when the input is a plain `Uint8Array` (the worker lane's);
 * - a field with presence (message fields, oneof members, proto3 `optional`) is absent
 *   when unset: no own property and no prototype default, so it reads `undefined`;
 *   a oneof's name is a getter naming the member that is set, or `undefined`;
 * - 64-bit integers are `bigint`s (see `int64.ts`); a map with 64-bit keys is keyed by
 *   their decimal strings.
 *
 * Types without 64-bit fields (Echo's, Work's) keep protobufjs's generated encoder and
 * verifier, and their decoder differs only in the reader it creates: from a Buffer, the
 * same one; from a plain Uint8Array, a Buffer view of it first (one small allocation).
 * Calling it again is cheap: each type is prepared once, and types added since are too.
 */
export function prepareMessageTypes(root: protobuf.Root): void {
  root.resolveAll();
  const types = allTypes(root);
  const int64 = typesWithInt64(types);
  for (const type of types) prepareType(type, int64.has(type));
}

const preparedTypes = new WeakSet<protobuf.Type>();

const LONG_TYPES = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
const UNSIGNED_LONG = new Set(['uint64', 'fixed64']);

/** The empty `bytes` value: zero-length, so freezing it makes the shared instance safe. */
const EMPTY_BYTES: Buffer = Object.freeze(Buffer.alloc(0)) as Buffer;

function allTypes(root: protobuf.Root): protobuf.Type[] {
  const out: protobuf.Type[] = [];
  const visit = (ns: protobuf.NamespaceBase): void => {
    for (const nested of ns.nestedArray) {
      if (nested instanceof protobuf.Type) out.push(nested);
      if (nested instanceof protobuf.Namespace) visit(nested); // Type extends Namespace
    }
  };
  visit(root);
  return out;
}

/** Types with a 64-bit field, directly or in a message they contain (at any depth). */
function typesWithInt64(types: protobuf.Type[]): Set<protobuf.Type> {
  const found = new Set<protobuf.Type>(types.filter((t) => t.fieldsArray.some((f) => LONG_TYPES.has(f.type) || LONG_TYPES.has(keyTypeOf(f) ?? ''))));
  // A parent must create the bigint reader and writer for its children: propagate upwards.
  for (let changed = true; changed; ) {
    changed = false;
    for (const t of types) {
      if (found.has(t)) continue;
      if (t.fieldsArray.some((f) => f.resolvedType instanceof protobuf.Type && found.has(f.resolvedType))) {
        found.add(t);
        changed = true;
      }
    }
  }
  return found;
}

// Module constants: a property read on the protobufjs namespace object is slow in a hot path.
const BufferReader = protobuf.BufferReader;
const isBuffer = Buffer.isBuffer;

function asBuffer(bytes: Uint8Array | number[]): Buffer {
  if (isBuffer(bytes)) return bytes;
  if (bytes instanceof Uint8Array) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Buffer.from(bytes);
}

/**
 * What a prepared decoder calls instead of `Reader.create`: always a Buffer reader, so that
 * `bytes` fields are Buffers whatever the input (bigint-reading for types with 64-bit
 * fields). The decoder keeps protobufjs's own `Reader` for its `instanceof` check: a
 * stand-in class there measurably slows every decode.
 */
const createBufferReader = (bytes: Uint8Array): protobuf.Reader => new BufferReader(asBuffer(bytes));
const createInt64Reader = (bytes: Uint8Array): protobuf.Reader => new Int64Reader(asBuffer(bytes));

function prepareType(type: protobuf.Type, int64: boolean): void {
  if (preparedTypes.has(type)) return;
  // setup() builds protobufjs's codecs, including fromObject/toObject: doing it first means
  // no later lazy setup() can overwrite what is installed below.
  type.setup();
  const prototype = type.ctor.prototype as Record<string, unknown>;
  for (const field of type.fieldsArray) {
    if (field.map || field.repeated) continue; // the constructor gives each its own {} or []
    if (field.partOf !== null || field.resolvedType instanceof protobuf.Type) delete prototype[field.name];
    else if (field.type === 'bytes')
      prototype[field.name] = field.typeDefault instanceof Uint8Array && field.typeDefault.length > 0 ? Buffer.from(field.typeDefault) : EMPTY_BYTES;
    else if (LONG_TYPES.has(field.type)) prototype[field.name] = BigInt(String(field.typeDefault ?? 0));
  }
  const direct = type.fieldsArray.some((f) => LONG_TYPES.has(f.type) || LONG_TYPES.has(keyTypeOf(f) ?? ''));
  const scope = {
    types: type.fieldsArray.map((f) => f.resolve().resolvedType),
    util: protobuf.util,
  };
  const t = type as unknown as Record<'encode' | 'decode' | 'verify', unknown>;
  const decodeScope = { ...scope, Reader: protobuf.Reader, createReader: int64 ? createInt64Reader : createBufferReader, C: type.ctor };
  t.decode = build(protobuf.decoder(type), decodeScope, direct ? [CREATE_READER, ...DECODE_PATCHES] : [CREATE_READER], type);
  if (int64) t.encode = build(protobuf.encoder(type), { ...scope, Writer: Int64Writer }, direct ? ENCODE_PATCHES : [], type);
  if (direct)
    t.verify = build(
      protobuf.verifier(type),
      { ...scope, util: Object.assign(Object.create(protobuf.util) as object, { isInt64, isInt64Key }) },
      VERIFY_PATCHES,
      type,
    );
  preparedTypes.add(type);
}

/**
 * A rewrite of protobufjs's generated code for 64-bit fields. `expected` counts the places
 * it must apply to in a type; any other count means protobufjs changed its code generation,
 * and defining the service fails loudly instead of coding 64-bit values wrongly.
 */
interface Patch {
  readonly what: string;
  readonly pattern: RegExp;
  readonly replace: (type: protobuf.Type, ...groups: string[]) => string;
  readonly expected: (type: protobuf.Type) => number;
}

/** The key type of a map field; `undefined` for other fields. */
function keyTypeOf(field: protobuf.Field): string | undefined {
  return field.map ? (field as unknown as protobuf.MapField).keyType : undefined;
}

const singularLongs = (t: protobuf.Type): number => t.fieldsArray.filter((f) => LONG_TYPES.has(f.type) && !f.map && !f.repeated && !f.hasPresence).length;

const CREATE_READER: Patch = {
  what: 'the creation of the reader',
  pattern: /r=Reader\.create\(r\)/g,
  replace: () => 'r=createReader(r)',
  expected: () => 1,
};

const DECODE_PATCHES: readonly Patch[] = [
  {
    // `0n !== 0`: without this an explicit zero on the wire would become an own 0n property.
    what: 'the zero test of a decoded 64-bit field',
    pattern: /(typeof\(v=r\.\w+\(\)\)==="object"\?v\.low\|\|v\.high:v)!==0/g,
    replace: (_t, head) => `${head}!=0`,
    expected: singularLongs,
  },
  {
    what: 'the default value of a 64-bit map value',
    pattern: /util\.Long\?util\.Long\.fromNumber\(0,(?:true|false)\):0/g,
    replace: () => '0n',
    expected: (t) => t.fieldsArray.filter((f) => f.map && LONG_TYPES.has(f.type)).length,
  },
];

const ENCODE_PATCHES: readonly Patch[] = [
  {
    // Loose `!=` so that 0n and "0" are skipped like 0: proto3 writes no default values.
    what: 'the zero test of an encoded 64-bit field',
    pattern: /\(typeof (m\.\w+)==="object"\?\1\.low\|\|\1\.high:\1!==0\)/g,
    replace: (_t, ref) => `(typeof ${ref}==="object"?${ref}.low||${ref}.high:${ref}!=0)`,
    expected: singularLongs,
  },
];

function fieldOf(type: protobuf.Type, name: string): protobuf.Field {
  const field = type.fields[name];
  if (field === undefined) throw new Error(`protobufjs verifier of ${type.fullName} names an unknown field ${name}`);
  return field;
}

const VERIFY_PATCHES: readonly Patch[] = [
  {
    what: 'the check of a 64-bit value',
    pattern:
      /if\(!util\.isInteger\(([^\n]+?)\)&&!\(\1&&util\.isInteger\(\1\.low\)&&util\.isInteger\(\1\.high\)\)\)(\s+)return"(\w+): integer\|Long((?:\[\]|\{k:\w+\})?) expected"/g,
    replace: (t, ref, space, name, suffix) => {
      const unsigned = UNSIGNED_LONG.has(fieldOf(t, name!).type);
      return `if(!util.isInt64(${ref},${unsigned}))${space}return${JSON.stringify(`${name}: ${unsigned ? 'uint64' : 'int64'} (bigint, safe integer, decimal string or Long)${suffix} expected`)}`;
    },
    expected: (t) => t.fieldsArray.filter((f) => LONG_TYPES.has(f.type)).length,
  },
  {
    what: 'the check of a 64-bit map key',
    pattern: /if\(!util\.key64Re\.test\(([^\n]+?)\)\)(\s+)return"(\w+): integer\|Long key\{k:\w+\} expected"/g,
    replace: (t, ref, space, name) => {
      const unsigned = UNSIGNED_LONG.has(keyTypeOf(fieldOf(t, name!)) ?? '');
      return `if(!util.isInt64Key(${ref},${unsigned}))${space}return${JSON.stringify(`${name}: decimal ${unsigned ? 'uint64' : 'int64'} key expected`)}`;
    },
    expected: (t) => t.fieldsArray.filter((f) => f.map && LONG_TYPES.has(keyTypeOf(f) ?? '')).length,
  },
];

/** Finishes a protobufjs codegen with `scope`, after applying `patches` to its source. */
function build(gen: protobuf.Codegen, scope: Record<string, unknown>, patches: readonly Patch[], type: protobuf.Type): unknown {
  let source = gen.toString();
  for (const patch of patches) {
    let count = 0;
    source = source.replace(patch.pattern, (_match, ...groups: unknown[]) => {
      count++;
      return patch.replace(type, ...(groups.slice(0, -2) as string[]));
    });
    if (count !== patch.expected(type)) {
      throw new Error(
        `protobufjs generated code for ${type.fullName.slice(1)} that ringrpc does not recognise (${patch.what}: ${count} places, expected ${patch.expected(type)})`,
      );
    }
  }
  const names = Object.keys(scope);
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- protobufjs's own codegen does the same
  return new Function(...names, `return ${source}`)(...names.map((n) => scope[n]));
}
