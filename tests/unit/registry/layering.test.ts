import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const test = suite('registry layering');

/** Runtime imports (not `import type`, not `type`-only lists) of each file under `dir`. */
function runtimeImports(dir: string): Array<{ file: string; from: string }> {
  const found: Array<{ file: string; from: string }> = [];
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.ts')) continue;
    const text = readFileSync(path.join(dir, name), 'utf8');
    for (const m of text.matchAll(/^import\s+(type\s+)?([\s\S]*?)\s+from\s+'([^']+)'/gm)) {
      const typeOnly = m[1] !== undefined || /^\{\s*(type\s+[\w$]+\s*,?\s*)+\}$/.test(m[2]!.trim());
      if (!typeOnly) found.push({ file: name, from: m[3]! });
    }
    for (const m of text.matchAll(/import\(\s*'([^']+)'\s*\)/g)) found.push({ file: name, from: m[1]! });
  }
  return found;
}

test('registry/ and transport/ import nothing from client/ (the client is injected)', () => {
  for (const dir of ['src/registry', 'src/transport']) {
    const upward = runtimeImports(dir).filter((i) => i.from.startsWith('../client/'));
    assert.equal(upward, [], `${dir} imports client/`);
  }
});

test('the zookeeper backend is reached only through a dynamic import', () => {
  const text = readFileSync('src/registry/registry-uri.ts', 'utf8');
  assert.not.match(text, /^import[^;]*'\.\/zookeeper-registry\.js'/m);
  assert.match(text, /import\('\.\/zookeeper-registry\.js'\)/);
});

test.run();
