/**
 * Runs every `*.test.ts` under tests/ with uvu, in one process. A test file that leaves a
 * socket, server or timer open would keep the process alive: after the run, anything
 * still holding the event loop is reported and fails the run, since every test must
 * close what it opens.
 */
import { parse } from 'uvu/parse';
import { run } from 'uvu/run';

const pattern = process.argv[2] ?? '\\.test\\.ts$';
const { suites } = await parse('tests', pattern, {});
await run(suites, { bail: false });

const failed = process.exitCode !== undefined && process.exitCode !== 0;
setTimeout(() => {
  const open = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'Timeout');
  if (open.length > 0) {
    process.stderr.write(`\ntests left resources open: ${open.join(', ')}\n`);
    process.exit(1);
  }
  process.exit(failed ? 1 : 0);
}, 500).unref();
