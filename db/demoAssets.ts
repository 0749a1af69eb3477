/**
 * Deterministic demo fleet for the local stack, the MDM emulator and tests: the same input always gives
 * the same assets, so the database and the emulator can be seeded separately and still agree.
 * Pure data, no I/O.
 */
import type { AssetInput, AssetStatus } from './types';

export const DEMO_DEPARTMENTS = ['営業部', '開発部', '人事部', '経理部', 'Customer Support', 'IT Operations'] as const;
export const DEMO_LOCATIONS = [
  '東京本社',
  '大阪支社',
  '名古屋営業所',
  '福岡支店',
  '札幌オフィス',
  'Yokohama Lab',
] as const;

/**
 * Where collected devices are stored, and who is "the administrator in charge" of stock: the holder a device
 * returned to stock gets with the default configuration (ADMIN_IN_CHARGE_NAME, ADMIN_IN_CHARGE_DEPARTMENT, the
 * first of ADMIN_EMAILS; no phone), so the demo's stock and returned devices look the same on every list.
 */
export const DEMO_STORAGE = {
  department: 'IT Operations',
  location: '東京本社 IT倉庫',
  userName: 'IT Asset Administrator',
  userEmail: 'it-admin@example.com',
  userPhone: null,
} as const;

const MODELS = [
  { model: 'iPhone 15', serialPrefix: 'F4H', platform: 'ios' },
  { model: 'iPhone 14', serialPrefix: 'G6T', platform: 'ios' },
  { model: 'iPhone SE (3rd generation)', serialPrefix: 'DX3', platform: 'ios' },
  { model: 'iPad (10th generation)', serialPrefix: 'H9Q', platform: 'ipados' },
  { model: 'iPad Air (5th generation)', serialPrefix: 'JK7', platform: 'ipados' },
  { model: 'Pixel 8', serialPrefix: '38R', platform: 'android' },
  { model: 'Galaxy S23', serialPrefix: 'R5C', platform: 'android' },
] as const;

// Family and given names with their romaji, for e-mail addresses people would really have.
const FAMILY = [
  ['佐藤', 'sato'],
  ['鈴木', 'suzuki'],
  ['高橋', 'takahashi'],
  ['田中', 'tanaka'],
  ['伊藤', 'ito'],
  ['渡辺', 'watanabe'],
  ['山本', 'yamamoto'],
  ['中村', 'nakamura'],
  ['小林', 'kobayashi'],
  ['加藤', 'kato'],
] as const;
const GIVEN = [
  ['健', 'ken'],
  ['美咲', 'misaki'],
  ['翔太', 'shota'],
  ['陽菜', 'hina'],
  ['大輔', 'daisuke'],
  ['さくら', 'sakura'],
  ['拓海', 'takumi'],
  ['結衣', 'yui'],
  ['直樹', 'naoki'],
  ['愛', 'ai'],
  ['Emily', 'emily'],
] as const;

/** Small seeded PRNG (mulberry32): deterministic across platforms and Node versions. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SERIAL_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ0123456789';

function addDays(isoDate: string, days: number): string {
  const d = new Date(`${isoDate}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** A demo asset is exactly what `assetsRepo.upsert` takes. */
export type DemoAsset = AssetInput;

export type DemoPlatform = (typeof MODELS)[number]['platform'];

/** The platform of a demo model, for the MDM emulator (null for a model not in the demo fleet). */
export function platformOfModel(model: string): DemoPlatform | null {
  return MODELS.find((m) => m.model === model)?.platform ?? null;
}

export interface DemoOptions {
  /** How many assets (default 60). */
  count?: number;
  /** Day the planned dates are counted from, `YYYY-MM-DD` (default a fixed day, so output never changes). */
  baseDate?: string;
  /** First asset number's numeric part (default 1 -> A-000001). */
  firstNumber?: number;
  seed?: number;
}

/**
 * Roughly: 2/3 in use (a few of them due for collection, planned status in stock), the rest in stock
 * (a few planned for delivery, planned status in use), plus a handful retired, lost and in repair.
 * Retired devices have no MDM id (they were unenrolled); every other device is enrolled.
 */
export function generateDemoAssets(options: DemoOptions = {}): DemoAsset[] {
  const { count = 60, baseDate = '2026-01-05', firstNumber = 1, seed = 20_260_105 } = options;
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  return Array.from({ length: count }, (_, i) => {
    const n = firstNumber + i;
    const device = MODELS[i % MODELS.length]!;
    const serial = device.serialPrefix + Array.from({ length: 9 }, () => pick(SERIAL_ALPHABET.split(''))).join('');
    const status = statusFor(i);
    const [family, familyRomaji] = pick(FAMILY);
    const [given, givenRomaji] = pick(GIVEN);
    const department = pick(DEMO_DEPARTMENTS);
    const location = pick(DEMO_LOCATIONS);
    const assetNumber = `A-${String(n).padStart(6, '0')}`;
    const holder =
      status === 'in_use'
        ? {
            department,
            location,
            userName: `${family} ${given}`,
            userEmail: `${givenRomaji}.${familyRomaji}${n}@example.com`,
            userPhone: `090-${String(1000 + ((n * 37) % 9000))}-${String(1000 + ((n * 53) % 9000))}`,
          }
        : { ...DEMO_STORAGE };
    const planned = plannedFor(i, status, baseDate);
    return {
      assetNumber,
      serialNumber: serial,
      model: device.model,
      mdmDeviceId: status === 'retired' ? null : `mdm-${String(n).padStart(6, '0')}`,
      status,
      ...planned,
      ...holder,
    };
  });
}

function statusFor(i: number): AssetStatus {
  if (i % 20 === 19) return 'retired';
  if (i % 30 === 17) return 'lost';
  if (i % 30 === 23) return 'in_repair';
  return i % 3 === 2 ? 'in_stock' : 'in_use';
}

function plannedFor(
  i: number,
  status: AssetStatus,
  baseDate: string,
): { plannedStatus: AssetStatus | null; plannedDate: string | null } {
  // Every 7th device in use is due for collection, some overdue (negative offset), some upcoming.
  if (status === 'in_use' && i % 7 === 3) {
    return { plannedStatus: 'in_stock', plannedDate: addDays(baseDate, (i % 21) - 7) };
  }
  if (status === 'in_stock' && i % 4 === 1) {
    return { plannedStatus: 'in_use', plannedDate: addDays(baseDate, 7 + (i % 5)) };
  }
  return { plannedStatus: null, plannedDate: null };
}

/** The default demo fleet (60 assets, A-000001 … A-000060). */
export const DEMO_ASSETS: readonly DemoAsset[] = generateDemoAssets();
