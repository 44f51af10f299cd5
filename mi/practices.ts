/**
 * Per-practice settings: what fills the header record (HR3–HR11), whether its SR rows carry the
 * placeholder columns SR29–SR33, and its reporting cadence when not the service's. Read from a JSON file
 * `{"practices": [...]}` and refused as a whole, with every bad field named, if anything is wrong.
 */
import * as fs from 'node:fs';
import { toAscii } from './ascii';
import { isOutputs, OUTPUTS_ALLOWED, type Outputs } from './outputs';
import {
  APPLICATION_STATUS_ALLOWED,
  APPLICATION_STATUS_RE,
  ASID_ALLOWED,
  ASID_RE,
  formatDecimal,
  ODS_ALLOWED,
  ODS_RE,
} from './formats';

export interface PracticeSettings {
  /** HR2 / FR4. */
  ods: string;
  /** HR3. */
  asid: string;
  /** HR4 "Supplier_Product_Version" (without the quotes). */
  software: string;
  /** HR5, 15 digits. */
  applicationStatus: string;
  /** HR7, MB. */
  maxMessageSizeMb: number;
  /** HR8. */
  maxAttachments: number;
  /** HR9, MB. */
  maxAttachmentSizeMb: number;
  /** HR10. */
  largeMessageFactorA: number;
  /** HR11. */
  largeMessageFactorB: number;
  /** Render SR29–SR33 (placeholder counts) for Authority tooling that reads them; default false. */
  placeholderColumns?: boolean;
  /** When this practice's MI is sent: `daily` or `weekly` (MI09); default GP2GP_CADENCE. */
  cadence?: 'daily' | 'weekly';
  /** Where this practice's MI goes: `mesh`, `api` (the GP Registrations MI API) or `both`; default GP2GP_OUTPUTS. */
  outputs?: Outputs;
}

/** A practice's outputs: its own setting, else the service's (GP2GP_OUTPUTS). */
export function outputsOf(practice: Pick<PracticeSettings, 'outputs'> | undefined, serviceDefault: Outputs): Outputs {
  return practice?.outputs ?? serviceDefault;
}

/** HR4's content: quotes are added on rendering, and the whole field may have 100 characters. */
export const SOFTWARE_MAX_LENGTH = 98;
const SOFTWARE_RE = /^[^_"\x00-\x1F\x7F]+_[^"\x00-\x1F\x7F]+_[^_"\x00-\x1F\x7F]+$/;

type Check = (value: unknown) => string | undefined;

const decimal = (max: number): Check => (v) =>
  typeof v === 'number' && Number.isFinite(v) && v > 0 && !/e/i.test(String(v)) && formatDecimal(v).length <= max
    ? undefined
    : `a positive number that renders in ${max} characters or fewer (as ${formatDecimal(5)} or 0.25)`;
const matches = (re: RegExp, allowed: string): Check => (v) => (typeof v === 'string' && re.test(v) ? undefined : allowed);

const FIELD_CHECKS: Record<keyof PracticeSettings, { optional?: true; check: Check }> = {
  ods: { check: matches(ODS_RE, ODS_ALLOWED) },
  asid: { check: matches(ASID_RE, ASID_ALLOWED) },
  software: {
    // The product part is cut on rendering if the whole is too long ("truncate product NOT version"),
    // so supplier and version must leave it room. Judged as rendered, in ASCII (ß is "ss", “ is ").
    check: (v) => {
      const allowed = `Supplier_Product_Version: three parts separated by "_", no double quotes or control characters, supplier and version together at most ${SOFTWARE_MAX_LENGTH - 3} characters (in ASCII, as the file has them)`;
      if (typeof v !== 'string') return allowed;
      const ascii = toAscii(v);
      if (!SOFTWARE_RE.test(ascii)) return allowed;
      const product = ascii.slice(ascii.indexOf('_') + 1, ascii.lastIndexOf('_'));
      return ascii.length - product.length + 1 > SOFTWARE_MAX_LENGTH ? allowed : undefined;
    },
  },
  applicationStatus: { check: matches(APPLICATION_STATUS_RE, APPLICATION_STATUS_ALLOWED) },
  maxMessageSizeMb: { check: decimal(5) },
  maxAttachments: {
    check: (v) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 9999 ? undefined : 'a whole number from 0 to 9999'),
  },
  maxAttachmentSizeMb: { check: decimal(5) },
  largeMessageFactorA: { check: decimal(4) },
  largeMessageFactorB: { check: decimal(4) },
  placeholderColumns: { optional: true, check: (v) => (typeof v === 'boolean' ? undefined : 'true or false') },
  cadence: { optional: true, check: (v) => (v === 'daily' || v === 'weekly' ? undefined : 'daily or weekly') },
  outputs: { optional: true, check: (v) => (isOutputs(v) ? undefined : OUTPUTS_ALLOWED) },
};

/** Settings earlier versions accepted but never used: refused with what to do, not as unknown. */
const RETIRED_FIELDS: Record<string, string> = {
  mailbox:
    'is no longer a practice setting (it was never used: every practice\'s MI is sent from the mailbox MESH_MAILBOX); remove it',
};

function shown(value: unknown): string {
  const text = value === undefined ? 'undefined' : (JSON.stringify(value) ?? String(value));
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}

/** Validates `{"practices": [...]}`; throws one error listing every bad field, a line each: `practices[2].asid: …`. */
export function parsePractices(json: unknown): PracticeSettings[] {
  const list = (json as { practices?: unknown } | null)?.practices;
  if (json === null || typeof json !== 'object' || Array.isArray(json) || !Array.isArray(list)) {
    throw new Error('practices: missing; allowed: a JSON object {"practices": [ … ]}');
  }
  const problems: string[] = [];
  for (const key of Object.keys(json)) {
    if (key !== 'practices') problems.push(`${key}: is an unknown field; allowed: practices`);
  }
  const seen = new Map<string, number>();
  list.forEach((entry, i) => {
    const at = `practices[${i}]`;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      problems.push(`${at}: ${shown(entry)} is not allowed; allowed: an object of practice settings`);
      return;
    }
    const record = entry as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (key in RETIRED_FIELDS) problems.push(`${at}.${key}: ${RETIRED_FIELDS[key]}`);
      else if (!(key in FIELD_CHECKS)) problems.push(`${at}.${key}: is an unknown field; allowed: ${Object.keys(FIELD_CHECKS).join(', ')}`);
    }
    for (const [field, { optional, check }] of Object.entries(FIELD_CHECKS)) {
      const value = record[field];
      if (value === undefined) {
        if (!optional) problems.push(`${at}.${field}: missing; allowed: ${check(undefined)}`);
        continue;
      }
      const allowed = check(value);
      if (allowed) problems.push(`${at}.${field}: ${shown(value)} is not allowed; allowed: ${allowed}`);
    }
    if (typeof record.ods === 'string') {
      const first = seen.get(record.ods);
      if (first !== undefined) problems.push(`${at}.ods: ${shown(record.ods)} is not allowed; allowed: an ODS code not already used by practices[${first}]`);
      else seen.set(record.ods, i);
    }
  });
  // One problem a line: each problem's own text already contains "; allowed: …".
  if (problems.length > 0) throw new Error(`bad practice settings:\n  ${problems.join('\n  ')}`);
  return list as PracticeSettings[];
}

/** Reads and validates a practices file; errors name the file. */
export function loadPractices(file: string): PracticeSettings[] {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    return parsePractices(json);
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
}
