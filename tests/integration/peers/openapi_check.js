// The API's OpenAPI document checked by @apidevtools/swagger-parser (the document is
// valid OpenAPI 3.0), and the daemon's answers checked against it with ajv: each
// method, path and status must be documented, and each JSON body must match its
// schema.
//   node openapi_check.js SPEC [SAMPLES.json]
// SAMPLES.json: [{"method", "path", "status", "body"}]. Prints "valid" and one line per
// sample, or the first problems found and exits 1.
const fs = require('fs');
const SwaggerParser = require('@apidevtools/swagger-parser');
const Ajv = require('ajv');
const addFormats = require('ajv-formats');

const [specPath, samplesPath] = process.argv.slice(2);

// The operation whose path template matches `path`: a literal path wins over a template.
function operation(api, method, path) {
  const templates = Object.keys(api.paths).sort((a, b) => a.split('{').length - b.split('{').length);
  for (const template of templates) {
    const pattern = new RegExp('^' + template.replace(/\{[^}]+\}/g, '[^/]+') + '$');
    if (pattern.test(path)) {
      const op = api.paths[template][method.toLowerCase()];
      return op ? { template, op } : { template, op: null };
    }
  }
  return { template: null, op: null };
}

(async () => {
  const api = await SwaggerParser.validate(specPath);  // throws when the document is not valid OpenAPI
  console.log('valid');
  if (!samplesPath) return;
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  const samples = JSON.parse(fs.readFileSync(samplesPath, 'utf8'));
  let problems = 0;
  for (const s of samples) {
    const where = `${s.method} ${s.path} ${s.status}`;
    const { template, op } = operation(api, s.method, s.path);
    if (!template || !op) {
      console.log(`${where}: not documented`);
      problems++;
      continue;
    }
    const response = op.responses[String(s.status)];
    if (!response) {
      console.log(`${where}: status not documented for ${s.method} ${template}`);
      problems++;
      continue;
    }
    const schema = response.content && response.content['application/json'] && response.content['application/json'].schema;
    if (!schema) {
      if (s.body !== '') {
        console.log(`${where}: a body where none is documented`);
        problems++;
      } else {
        console.log(`${where}: ok (no body)`);
      }
      continue;
    }
    let body;
    try {
      body = JSON.parse(s.body);
    } catch (e) {
      console.log(`${where}: not JSON: ${s.body.slice(0, 80)}`);
      problems++;
      continue;
    }
    const validate = ajv.compile(schema);
    if (!validate(body)) {
      console.log(`${where}: ${ajv.errorsText(validate.errors)}`);
      problems++;
    } else {
      console.log(`${where}: ok`);
    }
  }
  if (problems) process.exit(1);
})().catch((e) => {
  console.log(`invalid: ${e.message}`);
  process.exit(1);
});
