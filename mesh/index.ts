/**
 * MESH API v2 client (NHS England's Message Exchange for Social care and Health), over undici.
 * No Temporal in here: the pipeline wraps these calls in activities.
 */
export {
  MeshClient,
  validateSendMessage,
  LOCAL_ID_LOOKUP_UNAVAILABLE_CHANNEL,
  type MeshClientOptions,
  type MeshProgress,
  type ProgressListener,
  type SendMessage,
  type SendResult,
} from './client';
export type { InboxPage, MeshMailbox, MeshMessageMetadata, MeshTracking } from './types';
export { isoTimestamp } from './types';
export {
  MeshError,
  MeshAuthError,
  MeshForbiddenMessageError,
  MeshConfigError,
  MeshNotFoundError,
  MeshGoneError,
  MeshSendRefusedError,
  MeshConflictError,
  MeshLocalIdConflictError,
  MeshTransientError,
  type LocalIdDifference,
} from './errors';
export { meshAuthorization, meshTimestamp, MESH_AUTH_SCHEME } from './auth';
export { MESH_V2_ACCEPT } from './transport';
export { DEFAULT_CHUNK_BYTES, MAX_CHUNK_BYTES } from './chunks';
