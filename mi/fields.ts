/**
 * The record layouts of 0171.02 §3 (HR, RR, SR, FR), field by field: position, maximum length, whether
 * the spec quotes it, and the values it may hold. Rendering takes its quoting and lengths from here and
 * the checker its rules, so the two cannot disagree. Workflow-safe (no node modules).
 */
import {
  ACK_CODE_ALLOWED,
  APPLICATION_STATUS_ALLOWED,
  APPLICATION_STATUS_RE,
  ASID_ALLOWED,
  ASID_RE,
  DECIMAL_RE,
  ERROR_CODE_RE,
  errorCodeAllowed,
  FILE_UUID_RE,
  isAckCode,
  isDay,
  isFileDateTime,
  isUser,
  ODS_ALLOWED,
  ODS_RE,
  REQUESTER_CONFIG_ALLOWED,
  REQUESTER_CONFIG_RE,
  USER_ALLOWED,
} from './formats';

export type RecordType = 'HR' | 'RR' | 'SR' | 'FR';

export interface FieldFormat {
  allowed: string;
  test(value: string): boolean;
}

export interface FieldDef {
  /** As the spec numbers it: HR4, RR13, SR20 (the footer's FS numbering is kept as FR2 … here). */
  id: string;
  name: string;
  /** Maximum length in characters, quotes included for quoted fields (0171.02 "incl quotes"). */
  max: number;
  /** Enclosed in double quotes when it has a value; empty when null. */
  quoted?: boolean;
  /** Never null in a file this system writes. */
  mandatory?: boolean;
  format: FieldFormat;
}

const pattern = (re: RegExp, allowed: string): FieldFormat => ({ allowed, test: (v) => re.test(v) });
const codes = (values: readonly string[]): FieldFormat => ({
  allowed: `one of ${values.join(', ')}`,
  test: (v) => values.includes(v),
});
/** Whole numbers without leading zeros ("0" itself is fine). */
const whole = (digits: number): FieldFormat => ({
  allowed: `a whole number of up to ${digits} digits, without leading zeros`,
  test: (v) => v.length <= digits && /^(0|[1-9][0-9]*)$/.test(v),
});

/** The timestamp format (checked against the record set's day by the checker). */
export const DATE_TIME_FORMAT: FieldFormat = { allowed: 'a UTC date-time YYYY-MM-DDThh:mm:ss', test: isFileDateTime };

const F = {
  ods: pattern(ODS_RE, ODS_ALLOWED),
  uuid: pattern(FILE_UUID_RE, 'a GUID in upper case: 8-4-4-4-12 hexadecimal digits'),
  dateTime: DATE_TIME_FORMAT,
  day: { allowed: 'a date YYYY-MM-DD', test: isDay } satisfies FieldFormat,
  text: { allowed: 'text in double quotes on one line', test: () => true } satisfies FieldFormat,
  retries: whole(2),
  fragments: whole(3),
  errorCode: (max: number) => pattern(ERROR_CODE_RE, errorCodeAllowed(max)),
  ackCode: { allowed: ACK_CODE_ALLOWED, test: isAckCode } satisfies FieldFormat,
  user: (system: boolean): FieldFormat => ({
    allowed: system ? `${USER_ALLOWED}, or "SYSTEM"` : USER_ALLOWED,
    test: (v) => isUser(v, system),
  }),
  decimal: pattern(DECIMAL_RE, 'a decimal number with a decimal point, e.g. 5.0'),
  failurePoint: codes(['0', '10', '20', '30', '40', '50', '60', '70']),
  /** RR19: "0", or each applicable reason once, e.g. "234". */
  reasons: {
    allowed: '0, or distinct reasons 1 to 5 in ascending order, e.g. 234',
    test: (v) => v === '0' || (/^[1-5]{1,5}$/.test(v) && [...v].every((c, i) => i === 0 || c > v[i - 1]!)),
  } satisfies FieldFormat,
};

const literal = (value: string): FieldFormat => codes([value]);

const def = (id: string, name: string, max: number, format: FieldFormat, extra: Partial<FieldDef> = {}): FieldDef => ({
  id,
  name,
  max,
  format,
  ...extra,
});
const M = { mandatory: true } as const;

export const HR_FIELDS: readonly FieldDef[] = [
  def('HR1', 'Record type', 2, literal('HR'), M),
  def('HR2', 'Practice ODS', 10, F.ods, M),
  def('HR3', 'Practice ASID', 20, pattern(ASID_RE, ASID_ALLOWED), M),
  def('HR4', 'Requesting software name and version', 100, pattern(/^[^_]+_.+_[^_]+$/, 'Supplier_Product_Version: three parts separated by "_"'), { ...M, quoted: true }),
  def('HR5', 'Application status', 15, pattern(APPLICATION_STATUS_RE, APPLICATION_STATUS_ALLOWED), M),
  def('HR6', 'MI time period', 10, F.day, M),
  def('HR7', 'Maximum message size', 5, F.decimal, M),
  def('HR8', 'Maximum number of attachments', 4, whole(4), M),
  def('HR9', 'Maximum attachment size', 5, F.decimal, M),
  def('HR10', 'Configuration A', 4, F.decimal, M),
  def('HR11', 'Configuration B', 4, F.decimal, M),
];

export const RR_FIELDS: readonly FieldDef[] = [
  def('RR1', 'Record type', 2, literal('RR'), M),
  def('RR2', 'Conversation ID', 36, F.uuid),
  def('RR3', 'Requesting ODS', 10, F.ods, M),
  def('RR4', 'Target (sending) ODS', 10, F.ods),
  def('RR5', 'Patient registration', 19, F.dateTime),
  def('RR6', 'Registration type', 1, codes(['0', '1', '2', '3'])),
  def('RR7', 'User identifier for registration', 16, F.user(false)),
  def('RR8', 'Process failure point', 2, F.failurePoint),
  def('RR9', 'Failure point date/time', 19, F.dateTime),
  def('RR10', 'ID of failed message', 36, F.uuid),
  def('RR11', 'Failure type', 1, codes(['0', '1', '2', '3', '4', '5', '6'])),
  def('RR12', 'Error code', 8, F.errorCode(8)),
  def('RR13', 'Error description', 100, F.text, { quoted: true }),
  def('RR14', 'Retries', 2, F.retries),
  def('RR15', 'EHR request message ID', 36, F.uuid),
  def('RR16', 'EHR request sent date/time', 19, F.dateTime),
  def('RR17', 'EHR extract receipt date/time', 19, F.dateTime),
  def('RR18', 'EHR extract message ID', 36, F.uuid),
  def('RR19', 'Reason for large message', 6, F.reasons),
  def('RR20', 'Total number of large message fragments', 3, F.fragments),
  def('RR21', 'Large message fragments successfully received', 3, F.fragments),
  def('RR22', 'EHR extract acknowledgement', 1, codes(['0', '1', '2', '3', '4', '5', '6', '7'])),
  def('RR23', 'EHR extract acknowledgement detail sent', 2, F.ackCode),
  def('RR24', 'EHR extract acknowledgement date/time', 19, F.dateTime),
  def('RR25', 'EHR extract acknowledgement message ID', 36, F.uuid),
  def('RR26', 'EHR extract acknowledgement failure point date/time', 19, F.dateTime),
  def('RR27', 'EHR response acknowledgement failure type', 1, codes(['1', '2'])),
  def('RR28', 'EHR response acknowledgement error code', 8, F.errorCode(8)),
  def('RR29', 'EHR response acknowledgement error description', 100, F.text, { quoted: true }),
  def('RR30', 'EHR response acknowledgement retries', 2, F.retries),
  def('RR31', 'User identifier for EHR integration or rejection', 16, F.user(true)),
];

/** The 28 fields of 0171.02, then SR29–SR33 (placeholder counts, not in the spec; opt-in per practice). */
export const SR_FIELDS: readonly FieldDef[] = [
  def('SR1', 'Record type', 2, literal('SR'), M),
  def('SR2', 'EHR request ID', 36, F.uuid),
  def('SR3', 'Conversation ID', 36, F.uuid, M),
  def('SR4', 'Requesting ODS', 10, F.ods),
  def('SR5', 'Sending ODS', 10, F.ods, M),
  def('SR6', 'Requesting practice configuration', 10, pattern(REQUESTER_CONFIG_RE, REQUESTER_CONFIG_ALLOWED)),
  def('SR7', 'EHR request receipt', 19, F.dateTime),
  def('SR8', 'EHR request acknowledgement date/time', 19, F.dateTime),
  def('SR9', 'EHR request acknowledgement detail sent', 2, F.ackCode),
  def('SR10', 'EHR request acknowledgement message ID', 36, F.uuid),
  def('SR11', 'EHR request acknowledgement failure type', 1, codes(['1', '2'])),
  def('SR12', 'EHR request acknowledgement error code', 10, F.errorCode(10)),
  def('SR13', 'EHR request acknowledgement error description', 100, F.text, { quoted: true }),
  def('SR14', 'EHR request acknowledgement retries', 2, F.retries),
  def('SR15', 'Process failure point', 2, F.failurePoint),
  def('SR16', 'Failure point date/time', 19, F.dateTime),
  def('SR17', 'ID of failed message', 36, F.uuid),
  def('SR18', 'Failure type', 1, codes(['1', '2', '3', '4'])),
  def('SR19', 'Error code', 10, F.errorCode(10)),
  def('SR20', 'Error description', 100, F.text, { quoted: true }),
  def('SR21', 'Retries', 2, F.retries),
  def('SR22', 'EHR extract message ID', 36, F.uuid),
  def('SR23', 'EHR extract sent date/time', 19, F.dateTime),
  def('SR24', 'Large messaging', 1, codes(['0', '1'])),
  def('SR25', 'Total number of large message fragments', 3, F.fragments),
  def('SR26', 'Large message fragments accepted by TMS', 3, F.fragments),
  def('SR27', 'Large message fragments positively acknowledged', 3, F.fragments),
  def('SR28', 'Sender conversation closed date/time', 19, F.dateTime),
  def('SR29', 'Placeholders: file type unsupported', 4, whole(4)),
  def('SR30', 'Placeholders: deleted', 4, whole(4)),
  def('SR31', 'Placeholders: not found', 4, whole(4)),
  def('SR32', 'Placeholders: locked', 4, whole(4)),
  def('SR33', 'Placeholders: undetermined', 4, whole(4)),
];

export const FR_FIELDS: readonly FieldDef[] = [
  def('FR1', 'Record type', 2, literal('FR'), M),
  def('FR2', 'Number of RR records', 7, whole(7), M),
  def('FR3', 'Number of SR records', 7, whole(7), M),
  def('FR4', 'Practice ODS', 10, F.ods, M),
  def('FR5', 'MI time period', 10, F.day, M),
];

/** SR rows have 28 fields unless the practice is configured for the placeholder columns. */
export const SR_SPEC_FIELD_COUNT = 28;

export const FIELDS: Readonly<Record<RecordType, readonly FieldDef[]>> = { HR: HR_FIELDS, RR: RR_FIELDS, SR: SR_FIELDS, FR: FR_FIELDS };

/** 0-based positions of the quoted fields of each record type. */
export const QUOTED_POSITIONS: Readonly<Record<RecordType, readonly number[]>> = {
  HR: quotedOf(HR_FIELDS),
  RR: quotedOf(RR_FIELDS),
  SR: quotedOf(SR_FIELDS),
  FR: quotedOf(FR_FIELDS),
};

function quotedOf(fields: readonly FieldDef[]): number[] {
  return fields.flatMap((f, i) => (f.quoted ? [i] : []));
}
