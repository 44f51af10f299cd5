/**
 * Where a practice's MI goes (issue 12): MESH files (0171.02), the GP Registrations MI API, or both
 * while migrating. Kept apart from mi/practices.ts (which reads files) so workflows can import it.
 */
/** Where MI goes: MESH files (0171.02), the GP Registrations MI API, or both (dual-run while migrating). */
export const OUTPUTS = ['mesh', 'api', 'both'] as const;
export type Outputs = (typeof OUTPUTS)[number];
export const OUTPUTS_ALLOWED = 'mesh, api or both';

export function isOutputs(value: unknown): value is Outputs {
  return typeof value === 'string' && (OUTPUTS as readonly string[]).includes(value);
}

/** True when MI goes to the GP Registrations MI API (`api` or `both`). Undefined (earlier runs) = mesh. */
export function reportsToApi(outputs: Outputs | undefined): boolean {
  return outputs === 'api' || outputs === 'both';
}

/** True when MI goes over MESH (`mesh` or `both`). Undefined (earlier runs) = mesh. */
export function reportsToMesh(outputs: Outputs | undefined): boolean {
  return outputs !== 'api';
}
