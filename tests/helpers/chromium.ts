/**
 * Headless Chromium for browser tests: `scripts/chromium.sh` installs it (`.ci/run` does);
 * `CHROMIUM_PATH` points elsewhere. Without one the browser tests are skipped with a plain
 * message, except under `CI=true`, where they fail.
 */
import { existsSync } from 'node:fs';

const CANDIDATES = ['/usr/bin/chromium-headless-shell', '/usr/lib/chromium/headless_shell', '/usr/bin/chromium'];

let warned = false;

/** The browser's path, or undefined after saying once that the browser tests are skipped. */
export function chromiumPath(): string | undefined {
  const path = [process.env['CHROMIUM_PATH'], ...CANDIDATES].find((p): p is string => p !== undefined && existsSync(p));
  if (path !== undefined) return path;
  const why = 'no headless Chromium (install it with scripts/chromium.sh, or set CHROMIUM_PATH)';
  if (process.env['CI'] === 'true') throw new Error(`browser tests cannot run: ${why}`);
  if (!warned) process.stderr.write(`\n  browser tests SKIPPED: ${why}\n`);
  warned = true;
  return undefined;
}
