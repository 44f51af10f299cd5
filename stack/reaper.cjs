/**
 * The clean-up process of `npm start` (stack/lifecycle.ts starts it; plain JavaScript so it starts in
 * milliseconds and needs nothing but node). `npm start` tells it on stdin which process groups it has
 * started ("+<pgid>") and which have ended ("-<pgid>"). If `npm start` dies without stopping them —
 * SIGKILL, a crash, an out-of-memory kill: its end of the pipe closes, or this process gets a new
 * parent — it sends every group still listed SIGTERM, then SIGKILL after the grace period, and exits.
 * After a normal stop the list is empty and it just exits.
 *
 * Its own session (started detached), so Ctrl-C and a closing terminal never reach it.
 * argv: node reaper.cjs <supervisor pid> <grace ms>
 */
'use strict';

const supervisor = Number(process.argv[2]);
const graceMs = Number(process.argv[3]) || 15_000;
const groups = new Set();
let reaping = false;
let buffered = '';

const stamp = () => new Date().toISOString();
const say = (line) => {
  try {
    process.stdout.write(`${stamp()} [gp2gp-mi reaper] ${line}\n`);
  } catch {
    /* the log is best effort */
  }
};
process.stdout.on('error', () => undefined);
for (const sig of ['SIGINT', 'SIGHUP']) process.on(sig, () => undefined);

const groupAlive = (pgid) => {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
};
const signalGroup = (pgid, sig) => {
  try {
    process.kill(-pgid, sig);
  } catch {
    /* already gone */
  }
};

function reap(why) {
  if (reaping) return;
  reaping = true;
  const left = [...groups].filter(groupAlive);
  if (left.length === 0) process.exit(0);
  say(`${why}: stopping process groups ${left.join(', ')} it left running`);
  for (const g of left) signalGroup(g, 'SIGTERM');
  const until = Date.now() + graceMs;
  setInterval(() => {
    const still = left.filter(groupAlive);
    if (still.length === 0) {
      say('all stopped');
      process.exit(0);
    }
    if (Date.now() > until) {
      say(`still running after ${graceMs / 1000}s, killed: ${still.join(', ')}`);
      for (const g of still) signalGroup(g, 'SIGKILL');
      process.exit(0);
    }
  }, 100);
}

process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffered += chunk;
  let nl;
  while ((nl = buffered.indexOf('\n')) >= 0) {
    const line = buffered.slice(0, nl).trim();
    buffered = buffered.slice(nl + 1);
    const pgid = Number(line.slice(1));
    if (!Number.isInteger(pgid) || pgid <= 1) continue;
    if (line[0] === '+') groups.add(pgid);
    else if (line[0] === '-') groups.delete(pgid);
  }
});
process.stdin.on('end', () => reap(`npm start (pid ${supervisor}) has gone`));
process.stdin.on('error', () => reap(`npm start (pid ${supervisor}) has gone`));
// Belt and braces: a new parent means npm start has gone, even if the pipe somehow stayed open.
setInterval(() => {
  if (process.ppid !== supervisor) reap(`npm start (pid ${supervisor}) has gone`);
}, 500).unref();
