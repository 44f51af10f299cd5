/**
 * MESH failures as types a caller can act on. `retryable` says whether the same call may simply be
 * made again later; the client has already retried transient failures before one reaches a caller.
 * Messages never carry the password, the shared key or the Authorization header: only the method,
 * the path (mailbox and message ids are not secret), the HTTP status and what MESH said.
 */

export interface MeshErrorDetails {
  /** HTTP status, when MESH answered. */
  status?: number | undefined;
  /** MESH's error code (e.g. `12`, `EPL-151`) or, for network failures, the Node/undici error code. */
  code?: string | undefined;
  /** The message the failure is about, when known. */
  messageId?: string | undefined;
  /** How many requests were made for this call (1 = no retry). */
  attempts?: number | undefined;
  cause?: unknown;
}

export class MeshError extends Error {
  override name = 'MeshError';
  readonly status: number | undefined;
  readonly code: string | undefined;
  readonly messageId: string | undefined;
  readonly attempts: number | undefined;
  /** True when repeating the call later may succeed (transient), false when something must change first. */
  readonly retryable: boolean = false;

  constructor(message: string, details: MeshErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.status = details.status;
    this.code = details.code;
    this.messageId = details.messageId;
    this.attempts = details.attempts;
  }
}

/** 403: wrong password, shared key, mailbox or clock, or a mailbox that is not yours. Never retried. */
export class MeshAuthError extends MeshError {
  override name = 'MeshAuthError';
}

/**
 * 403 for one message while the mailbox's credentials work (its own inbox answers): the message was
 * not sent to this mailbox, so it may not be read or acknowledged here. Nothing to fix in the settings.
 */
export class MeshForbiddenMessageError extends MeshAuthError {
  override name = 'MeshForbiddenMessageError';
}

/** Bad configuration or request: missing settings, 400, TLS certificates refused or untrusted. Never retried. */
export class MeshConfigError extends MeshError {
  override name = 'MeshConfigError';
}

/** 404: no such message (or not yours). */
export class MeshNotFoundError extends MeshError {
  override name = 'MeshNotFoundError';
}

/** 410: the message expired or failed (e.g. marked `error`); it will never be downloadable again. */
export class MeshGoneError extends MeshError {
  override name = 'MeshGoneError';
}

/** 417 (and other refusals of a send): `meshCode` is MESH's reason, e.g. `12` unregistered recipient, `02` no data. */
export class MeshSendRefusedError extends MeshError {
  override name = 'MeshSendRefusedError';
  get meshCode(): string | undefined {
    return this.code;
  }
}

/** 423 (a chunk posted to a message no longer uploading) or 300 (a local id matching several messages). */
export class MeshConflictError extends MeshError {
  override name = 'MeshConflictError';
}

/** 425/429/502/503/504, connection resets and timeouts, still failing after the configured retries. */
export class MeshTransientError extends MeshError {
  override name = 'MeshTransientError';
  override readonly retryable = true;
}

/** One way a message differs from the earlier one with the same local id. */
export interface LocalIdDifference {
  field: 'recipient' | 'workflowId' | 'subject' | 'fileName' | 'checksum' | 'chunkCount' | 'gzip' | 'status';
  earlier: string | undefined;
  now: string | undefined;
}

/**
 * A send refused before anything was posted: its local id already names a message in this mailbox's
 * outbox that is not this one (another recipient, workflow, subject, file name or content checksum),
 * or one that failed, so reusing it would report a message that was never sent. `messageId` is the
 * earlier message's id. Choose a new local id (or, for the same message, repeat it exactly).
 */
export class MeshLocalIdConflictError extends MeshConflictError {
  override name = 'MeshLocalIdConflictError';
  readonly localId: string;
  readonly differences: LocalIdDifference[];

  constructor(message: string, details: MeshErrorDetails & { localId: string; differences: LocalIdDifference[] }) {
    super(message, details);
    this.localId = details.localId;
    this.differences = details.differences;
  }
}
