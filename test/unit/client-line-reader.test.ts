import t from 'tap';
import { LineReader } from '../../client/line-reader.js';

t.test('lines split anywhere across chunks come out whole, in order', async (t) => {
  const body = '{"type":"progress","n":1}\n{"type":"progress","text":"→ /tmp/ü"}\n{"type":"result"}\n';
  const bytes = Buffer.from(body);
  const expected = ['{"type":"progress","n":1}', '{"type":"progress","text":"→ /tmp/ü"}', '{"type":"result"}'];
  // Every split point, including inside the multi-byte "→" and "ü".
  for (let cut = 0; cut <= bytes.length; cut++) {
    const reader = new LineReader();
    const lines = [...reader.push(bytes.subarray(0, cut)), ...reader.push(bytes.subarray(cut)), ...reader.end()];
    t.same(lines, expected, `cut at ${cut}`);
  }
  const reader = new LineReader();
  const byByte = [...bytes].flatMap((b) => reader.push(Buffer.from([b])));
  t.same([...byByte, ...reader.end()], expected, 'one byte at a time');
});

t.test('a line is handed over as soon as its newline arrives', async (t) => {
  const reader = new LineReader();
  t.same(reader.push(Buffer.from('{"a":1}\n{"b"')), ['{"a":1}']);
  t.same(reader.push(Buffer.from(':2}')), []);
  t.same(reader.push(Buffer.from('\n')), ['{"b":2}']);
  t.same(reader.end(), []);
});

t.test('a last line without its newline, CRLF, and blank lines', async (t) => {
  const reader = new LineReader();
  t.same(reader.push(Buffer.from('one\r\n\ntwo')), ['one', '']);
  t.same(reader.end(), ['two']);
  t.same(reader.end(), [], 'end is idempotent');
});
