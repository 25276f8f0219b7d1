// Compiles JSON Schemas as TypeScript-SDK clients do, and every `pattern` as an ECMAScript RegExp with the u flag.
// Reads [{"where": str, "schema": object}, ...] as JSON on stdin; prints [{"where", "problem"}] for each failure.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";

// Ajv 8 as @modelcontextprotocol/sdk installs it (the top-level `ajv` is another package's Ajv 6).
const require = createRequire(new URL("./node_modules/sdk-latest/package.json", import.meta.url));
const Ajv = require("ajv").default;
const Ajv2020 = require("ajv/dist/2020").default;
const addFormats = require("ajv-formats").default;

// The SDK's own configuration (src/validation/ajv-provider.ts), then a strict draft 2020-12 compiler.
const sdk = addFormats(new Ajv({ strict: false, validateFormats: true, validateSchema: false, allErrors: true }));
const strict = addFormats(new Ajv2020({ strict: true, allErrors: true }));

function patterns(node, found = []) {
  if (Array.isArray(node)) node.forEach((n) => patterns(n, found));
  else if (node && typeof node === "object") {
    if (typeof node.pattern === "string") found.push(node.pattern);
    Object.values(node).forEach((n) => patterns(n, found));
  }
  return found;
}

const problems = [];
for (const { where, schema } of JSON.parse(readFileSync(0, "utf8"))) {
  for (const [name, ajv] of [["sdk", sdk], ["strict-2020-12", strict]]) {
    try {
      ajv.compile(schema);
    } catch (error) {
      problems.push({ where, problem: `${name}: ${error.message}` });
    }
  }
  for (const pattern of patterns(schema)) {
    try {
      new RegExp(pattern, "u");
    } catch (error) {
      problems.push({ where, problem: `RegExp u: ${error.message}` });
    }
  }
}
process.stdout.write(JSON.stringify(problems));
