// Validates docs/api/openapi.yaml against the OpenAPI 3.0 schema with
// @apidevtools/swagger-parser (npm, in web/node_modules): structure, $refs,
// required fields. Prints "PASS ..." or "FAIL ...  # why".
//   node v1_openapi.mjs WEB_DIR OPENAPI.yaml
import { createRequire } from "node:module";

const [web, doc] = process.argv.slice(2);
const SwaggerParser = createRequire(web + "/package.json")("@apidevtools/swagger-parser");
try {
  const api = await SwaggerParser.validate(doc);
  console.log(`PASS the document is valid OpenAPI ${api.openapi} (swagger-parser)`);
} catch (e) {
  console.log(`FAIL the document is valid OpenAPI (swagger-parser)  # ${String(e.message).replace(/\n/g, " ")}`);
}
