import path from 'node:path';

const projectRoot = path.resolve(import.meta.dirname, '..');

/**
 * Where downloaded or built tools are kept: `.cache/` in the project (git-ignored) unless
 * DEVICE_LIFECYCLE_CACHE points elsewhere (CI shares one across fresh clones on the same machine).
 */
export function cacheDir(...parts: string[]): string {
  const root = process.env.DEVICE_LIFECYCLE_CACHE
    ? path.resolve(process.env.DEVICE_LIFECYCLE_CACHE)
    : path.join(projectRoot, '.cache');
  return path.join(root, ...parts);
}
