// `node bench/profile-summary.mjs <file.cpuprofile> [--window='sweep at 50 ms'] [--top=25] [--stretches=5]`: where a
// V8 CPU profile's time went, cut to one window when `npm run bench -- --profile` wrote one (windows.<pid>.json beside
// it: each sweep, and each round of GET one).
//
// Prints the share of the window the main thread was busy, then busy time by owner and by function (self time), and
// with --stretches the longest runs of consecutive busy samples (what held the event loop, as in a tail stall). A
// sample is charged to the nearest owner on its stack: a package under node_modules or a module of dist/src. Node's
// own internals (node:*) count for whoever called them, so undici's or pg's socket writes are theirs, and
// V8's (garbage collector) and (program) stand alone.
import { readFileSync, existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

const argv = process.argv.slice(2);
const file = argv.find((a) => !a.startsWith('--'));
if (!file) {
  process.stderr.write(
    "usage: node bench/profile-summary.mjs <file.cpuprofile> [--window='sweep at 50 ms'] [--top=25] [--stretches=5]\n",
  );
  process.exit(2);
}
const option = (name) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const top = Number(option('top') ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8'));

let [from, to] = [profile.startTime, profile.endTime];
const windowLabel = option('window');
if (windowLabel) {
  const pid = basename(file).split('.').at(-2);
  const windowsFile = join(dirname(file), `windows.${pid}.json`);
  if (!existsSync(windowsFile)) throw new Error(`no ${windowsFile}: run the bench with --profile`);
  const windows = JSON.parse(readFileSync(windowsFile, 'utf8'));
  if (!windows[windowLabel])
    throw new Error(`no window '${windowLabel}' in ${windowsFile}: ${Object.keys(windows).join(', ')}`);
  [from, to] = windows[windowLabel];
}

const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parentOf = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);

function ownerOf(url) {
  if (!url) return null;
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const parts = url.slice(modules + 'node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  const src = url.indexOf('/dist/src/');
  if (src >= 0) return url.slice(src + '/dist/'.length).replace(/\.js$/, '');
  return null;
}

const owners = new Map();
const functions = new Map();
/** Runs of consecutive busy samples: start (µs on the profile's clock), length, and self time by function. */
const stretches = [];
let stretch = null;
let busy = 0;
let idle = 0;
let time = profile.startTime;
const add = (map, key, us) => map.set(key, (map.get(key) ?? 0) + us);
for (let i = 0; i < profile.samples.length; i++) {
  time += profile.timeDeltas[i];
  if (time < from || time > to) continue;
  const us = profile.timeDeltas[i + 1] ?? 0;
  const node = byId.get(profile.samples[i]);
  const name = node.callFrame.functionName;
  if (name === '(idle)') {
    idle += us;
    stretch = null;
    continue;
  }
  busy += us;
  if (stretch === null) stretches.push((stretch = { start: time, us: 0, functions: new Map() }));
  stretch.us += us;
  if (name === '(garbage collector)' || name === '(program)') {
    add(owners, name, us);
    add(functions, name, us);
    add(stretch.functions, name, us);
    continue;
  }
  let owner = null;
  for (let id = node.id; id !== undefined && owner === null; id = parentOf.get(id))
    owner = ownerOf(byId.get(id).callFrame.url);
  add(owners, owner ?? '(node internals, no caller of ours)', us);
  const where = ownerOf(node.callFrame.url) ?? node.callFrame.url.replace(/^node:/, '');
  const label = `${name || '(anonymous)'} ${where}:${node.callFrame.lineNumber + 1}`;
  add(functions, label, us);
  add(stretch.functions, label, us);
}

const total = busy + idle;
const pct = (us, of) => `${((100 * us) / of).toFixed(1).padStart(5)} %`;
const print = (title, map) => {
  process.stdout.write(`\n${title} (share of busy time, self ms)\n`);
  for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`${pct(us, busy)}  ${(us / 1000).toFixed(1).padStart(8)}  ${key}\n`);
  }
};
process.stdout.write(
  `${file}${windowLabel ? `, window '${windowLabel}'` : ''}: ${(total / 1000).toFixed(0)} ms sampled, main thread busy ${pct(busy, total).trim()}\n`,
);
print('by owner', owners);
print('by function', functions);

const stretchCount = Number(option('stretches') ?? 0);
if (stretchCount > 0) {
  process.stdout.write(`\nlongest busy stretches (ms from the window's start: length; top functions by self ms)\n`);
  for (const { start, us, functions: inStretch } of [...stretches].sort((a, b) => b.us - a.us).slice(0, stretchCount)) {
    const heaviest = [...inStretch]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 4)
      .map(([key, self]) => `${key} ${(self / 1000).toFixed(1)}`);
    process.stdout.write(
      `${((start - from) / 1000).toFixed(0).padStart(7)}: ${(us / 1000).toFixed(1).padStart(6)} ms  ${heaviest.join('; ')}\n`,
    );
  }
}
