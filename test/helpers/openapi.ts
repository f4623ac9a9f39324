/**
 * A validator for the Cloud API send body built from Meta's own OpenAPI file, shared by every test whose
 * provider receives that body (Cloud, 360dialog, Cloud-compatible BSPs).
 *
 * The three quirks documented in vendor/meta-openapi/README.md are relaxed here rather than in the vendor
 * file, and the file's discriminators are made enforceable so the per-parameter schemas are really checked.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

const OPENAPI = new URL('../../../shared/vendor/meta-openapi/business-messaging-api_v23.0.yaml', import.meta.url);
const DOC_ID = 'meta-business-messaging.json';
const SEND_PATH = '/{Version}/{Phone-Number-ID}/messages';

// ajv-formats is CommonJS; under ESM its function may sit on `.default`.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
  ajv: Ajv2020,
) => Ajv2020;

type Schema = Record<string, unknown>;

/**
 * OpenAPI `discriminator` without `oneOf` is ignored by ajv, which would leave every parameter unchecked.
 * Rewrite `S {discriminator}` as `S__base` plus `if type = k then $ref mapping[k]`, and point the mapped
 * schemas' own `allOf: [$ref S]` at the base (otherwise the check would recurse forever).
 */
function enforceDiscriminators(schemas: Record<string, Schema>): void {
  for (const [name, schema] of Object.entries(schemas)) {
    const disc = schema.discriminator as { propertyName: string; mapping?: Record<string, string> } | undefined;
    if (!disc?.mapping || schema.oneOf || schema.anyOf) continue;
    const { discriminator: _ignored, ...base } = schema;
    schemas[`${name}__base`] = base;
    const selfRef = `#/components/schemas/${name}`;
    const branches = Object.entries(disc.mapping).map(([value, ref]) => {
      const target = schemas[ref.split('/').pop() as string] as Schema;
      for (const part of (target.allOf as Schema[] | undefined) ?? []) {
        if (part.$ref === selfRef) part.$ref = `${selfRef}__base`;
      }
      return {
        if: { properties: { [disc.propertyName]: { const: value } }, required: [disc.propertyName] },
        then: { $ref: ref },
      };
    });
    schemas[name] = { allOf: [{ $ref: `${selfRef}__base` }, ...branches] };
  }
}

/**
 * Compile the validator for the request body of `POST /{Version}/{Phone-Number-ID}/messages`. Compiling
 * reads and rewrites a large YAML file (a second or so): call it once per test file.
 */
export function loadCloudSendValidator(): ValidateFunction {
  const doc = parse(readFileSync(OPENAPI, 'utf8')) as Record<string, any>;
  const op = doc.paths[SEND_PATH].post;
  const bodySchema = op.requestBody.content['application/json'].schema as Schema;
  const schemas = doc.components.schemas as Record<string, Schema>;

  schemas.LanguageObject!.required = ['code'];
  delete (schemas.TemplateComponent!.properties as Record<string, Schema>).index!.pattern;
  delete (((schemas.ButtonComponent!.allOf as Schema[])[1]!.properties as Record<string, Schema>).index!).pattern;
  schemas.BaseMessageProperties!.required = (schemas.BaseMessageProperties!.required as string[]).filter(
    (p) => p !== 'recipient_type',
  );
  enforceDiscriminators(schemas);

  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  ajv.addSchema({ $id: DOC_ID, components: doc.components }, DOC_ID);
  // The request body schema is a `$ref` into components: resolve it against the registered document.
  const ref = String(bodySchema.$ref);
  return ajv.compile({ $ref: `${DOC_ID}${ref}` });
}

/** A message that shows the first few schema errors, for an assertion's failure text. */
export function schemaErrors(validate: ValidateFunction): string {
  return `schema errors: ${JSON.stringify(validate.errors?.slice(0, 5), null, 1)}`;
}
