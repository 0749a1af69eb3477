/**
 * The one Japanese collation of lists and CSVs: PostgreSQL's ICU `ja-x-icu`, applied where rows are
 * sorted (in SQL, so keyset pagination and the sort agree). Latin first, then kana in gojūon order with
 * hiragana and katakana of one reading together, then kanji in JIS X 0208 order, whose first level runs by
 * typical on-reading: 営業部 (えい), 開発部 (かい), 経理部 (けい), 人事部 (じん); not by code point
 * (人事部, 経理部, 開発部). Needs a PostgreSQL built with ICU (the embedded one and postgres:16 images are).
 */
export const JAPANESE_COLLATION = '"ja-x-icu"';

/** `ORDER BY` for text columns in Japanese order, each column as given (ties broken by the later ones). */
export function japaneseOrderBy(...columns: string[]): string {
  return `ORDER BY ${columns.map((c) => `${c} COLLATE ${JAPANESE_COLLATION}`).join(', ')}`;
}
