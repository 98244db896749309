// Precompiles schema/config.schema.json into standalone validator code, so that
// `create` pays neither for loading Ajv's compiler nor for compiling the schema.
const fs = require('node:fs');
const path = require('node:path');
const Ajv = require('ajv').default;
const standalone = require('ajv/dist/standalone').default;

const schema = JSON.parse(fs.readFileSync(path.join(__dirname, '../schema/config.schema.json'), 'utf8'));
// The exec `--process` file is the config's process object on its own.
const processSchema = { $id: 'https://toyrun.dev/schema/process.json', definitions: schema.definitions, $ref: '#/definitions/process' };

const ajv = new Ajv({ code: { source: true }, allErrors: true, strict: true, allowUnionTypes: true });
ajv.addSchema(schema, 'config');
ajv.addSchema(processSchema, 'process');
const code = standalone(ajv, { validateConfig: 'config', validateProcess: 'process' });
const out = path.join(__dirname, '../src/spec/generated/validators.js');
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, code);
fs.writeFileSync(out.replace(/\.js$/, '.d.ts'),
  'export interface AjvError { instancePath: string; keyword: string; message?: string; params: Record<string, unknown> }\n' +
  'export interface Validator { (data: unknown): boolean; errors?: AjvError[] | null }\n' +
  'export const validateConfig: Validator;\nexport const validateProcess: Validator;\n');
