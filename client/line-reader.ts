// Splits an NDJSON body into lines as its chunks arrive, so each progress line is printed when the agent
// sends it rather than when the operation ends. Splitting bytes (not text) keeps a UTF-8 character that
// straddles two chunks whole.
const NEWLINE = 0x0a;

export class LineReader {
  #pending: Buffer[] = [];

  /** The complete lines this chunk ends, without their newline; the rest waits for the next chunk. */
  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    let end = chunk.indexOf(NEWLINE, start);
    while (end !== -1) {
      const piece = chunk.subarray(start, end);
      const line = this.#pending.length > 0 ? Buffer.concat([...this.#pending, piece]) : piece;
      this.#pending = [];
      lines.push(decode(line));
      start = end + 1;
      end = chunk.indexOf(NEWLINE, start);
    }
    if (start < chunk.length) this.#pending.push(chunk.subarray(start));
    return lines;
  }

  /** The last line when the body did not end with a newline. */
  end(): string[] {
    if (this.#pending.length === 0) return [];
    const rest = decode(Buffer.concat(this.#pending));
    this.#pending = [];
    return [rest];
  }
}

function decode(line: Buffer): string {
  const text = line.toString('utf8');
  return text.endsWith('\r') ? text.slice(0, -1) : text;
}
