/**
 * MESH API v2 client (NHS England's Message Exchange for Social care and Health), over undici.
 * No Temporal in here: the pipeline wraps these calls in activities.
 */
export { MeshClient, type MeshClientOptions, type SendMessage, type SendResult } from './client';
export type { InboxPage, MeshMailbox, MeshMessageMetadata, MeshTracking } from './types';
export {
  MeshError,
  MeshAuthError,
  MeshConfigError,
  MeshNotFoundError,
  MeshGoneError,
  MeshSendRefusedError,
  MeshConflictError,
  MeshTransientError,
} from './errors';
export { meshAuthorization, meshTimestamp, MESH_AUTH_SCHEME } from './auth';
export { MESH_V2_ACCEPT } from './transport';
export { DEFAULT_CHUNK_BYTES, MAX_CHUNK_BYTES } from './chunks';
