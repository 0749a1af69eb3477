/**
 * CSV lists sort Japanese text with a Japanese collation (db/japaneseCollation.ts: PostgreSQL ICU
 * `ja-x-icu`), through the HTTP API against a real PostgreSQL, not by code point.
 *
 * What that collation does (checked against the embedded PostgreSQL's ICU and Node's Intl.Collator('ja'),
 * which agree on these names): Latin first, case-insensitively; then kana in gojūon order, hiragana and
 * katakana of one reading side by side (かいはつ before カスタマー before けいり); then kanji in JIS X 0208
 * order. JIS level-1 kanji are ordered by their typical on-reading, not by radical and stroke count, so
 * 営業部 (えい) < 開発部 (かい) < 経理部 (けい) < 人事部 (じん), where code points give 人事部 < 営業部 <
 * 経理部 < 開発部. It is the reading of the first kanji only: 名古屋 (な…) sorts as 名 (めい), after 東京 (とう).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../api/csv';
import * as assetsRepo from '../db/assetsRepo';
import type { AssetInput } from '../db/types';
import { startApi, TOKENS, type ApiHarness } from './support/apiHarness';
import { createTestDatabase, type TestDatabase } from './support/postgres';

let db: TestDatabase;
let api: ApiHarness;

const DEPARTMENTS_IN_JAPANESE_ORDER = [
  'accounts',
  'IT Operations',
  'かいはつ',
  'カスタマー',
  'けいり',
  '営業部',
  '開発部',
  '経理部',
  '人事部',
];
const LOCATIONS_IN_JAPANESE_ORDER = ['札幌オフィス', '大阪支社', '東京本社', '名古屋営業所'];

const due = (n: number, department: string, location: string): AssetInput => ({
  assetNumber: `A-${String(n).padStart(6, '0')}`,
  serialNumber: `JA-${n}`,
  model: 'iPhone 15',
  department,
  location,
  status: 'in_use',
  plannedStatus: 'in_stock',
});

beforeAll(async () => {
  db = await createTestDatabase();
  // No Temporal: the lists only read the database.
  api = await startApi({ db: db.pool });
  // Inserted in code-point order reversed, so neither insertion nor code point can give the expected order.
  const departments = [...DEPARTMENTS_IN_JAPANESE_ORDER].sort().reverse();
  let n = 1;
  for (const d of departments) await assetsRepo.upsert(db.pool, due(n++, d, '東京本社'));
  for (const l of [...LOCATIONS_IN_JAPANESE_ORDER].sort().reverse())
    await assetsRepo.upsert(db.pool, due(n++, '総務部', l));
});
afterAll(async () => {
  await api?.close();
  await db?.drop();
});

async function collectionListRows(): Promise<string[][]> {
  const res = await fetch(`${api.baseUrl}/api/v1/reports/collection-list.csv`, {
    headers: { authorization: `Bearer ${TOKENS.viewer}` },
  });
  expect(res.status).toBe(200);
  return parseCsv(Buffer.from(await res.arrayBuffer()).toString('utf8'))
    .map((r) => r.fields)
    .slice(1);
}

describe('the collection list CSV in Japanese order', () => {
  it('sorts departments by the Japanese collation, not by code point', async () => {
    const departments = [...new Set((await collectionListRows()).map((r) => r[1]))].filter((d) => d !== '総務部');
    expect(departments).toEqual(DEPARTMENTS_IN_JAPANESE_ORDER);
    // The three of the issue: 開発部 (かい), 経理部 (けい), 人事部 (じん); by code point it was the reverse.
    expect(departments.filter((d) => ['人事部', '経理部', '開発部'].includes(d))).toEqual([
      '開発部',
      '経理部',
      '人事部',
    ]);
    expect(['人事部', '経理部', '開発部'].sort()).toEqual(['人事部', '経理部', '開発部']);
  });

  it('sorts the locations of one department the same way', async () => {
    const locations = (await collectionListRows()).filter((r) => r[1] === '総務部').map((r) => r[2]);
    expect(locations).toEqual(LOCATIONS_IN_JAPANESE_ORDER);
  });

  it('agrees with Intl.Collator("ja") on these names, so the API and the database tell one story', () => {
    const ja = new Intl.Collator('ja');
    expect([...DEPARTMENTS_IN_JAPANESE_ORDER].reverse().sort(ja.compare)).toEqual(DEPARTMENTS_IN_JAPANESE_ORDER);
    expect([...LOCATIONS_IN_JAPANESE_ORDER].reverse().sort(ja.compare)).toEqual(LOCATIONS_IN_JAPANESE_ORDER);
  });
});
