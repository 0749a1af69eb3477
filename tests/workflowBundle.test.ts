/**
 * The workflow bundle cache (worker/workflowBundle.ts, worker/workflowSources.ts): the hash covers the
 * workflow files, what they import and the package versions, and nothing else; a cached bundle is read
 * instead of built; a changed source is built again; old bundles are pruned.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadWorkflowBundle } from '../worker/workflowBundle';
import { workflowSources, type WorkflowSources } from '../worker/workflowSources';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'workflow-bundle-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function write(root: string, file: string, text: string): void {
  mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
  writeFileSync(path.join(root, file), text);
}

/** A small project: workflows importing a sibling, a shared file (and through it another), a package. */
function project(name: string): { root: string; sources: () => WorkflowSources } {
  const root = path.join(tmp, name);
  write(root, 'workflows/index.ts', "export { one } from './one';\n");
  write(root, 'workflows/one.ts', "import { helper } from '../shared/helper';\nimport { z } from 'zod';\n");
  write(root, 'shared/helper.ts', "import type { Deep } from './deep.js';\nexport const helper = 1;\n");
  write(root, 'shared/deep.ts', 'export type Deep = number;\n');
  write(root, 'shared/unrelated.ts', 'export const unrelated = 1;\n');
  write(root, 'node_modules/zod/package.json', '{ "version": "4.0.0" }');
  return { root, sources: () => workflowSources({ root, workflowsDir: path.join(root, 'workflows') }) };
}

describe('what the bundle is built from', () => {
  it('lists the workflow files, what they import (transitively, type imports too) and the packages', () => {
    const { sources } = project('lists');
    const s = sources();
    expect(s.files).toEqual(['shared/deep.ts', 'shared/helper.ts', 'workflows/index.ts', 'workflows/one.ts']);
    expect(s.packages).toContain('zod@4.0.0');
    expect(s.packages.some((p) => p.startsWith('@temporalio/workflow@'))).toBe(true);
    expect(s.hash).toMatch(/^[0-9a-f]{20}$/);
    expect(sources().hash).toBe(s.hash);
  });

  it('changes with an imported file or a package version, not with a file the workflows do not import', () => {
    const { root, sources } = project('changes');
    const first = sources().hash;
    write(root, 'shared/unrelated.ts', 'export const unrelated = 2;\n');
    expect(sources().hash).toBe(first);
    write(root, 'shared/deep.ts', 'export type Deep = string;\n');
    const second = sources().hash;
    expect(second).not.toBe(first);
    write(root, 'node_modules/zod/package.json', '{ "version": "4.0.1" }');
    expect(sources().hash).not.toBe(second);
  });

  it("covers this project's workflows and the files they import", () => {
    const s = workflowSources();
    expect(s.files).toEqual(
      expect.arrayContaining([
        'workflows/index.ts',
        'workflows/changeDeviceUser.ts',
        'temporal/searchAttributes.ts',
        'activities/contracts.ts',
      ]),
    );
    expect(s.files.every((f) => !f.startsWith('node_modules/'))).toBe(true);
  });
});

describe('the cache', () => {
  const sources = (hash: string): WorkflowSources => ({ files: [], packages: [], hash });

  it('builds once, then reads the cached code; another hash is built again', async () => {
    const dir = path.join(tmp, 'cache');
    let builds = 0;
    const build = async () => ({ code: `// bundle ${++builds}` });
    const first = await loadWorkflowBundle({ dir, build, sources: sources('aaaa') });
    expect(first).toMatchObject({ source: 'built', hash: 'aaaa', bundle: { code: '// bundle 1' } });
    const again = await loadWorkflowBundle({ dir, build, sources: sources('aaaa') });
    expect(again).toMatchObject({ source: 'cache', bundle: { code: '// bundle 1' } });
    expect(builds).toBe(1);
    const changed = await loadWorkflowBundle({ dir, build, sources: sources('bbbb') });
    expect(changed).toMatchObject({ source: 'built', bundle: { code: '// bundle 2' } });
    expect(readdirSync(dir).sort()).toEqual(['aaaa.js', 'bbbb.js']);
  });

  it('keeps the five most recently used bundles', async () => {
    const dir = path.join(tmp, 'prune');
    for (const hash of ['h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'h7']) {
      await loadWorkflowBundle({ dir, build: async () => ({ code: hash }), sources: sources(hash) });
      await new Promise((r) => setTimeout(r, 20)); // distinct modification times
    }
    expect(readdirSync(dir).sort()).toEqual(['h3.js', 'h4.js', 'h5.js', 'h6.js', 'h7.js']);
  });

  it('still returns the bundle when the cache cannot be written', async () => {
    const file = path.join(tmp, 'not-a-folder');
    writeFileSync(file, 'x');
    const lines: string[] = [];
    const loaded = await loadWorkflowBundle({
      dir: path.join(file, 'bundles'),
      build: async () => ({ code: '// in memory' }),
      sources: sources('cccc'),
      log: (l) => lines.push(l),
    });
    expect(loaded).toMatchObject({ source: 'built', bundle: { code: '// in memory' } });
    expect(lines.join('\n')).toMatch(/could not cache the workflow bundle/);
  });
});
