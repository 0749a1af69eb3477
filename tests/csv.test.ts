/**
 * CSV writing and reading (RFC 4180), the spreadsheet formula guard, and the import file check, without
 * servers: quoting of commas, quotes and line breaks, Japanese text behind a UTF-8 BOM, CRLF, and the
 * guard's round trip (an exported phone comes back unchanged).
 */
import { describe, expect, it } from 'vitest';
import { ImportRejected, parseImport } from '../api/assetImport';
import { csvField, CsvSyntaxError, formatCsv, parseCsv } from '../api/csv';
import { neutraliseFormula, restoreGuarded } from '../api/formulaGuard';
import { listRows } from '../api/routes/reports';
import type { Asset } from '../db/types';

describe('writing CSV', () => {
  it('quotes only fields that need it and doubles quotes', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('Sales, Tokyo')).toBe('"Sales, Tokyo"');
    expect(csvField('the "big" room')).toBe('"the ""big"" room"');
    expect(csvField('line 1\nline 2')).toBe('"line 1\nline 2"');
    expect(csvField('cr\r')).toBe('"cr\r"');
    expect(csvField('')).toBe('');
  });

  it('starts with a UTF-8 BOM and ends every record with CRLF', () => {
    const text = formatCsv([
      ['a', 'b'],
      ['1', '2'],
    ]);
    expect(text).toBe('\uFEFFa,b\r\n1,2\r\n');
    expect(formatCsv([['a']], { bom: false })).toBe('a\r\n');
    // The BOM is the three bytes EF BB BF once encoded, which is what Excel looks for.
    expect([...Buffer.from(text, 'utf8').subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
  });
});

describe('reading CSV', () => {
  it('reads what it writes, whatever the fields hold', () => {
    const rows = [
      ['Asset #', 'Department', 'User Name'],
      ['A-000001', '営業部, 東京', '山田 "太郎"'],
      ['A-000002', 'multi\r\nline', ''],
      ['A-000003', '"', ',,,'],
    ];
    expect(parseCsv(formatCsv(rows)).map((r) => r.fields)).toEqual(rows);
  });

  it('accepts CRLF, LF and lone CR line ends, a missing final line end, and skips blank lines', () => {
    expect(parseCsv('a,b\r\n1,2\n3,4\r5,6').map((r) => r.fields)).toEqual([
      ['a', 'b'],
      ['1', '2'],
      ['3', '4'],
      ['5', '6'],
    ]);
    const withBlank = parseCsv('a\r\n\r\nb\r\n');
    expect(withBlank).toEqual([
      { row: 1, fields: ['a'] },
      { row: 3, fields: ['b'] },
    ]);
  });

  it('numbers records as a spreadsheet numbers rows, even when a field spans lines', () => {
    const records = parseCsv('h1,h2\r\n"x\r\ny",1\r\nz,2\r\n');
    expect(records.map((r) => r.row)).toEqual([1, 2, 3]);
    expect(records[1]!.fields[0]).toBe('x\r\ny');
  });

  it('keeps empty fields, including a trailing one', () => {
    expect(parseCsv('a,,c,\r\n')[0]!.fields).toEqual(['a', '', 'c', '']);
  });

  it('refuses what RFC 4180 does not allow, naming the row and field', () => {
    const bad = (text: string) => {
      try {
        parseCsv(text);
      } catch (err) {
        return err as CsvSyntaxError;
      }
      throw new Error('expected a CsvSyntaxError');
    };
    expect(bad('a,b\r\n1,"open')).toMatchObject({ row: 2, field: 2 });
    expect(bad('a\r\n"closed"x\r\n')).toMatchObject({ row: 2, field: 1 });
    expect(bad('a,b"c\r\n')).toMatchObject({ row: 1, field: 2 });
  });

  it('drops a leading BOM', () => {
    expect(parseCsv('\uFEFFAsset #\r\n')[0]!.fields).toEqual(['Asset #']);
  });
});

describe('formula guard', () => {
  it('prefixes cells a spreadsheet would run as a formula', () => {
    for (const cell of [
      '=1+1',
      '+SUM(A1)',
      '-2+3',
      '@SUM(A1)',
      '\t=1',
      '\r=1',
      '  =1',
      '＝1+1',
      '=HYPERLINK("http://x")',
    ]) {
      expect(neutraliseFormula(cell), JSON.stringify(cell)).toBe(`'${cell}`);
    }
  });

  it('leaves ordinary text alone, and a phone keeps its digits as written', () => {
    for (const cell of ['Sales', 'a=b', 'x.old@example.com', '03-1234-5678', "O'Neil", '']) {
      expect(neutraliseFormula(cell)).toBe(cell);
    }
    expect(neutraliseFormula('+81 3 1234 5678')).toBe("'+81 3 1234 5678");
  });

  it('is undone on import, and only where it applied', () => {
    for (const cell of ['+81 3 1234 5678', '=1+1', '@x', 'plain', "'quoted"]) {
      expect(restoreGuarded(neutraliseFormula(cell))).toBe(cell);
    }
    expect(restoreGuarded("'plain")).toBe("'plain");
  });

  it('guards every cell of an exported list but not its header', () => {
    const asset = {
      assetNumber: 'A-000001',
      department: '=cmd|"/c calc"!A1',
      location: '東京本社',
      userName: '@admin',
      userEmail: 'u@example.com',
      userPhone: '+81 3 1234 5678',
    } as Asset;
    const [header, row] = listRows([asset]);
    expect(header).toEqual(['Asset #', 'Department', 'Location', 'User Name', 'E-mail', 'Phone']);
    expect(row).toEqual([
      'A-000001',
      '\'=cmd|"/c calc"!A1',
      '東京本社',
      "'@admin",
      'u@example.com',
      "'+81 3 1234 5678",
    ]);
  });
});

describe('import file check (no database)', () => {
  const rejected = (text: string) => {
    try {
      parseImport(text);
    } catch (err) {
      if (err instanceof ImportRejected) return err.errors;
    }
    throw new Error('expected ImportRejected');
  };

  it('accepts the seed columns in any order and spelling, with a BOM and CRLF', () => {
    const { rows } = parseImport(
      "\uFEFFe-mail,ASSET #,Department,location,User_Name,Phone\r\nu@example.com,A-000001,営業部,東京,山田,'+81 3 1234\r\n",
    );
    expect(rows[0]!.given).toEqual({
      assetNumber: 'A-000001',
      department: '営業部',
      location: '東京',
      userName: '山田',
      userEmail: 'u@example.com',
      userPhone: '+81 3 1234',
    });
  });

  it('normalises statuses and Japanese-style dates, and empty optional cells clear the field', () => {
    const { rows } = parseImport(
      'Asset #,Asset Status,Planned Asset Status,Planned Date,User Name\r\nA-000001,In Use,In Stock,2030/4/1,\r\n',
    );
    expect(rows[0]!.given).toEqual({
      assetNumber: 'A-000001',
      status: 'in_use',
      plannedStatus: 'in_stock',
      plannedDate: '2030-04-01',
      userName: null,
    });
  });

  it('lists every problem with its row and column', () => {
    const errors = rejected(
      'Asset #,Department,E-mail,Asset Status\r\n' +
        'A-000001,Sales,ok@example.com,in_use\r\n' +
        'B-1,,not-an-email,in_use\r\n' +
        'A-000003,Sales,ok@example.com,broken\r\n' +
        'A-000001,Sales,ok@example.com,in_use\r\n' +
        'A-000005,Sales\r\n',
    );
    expect(errors).toEqual(
      expect.arrayContaining([
        { row: 3, column: 'Department', message: 'must not be empty' },
        { row: 4, column: 'Asset Status', message: expect.stringContaining('in_use') },
        { row: 5, column: 'Asset #', message: 'A-000001 is already in row 2' },
        { row: 6, column: null, message: 'has 2 fields; the header has 4' },
      ]),
    );
    expect(errors.map((e) => e.row)).toEqual([...errors.map((e) => e.row)].sort((a, b) => a - b));
  });

  it('checks each cell of a row (an invalid asset number and e-mail in one row)', () => {
    const errors = rejected('Asset #,E-mail\r\nB-1,not-an-email\r\n');
    expect(errors).toEqual([
      { row: 2, column: 'Asset #', message: expect.stringContaining('A-000123') },
      { row: 2, column: 'E-mail', message: expect.any(String) },
    ]);
  });

  it('refuses unknown, repeated and missing columns in the header', () => {
    expect(rejected('Asset #,Colour\r\nA-000001,red\r\n')).toEqual([
      { row: 1, column: 'Colour', message: expect.stringContaining('unknown column') },
    ]);
    expect(rejected('Asset #,Email,E-mail\r\nA-000001,a@b.c,a@b.c\r\n')).toEqual([
      { row: 1, column: 'E-mail', message: expect.stringContaining('second column') },
    ]);
    expect(rejected('Department\r\nSales\r\n')).toEqual([
      { row: 1, column: 'Asset #', message: 'required column is missing' },
    ]);
  });

  it('refuses an empty file, a header without rows, and broken quoting', () => {
    expect(rejected('')[0]).toMatchObject({ row: 1 });
    expect(rejected('Asset #\r\n')[0]).toMatchObject({ row: 2, message: expect.stringContaining('no rows') });
    expect(rejected('Asset #,Department\r\nA-000001,"Sales\r\n')[0]).toMatchObject({
      row: 2,
      message: expect.stringContaining('not closed'),
    });
  });
});
