// Validate an AsyncAPI document with the official parser; print its diagnostics as JSON.
// Usage: node validate_asyncapi.mjs document.json
import { readFileSync } from "node:fs";
import { Parser } from "@asyncapi/parser";

const text = readFileSync(process.argv[2], "utf8");
const parser = new Parser();
const { document, diagnostics } = await parser.parse(text);
const severities = ["error", "warning", "information", "hint"];
const found = diagnostics.map((d) => ({
  severity: severities[d.severity] ?? String(d.severity),
  code: d.code,
  message: d.message,
  path: d.path.join("/"),
}));
process.stdout.write(JSON.stringify({ parsed: document !== undefined, diagnostics: found }));
