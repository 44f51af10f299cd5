/**
 * Provisioning on a machine that lacks something: one clear line saying what is missing and how to
 * fix it, never a stack trace or a hang.
 */
import * as path from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { ensureVenv, provision, ProvisionError } from '../../stack/provision';

describe('provisioning', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('is fast and idempotent when the tools are present, and says which Temporal CLI it uses', () => {
    const tools = provision();
    expect(tools.temporalCliSource).toMatch(/temporal version \d+\.\d+\.\d+/);
  });

  it('names a missing python3 and how to fix it', () => {
    process.env.PYTHON = '/nonexistent/python3';
    const venv = path.join(inject('workDir'), 'no-python', 'venv');
    expect(() => ensureVenv(() => {}, venv)).toThrow(ProvisionError);
    expect(() => ensureVenv(() => {}, venv)).toThrow(/python3 \(3\.9 or newer.*\) is missing: install it/);
  });

  it('names an unreachable package index', () => {
    // A closed loopback port stands in for "no network to the registry".
    process.env.PIP_INDEX_URL = 'http://127.0.0.1:9/simple';
    process.env.PIP_RETRIES = '0';
    process.env.PIP_TIMEOUT = '2';
    process.env.PIP_NO_CACHE_DIR = '1';
    const venv = path.join(inject('workDir'), 'no-index', 'venv');
    expect(() => ensureVenv(() => {}, venv)).toThrow(/pip could not install stack\/requirements\.txt \(is the Python package index reachable/);
  });

  it('refuses a TEMPORAL_CLI that does not exist', () => {
    process.env.TEMPORAL_CLI = '/nonexistent/temporal';
    expect(() => provision()).toThrow(/TEMPORAL_CLI points to \/nonexistent\/temporal, which does not exist/);
  });
});
