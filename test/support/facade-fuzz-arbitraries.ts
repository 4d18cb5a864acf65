import fc from 'fast-check';

// The inputs of the facade-fuzz.*.e2e.spec.ts files: number texts, path segments, cursors and query strings, most of
// them invalid, and the encodings they are sent in.

/** Number texts: far out of range, negative, fractional, exponent forms, and things that only look like numbers. */
export const numberText = fc.oneof(
  fc.integer({ min: -10, max: 300 }).map(String),
  fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map(String),
  fc.double().map(String),
  fc.double({ noNaN: true }).map((x) => x.toExponential()),
  fc.tuple(fc.integer({ min: 0, max: 999 }), fc.integer({ min: 0, max: 99 })).map(([a, b]) => `${a}.${b}`),
  fc.integer({ min: -400, max: 400 }).map((e) => `1e${e}`),
  fc.constantFrom(
    '',
    ' ',
    '+1',
    '-1',
    '-0',
    '00',
    '01',
    '007',
    '0x10',
    '0b1',
    '0o7',
    '1e3',
    '1E3',
    '1e+3',
    '1.0',
    '.5',
    '5.',
    '1_000',
    '1,000',
    '2147483647',
    '2147483648',
    '4294967296',
    '9007199254740993',
    '9223372036854775807',
    '9223372036854775808',
    '-2147483649',
    'NaN',
    'Infinity',
    '-Infinity',
    'null',
    'undefined',
    'true',
    '[]',
    '{}',
    '١٢',
    '１２',
    '%31',
    '1%00',
    '%00',
    '1%20',
    '%2B1',
    '%',
    '%%',
    '%FF',
    '%C3%28',
    '200',
    '201',
    '0',
    '1',
  ),
);

/** A path segment as sent on the wire: percent-encoded text, raw bytes, or deliberately broken encodings. */
export const encodedName = fc.oneof(
  // arbitrary Unicode, correctly encoded (the normal case: mostly 404s, some 400s for control characters)
  fc.string({ unit: 'binary', maxLength: 40 }).map(encodeSegment),
  fc.string({ unit: 'grapheme', maxLength: 20 }).map(encodeSegment),
  // empty, and around the 256-character limit
  fc.constant(''),
  fc.integer({ min: 250, max: 262 }).map((n) => 'x'.repeat(n)),
  fc.integer({ min: 250, max: 262 }).map((n) => encodeSegment('Ω'.repeat(n))),
  fc.integer({ min: 120, max: 140 }).map((n) => encodeSegment('😀'.repeat(n))),
  // huge: 10 KB of text (over maxParamLength), and 10 KB percent-encoded
  fc.constantFrom('a'.repeat(10 * 1024), encodeSegment('ä'.repeat(1700)), '%41'.repeat(3400)),
  // NUL-laden and other control characters
  fc
    .tuple(
      fc.string({ maxLength: 10 }),
      fc.constantFrom('%00', '%00%00%00', '%01', '%1F', '%7F', '%0A', '%0D%0A', '%09', '%C2%80'),
      fc.string({ maxLength: 10 }),
    )
    .map(([a, nul, b]) => `${encodeSegment(a)}${nul}${encodeSegment(b)}`),
  // SQL-looking
  fc
    .constantFrom(
      "' OR 1=1 --",
      "'; DROP TABLE integration; --",
      'Robert"); DROP TABLE run;--',
      "1' UNION SELECT usename, passwd FROM pg_shadow --",
      "'||pg_sleep(10)||'",
      '%',
      '_',
      '\\',
      '$1',
      "E'\\x00'",
      'Orders',
      'orders',
      'ORDERS ',
    )
    .chain((sql) => fc.constantFrom(encodeSegment(sql), sql.replace(/ /g, '%20').replace(/%(?![0-9A-F]{2})/g, '%25'))),
  // percent-encoded random bytes: valid or invalid UTF-8
  fc
    .uint8Array({ minLength: 1, maxLength: 24 })
    .map((bytes) => [...bytes].map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join('')),
  // invalid UTF-8 and broken percent-encodings
  fc.constantFrom(
    '%FF',
    '%C3%28',
    '%',
    '%%',
    'a%',
    '%4',
    '%G0',
    '%zz',
    '%E2%82',
    '%ED%A0%80',
    '%ED%BF%BF',
    '%C0%AF',
    '%C0%80',
    '%F8%88%80%80%80',
    '%F4%90%80%80',
    '%FE%FF',
    '%EF%BB%BF',
    '%2500',
    '%252F',
    '%2F',
    '..',
    '%2E%2E',
    '.',
    'a/b',
    '%5C',
    '%3F',
    '%23',
  ),
  fc
    .tuple(
      fc.string({ maxLength: 8 }),
      fc.constantFrom('%FF', '%C3%28', '%', '%%', '%E2%82'),
      fc.string({ maxLength: 8 }),
    )
    .map(([a, bad, b]) => `${encodeSegment(a)}${bad}${encodeSegment(b)}`),
  // raw bytes 0x80-0xFF on the wire (node writes the path as latin1): invalid UTF-8 the parser sees
  fc.string({
    unit: fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)),
    minLength: 1,
    maxLength: 8,
  }),
);

/** Cursor texts: garbage, base64url of almost-right JSON, huge, percent-broken. */
export const cursorText = fc.oneof(
  fc.string({ maxLength: 60 }).map(encodeURIComponent),
  fc.jsonValue({ maxDepth: 3 }).map((v) => b64(JSON.stringify(v))),
  fc
    .tuple(
      fc.constantFrom('i', 'r', 'x', ''),
      fc.oneof(fc.integer(), fc.double(), fc.string(), fc.constant(null)),
      fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.integer()),
    )
    .map((t) => b64(JSON.stringify(t))),
  fc
    .tuple(
      fc.constantFrom('r', 'i'),
      fc.oneof(fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String), numberText),
    )
    .map((t) => b64(JSON.stringify(t))),
  // Postgres text can't hold NUL: a cursor naming "a\u0000" must be a 400, not a database error
  fc.string({ maxLength: 5 }).map((s) => b64(JSON.stringify(['i', 1, `${s}\u0000${s}`]))),
  fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes).toString('base64url')),
  fc.uint8Array({ maxLength: 64 }).map((bytes) => encodeURIComponent(Buffer.from(bytes).toString('base64'))),
  fc.constantFrom(
    '',
    'bogus',
    '%FF',
    '%',
    '%%',
    '%C3%28',
    'a'.repeat(10 * 1024),
    b64('["i",1,"a"]').repeat(200),
    b64('[]'),
    b64('null'),
    b64('["r","0"]'),
    b64('["r","01"]'),
  ),
);

/** A query string built from the route's parameters, unknown ones, duplicates and broken encodings. */
export const queryText = (names: string[]) =>
  fc
    .array(
      fc.tuple(
        fc.oneof(
          fc.constantFrom(
            ...names,
            ...names,
            'color',
            '__proto__',
            'constructor',
            'limit[]',
            'cursor[a]',
            '',
            '%FF',
            '%',
          ),
          fc.string({ maxLength: 8 }).map(encodeURIComponent),
        ),
        fc.oneof(numberText.map(encodeQueryValue), cursorText, fc.constantFrom('', '%00', '%', '%FF')),
        fc.boolean(),
      ),
      { maxLength: 4 },
    )
    .map((pairs) =>
      pairs.length === 0 ? '' : `?${pairs.map(([k, v, bare]) => (bare && v === '' ? k : `${k}=${v}`)).join('&')}`,
    );

export const NUM_RUNS = Number(process.env.FUZZ_RUNS ?? 150);
export const params = { numRuns: NUM_RUNS, endOnFailure: true } as const;

/** Percent-encodes a string as one path segment; lone surrogates (which encodeURIComponent refuses) become U+FFFD. */
export function encodeSegment(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return [...Buffer.from(text, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join('');
  }
}

/** A query value or id as sent: already-percent-encoded texts (containing `%`) are sent as they are. */
export function encodeQueryValue(text: string): string {
  return text.includes('%') ? text.replace(/ /g, '%20') : encodeSegment(text);
}

/** What the server's query parser makes of a value (invalid percent-encodings stay as they are). */
export function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

export function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}
