// Validates an AsyncAPI document with @asyncapi/parser (the AsyncAPI 3.0 JSON Schema and the
// parser's rules), then every message example against its message's payload and headers
// schemas with ajv (the parser does not), and prints what it found, one line per problem.
//
//   node validate.mjs [--strict] PATH
//
// Exit codes: 0 valid, 1 invalid (an error, or with --strict a warning too), 2 bad usage or an
// unreadable file.
import { readFile } from 'node:fs/promises';
import { Parser, DiagnosticSeverity } from '@asyncapi/parser';
import Ajv from 'ajv';

const args = process.argv.slice(2);
const strict = args.includes('--strict');
const paths = args.filter((a) => a !== '--strict');
if (paths.length !== 1 || paths[0].startsWith('-')) {
  console.error('usage: node validate.mjs [--strict] PATH');
  process.exit(2);
}
const path = paths[0];

let text;
try {
  text = await readFile(path, 'utf8');
} catch (e) {
  console.error(`error: cannot read ${path}: ${e.message}`);
  process.exit(2);
}

const names = {
  [DiagnosticSeverity.Error]: 'error',
  [DiagnosticSeverity.Warning]: 'warning',
  [DiagnosticSeverity.Information]: 'info',
  [DiagnosticSeverity.Hint]: 'hint',
};

const parser = new Parser();
const { document, diagnostics } = await parser.parse(text, { source: path });
let errors = 0;
let warnings = 0;
for (const d of diagnostics) {
  if (d.severity === DiagnosticSeverity.Error) errors += 1;
  if (d.severity === DiagnosticSeverity.Warning) warnings += 1;
  const at = d.path && d.path.length ? d.path.join('/') : '(document)';
  const line = d.range ? `:${d.range.start.line + 1}` : '';
  console.log(`${names[d.severity] ?? 'note'}: ${path}${line} ${at}: ${d.message} [${d.code}]`);
}
// The parser leaves examples unchecked: compile each message's schemas (references resolved
// by the parser) and check its examples. Unknown formats (uint16, ...) are annotations.
if (document) {
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  const check = (schema, value, where) => {
    if (!schema || value === undefined) return;
    const valid = ajv.validate(schema.json(), value);
    if (!valid) {
      errors += 1;
      for (const e of ajv.errors) {
        console.log(`error: ${path} ${where}${e.instancePath}: ${e.message} [example-mismatch]`);
      }
    }
  };
  for (const message of document.allMessages()) {
    message.examples().all().forEach((example, i) => {
      const where = `components/messages/${message.id()}/examples/${example.name() ?? i}`;
      check(message.payload(), example.payload(), `${where}/payload`);
      check(message.headers(), example.headers(), `${where}/headers`);
    });
  }
}
const version = document ? document.version() : 'none';
console.log(`${path}: AsyncAPI ${version}, ${errors} errors, ${warnings} warnings`);
if (!document || errors > 0 || (strict && warnings > 0)) {
  process.exit(1);
}
