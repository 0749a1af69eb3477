/**
 * CSV as RFC 4180 describes it, written and read by hand (it is small, and a library would still need the
 * same decisions about BOMs, line ends and errors). Writing: every field that needs it is quoted, quotes
 * are doubled, records end with CRLF. Reading: CRLF, LF and lone CR all end a record (Excel on a Mac,
 * editors on Linux); a quoted field may hold commas, doubled quotes and line breaks; anything RFC 4180
 * does not allow is an error with the record and field it is in, never a silently shifted column.
 */

const BOM = '\uFEFF';

/** Quoted when it holds a separator, a quote or a line break; otherwise as is. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/**
 * A whole document. `bom` (default on) starts it with a UTF-8 byte-order mark: without one, Excel reads a
 * UTF-8 file in the machine's legacy code page and Japanese text turns into mojibake.
 */
export function formatCsv(rows: readonly (readonly string[])[], options: { bom?: boolean } = {}): string {
  const body = rows.map((row) => row.map(csvField).join(',') + '\r\n').join('');
  return (options.bom ?? true) ? BOM + body : body;
}

export interface CsvRecord {
  /** 1-based record number, as a spreadsheet numbers its rows (the header is row 1). */
  row: number;
  fields: string[];
}

export class CsvSyntaxError extends Error {
  constructor(
    readonly row: number,
    /** 1-based field number within the record. */
    readonly field: number,
    message: string,
  ) {
    super(`row ${row}, field ${field}: ${message}`);
    this.name = 'CsvSyntaxError';
  }
}

/**
 * Parses a document into records. A leading BOM is dropped, a final line break does not make an empty
 * record, and blank lines are skipped (they still count in the row numbers, as in a spreadsheet).
 */
export function parseCsv(text: string): CsvRecord[] {
  const source = text.startsWith(BOM) ? text.slice(1) : text;
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let row = 1;
  let quoted = false; // inside a quoted field
  let wasQuoted = false; // the current field was quoted and its closing quote has been read
  let i = 0;

  const endField = () => {
    fields.push(field);
    field = '';
    wasQuoted = false;
  };
  const endRecord = () => {
    endField();
    const blank = fields.length === 1 && fields[0] === '';
    if (!blank) records.push({ row, fields });
    fields = [];
    row += 1;
  };

  while (i < source.length) {
    const c = source[i]!;
    if (quoted) {
      if (c === '"') {
        if (source[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        wasQuoted = true;
      } else {
        field += c;
      }
      i += 1;
      continue;
    }
    if (c === ',') {
      endField();
    } else if (c === '\r' || c === '\n') {
      endRecord();
      if (c === '\r' && source[i + 1] === '\n') i += 1;
    } else if (wasQuoted) {
      throw new CsvSyntaxError(row, fields.length + 1, 'only a comma or a line break may follow a closing quote');
    } else if (c === '"') {
      if (field !== '') {
        throw new CsvSyntaxError(
          row,
          fields.length + 1,
          'a quote inside an unquoted field (quote the whole field and double the quote)',
        );
      }
      quoted = true;
    } else {
      field += c;
    }
    i += 1;
  }
  if (quoted)
    throw new CsvSyntaxError(row, fields.length + 1, 'a quoted field is not closed before the end of the file');
  if (field !== '' || wasQuoted || fields.length > 0) endRecord();
  return records;
}
