// Prints one plain "LABEL: N passed, N failed, N skipped" line for one or more vitest JUnit reports.
// usage: node .ci/junit-summary.mjs LABEL report.xml [report.xml ...]
import { existsSync, readFileSync } from 'node:fs';

const [label, ...files] = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of files) {
  if (!existsSync(file)) {
    console.log(`${label}: no report at ${file}`);
    process.exit(0);
  }
  const xml = readFileSync(file, 'utf8');
  const totals = /<testsuites[^>]*tests="(\d+)"[^>]*failures="(\d+)"[^>]*errors="(\d+)"/.exec(xml);
  const skips = (xml.match(/<skipped/g) ?? []).length;
  passed += Number(totals[1]) - Number(totals[2]) - Number(totals[3]) - skips;
  failed += Number(totals[2]) + Number(totals[3]);
  skipped += skips;
}
console.log(`${label}: ${passed} passed, ${failed} failed, ${skipped} skipped`);
