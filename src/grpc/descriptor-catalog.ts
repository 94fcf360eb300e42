import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor/index.js';

/** A `DescriptorProto` as protobufjs's descriptor extension builds it (the parts mended here). */
interface MessageDescriptor {
  name: string;
  field: Array<{ name: string; typeName?: string; label?: number }>;
  nestedType: MessageDescriptor[];
  options?: { mapEntry?: boolean };
}

/** What protobufjs's descriptor extension adds to a root. */
interface DescribedRoot {
  toDescriptor(syntax: string): { file: Array<{ name?: string; package?: string; dependency?: string[]; messageType: MessageDescriptor[] }> };
}
interface DescriptorCodec {
  FileDescriptorProto: { encode(file: object): { finish(): Uint8Array } };
}

/** One file of the catalog: its encoded `FileDescriptorProto` and the files it imports. */
interface CatalogFile {
  readonly bytes: Uint8Array;
  readonly dependencies: readonly string[];
}

/**
 * Renames the map entry types protobufjs writes (`Fields` for a map field `fields`) to the
 * names protobuf requires (`FieldsEntry`: the field's name in CamelCase, then `Entry`), or
 * protobuf's own descriptor pools (grpcurl's, protoc's) refuse the file.
 */
function mendMapEntries(message: MessageDescriptor): void {
  for (const nested of message.nestedType) {
    mendMapEntries(nested);
    if (nested.options?.mapEntry !== true) continue;
    const field = message.field.find((f) => f.typeName === nested.name && f.label === 3);
    if (field === undefined) continue;
    const entry = `${field.name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase()).replace(/^[a-z]/, (c) => c.toUpperCase())}Entry`;
    field.typeName = entry;
    nested.name = entry;
  }
}

/** The file of a package: `bench.v1` → `bench/v1.proto` (`_root.proto` for types in no package). */
function fileOf(pkg: string): string {
  return pkg === '' ? '_root.proto' : `${pkg.replace(/\./g, '/')}.proto`;
}

/** The package an object is declared in: its nearest enclosing namespace that is neither a message nor a service. */
function packageOf(object: protobuf.ReflectionObject): string {
  let ns = object.parent;
  while (ns instanceof protobuf.Type || ns instanceof protobuf.Service) ns = ns.parent;
  return ns === null || ns instanceof protobuf.Root ? '' : ns.fullName.slice(1);
}

/**
 * The .proto schema of the services a server serves, as the reflection protocol hands it
 * out: one `FileDescriptorProto` per package, named after it (`bench/v1.proto`; the server's
 * own file paths stay private), each listing the files whose types it uses as its
 * dependencies, and an index from every message, enum, service and method name to its
 * file. Built from the services' protobufjs roots (with protobufjs's descriptor
 * extension) on first use, and again when services were added since.
 */
export class DescriptorCatalog {
  private files = new Map<string, CatalogFile>();
  private symbols = new Map<string, string>();
  private builtFor = -1;

  /**
   * @param roots the roots of the services served, built-in ones included
   * @param services the names of the services served, built-in ones included
   */
  constructor(
    private readonly roots: () => Iterable<protobuf.Root>,
    readonly services: () => string[],
  ) {}

  /** The file that declares `symbol` (fully qualified, no leading dot), and every file it needs; undefined if none does. */
  fileContaining(symbol: string): Uint8Array[] | undefined {
    this.build();
    const file = this.symbols.get(symbol.replace(/^\./, ''));
    return file === undefined ? undefined : this.withDependencies(file);
  }

  /** The file named `name`, and every file it needs; undefined if there is none. */
  fileByName(name: string): Uint8Array[] | undefined {
    this.build();
    return this.files.has(name) ? this.withDependencies(name) : undefined;
  }

  /** Whether `name` is a message type of the catalog (for extension queries, which it has none of). */
  hasMessage(name: string): boolean {
    this.build();
    return this.symbols.has(name.replace(/^\./, ''));
  }

  private withDependencies(name: string): Uint8Array[] {
    const seen = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file) || !this.files.has(file)) return;
      seen.add(file);
      for (const dep of this.files.get(file)!.dependencies) visit(dep);
    };
    visit(name);
    return [...seen].map((file) => this.files.get(file)!.bytes);
  }

  private build(): void {
    const services = this.services().length;
    if (services === this.builtFor) return;
    this.builtFor = services;
    this.files = new Map();
    this.symbols = new Map();
    for (const root of new Set(this.roots())) this.add(root);
  }

  /** Adds a root's packages (a package already added from another root keeps its first definition). */
  private add(root: protobuf.Root): void {
    const dependencies = new Map<string, Set<string>>();
    const symbols = new Map<string, string>();
    const uses = (from: protobuf.ReflectionObject, used: protobuf.ReflectionObject | null | undefined): void => {
      if (used === null || used === undefined) return;
      const a = fileOf(packageOf(from));
      const b = fileOf(packageOf(used));
      if (a === b) return;
      let set = dependencies.get(a);
      if (set === undefined) dependencies.set(a, (set = new Set()));
      set.add(b);
    };
    const walk = (ns: protobuf.NamespaceBase): void => {
      for (const nested of ns.nestedArray) {
        if (nested instanceof protobuf.Type) {
          symbols.set(nested.fullName.slice(1), fileOf(packageOf(nested)));
          for (const field of nested.fieldsArray) uses(nested, field.resolvedType);
        } else if (nested instanceof protobuf.Enum) {
          symbols.set(nested.fullName.slice(1), fileOf(packageOf(nested)));
        } else if (nested instanceof protobuf.Service) {
          symbols.set(nested.fullName.slice(1), fileOf(packageOf(nested)));
          for (const method of nested.methodsArray) {
            symbols.set(`${nested.fullName.slice(1)}.${method.name}`, fileOf(packageOf(nested)));
            uses(nested, method.resolvedRequestType);
            uses(nested, method.resolvedResponseType);
          }
        }
        if (nested instanceof protobuf.Namespace) walk(nested);
      }
    };
    walk(root);
    const codec = descriptor as unknown as DescriptorCodec;
    for (const file of (root as unknown as DescribedRoot).toDescriptor('proto3').file) {
      const name = fileOf(file.package ?? '');
      if (this.files.has(name)) continue;
      const deps = [...(dependencies.get(name) ?? [])];
      file.name = name;
      file.dependency = deps;
      for (const message of file.messageType) mendMapEntries(message);
      this.files.set(name, { bytes: codec.FileDescriptorProto.encode(file).finish(), dependencies: deps });
    }
    for (const [symbol, file] of symbols) if (!this.symbols.has(symbol) && this.files.has(file)) this.symbols.set(symbol, file);
  }
}
