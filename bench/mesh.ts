/**
 * MESH round trip benchmark: a 100 MB message sent in 20 MB chunks, listed, downloaded to a file and
 * acknowledged, through a MESH sandbox this bench starts, by three clients each in its own process:
 *   - ours (mesh/, undici),
 *   - NHS England's Python `mesh-client` from the project venv,
 *   - plain `curl` requests carrying the same chunks (the floor: no client logic at all).
 * Seconds (median of BENCH_MESH_RUNS, default 3, runs interleaved) and peak memory (max RSS) for
 * each, with ratios to curl. Every download is checked byte for byte against the original.
 * Goals (issue #13): within 1.15× curl's time; memory that does not grow with message size (under
 * 100 MB for a 100 MB message), shown by running ours at 200 MB too. A gzip-per-chunk round trip
 * compares ours with mesh-client (curl has no compressing counterpart).
 *
 *   npx tsx bench/mesh.ts        (or npm run bench, which runs every bench)
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../config';
import { provision, type Tools } from '../stack/provision';
import { freePort, startMeshSandbox, type ServerHandle } from '../stack/servers';
import { sha256File, writeMiLikeFile } from '../test/support/mi-data';
import { formatResults, type BenchResult } from './result';

const MiB = 1024 * 1024;
const CHUNK = 20 * MiB;
const SENDER = 'X26BEN001';
const RECIPIENT = 'X26BEN002';
const PASSWORD = 'password';

/** `ours-warm`: ours after the mailbox handshake (see mesh-ours.ts). */
type Peer = 'ours' | 'ours-warm' | 'mesh-client' | 'curl';

interface Measured {
  seconds: number;
  /** Max RSS of the process (of the largest curl process for curl). */
  peakRssBytes: number;
  /** Max RSS once loaded and configured, before the transfer (not for curl). */
  idleRssBytes?: number;
}

interface Message {
  label: string;
  file: string;
  sha256: string;
  /** Pre-split copies of the file's chunks, for curl. */
  chunkFiles: string[];
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: PROJECT_ROOT, maxBuffer: 16 * MiB }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(cmd)} ${args[0] ?? ''}: ${stderr.trim().split('\n').slice(-3).join(' | ') || err.message}`));
      else resolve(stdout);
    });
  });
}

async function splitFile(file: string, chunkBytes: number): Promise<string[]> {
  const size = fs.statSync(file).size;
  const parts: string[] = [];
  for (let start = 0, n = 1; start < size || n === 1; start += chunkBytes, n++) {
    const part = `${file}.chunk${n}`;
    await fs.promises.writeFile(part, fs.createReadStream(file, { start, end: Math.min(size, start + chunkBytes) - 1 }));
    parts.push(part);
  }
  return parts;
}

class MeshBench {
  constructor(
    private readonly tools: Tools,
    private readonly sandbox: ServerHandle,
    private readonly sharedKey: string,
    private readonly dir: string,
  ) {}

  /** Empties both mailboxes and the sandbox's stored chunks, so each run starts alike. */
  private async clean(): Promise<void> {
    for (const mailbox of [SENDER, RECIPIENT]) {
      const res = await fetch(`${this.sandbox.address}/admin/reset/${mailbox}`, { method: 'DELETE' });
      if (!res.ok) throw new Error(`sandbox reset ${mailbox}: ${res.status}`);
      fs.rmSync(path.join(this.dir, 'store', mailbox, 'in'), { recursive: true, force: true });
    }
  }

  async roundTrip(peer: Peer, message: Message, gzip: boolean): Promise<Measured> {
    await this.clean();
    const out = path.join(this.dir, 'received.dat');
    fs.rmSync(out, { force: true });
    const args = {
      url: this.sandbox.address,
      sender: SENDER,
      recipient: RECIPIENT,
      password: PASSWORD,
      sharedKey: this.sharedKey,
      file: message.file,
      chunks: message.chunkFiles,
      out,
      chunkSize: CHUNK,
      gzip,
      warm: peer === 'ours-warm',
    };
    const stdout =
      peer === 'ours' || peer === 'ours-warm'
        ? await run(process.execPath, ['--require', 'tsx/cjs', path.join(PROJECT_ROOT, 'bench', 'mesh-ours.ts'), JSON.stringify(args)])
        : await run(this.tools.python, [path.join(PROJECT_ROOT, 'bench', 'mesh_peers.py'), peer, JSON.stringify(args)]);
    const measured = JSON.parse(stdout.trim().split('\n').pop()!) as Measured;
    if ((await sha256File(out)) !== message.sha256) throw new Error(`${peer}: the downloaded ${message.label} message differs from the original`);
    return measured;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const mib = (bytes: number) => bytes / MiB;

export async function benchMesh(): Promise<BenchResult[]> {
  const runs = Math.max(1, Number(process.env.BENCH_MESH_RUNS ?? 3));
  const tools = provision();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp2gp-mi-bench-mesh-'));
  const sharedKey = randomBytes(16).toString('hex');
  const sandbox = await startMeshSandbox({
    tools,
    port: await freePort(),
    storeDir: path.join(dir, 'store'),
    sharedKey,
    mailboxes: [SENDER, RECIPIENT],
    logFile: path.join(dir, 'mesh-sandbox.log'),
  });
  try {
    const bench = new MeshBench(tools, sandbox, sharedKey, dir);
    const message = async (label: string, bytes: number, forCurl: boolean): Promise<Message> => {
      const file = path.join(dir, `data-${label}.csv`);
      const sha256 = await writeMiLikeFile(file, bytes);
      return { label, file, sha256, chunkFiles: forCurl ? await splitFile(file, CHUNK) : [] };
    };
    const big = await message('100MB', 100 * MiB, true);
    const bigger = await message('200MB', 200 * MiB, false);

    const plain: Record<Peer, Measured[]> = { curl: [], ours: [], 'ours-warm': [], 'mesh-client': [] };
    for (let i = 0; i < runs; i++) {
      // Interleaved, so a slow spell of the machine does not land on one client only.
      for (const peer of ['curl', 'ours', 'ours-warm', 'mesh-client'] as const) plain[peer].push(await bench.roundTrip(peer, big, false));
    }
    const seconds = (peer: Peer) => median(plain[peer].map((m) => m.seconds));
    const peak = (ms: Measured[]) => mib(Math.max(...ms.map((m) => m.peakRssBytes)));
    /** What the transfer added to the process's memory: peak minus the peak before the transfer. */
    const transfer = (ms: Measured[]) => mib(Math.max(...ms.map((m) => m.peakRssBytes - (m.idleRssBytes ?? 0))));
    const curlSeconds = seconds('curl');
    const oursBigger = await bench.roundTrip('ours', bigger, false);
    const oursGzip = await bench.roundTrip('ours', big, true);
    const meshClientGzip = await bench.roundTrip('mesh-client', big, true);

    const vsCurl = (name: string, value: number, note: string): BenchResult => ({ name, value, unit: 's', baseline: curlSeconds, ratio: value / curlSeconds, note });
    return [
      { name: 'mesh.roundtrip.100MB.curl', value: curlSeconds, unit: 's', note: `median of ${runs}; 5 × 20 MB chunks up, 5 down, list, ack` },
      vsCurl('mesh.roundtrip.100MB.ours', seconds('ours'), 'a fresh process, its first requests included; goal ≤ 1.15× curl'),
      vsCurl('mesh.roundtrip.100MB.ours-warm', seconds('ours-warm'), 'after the mailbox handshake (connections open, code loaded), as in a running worker'),
      vsCurl('mesh.roundtrip.100MB.mesh-client', seconds('mesh-client'), "NHS England's Python client"),
      { name: 'mesh.peak-rss.100MB.curl', value: peak(plain.curl), unit: 'MiB', note: 'largest curl process' },
      { name: 'mesh.peak-rss.100MB.ours', value: peak(plain.ours), unit: 'MiB', baseline: 100, ratio: peak(plain.ours) / 100, note: 'whole node process, runtime included; baseline = message size' },
      { name: 'mesh.peak-rss.100MB.mesh-client', value: peak(plain['mesh-client']), unit: 'MiB', baseline: 100, ratio: peak(plain['mesh-client']) / 100, note: 'whole python process; baseline = message size' },
      { name: 'mesh.transfer-rss.100MB.ours', value: transfer(plain.ours), unit: 'MiB', baseline: 100, ratio: transfer(plain.ours) / 100, note: 'peak minus peak before the transfer; goal < 100 MiB' },
      { name: 'mesh.transfer-rss.100MB.mesh-client', value: transfer(plain['mesh-client']), unit: 'MiB', baseline: 100, ratio: transfer(plain['mesh-client']) / 100, note: 'peak minus peak before the transfer' },
      { name: 'mesh.transfer-rss.200MB.ours', value: transfer([oursBigger]), unit: 'MiB', baseline: transfer(plain.ours), ratio: transfer([oursBigger]) / transfer(plain.ours), note: 'baseline: at 100 MB; ≈1× = does not grow with size' },
      { name: 'mesh.roundtrip.100MB-gzip.ours', value: oursGzip.seconds, unit: 's', baseline: meshClientGzip.seconds, ratio: oursGzip.seconds / meshClientGzip.seconds, note: 'gzip per chunk; baseline mesh-client' },
      { name: 'mesh.roundtrip.100MB-gzip.mesh-client', value: meshClientGzip.seconds, unit: 's', note: 'gzip per chunk (transparent_compress)' },
      { name: 'mesh.transfer-rss.100MB-gzip.ours', value: transfer([oursGzip]), unit: 'MiB', baseline: 100, ratio: transfer([oursGzip]) / 100, note: 'gzip per chunk; baseline = message size' },
    ];
  } finally {
    await sandbox.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  benchMesh().then(
    (results) => console.log(formatResults(results)),
    (err: unknown) => {
      console.error(`bench mesh: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
