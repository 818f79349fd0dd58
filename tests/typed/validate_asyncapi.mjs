// Validate AsyncAPI documents with the official parser; print their diagnostics as JSON,
// one entry per document, in order (one process: the parser takes seconds to load).
// Usage: node validate_asyncapi.mjs document.json [more.json ...]
import { readFileSync } from "node:fs";
import { Parser } from "@asyncapi/parser";

const parser = new Parser();
const severities = ["error", "warning", "information", "hint"];
const results = [];
for (const path of process.argv.slice(2)) {
  const { document, diagnostics } = await parser.parse(readFileSync(path, "utf8"));
  results.push({
    parsed: document !== undefined,
    diagnostics: diagnostics.map((d) => ({
      severity: severities[d.severity] ?? String(d.severity),
      code: d.code,
      message: d.message,
      path: d.path.join("/"),
    })),
  });
}
process.stdout.write(JSON.stringify(results));
