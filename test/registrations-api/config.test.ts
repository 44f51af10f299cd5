/**
 * Where MI goes: GP2GP_OUTPUTS (mesh | api | both, default mesh), a practice's `outputs` setting
 * overriding it, and GP2GP_REPORTING_SYSTEM_SUPPLIER — each refused with the variable or field named.
 */
import { describe, expect, it } from 'vitest';
import { DEV_REPORTING_SYSTEM_SUPPLIER, loadConfig } from '../../config';
import { reportsToApi, reportsToMesh } from '../../mi/outputs';
import { outputsOf, parsePractices } from '../../mi/practices';
import { syntheticPractice } from '../../demo/traffic';

describe('outputs and the reporting system supplier', () => {
  it('defaults: MESH only, the dev supplier', () => {
    const c = loadConfig({});
    expect(c.registrationsApi.outputs).toBe('mesh');
    expect(c.registrationsApi.reportingSystemSupplier).toBe(DEV_REPORTING_SYSTEM_SUPPLIER);
  });

  it('takes mesh, api or both; refuses anything else naming the variable and what is allowed', () => {
    for (const o of ['mesh', 'api', 'both'] as const) expect(loadConfig({ GP2GP_OUTPUTS: o }).registrationsApi.outputs).toBe(o);
    expect(() => loadConfig({ GP2GP_OUTPUTS: 'MESH+API' })).toThrow('GP2GP_OUTPUTS: "MESH+API" is not allowed; allowed: mesh, api or both');
    expect(() => loadConfig({ GP2GP_REPORTING_SYSTEM_SUPPLIER: 'not an ods' })).toThrow(/GP2GP_REPORTING_SYSTEM_SUPPLIER: the ODS code NHS England assigned to you as a supplier/);
    expect(loadConfig({ GP2GP_REPORTING_SYSTEM_SUPPLIER: 'YGM24' }).registrationsApi.reportingSystemSupplier).toBe('YGM24');
  });

  it("a practice's outputs override the service's; a bad one is refused naming the field", () => {
    const [own, inherits] = parsePractices({ practices: [syntheticPractice('A12345', '200000000001', { outputs: 'api' }), syntheticPractice('B23456', '200000000002')] });
    expect(outputsOf(own, 'both')).toBe('api');
    expect(outputsOf(inherits, 'both')).toBe('both');
    expect(() => parsePractices({ practices: [{ ...syntheticPractice('A12345', '200000000001'), outputs: 'fax' }] })).toThrow(
      'practices[0].outputs: "fax" is not allowed; allowed: mesh, api or both',
    );
  });

  it('mesh and api per output; a run from before (no outputs) is MESH only', () => {
    expect([reportsToMesh('mesh'), reportsToApi('mesh')]).toEqual([true, false]);
    expect([reportsToMesh('both'), reportsToApi('both')]).toEqual([true, true]);
    expect([reportsToMesh('api'), reportsToApi('api')]).toEqual([false, true]);
    expect([reportsToMesh(undefined), reportsToApi(undefined)]).toEqual([true, false]);
  });
});
