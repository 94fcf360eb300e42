#!/usr/bin/env node
// House rule: no source file over 400 lines in src/ or workers/. Prints each one that is
// over, longest first, and exits 1 if there is any.
// usage: node scripts/check-file-lines.mjs [max=400] [dir ...=src workers]
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const [maxArg, ...dirArgs] = process.argv.slice(2);
const max = Number(maxArg ?? 400);
const dirs = dirArgs.length > 0 ? dirArgs : ['src', 'workers'];

function* sources(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* sources(file);
    else if (/\.(c|m)?(t|j)sx?$/.test(entry.name)) yield file;
  }
}

const over = [];
for (const dir of dirs) {
  for (const file of sources(dir)) {
    const text = readFileSync(file, 'utf8');
    const lines = text.length === 0 ? 0 : text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    if (lines > max) over.push([file, lines]);
  }
}
over.sort((a, b) => b[1] - a[1]);
for (const [file, lines] of over) process.stdout.write(`${file}: ${lines} lines (max ${max})\n`);
if (over.length > 0) {
  process.stdout.write(`${over.length} file(s) over ${max} lines in ${dirs.join(', ')}\n`);
  process.exit(1);
}
process.stdout.write(`no file over ${max} lines in ${dirs.join(', ')}\n`);
