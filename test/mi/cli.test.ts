/**
 * `gp2gp-mi render` and `gp2gp-mi check` through the real bin, as an operator runs them: output equal
 * to the library's, every configured practice and day (empty ones included), bad lines reported by
 * number with nothing written, and the checker's verdicts and exit codes.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkFile } from '../../mi/check';
import { renderRecordSets } from '../../mi/csv';
import type { HookEvent } from '../../mi/events';
import { loadPractices } from '../../mi/practices';
import { recordSet } from '../../mi/record-set';

const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'gp2gp-mi.js');
const PRACTICES = path.join(ROOT, 'examples', 'practices.json');
const CONV = 'C2ACE0E0-D575-4272-BD27-0FF081C37440';
const MSG = '58E88CD9-0565-4BA2-8BD0-463D6209CCBE';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
function run(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'gp2gp-mi-cli-'));
const jsonl = (events: unknown[]) => events.map((e) => JSON.stringify(e)).join('\n') + '\n';

const EVENTS: HookEvent[] = [
  { type: 'registration', practiceOds: 'A12345', registrationId: 'REG-1', occurredAt: '2026-03-27T09:00:00Z', targetOds: 'B23456', registrationType: 'new', registeringUser: 'L42' },
  { type: 'ehr-requested', practiceOds: 'A12345', registrationId: 'REG-1', occurredAt: '2026-03-28T09:05:00+01:00', conversationId: CONV, requestMessageId: MSG },
  { type: 'request-received', practiceOds: 'B23456', conversationId: CONV, occurredAt: '2026-03-28T08:05:02Z', requestMessageId: MSG, requestingOds: 'A12345' },
  {
    type: 'ehr-sent',
    practiceOds: 'B23456',
    conversationId: CONV,
    occurredAt: '2026-03-28T08:09:00Z',
    extractMessageId: '58E88CD9-0565-4BA2-8BD0-463D6209CCBF',
    largeMessaging: true,
    placeholders: { fileTypeUnsupported: 1, deleted: 0, notFound: 0, locked: 0, undetermined: 0 },
  },
  { type: 'conversation-closed', practiceOds: 'Z99999', conversationId: CONV, occurredAt: '2026-03-28T10:00:00Z' },
];

/** What the library renders for the same input: the CLI must not differ by a byte. */
function expected(practiceOds?: string): string {
  const practices = loadPractices(PRACTICES).filter((p) => !practiceOds || p.ods === practiceOds);
  const records = [
    { side: 'RR' as const, key: 'REG-1', events: EVENTS.slice(0, 2) },
    { side: 'SR' as const, key: CONV, events: EVENTS.slice(2, 4) },
  ];
  return renderRecordSets(
    practices.flatMap((p) =>
      ['2026-03-27', '2026-03-28'].map((day) => recordSet(p, day, records.filter((r) => r.events[0]!.practiceOds === p.ods))),
    ),
  );
}

describe('gp2gp-mi render', () => {
  it('prints the record sets of every configured practice (ascending ODS) and day, empty ones included', async () => {
    const dir = tmp();
    const events = path.join(dir, 'events.jsonl');
    fs.writeFileSync(events, jsonl(EVENTS));
    const r = await run('render', '--events', events, '--practices', PRACTICES, '--from', '2026-03-27', '--to', '2026-03-28');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(expected());
    expect(r.stdout.split('\r\n').filter((l) => l.startsWith('HR,')).map((l) => l.split(',').slice(1, 2).concat(l.split(',')[5]!).join(' '))).toEqual([
      'A12345 2026-03-27',
      'A12345 2026-03-28',
      'B23456 2026-03-27',
      'B23456 2026-03-28',
      'C34567 2026-03-27',
      'C34567 2026-03-28',
    ]);
    expect(checkFile(r.stdout).problems).toEqual([]);
    expect(r.stderr).toMatch(/6 record sets \(3 practices × 2 days\), 3 rows, \d+ bytes/);
    expect(r.stderr).toMatch(/left out: Z99999/);
  });

  it('--practice and --out: one practice, written to a file (SR rows with placeholder columns here)', async () => {
    const dir = tmp();
    const events = path.join(dir, 'events.jsonl');
    const out = path.join(dir, 'mi.csv');
    fs.writeFileSync(events, jsonl(EVENTS));
    const r = await run('render', '--events', events, '--practices', PRACTICES, '--from', '2026-03-27', '--to', '2026-03-28', '--practice', 'B23456', '--out', out);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    const written = fs.readFileSync(out, 'utf8');
    expect(written).toBe(expected('B23456'));
    expect(written.split('\r\n').find((l) => l.startsWith('SR,'))!.split(',')).toHaveLength(33);
    expect(fs.readdirSync(dir).sort()).toEqual(['events.jsonl', 'mi.csv']);
  });

  it('bad lines are reported by number; nothing is written, an earlier file stays as it was', async () => {
    const dir = tmp();
    const events = path.join(dir, 'events.jsonl');
    const out = path.join(dir, 'mi.csv');
    fs.writeFileSync(out, 'OLD');
    const lines = [
      JSON.stringify(EVENTS[0]),
      '{"type": "registration", ',
      '',
      JSON.stringify({ ...EVENTS[0], registrationId: 'REG-2', type: 'request-failure', failurePoint: 15, failureType: 1, fatal: true, registrationType: undefined, registeringUser: undefined, targetOds: undefined }),
      JSON.stringify(EVENTS[2]),
    ];
    fs.writeFileSync(events, lines.join('\n'));
    const r = await run('render', '--events', events, '--practices', PRACTICES, '--from', '2026-03-27', '--to', '2026-03-28', '--out', out);
    expect(r.code).toBe(2);
    const reported = r.stderr.split('\n').filter((l) => l.startsWith(events));
    expect(reported.map((l) => l.slice(events.length + 1).split(':')[0])).toEqual(['2', '4']);
    expect(reported[1]).toContain('failurePoint: 15 is not allowed; allowed: one of 10, 20, 30, 40, 50, 60, 70');
    expect(r.stderr).toMatch(/2 bad lines in .*events\.jsonl; nothing written/);
    expect(fs.readFileSync(out, 'utf8')).toBe('OLD');
    expect(fs.readdirSync(dir).sort()).toEqual(['events.jsonl', 'mi.csv']);
  });

  it('the same eventId for different content is refused, naming both lines', async () => {
    const dir = tmp();
    const events = path.join(dir, 'events.jsonl');
    fs.writeFileSync(events, jsonl([{ ...EVENTS[0], eventId: 'e-1' }, { ...EVENTS[0], eventId: 'e-1' }, { ...EVENTS[1], eventId: 'e-1' }]));
    const r = await run('render', '--events', events, '--practices', PRACTICES, '--from', '2026-03-27', '--to', '2026-03-27');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${events}:3: eventId: "e-1" was already used on line 1 for a different event`);
    expect(r.stdout).toBe('');
  });

  it('bad options: dates, range, unknown practice', async () => {
    const common = ['--events', '/dev/null', '--practices', PRACTICES];
    expect(await run('render', ...common, '--from', '2026-02-30', '--to', '2026-03-01')).toMatchObject({ code: 2, stderr: expect.stringContaining('--from: "2026-02-30" is not allowed; allowed: a date YYYY-MM-DD') });
    expect(await run('render', ...common, '--from', '2026-03-02', '--to', '2026-03-01')).toMatchObject({ code: 2 });
    expect(await run('render', ...common, '--from', '2026-03-01', '--to', '2026-03-01', '--practice', 'Q11111')).toMatchObject({ code: 2, stderr: expect.stringContaining('--practice: "Q11111" is not in') });
  });
});

describe('gp2gp-mi check', () => {
  it('accepts what render wrote', async () => {
    const dir = tmp();
    const file = path.join(dir, 'mi.csv');
    fs.writeFileSync(file, expected());
    const r = await run('check', file);
    expect(r).toMatchObject({ code: 0, stdout: `${file}: ok, 6 record sets, 3 rows\n` });
  });

  it('refuses a broken file, printing each problem with its line, exit 1', async () => {
    const dir = tmp();
    const file = path.join(dir, 'broken.csv');
    const lines = expected().split('\r\n');
    expect(lines[1]).toMatch(/^RR,/);
    lines[1] += ','; // line 2: one field too many
    expect(lines[2]).toBe('FR,1,0,A12345,2026-03-27');
    lines[2] = 'FR,7,0,A12345,2026-03-27'; // line 3: wrong count
    fs.writeFileSync(file, lines.join('\r\n'));
    const r = await run('check', file);
    expect(r.code).toBe(1);
    expect(r.stdout.trim().split('\n').map((l) => l.slice(file.length + 1).split(':')[0])).toEqual(['2', '3']);
    expect(r.stderr).toMatch(/broken\.csv: 2 problems \(6 record sets, 3 rows\)/);
  });

  it('an unreadable file is bad input, exit 2', async () => {
    expect(await run('check', '/nonexistent/mi.csv')).toMatchObject({ code: 2 });
  });
});
