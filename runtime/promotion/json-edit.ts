/**
 * Replaces values inside a JSON document's text without re-serialising it, so a
 * promotion's diff touches exactly the lines it changes and keeps the file's
 * formatting (indentation, inline arrays, trailing newline) as the author wrote it.
 */

/** Where one value sits in the text: [start, end) offsets. */
interface ValueSpan {
  start: number;
  end: number;
}

class JsonScanner {
  private pos = 0;
  readonly spans = new Map<string, ValueSpan>();

  constructor(private readonly text: string) {}

  scanDocument(): void {
    this.value([]);
    this.whitespace();
    if (this.pos !== this.text.length) this.fail('unexpected text after the JSON value');
  }

  private fail(message: string): never {
    throw new SyntaxError(`${message} at offset ${this.pos}`);
  }

  private whitespace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++;
  }

  private value(path: string[]): void {
    this.whitespace();
    const start = this.pos;
    const ch = this.text[this.pos];
    if (ch === '{') this.object(path);
    else if (ch === '[') this.array(path);
    else if (ch === '"') this.string();
    else {
      const match = /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(this.text.slice(this.pos, this.pos + 64));
      if (!match) this.fail('expected a JSON value');
      this.pos += match[0].length;
    }
    this.spans.set(JSON.stringify(path), { start, end: this.pos });
  }

  private string(): string {
    const start = this.pos;
    this.pos++;
    while (this.pos < this.text.length && this.text[this.pos] !== '"') {
      this.pos += this.text[this.pos] === '\\' ? 2 : 1;
    }
    if (this.pos >= this.text.length) this.fail('unterminated string');
    this.pos++;
    return JSON.parse(this.text.slice(start, this.pos)) as string;
  }

  private expect(ch: string): void {
    this.whitespace();
    if (this.text[this.pos] !== ch) this.fail(`expected "${ch}"`);
    this.pos++;
  }

  private object(path: string[]): void {
    this.pos++;
    this.whitespace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return;
    }
    for (;;) {
      this.whitespace();
      if (this.text[this.pos] !== '"') this.fail('expected a key');
      const key = this.string();
      this.expect(':');
      this.value([...path, key]);
      this.whitespace();
      if (this.text[this.pos] === ',') {
        this.pos++;
        continue;
      }
      this.expect('}');
      return;
    }
  }

  private array(path: string[]): void {
    this.pos++;
    this.whitespace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return;
    }
    for (let index = 0; ; index++) {
      this.value([...path, String(index)]);
      this.whitespace();
      if (this.text[this.pos] === ',') {
        this.pos++;
        continue;
      }
      this.expect(']');
      return;
    }
  }
}

/** One replacement: the key path of an EXISTING value and its new value. */
export interface JsonValueEdit {
  path: string[];
  value: string | number | boolean | null;
}

/**
 * Returns `text` with each edited value replaced in place. Every path must
 * already exist (promotion never adds keys: the schema requires them).
 */
export function replaceJsonValues(text: string, edits: JsonValueEdit[], fileName = 'document'): string {
  const scanner = new JsonScanner(text);
  try {
    scanner.scanDocument();
  } catch (err) {
    throw new Error(`${fileName} is not valid JSON: ${(err as Error).message}`);
  }
  const located = edits.map((edit) => {
    const span = scanner.spans.get(JSON.stringify(edit.path));
    if (!span) throw new Error(`${fileName} has no key "${edit.path.join('.')}" to update: add it (see config/schema.ts)`);
    return { span, replacement: JSON.stringify(edit.value) };
  });
  // Apply from the end so earlier offsets stay valid.
  located.sort((a, b) => b.span.start - a.span.start);
  let result = text;
  for (const { span, replacement } of located) {
    result = result.slice(0, span.start) + replacement + result.slice(span.end);
  }
  return result;
}
